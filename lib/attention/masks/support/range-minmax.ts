/**
 * O(1) minimum / maximum over any index range of a table (a sparse table, built once per table
 * and cached by identity). Tile classification asks "what is the smallest and largest document
 * id among these 128 queries?" for every tile; scanning would make it O(elements).
 */
type NumArray = Int32Array | Float32Array;

export interface RangeMinMax {
  readonly length: number;
  /** min over table[lo..hi] (inclusive; the caller clamps to [0, length)). */
  min(lo: number, hi: number): number;
  max(lo: number, hi: number): number;
}

const cache = new WeakMap<NumArray, RangeMinMax>();

/** The (cached) range-min/max structure of `table`. Tables must not be mutated afterwards. */
export function rangeMinMax(table: NumArray): RangeMinMax {
  let r = cache.get(table);
  if (!r) {
    r = build(table);
    cache.set(table, r);
  }
  return r;
}

function build(t: NumArray): RangeMinMax {
  const n = t.length;
  // level k holds min/max over [i, i + 2^k); level 0 is the table itself.
  const mins: NumArray[] = [t];
  const maxs: NumArray[] = [t];
  const Ctor = t.constructor as new (n: number) => NumArray;
  for (let k = 1; 1 << k <= n; k++) {
    const half = 1 << (k - 1);
    const len = n - (1 << k) + 1;
    const pm = mins[k - 1];
    const pM = maxs[k - 1];
    const m = new Ctor(len);
    const M = new Ctor(len);
    for (let i = 0; i < len; i++) {
      const a = pm[i], b = pm[i + half];
      m[i] = a < b ? a : b;
      const c = pM[i], d = pM[i + half];
      M[i] = c > d ? c : d;
    }
    mins.push(m);
    maxs.push(M);
  }
  return {
    length: n,
    min(lo, hi) {
      const k = 31 - Math.clz32(hi - lo + 1);
      const a = mins[k][lo], b = mins[k][hi - (1 << k) + 1];
      return a < b ? a : b;
    },
    max(lo, hi) {
      const k = 31 - Math.clz32(hi - lo + 1);
      const a = maxs[k][lo], b = maxs[k][hi - (1 << k) + 1];
      return a > b ? a : b;
    },
  };
}
