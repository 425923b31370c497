/**
 * Test helpers for attention: seeded random tensors, a naive float64 attention with an
 * arbitrary element mask, and block masks built by hand from tile classes (independent of
 * createBlockMask, so these tests judge attention alone).
 */
import { Tensor, fromFloat32 } from "../../../lib/tensor/tensor.js";
import type { DType } from "../../../lib/tensor/dtype.js";
import type { BlockMaskFields } from "../../../lib/attention/block-mask.js";
import type { Mask, ScoreMod, TileClass } from "../../../lib/attention/types.js";
import { TILE_EMPTY, TILE_FULL, TILE_PARTIAL } from "../../../lib/attention/types.js";
import { Mulberry32 } from "../../../lib/seeded-random.js";

/** A fresh seed per run (printed by tests on failure), or SPARSELAB_TEST_SEED to replay one. */
export function freshSeed(): number {
  const env = process.env.SPARSELAB_TEST_SEED;
  if (env) return Number(env) >>> 0;
  return (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) >>> 0;
}

/** mulberry32: small, seedable, good enough for test data. */
export function rng(seed: number): () => number {
  const g = new Mulberry32(seed);
  return () => g.uniform();
}

/** Standard normal values (Box-Muller) from a seeded stream. */
export function randn(n: number, rand: () => number, std = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u)) * std;
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/** A random tensor of `dtype` (values drawn in f32, then rounded). */
export function randTensor(shape: number[], rand: () => number, dtype: DType = "f32", std = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const f = randn(n, rand, std);
  return new Tensor(shape, dtype, dtype === "f32" ? f : fromFloat32(f, dtype));
}

export interface NaiveOpts {
  scale?: number;
  scoreMod?: ScoreMod;
  /** true = attend; absent = dense. */
  allowed?: (b: number, h: number, q: number, kv: number) => boolean;
}

/** softmax(mod(scale·QKᵀ) masked) V in float64, the whole score row at once; fully masked rows -> 0 / -Infinity. */
export function naiveAttention(q: Tensor, k: Tensor, v: Tensor, o: NaiveOpts = {}): { out: Float64Array; lse: Float64Array } {
  const [B, Hq, Sq, D] = q.shape;
  const [, Hkv, Skv] = k.shape;
  const Dv = v.shape[3];
  const qd = q.floatData();
  const kd = k.floatData();
  const vd = v.floatData();
  const scale = o.scale ?? 1 / Math.sqrt(D);
  const out = new Float64Array(B * Hq * Sq * Dv);
  const lse = new Float64Array(B * Hq * Sq);
  const s = new Float64Array(Skv);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      const hk = Math.floor(h / (Hq / Hkv));
      for (let i = 0; i < Sq; i++) {
        const row = (b * Hq + h) * Sq + i;
        let mx = -Infinity;
        for (let j = 0; j < Skv; j++) {
          if (o.allowed && !o.allowed(b, h, i, j)) {
            s[j] = -Infinity;
            continue;
          }
          let dot = 0;
          for (let d = 0; d < D; d++) dot += qd[row * D + d] * kd[((b * Hkv + hk) * Skv + j) * D + d];
          let sc = dot * scale;
          if (o.scoreMod) sc = o.scoreMod.apply(sc, b, h, i, j);
          s[j] = sc;
          mx = Math.max(mx, sc);
        }
        if (mx === -Infinity) {
          lse[row] = -Infinity;
          continue;
        }
        let sum = 0;
        for (let j = 0; j < Skv; j++) sum += s[j] === -Infinity ? 0 : Math.exp(s[j] - mx);
        for (let j = 0; j < Skv; j++) {
          if (s[j] === -Infinity) continue;
          const p = Math.exp(s[j] - mx) / sum;
          for (let d = 0; d < Dv; d++) out[row * Dv + d] += p * vd[((b * Hkv + hk) * Skv + j) * Dv + d];
        }
        lse[row] = mx + Math.log(sum);
      }
    }
  return { out, lse };
}

/** ‖a − b‖ / ‖b‖ over finite values; NaN anywhere in a gives NaN. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    if (Number.isNaN(a[i])) return NaN;
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

export interface HandBlockMask extends BlockMaskFields {
  /** The tile classes it was built from, [B, H, qBlocks, kvBlocks]. */
  classes: Uint8Array;
}

