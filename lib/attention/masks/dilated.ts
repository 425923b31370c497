import { KV, Q, abs, and, eq, ge, le, mod, num, sub } from "./support/ir.js";
import { dMax, dMin, fromExists, hasMultiple, hasNonMultiple } from "./support/delta.js";
import { checkInt, makeMask } from "./support/make-mask.js";
import type { Mask } from "../types.js";

/**
 * Dilated band: `abs(q - kv) <= w and (q - kv) mod d == 0` (every d-th key within distance w).
 * With `{ causal: true }` also `q >= kv`.
 * @example
 * const m = sl.masks.dilated(8, 2);
 * m.at(0, 0, 10, 6);   // true: distance 4, even
 * m.at(0, 0, 10, 7);   // false: distance 3
 */
export function dilated(w: number, d: number, opts: { causal?: boolean } = {}): Mask {
  checkInt("dilated", "w", w, 0);
  checkInt("dilated", "d", d, 1);
  const causal = !!opts.causal;
  const lo = causal ? 0 : -w;
  const delta = sub(Q, KV);
  const parts = [le(abs(delta), num(w)), eq(mod(delta, num(d)), num(0))];
  if (causal) parts.push(ge(Q, KV));
  return makeMask({
    kind: "dilated",
    name: `dilated_${w}_${d}${causal ? "_causal" : ""}`,
    params: { w, d, causal },
    at: (_b, _h, q, kv) => {
      const x = q - kv;
      return x >= lo && x <= w && ((x % d) + d) % d === 0;
    },
    program: { expr: and(...parts), tables: [] },
    classifyTile: (_b, _h, q0, q1, kv0, kv1) => {
      const a = dMin(q0, kv1), b = dMax(q1, kv0);
      const ia = Math.max(a, lo), ib = Math.min(b, w);
      const someTrue = hasMultiple(ia, ib, d);
      const someFalse = a < lo || b > w || hasNonMultiple(ia, ib, d);
      return fromExists(someTrue, someFalse);
    },
  });
}
