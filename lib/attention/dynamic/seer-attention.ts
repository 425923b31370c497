/**
 * A training-free stand-in for SeerAttention's block gate: pooled Q against max/min/avg
 * pooled K, softmax over kv blocks, then a threshold or a keep ratio.
 */
import type { Tensor } from "../../tensor/tensor.js";
import { argError } from "../../errors.js";
import type { BlockMask } from "../block-mask.js";
import {
  blockPool, checkBool, checkPrefill, Ctx, expandKv, fieldsFromBlockSelection, inRange, matmulNT, posInt, softmaxRow, topkIdx,
  type PrefillCommonOptions,
} from "./common.js";

/** Options of {@link seerAttention}. */
export interface SeerAttentionOptions extends PrefillCommonOptions {
  /** Pooling window and tile size. Default 64. */
  blockSize?: number;
  /** Keep tiles whose gate probability is >= threshold. Default 1e-3 (used when keepRatio is absent). */
  threshold?: number;
  /** Instead of a threshold: keep ceil(ratio · visible tiles) per tile row, in (0, 1]. */
  keepRatio?: number;
}

/**
 * SeerAttention-style pooled gate, training-free (prefill).
 *
 * SeerAttention (arXiv 2410.13276, github.com/microsoft/SeerAttention) learns an AttnGate:
 * Q average-pooled per block, K pooled three ways (max, min, average), each through a learned
 * linear layer, softmax over kv blocks, then a threshold or top-k. Without trained weights we
 * replace the linear layers by the identity and average the three scores:
 * gate(i, j) = (q̄_i · kmax_j + q̄_i · kmin_j + q̄_i · k̄_j) / (3√d), softmax over visible blocks
 * (causal: j <= i); keep p >= `threshold`, or the top ceil(keepRatio · visible) per row. The
 * diagonal tile is always kept so that no query row is empty. This is our stand-in, not the
 * trained gate: its quality is what the benchmark measures, not the paper's.
 *
 * @example
 * const bm = await sl.dynamic.seerAttention(q, k, { keepRatio: 0.1 });
 */
export async function seerAttention(q: Tensor, k: Tensor, opts: SeerAttentionOptions = {}): Promise<BlockMask> {
  const op = "dynamic.seerAttention";
  const ctx = new Ctx(op, opts);
  const causal = checkBool(op, "causal", opts.causal, true);
  const { B, Hq, Sq, Skv, D, group } = checkPrefill(op, q, k, causal);
  const bs = posInt(op, "blockSize", opts.blockSize, 64);
  const ratio = opts.keepRatio === undefined ? undefined : inRange(op, "keepRatio", opts.keepRatio, 1, 0, 1);
  if (ratio === 0) argError(op, "keepRatio", "a number in (0, 1]", "0");
  const threshold = inRange(op, "threshold", opts.threshold, 1e-3, 0, 1);
  const kx = expandKv(k, group);
  const qp = await blockPool(ctx, q, bs, "mean");
  const kMax = await blockPool(ctx, kx, bs, "max");
  const kMin = await blockPool(ctx, kx, bs, "min");
  const kAvg = await blockPool(ctx, kx, bs, "mean");
  const nq = Math.ceil(Sq / bs);
  const nk = Math.ceil(Skv / bs);
  const scale = 1 / (3 * Math.sqrt(D));
  const sel = new Uint8Array(B * Hq * nq * nk);
  const p = new Float64Array(nk);
  for (let bh = 0; bh < B * Hq; bh++) {
    ctx.check();
    const qv = qp.subarray(bh * nq * D, (bh + 1) * nq * D);
    const part = (x: Float32Array) => matmulNT(ctx, qv, nq, x.subarray(bh * nk * D, (bh + 1) * nk * D), nk, D);
    const s1 = await part(kMax);
    const s2 = await part(kMin);
    const s3 = await part(kAvg);
    for (let i = 0; i < nq; i++) {
      const valid = causal ? Math.min(nk, i + 1) : nk;
      for (let j = 0; j < nk; j++) p[j] = j < valid ? (s1[i * nk + j] + s2[i * nk + j] + s3[i * nk + j]) * scale : -Infinity;
      softmaxRow(p, 0, nk);
      const base = (bh * nq + i) * nk;
      sel[base + Math.min(i, nk - 1)] = 1;
      if (ratio !== undefined) {
        for (const j of topkIdx(p, 0, valid, Math.ceil(ratio * valid))) sel[base + j] = 1;
      } else {
        for (let j = 0; j < valid; j++) if (p[j] >= threshold) sel[base + j] = 1;
      }
    }
  }
  return ctx.finish(fieldsFromBlockSelection(sel, B, Hq, Sq, Skv, bs, causal), { blockSize: bs, threshold: ratio === undefined ? threshold : undefined, keepRatio: ratio });
}
