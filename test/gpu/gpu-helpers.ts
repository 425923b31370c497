// Shared pieces of the GPU tests: fresh random inputs, a float64 attention reference, block
// masks built by brute force from a predicate, output poisoning. These run where CUDA is; in CI
// (no GPU) each GPU test skips and prints why.
import { Tensor } from "../../lib/tensor/tensor.js";
import { fromFloat32, toFloat32 } from "../../lib/tensor/tensor.js";
import type { DType } from "../../lib/tensor/dtype.js";
import type { BlockMaskFields } from "../../lib/attention/block-mask.js";
import type { Mask } from "../../lib/attention/types.js";
import type { MaskProgram } from "../../lib/attention/mask-ir.js";
import { cudaFailure, cudaRuntime } from "../../lib/backends/cuda/runtime.js";

export function gpuSkipReason(): string | undefined {
  const rt = cudaRuntime();
  return rt ? undefined : `no CUDA here (${cudaFailure()}); GPU tests run on the device machine`;
}

/** xorshift-based uniform floats in [-1, 1), seeded; the seed is printed by the caller on failure. */
export function randomTensor(shape: number[], dtype: DType, seed: number, amp = 1): Tensor {
  let s = seed >>> 0 || 1;
  let n = 1;
  for (const d of shape) n *= d;
  const f = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    f[i] = ((s / 4294967296) * 2 - 1) * amp;
  }
  return new Tensor(shape, dtype, fromFloat32(f, dtype));
}

export function widen(t: Tensor): Float32Array {
  return toFloat32(t.data, t.dtype);
}

export type Pred = (b: number, h: number, q: number, kv: number) => boolean;

/** Float64 attention: out [B, Hq, Sq, D] and lse [B, Hq, Sq]. */
export function refAttention(
  q: Tensor, k: Tensor, v: Tensor, scale: number, pred?: Pred, scoreMod?: (s: number, b: number, h: number, q: number, kv: number) => number,
): { out: Float64Array; lse: Float64Array } {
  const [B, Hq, Sq, D] = q.shape;
  const [, Hkv, Skv] = k.shape;
  const Q = widen(q), K = widen(k), V = widen(v);
  const out = new Float64Array(B * Hq * Sq * D);
  const lse = new Float64Array(B * Hq * Sq);
  const s = new Float64Array(Skv);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      const hk = Math.floor(h / (Hq / Hkv));
      for (let i = 0; i < Sq; i++) {
        let m = -Infinity;
        const qo = ((b * Hq + h) * Sq + i) * D;
        for (let j = 0; j < Skv; j++) {
          if (pred && !pred(b, h, i, j)) {
            s[j] = -Infinity;
            continue;
          }
          const ko = ((b * Hkv + hk) * Skv + j) * D;
          let acc = 0;
          for (let d = 0; d < D; d++) acc += Q[qo + d] * K[ko + d];
          acc *= scale;
          if (scoreMod) acc = scoreMod(acc, b, h, i, j);
          s[j] = acc;
          if (acc > m) m = acc;
        }
        let l = 0;
        for (let j = 0; j < Skv; j++) l += m === -Infinity ? 0 : Math.exp(s[j] - m);
        lse[(b * Hq + h) * Sq + i] = l > 0 ? m + Math.log(l) : -Infinity;
        if (l === 0) continue;
        for (let j = 0; j < Skv; j++) {
          if (s[j] === -Infinity) continue;
          const p = Math.exp(s[j] - m) / l;
          const vo = ((b * Hkv + hk) * Skv + j) * D;
          for (let d = 0; d < D; d++) out[qo + d] += p * V[vo + d];
        }
      }
    }
  return { out, lse };
}

/** A BlockMask (FlexAttention layout) classified by visiting every element of every tile. */
export function bruteBlockMask(
  pred: Pred, B: number, H: number, qLen: number, kvLen: number, qbs: number, kvbs: number, program?: MaskProgram, dropTiles?: (qb: number, kb: number) => boolean,
): BlockMaskFields {
  const nq = Math.ceil(qLen / qbs), nk = Math.ceil(kvLen / kvbs);
  const kvNum = new Int32Array(B * H * nq), kvIdx = new Int32Array(B * H * nq * nk);
  const fNum = new Int32Array(B * H * nq), fIdx = new Int32Array(B * H * nq * nk);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let qb = 0; qb < nq; qb++) {
        const row = (b * H + h) * nq + qb;
        for (let kb = 0; kb < nk; kb++) {
          if (dropTiles?.(qb, kb)) continue;
          let any = false, all = true;
          for (let i = qb * qbs; i < Math.min(qLen, (qb + 1) * qbs); i++)
            for (let j = kb * kvbs; j < Math.min(kvLen, (kb + 1) * kvbs); j++) {
              if (pred(b, h, i, j)) any = true;
              else all = false;
            }
          if (!any) continue;
          if (all) fIdx[row * nk + fNum[row]++] = kb;
          else kvIdx[row * nk + kvNum[row]++] = kb;
        }
      }
  const mask: Mask | undefined = program
    ? { kind: "test", name: "test_mask", params: {}, at: pred, program }
    : { kind: "fn", name: "test_fn", params: {}, at: pred };
  return {
    B, H, qLen, kvLen, qBlockSize: qbs, kvBlockSize: kvbs,
    kvNumBlocks: new Tensor([B, H, nq], "i32", kvNum),
    kvIndices: new Tensor([B, H, nq, nk], "i32", kvIdx),
    fullKvNumBlocks: new Tensor([B, H, nq], "i32", fNum),
    fullKvIndices: new Tensor([B, H, nq, nk], "i32", fIdx),
    mask,
  };
}

/** ‖a − b‖ / ‖b‖ over finite references; NaN anywhere in `a` gives Infinity. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) {
    if (Number.isNaN(a[i])) return Infinity;
    const d = a[i] - b[i];
    num += d * d;
    den += b[i] * b[i];
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

/** Fills the allocator's next blocks of these sizes with NaN bytes so unwritten outputs show. */
export function poison(...bytes: number[]): void {
  const rt = cudaRuntime();
  if (!rt) return;
  const got = bytes.map((n) => rt.alloc(n));
  for (const g of got) rt.b.memset(g.ptr, 0xff, g.size);
  for (const g of got) rt.release(g.ptr, g.size);
}
