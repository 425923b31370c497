import { argError } from "../../errors.js";
import { KV, Q, abs, and, ge, idx, lt, min, num, or, sub } from "./support/ir.js";
import { bandClass, dMax, dMin } from "./support/delta.js";
import { checkInt, makeMask } from "./support/make-mask.js";
import { TILE_EMPTY, TILE_FULL, type Mask } from "../types.js";

/**
 * Global tokens plus a local window (Longformer): `q in set or kv in set or abs(q - kv) < window`;
 * global tokens attend everywhere and are attended by everyone. With `{ causal: true }` the
 * whole mask is also restricted to `q >= kv`.
 * @example
 * const m = sl.masks.globalTokens([0, 100], 64);
 * m.at(0, 0, 5000, 100);  // true: kv is global
 * m.at(0, 0, 5000, 4000); // false
 */
export function globalTokens(set: readonly number[], window: number, opts: { causal?: boolean } = {}): Mask {
  if (!Array.isArray(set)) argError("globalTokens", "set", "an array of token positions", typeof set);
  set.forEach((s, i) => checkInt("globalTokens", `set[${i}]`, s, 0));
  checkInt("globalTokens", "window", window, 1);
  const causal = !!opts.causal;
  const sorted = [...new Set(set)].sort((a, b) => a - b);
  // membership table with a trailing 0, indexed at min(pos, len - 1) so any position is valid
  const len = (sorted.length ? sorted[sorted.length - 1] : -1) + 2;
  const isG = new Int32Array(len);
  for (const s of sorted) isG[s] = 1;
  const g = (p: number) => isG[p < len - 1 ? p : len - 1] === 1;
  // number of global positions in [lo, hi]
  const count = (lo: number, hi: number) => upper(sorted, hi) - upper(sorted, lo - 1);
  const cond = or(idx(0, min(Q, num(len - 1))), idx(0, min(KV, num(len - 1))), lt(abs(sub(Q, KV)), num(window)));
  return makeMask({
    kind: "globalTokens",
    name: `global_tokens_${sorted.length}_window_${window}${causal ? "_causal" : ""}`,
    params: { set: sorted, window, causal },
    at: (_b, _h, q, kv) => (!causal || q >= kv) && (g(q) || g(kv) || Math.abs(q - kv) < window),
    program: { expr: causal ? and(ge(Q, KV), cond) : cond, tables: [isG] },
    classifyTile: (_b, _h, q0, q1, kv0, kv1) => {
      const a = dMin(q0, kv1), b = dMax(q1, kv0);
      if (causal && b < 0) return TILE_EMPTY;
      const cq = count(q0, q1 - 1), ck = count(kv0, kv1 - 1);
      const band = bandClass(a, b, 1 - window, window - 1);
      if ((cq === q1 - q0 || ck === kv1 - kv0 || band === TILE_FULL) && (!causal || a >= 0)) return TILE_FULL;
      if (cq === 0 && ck === 0 && band === TILE_EMPTY) return TILE_EMPTY;
      return undefined;
    },
  });
}

/** Number of entries <= x in a sorted array. */
function upper(a: readonly number[], x: number): number {
  let lo = 0, hi = a.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (a[m] <= x) lo = m + 1;
    else hi = m;
  }
  return lo;
}
