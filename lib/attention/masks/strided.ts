import { KV, Q, and, eq, ge, lt, mod, num, or, sub } from "./support/ir.js";
import { dMax, dMin, fromExists, hasMultiple, hasNonMultiple } from "./support/delta.js";
import { checkInt, makeMask } from "./support/make-mask.js";
import type { Mask } from "../types.js";

/**
 * Sparse Transformer "strided" pattern (Child et al. 2019), causal: the previous `l` keys
 * (itself included) plus every key at a distance that is a multiple of `l`:
 * `q >= kv and (q - kv < l or (q - kv) mod l == 0)`. (The paper's local part is t in
 * [i - l, i], one key more; we count l keys like slidingWindow.)
 * @example
 * const m = sl.masks.strided(128);
 * m.at(0, 0, 1000, 744);  // true: distance 256 = 2 * 128
 */
export function strided(l: number): Mask {
  checkInt("strided", "l", l, 1);
  const d = sub(Q, KV);
  return makeMask({
    kind: "strided",
    name: `strided_${l}`,
    params: { l },
    at: (_b, _h, q, kv) => {
      const x = q - kv;
      return x >= 0 && (x < l || x % l === 0);
    },
    program: { expr: and(ge(Q, KV), or(lt(d, num(l)), eq(mod(d, num(l)), num(0)))), tables: [] },
    classifyTile: (_b, _h, q0, q1, kv0, kv1) => {
      const a = dMin(q0, kv1), b = dMax(q1, kv0);
      const pa = Math.max(a, 0); // the causal part of [a, b]
      const someTrue = pa <= b && (pa < l || hasMultiple(pa, b, l));
      const someFalse = a < 0 || hasNonMultiple(Math.max(a, l), b, l);
      return fromExists(someTrue, someFalse);
    },
  });
}
