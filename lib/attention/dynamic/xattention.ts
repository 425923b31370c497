/**
 * XAttention: block importance from strided antidiagonal sums, kept up to a cumulative share τ.
 */
import { Tensor } from "../../tensor/tensor.js";
import type { SoftmaxImpl } from "../../backends/ops.js";
import type { BlockMask } from "../block-mask.js";
import { argError } from "../../errors.js";
import {
  antidiagScores, checkBool, checkPrefill, Ctx, expandKv, fieldsFromBlockSelection, inRange, posInt, softmaxRow,
  type PrefillCommonOptions,
} from "./common.js";

/** Options of {@link xattention}. */
export interface XAttentionOptions extends PrefillCommonOptions {
  /** Antidiagonal stride S. Default 8 (the paper uses 8 or 16). */
  stride?: number;
  /** Cumulative share τ of each block row's estimated mass to keep. Default 0.9. */
  threshold?: number;
  /** Tile size (a multiple of `stride`). Default 128. */
  blockSize?: number;
}

/** Per-(b, h, block row) estimated block masses, returned beside the mask for tests and plots. */
export interface XAttentionScores {
  /** f64 [B·H, qBlocks, kvBlocks]: Σ of the strided softmax over each tile. */
  blockMass: Float64Array;
  qBlocks: number;
  kvBlocks: number;
}

const scoresOf = new WeakMap<object, XAttentionScores>();

/**
 * The estimated block masses behind a mask returned by {@link xattention}.
 * @example
 * const bm = await sl.dynamic.xattention(q, k);
 * const { blockMass, kvBlocks } = sl.dynamic.xattentionScores(bm)!;
 */
export function xattentionScores(bm: object): XAttentionScores | undefined {
  return scoresOf.get(bm);
}

/**
 * XAttention estimator (prefill).
 *
 * Rule (XAttention, `xattn_estimate` / `find_blocks_chunked` in mit-han-lab/x-attention): with
 * stride S, cell (i, j) of the strided grid = Σ_t q[iS + t] · k[jS + S − 1 − t] (the cell's
 * antidiagonal), scaled by 1/(√d · S); softmax along each strided row (causal: j <= i); sum
 * the probabilities over each (block × block) tile. Per tile row, the first column and the
 * diagonal tile are always kept; the rest are added in descending mass until the kept mass
 * reaches τ (0.9) of the row's total.
 *
 * Paper: arXiv 2503.16428. Official code: github.com/mit-han-lab/x-attention.
 *
 * @example
 * const bm = await sl.dynamic.xattention(q, k, { stride: 8, threshold: 0.9 });
 */
export async function xattention(q: Tensor, k: Tensor, opts: XAttentionOptions = {}): Promise<BlockMask> {
  const op = "dynamic.xattention";
  const ctx = new Ctx(op, opts);
  const causal = checkBool(op, "causal", opts.causal, true);
  const { B, Hq, Sq, Skv, D, group } = checkPrefill(op, q, k, causal);
  const stride = posInt(op, "stride", opts.stride, 8);
  const tau = inRange(op, "threshold", opts.threshold, 0.9, 0, 1);
  const bs = posInt(op, "blockSize", opts.blockSize, 128);
  if (bs % stride !== 0) argError(op, "blockSize", `a multiple of stride ${stride}`, String(bs));
  const grid = await antidiagScores(ctx, q, expandKv(k, group), stride, 1 / (Math.sqrt(D) * stride));
  const ni = Math.ceil(Sq / stride);
  const nj = Math.ceil(Skv / stride);
  const cells = bs / stride;
  const nq = Math.ceil(Sq / bs);
  const nk = Math.ceil(Skv / bs);
  const mass = new Float64Array(B * Hq * nq * nk);
  // Causal mask on the strided grid, then a row softmax (the registry's when present).
  for (let r = 0; r < B * Hq * ni; r++) {
    const i = r % ni;
    const valid = causal ? Math.min(nj, i + 1) : nj;
    for (let j = valid; j < nj; j++) grid[r * nj + j] = -Infinity;
  }
  const softmax = ctx.pick<SoftmaxImpl>("softmax");
  let p: Float32Array;
  if (softmax) p = (await softmax(new Tensor([B * Hq * ni, nj], "f32", grid), { signal: ctx.signal })).data as Float32Array;
  else {
    p = grid;
    const row = new Float64Array(nj);
    for (let r = 0; r < B * Hq * ni; r++) {
      for (let j = 0; j < nj; j++) row[j] = grid[r * nj + j];
      softmaxRow(row, 0, nj);
      for (let j = 0; j < nj; j++) p[r * nj + j] = row[j];
    }
  }
  for (let bh = 0; bh < B * Hq; bh++) {
    ctx.check();
    for (let i = 0; i < ni; i++) {
      const valid = causal ? Math.min(nj, i + 1) : nj;
      const base = (bh * nq + Math.floor(i / cells)) * nk;
      const off = (bh * ni + i) * nj;
      for (let j = 0; j < valid; j++) mass[base + Math.floor(j / cells)] += p[off + j];
    }
  }
  const sel = selectByThreshold(mass, B * Hq, nq, nk, tau, causal);
  const bm = fieldsFromBlockSelection(sel, B, Hq, Sq, Skv, bs, causal);
  scoresOf.set(bm, { blockMass: mass, qBlocks: nq, kvBlocks: nk });
  return ctx.finish(bm, { stride, threshold: tau, blockSize: bs });
}

/**
 * Per row: keep column 0 and the diagonal, then the largest tiles until the kept mass reaches
 * τ · (row total). Ties go to the lower column.
 */
export function selectByThreshold(mass: Float64Array, rows: number, nq: number, nk: number, tau: number, causal: boolean): Uint8Array {
  const sel = new Uint8Array(rows * nq * nk);
  const order: number[] = [];
  for (let r = 0; r < rows * nq; r++) {
    const qb = r % nq;
    const base = r * nk;
    const valid = causal ? Math.min(nk, qb + 1) : nk;
    let total = 0;
    for (let j = 0; j < valid; j++) total += mass[base + j];
    let kept = 0;
    sel[base] = 1;
    kept += mass[base];
    const diag = Math.min(qb, nk - 1);
    if (diag !== 0) {
      sel[base + diag] = 1;
      kept += mass[base + diag];
    }
    order.length = 0;
    for (let j = 0; j < valid; j++) if (!sel[base + j]) order.push(j);
    order.sort((a, b) => mass[base + b] - mass[base + a] || a - b);
    const need = tau * total;
    for (const j of order) {
      if (kept >= need) break;
      sel[base + j] = 1;
      kept += mass[base + j];
    }
  }
  return sel;
}
