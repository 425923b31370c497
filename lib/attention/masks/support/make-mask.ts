/** The one way built-in, DSL and composed masks are made, so they all behave alike. */
import { argError } from "../../../errors.js";
import { DISPLAY, type MimeBundle } from "../../../display.js";
import type { MaskProgram } from "../../mask-ir.js";
import { irClassifier } from "../../mask-ir-js.js";
import type { Mask, TileClass } from "../../types.js";

export type Classifier = (b: number, h: number, q0: number, q1: number, kv0: number, kv1: number) => TileClass | undefined;

export interface MaskSpec {
  kind: string;
  name: string;
  params: Record<string, unknown>;
  at: (b: number, h: number, q: number, kv: number) => boolean;
  program?: MaskProgram;
  /** Hand-written bounds; without one, a program gets the generic interval classifier. */
  classifyTile?: Classifier;
}

class SpecMask implements Mask {
  readonly kind: string;
  readonly name: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly at: (b: number, h: number, q: number, kv: number) => boolean;
  readonly program?: MaskProgram;
  #classify?: Classifier;
  #hasClassifier: boolean;

  constructor(s: MaskSpec) {
    this.kind = s.kind;
    this.name = s.name;
    this.params = Object.freeze({ ...s.params });
    this.at = s.at;
    if (s.program) this.program = s.program;
    this.#classify = s.classifyTile;
    this.#hasClassifier = !!(s.classifyTile || s.program);
    if (!this.#hasClassifier) (this as { classifyTile?: unknown }).classifyTile = undefined;
  }

  classifyTile(b: number, h: number, q0: number, q1: number, kv0: number, kv1: number): TileClass | undefined {
    // The generic classifier compiles code: build it on first use only.
    if (!this.#classify) {
      if (!this.program) return undefined;
      this.#classify = irClassifier(this.program);
    }
    return this.#classify(b, h, q0, q1, kv0, kv1);
  }

  toString(): string {
    return `Mask(${this.name})`;
  }

  /**
   * The mask's top-left corner as text, one character per (q, kv): '█' attend, '·' not
   * (b = h = 0). Rows are queries.
   * @example
   * console.log(sl.masks.slidingWindow(4).picture(8));
   */
  picture(size = 32): string {
    const lines = [`${this.kind} mask ${this.name}: q 0..${size - 1} (rows) x kv 0..${size - 1}, █ attend · masked`];
    let outside = false;
    for (let q = 0; q < size; q++) {
      let line = "";
      for (let kv = 0; kv < size; kv++) {
        try {
          line += this.at(0, 0, q, kv) ? "█" : "·";
        } catch {
          line += " ";
          outside = true;
        }
      }
      lines.push(line);
    }
    if (outside) lines.push("(blank: positions outside the mask's range)");
    return lines.join("\n");
  }

  /** Jupyter display: the name and a 32 x 32 picture. */
  [DISPLAY](): MimeBundle {
    const text = this.picture(32);
    const esc = text.replace(/&/g, "&amp;").replace(/</g, "&lt;");
    return { "text/plain": text, "text/html": `<pre style="line-height:1;font-size:10px">${esc}</pre>` };
  }
}

/** Builds a Mask from its parts. */
export function makeMask(spec: MaskSpec): Mask {
  return new SpecMask(spec);
}

/** Checks an integer argument >= min (and <= max when given). */
export function checkInt(op: string, arg: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
    argError(op, arg, max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`, describe(v));
  return v;
}

/** Short description of a bad value for error messages. */
export function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean" || v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  if (typeof v === "function") return "a function";
  return (v as object).constructor?.name ?? typeof v;
}

/** Checks that a value is a Mask (duck-typed: an `at` function and a kind). */
export function checkMask(op: string, arg: string, m: unknown): Mask {
  if (typeof m !== "object" || m === null || typeof (m as Mask).at !== "function" || typeof (m as Mask).kind !== "string")
    argError(op, arg, "a Mask (sl.masks.*, sl.mask(...), sl.and/or/not)", describe(m));
  return m as Mask;
}
