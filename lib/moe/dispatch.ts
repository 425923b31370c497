import { argError, fmtShape } from "../errors.js";
import { Tensor } from "../tensor/tensor.js";
import { checkInt, readMatrix, type MatrixLike } from "./input.js";
import type { RoutingRecord } from "./record.js";

/**
 * Dispatch: a stable permutation that puts each expert's rows together (expert 0's tokens in
 * token order, then expert 1's, ...), optionally padding each run to a multiple of `tile`
 * rows (vLLM's moe_align_block_size idea, so a tiled GEMM never straddles two experts).
 * Only kept assignments get rows; padding rows map to no token (−1) and hold zeros.
 */
export interface DispatchPlan {
  numTokens: number;
  numExperts: number;
  k: number;
  /** Run alignment in rows (1 = no padding). */
  tile: number;
  /** Rows of the permuted matrix, padding included. */
  rows: number;
  /** i32 [E + 1]: expert e owns rows offsets[e] .. offsets[e+1] (padded). */
  offsets: Int32Array;
  /** [E]: real (unpadded) rows of each expert's run. */
  sizes: Int32Array;
  /** [rows]: the token a permuted row came from, −1 for padding. */
  rowToken: Int32Array;
  /** [rows]: the slot (0..k−1) of that assignment, −1 for padding. */
  rowSlot: Int32Array;
  /** [T·k]: the permuted row of assignment (t, slot), −1 if dropped or empty. */
  slotRow: Int32Array;
}

/** Builds the permutation from a routing record's indices and kept mask.
 * @example
 * const plan = sl.moe.dispatchPlan(record, { tile: 16 });   // offsets, rowToken, slotRow
 */
export function dispatchPlan(record: Pick<RoutingRecord, "indices" | "kept" | "numExperts">, opts: { tile?: number } = {}): DispatchPlan {
  const tile = checkInt("moe.dispatchPlan", "tile", opts.tile ?? 1, 1);
  const [T, k] = record.indices.shape;
  const E = record.numExperts;
  const idx = record.indices.data as Int32Array;
  const kept = record.kept.data as Uint8Array;
  const sizes = new Int32Array(E);
  for (let a = 0; a < T * k; a++) if (kept[a]) sizes[idx[a]]++;
  const offsets = new Int32Array(E + 1);
  for (let e = 0; e < E; e++) offsets[e + 1] = offsets[e] + Math.ceil(sizes[e] / tile) * tile;
  const rows = offsets[E];
  const rowToken = new Int32Array(rows).fill(-1);
  const rowSlot = new Int32Array(rows).fill(-1);
  const slotRow = new Int32Array(T * k).fill(-1);
  const fill = offsets.slice(0, E);
  // A counting sort over assignments in (token, slot) order: stable by construction.
  for (let a = 0; a < T * k; a++) {
    if (!kept[a]) continue;
    const r = fill[idx[a]]++;
    rowToken[r] = Math.floor(a / k);
    rowSlot[r] = a % k;
    slotRow[a] = r;
  }
  return { numTokens: T, numExperts: E, k, tile, rows, offsets, sizes, rowToken, rowSlot, slotRow };
}

/** Gathers x [T, d] rows into the permuted order [rows, d] (padding rows zero). */
export function permuteRows(x: Float32Array, d: number, plan: DispatchPlan): Float32Array {
  const out = new Float32Array(plan.rows * d);
  for (let r = 0; r < plan.rows; r++) {
    const t = plan.rowToken[r];
    if (t >= 0) out.set(x.subarray(t * d, t * d + d), r * d);
  }
  return out;
}

/** Scatters permuted rows y [rows, d] back to [T, k, d] (zeros where dropped or empty). */
export function unpermuteRows(y: Float32Array, d: number, plan: DispatchPlan): Float32Array {
  const out = new Float32Array(plan.numTokens * plan.k * d);
  for (let a = 0; a < plan.slotRow.length; a++) {
    const r = plan.slotRow[a];
    if (r >= 0) out.set(y.subarray(r * d, r * d + d), a * d);
  }
  return out;
}

/** out[t] = Σ_slot weights[t, slot] · y[row of (t, slot)]: the weighted combine, [T, d]. */
export function combineRows(y: Float32Array, d: number, plan: DispatchPlan, weights: Float32Array): Float32Array {
  const { numTokens: T, k } = plan;
  const out = new Float32Array(T * d);
  const acc = new Float64Array(d);
  for (let t = 0; t < T; t++) {
    acc.fill(0);
    for (let i = 0; i < k; i++) {
      const r = plan.slotRow[t * k + i];
      if (r < 0) continue;
      const w = weights[t * k + i];
      const o = r * d;
      for (let j = 0; j < d; j++) acc[j] += w * y[o + j];
    }
    out.set(acc, t * d);
  }
  return out;
}

/**
 * Permutes x [T, d] so each expert's rows are contiguous: returns the permuted rows and the
 * plan that undoes it.
 * @example
 * const r = sl.moe.route(logits, { k: 2 });
 * const { permuted, plan } = sl.moe.dispatch(x, r, { tile: 16 });
 * plan.offsets;   // expert e owns rows offsets[e]..offsets[e+1]
 */
export function dispatch(x: MatrixLike, record: RoutingRecord, opts: { tile?: number } = {}): { permuted: Tensor<"f32">; plan: DispatchPlan } {
  const m = readMatrix("moe.dispatch", "x", x, { rows: record.numTokens });
  const plan = dispatchPlan(record, opts);
  return { permuted: new Tensor([plan.rows, m.cols], "f32", permuteRows(m.data, m.cols, plan)), plan };
}

/**
 * Undoes `dispatch`: permuted rows [rows, d] back to [T, k, d], zeros where an assignment was
 * dropped or empty. unpermute(dispatch(x).permuted)[t, slot] = x[t] for every kept (t, slot).
 * @example
 * const back = sl.moe.unpermute(permuted, plan);   // [T, k, d]
 */
export function unpermute(permuted: MatrixLike, plan: DispatchPlan): Tensor<"f32"> {
  const m = readMatrix("moe.unpermute", "permuted", permuted, { rows: plan.rows });
  return new Tensor([plan.numTokens, plan.k, m.cols], "f32", unpermuteRows(m.data, m.cols, plan));
}

/**
 * The weighted combine: out[t] = Σ_slot w[t, slot] · expertOut[row(t, slot)], [T, d].
 * @example
 * const y = sl.moe.combine(expertOut, plan, r.weights);
 */
export function combine(expertOut: MatrixLike, plan: DispatchPlan, weights: Tensor<"f32">): Tensor<"f32"> {
  const m = readMatrix("moe.combine", "expertOut", expertOut, { rows: plan.rows });
  if (weights.shape.length !== 2 || weights.shape[0] !== plan.numTokens || weights.shape[1] !== plan.k)
    argError("moe.combine", "weights", `shape [${plan.numTokens}, ${plan.k}]`, fmtShape(weights.shape));
  return new Tensor([plan.numTokens, m.cols], "f32", combineRows(m.data, m.cols, plan, weights.floatData()));
}
