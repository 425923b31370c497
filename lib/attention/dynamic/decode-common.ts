/**
 * Shared parts of the decode estimators: shape checks for (q, kCache), exact per-KV-head
 * scores, and packing index lists into an i32 tensor [B, Hkv, n].
 */
import { argError } from "../../errors.js";
import { Tensor } from "../../tensor/tensor.js";
import { checkQK, Ctx, f32, matmulNT } from "./common.js";

export function checkDecode(op: string, q: unknown, kCache: unknown) {
  const s = checkQK(op, q, kCache, "kCache");
  if (s.Sq > s.Skv) argError(op, "q", `at most as many queries as cached keys (${s.Skv})`, `${s.Sq}`);
  return s;
}

/** Packs equal-length sorted index lists ([B·Hkv] of length n) into i32 [B, Hkv, n]. */
export function packIndices(lists: Int32Array[], B: number, Hkv: number): Tensor<"i32"> {
  const n = lists.length ? lists[0].length : 0;
  const out = new Int32Array(B * Hkv * n);
  lists.forEach((l, i) => out.set(l, i * n));
  return new Tensor([B, Hkv, n], "i32", out);
}

/** 0 .. S-1 for every (b, kv head): the dense choice. */
export function allIndices(B: number, Hkv: number, S: number): Tensor<"i32"> {
  const out = new Int32Array(B * Hkv * S);
  for (let r = 0; r < B * Hkv; r++) for (let j = 0; j < S; j++) out[r * S + j] = j;
  return new Tensor([B, Hkv, S], "i32", out);
}

/**
 * Exact attention probabilities of every query of the group of each KV head, summed over the
 * group's heads and queries: f64 [B·Hkv, S]. (The decode queries see the whole cache.)
 */
export async function groupProbabilities(ctx: Ctx, q: Tensor, kCache: Tensor, scale: number): Promise<Float64Array> {
  const [B, Hq, Sq, D] = q.shape;
  const [, Hkv, S] = kCache.shape;
  const group = Hq / Hkv;
  const qs = f32(q);
  const ks = f32(kCache);
  const out = new Float64Array(B * Hkv * S);
  const row = new Float64Array(S);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      ctx.check();
      const bh = b * Hq + h;
      const kh = b * Hkv + Math.floor(h / group);
      const s = await matmulNT(ctx, qs.subarray(bh * Sq * D, (bh + 1) * Sq * D), Sq, ks.subarray(kh * S * D, (kh + 1) * S * D), S, D);
      for (let i = 0; i < Sq; i++) {
        let m = -Infinity;
        for (let j = 0; j < S; j++) m = Math.max(m, (row[j] = s[i * S + j] * scale));
        let z = 0;
        for (let j = 0; j < S; j++) z += row[j] = Math.exp(row[j] - m);
        for (let j = 0; j < S; j++) out[kh * S + j] += row[j] / z;
      }
    }
  return out;
}
