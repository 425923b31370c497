/**
 * FlexPrefill: per head, query-aware block selection or vertical-slash, chosen by how well
 * pooled Q/K predict the true attention of the last query block.
 */
import type { Tensor } from "../../tensor/tensor.js";
import { SparselabError } from "../../errors.js";
import type { BlockMask } from "../block-mask.js";
import {
  blockPool, checkBool, checkPrefill, colDiagSums, Ctx, sliceRows, expandKv, f32, fieldsFromBlockSelection, inRange, matmulNT, posInt, softmaxRow,
  topkIdx, type PrefillCommonOptions,
} from "./common.js";

/** Options of {@link flexPrefill}. */
export interface FlexPrefillOptions extends PrefillCommonOptions {
  /** Coverage γ: keep the fewest blocks / lines whose share reaches γ. Default 0.9. */
  gamma?: number;
  /** JS-divergence threshold τ: below it a head is query-aware. Default 0.1. */
  tau?: number;
  /** Minimum budget in tokens (rounded up to blocks). Default 512. */
  minBudget?: number;
  /** Maximum budget in tokens (rounded up to blocks). Default: unlimited. */
  maxBudget?: number;
  /** Tile size (and the size of the last query block). Default 128. */
  blockSize?: number;
}

/** Per-head decisions of a FlexPrefill call. */
export interface FlexPrefillDecision {
  /** [B·H] sqrt(JS divergence) between the pooled estimate and the true last-block attention. */
  jsDivergence: Float64Array;
  /** [B·H] 1 where the head used query-aware selection. */
  queryAware: Uint8Array;
}

const decisions = new WeakMap<object, FlexPrefillDecision>();

/**
 * The per-head pattern decisions behind a mask returned by {@link flexPrefill}.
 * @example
 * const bm = await sl.dynamic.flexPrefill(q, k);
 * sl.dynamic.flexPrefillDecision(bm)!.jsDivergence;
 */
export function flexPrefillDecision(bm: object): FlexPrefillDecision | undefined {
  return decisions.get(bm);
}

/**
 * FlexPrefill estimator (prefill, causal).
 *
 * Rule (FlexPrefill, `get_active_blocks` in bytedance/FlexPrefill), per query head:
 * 1. Â = softmax(q_last · Kᵀ/√d) for the last block of queries (causal inside it).
 *    vertical[kv] = mean_rows Â, slash[d] = Σ of Â along diagonal q − kv = d, divided by rows.
 *    Budgets: the number of columns (diagonals) whose sorted cumulative share stays <= γ,
 *    plus one, then // blockSize + 1 blocks, clamped to [minBudget, maxBudget] blocks.
 * 2. Estimate ā = softmax(mean(q_last)/√d · mean-pooled Kᵀ) over kv blocks; compare with the
 *    block-summed vertical by sqrt(JS divergence). Below τ the head is query-aware.
 * 3. Vertical-slash part: the top column blocks (block 0 always) and the top diagonal-block
 *    offsets (offset 0 always), within the budgets (minBudget for query-aware heads).
 * 4. Query-aware heads add: pooled q block · pooled k block (causal), softmax per row, then the
 *    highest tiles of the whole grid whose cumulative mass stays <= γ · (number of rows).
 * Kept tiles are full; the diagonal tiles are refined by q >= kv.
 *
 * Paper: arXiv 2502.20766 (ICLR 2025). Official code: github.com/bytedance/FlexPrefill.
 *
 * @example
 * const bm = await sl.dynamic.flexPrefill(q, k, { gamma: 0.9, tau: 0.1 });
 * sl.dynamic.flexPrefillDecision(bm)!.queryAware;  // which heads were query-aware
 */
