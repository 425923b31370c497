import { argError } from "../../errors.js";
import { compileProgram } from "../mask-ir-js.js";
import { describe, makeMask } from "../masks/support/make-mask.js";
import type { Mask } from "../types.js";
import { lowerExpression, type ExprParam } from "./lower.js";

/** A mask as a plain TypeScript function; it must return a boolean. */
export type MaskFn = (b: number, h: number, q: number, kv: number) => boolean;

/**
 * Makes a mask from an expression or a plain function.
 *
 * Expression: `sl.mask("q >= kv and q - kv < w", { w: 256 })`. The language (see
 * lib/attention/dsl/lower.ts for the full whitelist): variables b, h, q, kv; named parameters;
 * indexed array parameters `doc[q]` (0-based); + - * / ^ mod % (floored), comparisons and
 * chains, and/or/xor/not, `c ? a : b`; abs, min, max, floor, ceil, sign, mod(). It compiles to
 * the IR, so it runs natively and createBlockMask classifies tiles from interval bounds.
 * Anything else is an error that quotes the expression and points at the token.
 *
 * Function: `sl.mask((b, h, q, kv) => q >= kv)`: runs in JS only (kind "fn", no IR), and
 * createBlockMask evaluates it over every element of every tile. A non-boolean return is an error.
 * @example
 * const win = sl.mask("q >= kv and q - kv < w", { w: 256 });
 * const doc = sl.mask("doc[q] == doc[kv]", { doc: [0, 0, 1, 1, 1] });
 * const fn = sl.mask((b, h, q, kv) => (q ^ kv) % 3 === 0);
 */
export function mask(expr: string | MaskFn, params: Record<string, ExprParam> = {}): Mask {
  if (typeof expr === "function") return fnMask(expr);
  if (typeof expr !== "string") argError("mask", "expr", "an expression string or a function (b, h, q, kv) => boolean", describe(expr));
  if (typeof params !== "object" || params === null) argError("mask", "params", "an object of named parameters", describe(params));
  const program = lowerExpression(expr, params, { op: "mask", vars: ["b", "h", "q", "kv"], result: "boolean" });
  const f = compileProgram(program);
  const shown: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) shown[k] = typeof v === "number" || typeof v === "boolean" ? v : `[${describe(v)}]`;
  const nums = Object.entries(params).filter(([, v]) => typeof v === "number");
  return makeMask({
    kind: "expr",
    name: expr.trim() + (nums.length ? ` {${nums.map(([k, v]) => `${k}=${v}`).join(", ")}}` : ""),
    params: { expr, ...params, ...shown },
    at: (b, h, q, kv) => !!f(b, h, q, kv, 0),
    program,
  });
}

function fnMask(fn: MaskFn): Mask {
  return makeMask({
    kind: "fn",
    name: fn.name ? `fn_${fn.name}` : "fn",
    params: { fn },
    at: (b, h, q, kv) => {
      const r = fn(b, h, q, kv);
      if (typeof r !== "boolean")
        argError("mask", "fn", "a function returning a boolean", `${describe(r)} (a ${typeof r}) at b=${b}, h=${h}, q=${q}, kv=${kv}`);
      return r;
    },
  });
}
