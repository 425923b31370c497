/**
 * MInference's block-sparse pattern: top-k tiles per tile row from mean-pooled Q and K.
 */
import type { Tensor } from "../../tensor/tensor.js";
import type { BlockMask } from "../block-mask.js";
import {
  blockPool, checkBool, checkPrefill, Ctx, expandKv, fieldsFromBlockSelection, matmulNT, posInt, topkIdx,
  type PrefillCommonOptions,
} from "./common.js";

/** Options of {@link minferenceBlockSparse}. */
export interface MinferenceBlockSparseOptions extends PrefillCommonOptions {
  /** Pooling window and tile size. Default 64. */
  blockSize?: number;
  /** Tiles kept per tile row (per head). Default 100. */
  topK?: number;
}

/**
 * MInference block-sparse estimator (prefill).
 *
 * Rule (MInference 1.0, `block_sparse_attention` in microsoft/MInference): mean-pool Q and K
 * over 64-token blocks, score every (q block, kv block) by pooled q · pooled k (causal: only
 * kv block <= q block), keep the `topK` (100) highest tiles of each tile row. Kept tiles are
 * full; with `causal` the diagonal tiles are refined by q >= kv.
 *
 * Paper: arXiv 2407.02490. Official code: github.com/microsoft/MInference.
 *
 * @example
 * const bm = await sl.dynamic.minferenceBlockSparse(q, k, { topK: 32 });
 */
export async function minferenceBlockSparse(q: Tensor, k: Tensor, opts: MinferenceBlockSparseOptions = {}): Promise<BlockMask> {
  const op = "dynamic.minferenceBlockSparse";
  const ctx = new Ctx(op, opts);
  const causal = checkBool(op, "causal", opts.causal, true);
  const { B, Hq, Sq, Skv, D, group } = checkPrefill(op, q, k, causal);
  const bs = posInt(op, "blockSize", opts.blockSize, 64);
  const topK = posInt(op, "topK", opts.topK, 100);
  const qp = await blockPool(ctx, q, bs, "mean");
  const kp = await blockPool(ctx, expandKv(k, group), bs, "mean");
  const nq = Math.ceil(Sq / bs);
  const nk = Math.ceil(Skv / bs);
  const sel = new Uint8Array(B * Hq * nq * nk);
  for (let bh = 0; bh < B * Hq; bh++) {
    ctx.check();
    const s = await matmulNT(ctx, qp.subarray(bh * nq * D, (bh + 1) * nq * D), nq, kp.subarray(bh * nk * D, (bh + 1) * nk * D), nk, D);
    for (let i = 0; i < nq; i++) {
      const valid = causal ? Math.min(nk, i + 1) : nk;
      for (const j of topkIdx(s, i * nk, valid, topK)) sel[(bh * nq + i) * nk + j] = 1;
    }
  }
  return ctx.finish(fieldsFromBlockSelection(sel, B, Hq, Sq, Skv, bs, causal), { blockSize: bs, topK });
}