export async function flexPrefill(q: Tensor, k: Tensor, opts: FlexPrefillOptions = {}): Promise<BlockMask> {
  const op = "dynamic.flexPrefill";
  const ctx = new Ctx(op, opts);
  const causal = checkBool(op, "causal", opts.causal, true);
  if (!causal) throw new SparselabError(op, "FlexPrefill is defined for causal prefill only (causal: false is not supported)");
  const { B, Hq, Hkv, Sq: S, D, group } = checkPrefill(op, q, k, causal);
  const gamma = inRange(op, "gamma", opts.gamma, 0.9, 0, 1);
  const tau = inRange(op, "tau", opts.tau, 0.1, 0, Infinity);
  const bs = posInt(op, "blockSize", opts.blockSize, 128);
  const nb = Math.ceil(S / bs);
  const minB = Math.min(nb, Math.ceil(posInt(op, "minBudget", opts.minBudget, 512) / bs));
  const maxB = opts.maxBudget === undefined ? nb : Math.min(nb, Math.ceil(posInt(op, "maxBudget", opts.maxBudget, 1) / bs));
  const scale = 1 / Math.sqrt(D);
  const qs = f32(q);
  const ks = f32(k);
  const kp = await blockPool(ctx, expandKv(k, group), bs, "mean"); // [B, Hq, nb, D]
  const qp = await blockPool(ctx, q, bs, "mean"); // [B, Hq, nb, D]
  const sel = new Uint8Array(B * Hq * nb * nb);
  const js = new Float64Array(B * Hq);
  const qa = new Uint8Array(B * Hq);
  const lq = Math.min(bs, S);
  const q0 = S - lq;
  // Â of the last query block: its column (vertical) and diagonal (slash) sums.
  const sums = await colDiagSums(ctx, sliceRows(q, q0, S), k, scale, q0);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      ctx.check();
      const bh = b * Hq + h;
      const kh = b * Hkv + Math.floor(h / group);
      const vertical = new Float64Array(S);
      const slash = new Float64Array(S);
      for (let j = 0; j < S; j++) {
        vertical[j] = sums.cols[bh * S + j] / lq;
        slash[j] = sums.diags[bh * S + j] / lq;
      }
      let nV = Math.floor(coverCount(vertical, gamma) / bs) + 1;
      let nS = Math.floor(coverCount(slash, gamma) / bs) + 1;
      nV = Math.min(maxB, Math.max(minB, nV));
      nS = Math.min(maxB, Math.max(minB, nS));
      const vBlk = new Float64Array(nb);
      const sBlk = new Float64Array(nb);
      for (let j = 0; j < S; j++) {
        vBlk[Math.floor(j / bs)] += vertical[j];
        sBlk[Math.floor(j / bs)] += slash[j];
      }
      // Pooled estimate for the last block: mean of its queries against pooled keys.
      const qMean = new Float32Array(D);
      for (let i = 0; i < lq; i++) for (let d = 0; d < D; d++) qMean[d] += qs[(bh * S + q0 + i) * D + d] / lq;
      const est = Float64Array.from(await matmulNT(ctx, qMean, 1, kp.subarray(bh * nb * D, (bh + 1) * nb * D), nb, D), (x) => x * scale);
      softmaxRow(est, 0, nb);
      js[bh] = Math.sqrt(jsDivergence(est, vBlk));
      const isQA = js[bh] < tau;
      qa[bh] = isQA ? 1 : 0;
      if (isQA) nV = nS = minB;
      vBlk[0] = Infinity;
      sBlk[0] = Infinity;
      const base = bh * nb * nb;
      for (const c of topkIdx(vBlk, 0, nb, nV)) for (let r = c; r < nb; r++) sel[base + r * nb + c] = 1;
      for (const o of topkIdx(sBlk, 0, nb, nS)) for (let r = o; r < nb; r++) sel[base + r * nb + r - o] = 1;
      if (isQA) {
        const s = await matmulNT(ctx, qp.subarray(bh * nb * D, (bh + 1) * nb * D), nb, kp.subarray(bh * nb * D, (bh + 1) * nb * D), nb, D);
        const p = new Float64Array(nb * nb);
        for (let r = 0; r < nb; r++) {
          for (let c = 0; c < nb; c++) p[r * nb + c] = c <= r ? s[r * nb + c] * scale : -Infinity;
          softmaxRow(p, r * nb, nb);
        }
        const order = topkIdx(p, 0, nb * nb, nb * nb);
        let cum = 0;
        for (const t of order) {
          cum += p[t];
          if (cum > gamma * nb) break;
          sel[base + t] = 1;
        }
      }
    }
  const bm = fieldsFromBlockSelection(sel, B, Hq, S, S, bs, true);
  decisions.set(bm, { jsDivergence: js, queryAware: qa });
  return ctx.finish(bm, { gamma, tau, blockSize: bs, minBudgetBlocks: minB, maxBudgetBlocks: maxB });
}

/** How many of the largest entries keep the cumulative share <= γ, plus one (FlexPrefill's score_cover_topk). */
function coverCount(x: Float64Array, gamma: number): number {
  const s = Float64Array.from(x).sort().reverse();
  let cum = 0;
  let n = 0;
  for (const v of s) {
    cum += v;
    if (cum > gamma) break;
    n++;
  }
  return n + 1;
}

/** JS divergence (natural log) with 0 · log 0 = 0. */
export function jsDivergence(p: ArrayLike<number>, r: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) {
    const m = (p[i] + r[i]) / 2;
    if (p[i] > 0) s += 0.5 * p[i] * Math.log(p[i] / m);
    if (r[i] > 0) s += 0.5 * r[i] * Math.log(r[i] / m);
  }
  return Math.max(0, s);
}
