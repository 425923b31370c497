/**
 * Traits: each synced state key of a widget model has a default and a checker. Checkers run on
 * every kernel-side assignment and throw a SparselabError naming the widget, the property, what
 * was expected and what was given; values from the front-end go through the same checker, and a
 * rejected one is reported, never thrown into the kernel.
 */
import { argError } from "../lib/errors.js";

/** Where a value is being checked: the widget class and the property, for error messages. */
export interface TraitContext {
  widget: string;
  name: string;
}

export interface Trait<T = unknown> {
  /** A fresh default (a function so arrays and objects are never shared between widgets). */
  default: () => T;
  /** Validates (and may normalise, e.g. a tuple to an array) a value; throws argError. */
  check: (value: unknown, ctx: TraitContext) => T;
}

export type Traits = Record<string, Trait>;

/** Renders a value for an error message, short. */
export function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 60 ? v.slice(0, 57) + "..." : v);
  if (typeof v === "number" || typeof v === "boolean" || v === null || v === undefined) return String(v);
  if (typeof v === "function") return "a function";
  if (Array.isArray(v)) return `an array of length ${v.length}${v.length <= 4 ? ` ${safeJson(v)}` : ""}`;
  if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return `binary data (${v.byteLength} bytes)`;
  const name = (v as object).constructor?.name;
  return name && name !== "Object" ? `a ${name}` : `an object ${safeJson(v)}`;
}

function safeJson(v: unknown): string {
  try {
    const s = JSON.stringify(v);
    return s.length > 60 ? s.slice(0, 57) + "..." : s;
  } catch {
    return "(unserialisable)";
  }
}

const fail = (ctx: TraitContext, expected: string, v: unknown): never =>
  argError(ctx.widget, ctx.name, expected, show(v));

export function int(d: number): Trait<number> {
  return {
    default: () => d,
    check: (v, ctx) => (typeof v === "number" && Number.isInteger(v) ? v : fail(ctx, "an integer", v)),
  };
}

export function float(d: number): Trait<number> {
  return {
    default: () => d,
    check: (v, ctx) => (typeof v === "number" && Number.isFinite(v) ? v : fail(ctx, "a finite number", v)),
  };
}

export function nullableFloat(d: number | null): Trait<number | null> {
  return {
    default: () => d,
    check: (v, ctx) => (v === null || (typeof v === "number" && Number.isFinite(v)) ? v : fail(ctx, "a finite number or null", v)),
  };
}

export function nullableInt(d: number | null): Trait<number | null> {
  return {
    default: () => d,
    check: (v, ctx) => (v === null || (typeof v === "number" && Number.isInteger(v)) ? v : fail(ctx, "an integer or null", v)),
  };
}

export function bool(d: boolean): Trait<boolean> {
  return { default: () => d, check: (v, ctx) => (typeof v === "boolean" ? v : fail(ctx, "a boolean", v)) };
}

export function str(d: string): Trait<string> {
  return { default: () => d, check: (v, ctx) => (typeof v === "string" ? v : fail(ctx, "a string", v)) };
}

export function nullableStr(d: string | null): Trait<string | null> {
  return {
    default: () => d,
    check: (v, ctx) => (v === null || typeof v === "string" ? v : fail(ctx, "a string or null", v)),
  };
}

export function oneOf<T extends string>(values: readonly T[], d: T): Trait<T> {
  const expected = `one of ${values.map((x) => JSON.stringify(x)).join(", ")}`;
  return { default: () => d, check: (v, ctx) => (values.includes(v as T) ? (v as T) : fail(ctx, expected, v)) };
}

export function strList(d: string[] = []): Trait<string[]> {
  return {
    default: () => d.slice(),
    check: (v, ctx) =>
      Array.isArray(v) && v.every((x) => typeof x === "string") ? v.slice() : fail(ctx, "an array of strings", v),
  };
}

/** A [low, high] pair with low <= high (range sliders). */
export function pair(d: [number, number], integer: boolean): Trait<[number, number]> {
  const expected = `a pair [low, high] of ${integer ? "integers" : "finite numbers"} with low <= high`;
  return {
    default: () => [d[0], d[1]],
    check: (v, ctx) => {
      if (!Array.isArray(v) || v.length !== 2) return fail(ctx, expected, v);
      const ok = (x: unknown) => typeof x === "number" && (integer ? Number.isInteger(x) : Number.isFinite(x));
      if (!ok(v[0]) || !ok(v[1]) || v[0] > v[1]) return fail(ctx, expected, v);
      return [v[0], v[1]];
    },
  };
}

/** Any JSON-able or binary value (anywidget state, outputs): checked only for serialisability. */
export function any<T = unknown>(d: T): Trait<T> {
  return {
    default: () => (d !== null && typeof d === "object" ? structuredClone(d) : d),
    check: (v, ctx) => (typeof v === "function" || typeof v === "symbol" ? fail(ctx, "a JSON value or binary data", v) : (v as T)),
  };
}