/**
 * A block mask in FlexAttention's layout from a tile-class function, built the slow obvious way.
 * `shuffle` lists each row's indices in reverse order (to check the kernel does not rely on order).
 */
export function blockMaskFromTiles(
  cls: (b: number, h: number, qb: number, kb: number) => TileClass,
  o: { B: number; H: number; qLen: number; kvLen: number; qBlockSize: number; kvBlockSize: number; mask?: Mask; reverse?: boolean },
): HandBlockMask {
  const qBlocks = Math.ceil(o.qLen / o.qBlockSize);
  const kvBlocks = Math.ceil(o.kvLen / o.kvBlockSize);
  const rows = o.B * o.H * qBlocks;
  const num = new Int32Array(rows);
  const idx = new Int32Array(rows * kvBlocks);
  const fnum = new Int32Array(rows);
  const fidx = new Int32Array(rows * kvBlocks);
  const classes = new Uint8Array(rows * kvBlocks);
  for (let b = 0; b < o.B; b++)
    for (let h = 0; h < o.H; h++)
      for (let qb = 0; qb < qBlocks; qb++) {
        const row = (b * o.H + h) * qBlocks + qb;
        const p: number[] = [];
        const f: number[] = [];
        for (let kb = 0; kb < kvBlocks; kb++) {
          const c = cls(b, h, qb, kb);
          classes[row * kvBlocks + kb] = c;
          if (c === TILE_PARTIAL) p.push(kb);
          else if (c === TILE_FULL) f.push(kb);
        }
        if (o.reverse) {
          p.reverse();
          f.reverse();
        }
        num[row] = p.length;
        fnum[row] = f.length;
        p.forEach((x, i) => (idx[row * kvBlocks + i] = x));
        f.forEach((x, i) => (fidx[row * kvBlocks + i] = x));
      }
  return {
    B: o.B,
    H: o.H,
    qLen: o.qLen,
    kvLen: o.kvLen,
    qBlockSize: o.qBlockSize,
    kvBlockSize: o.kvBlockSize,
    kvNumBlocks: new Tensor([o.B, o.H, qBlocks], "i32", num),
    kvIndices: new Tensor([o.B, o.H, qBlocks, kvBlocks], "i32", idx),
    fullKvNumBlocks: new Tensor([o.B, o.H, qBlocks], "i32", fnum),
    fullKvIndices: new Tensor([o.B, o.H, qBlocks, kvBlocks], "i32", fidx),
    mask: o.mask,
    classes,
  };
}

/** The element mask a hand block mask stands for: full tiles whole, partial tiles where mask.at, empty nothing. */
export function elementRule(bm: HandBlockMask): (b: number, h: number, q: number, kv: number) => boolean {
  const qBlocks = Math.ceil(bm.qLen / bm.qBlockSize);
  const kvBlocks = Math.ceil(bm.kvLen / bm.kvBlockSize);
  return (b, h, q, kv) => {
    const row = ((bm.B === 1 ? 0 : b) * bm.H + (bm.H === 1 ? 0 : h)) * qBlocks + Math.floor(q / bm.qBlockSize);
    const c = bm.classes[row * kvBlocks + Math.floor(kv / bm.kvBlockSize)];
    return c === TILE_FULL || (c === TILE_PARTIAL && bm.mask!.at(b, h, q, kv));
  };
}

/** A tiny mask from a function (the masks engineer's sl.mask(fn) does the same with validation). */
export function fnMask(name: string, f: (b: number, h: number, q: number, kv: number) => boolean): Mask {
  return { kind: "fn", name, params: {}, at: f };
}

/** Local score mods (the masks engineer's library has the real ones). */
export function alibi(H: number): ScoreMod {
  return {
    kind: "alibi",
    name: `alibi_${H}`,
    params: { H },
    apply: (s, _b, h, q, kv) => s + 2 ** ((-8 * (h + 1)) / H) * (kv - q),
  };
}
export function softcap(c: number): ScoreMod {
  return { kind: "softcap", name: `softcap_${c}`, params: { c }, apply: (s) => c * Math.tanh(s / c) };
}

export { TILE_EMPTY, TILE_FULL, TILE_PARTIAL };
