import type { Tensor } from "../tensor/tensor.js";
import type { BlockMaskFields } from "../attention/block-mask.js";
import type { ScoreMod } from "../attention/types.js";

/**
 * The signatures of the ops every backend may implement, by registry name. The public API
 * validates arguments, then calls `resolveOp(name)` and the implementation; implementations
 * may assume validated, contiguous inputs on their device.
 */

/** "attention": flash-style forward over tiles; q [B, Hq, Sq, D], k [B, Hkv, Skv, D], v [B, Hkv, Skv, Dv]. */
export interface AttentionArgs {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  /** Absent = dense (every tile full). */
  blockMask?: BlockMaskFields;
  scoreMod?: ScoreMod;
  scale: number;
  returnLse: boolean;
  signal?: AbortSignal;
  /**
   * Validated output storage ([B, Hq, Sq, Dv], q's dtype and device): a backend that writes
   * into it returns it as `output`; one that returns a new tensor has it copied in by the caller.
   */
  out?: Tensor;
}
/** output [B, Hq, Sq, Dv] in q's dtype; lse f32 [B, Hq, Sq] (natural log; -Infinity for fully masked rows). */
export interface AttentionResult {
  output: Tensor;
  lse?: Tensor<"f32">;
}
export type AttentionImpl = (args: AttentionArgs) => Promise<AttentionResult>;

/**
 * "decodeAttention": a few queries against a long KV cache, restricted to selected tokens.
 * q [B, Hq, Sq, D] (Sq small), kCache/vCache [B, Hkv, Skv, D]; `indices` i32 [B, Hkv, n] token
 * positions to attend (per KV head, shared by its query group), or `blockMask` over the cache.
 */
export interface DecodeAttentionArgs {
  q: Tensor;
  kCache: Tensor;
  vCache: Tensor;
  indices?: Tensor<"i32">;
  blockMask?: BlockMaskFields;
  scale: number;
  returnLse: boolean;
  signal?: AbortSignal;
}
export type DecodeAttentionImpl = (args: DecodeAttentionArgs) => Promise<AttentionResult>;

/** "matmul": a [..., M, K] x b [..., K, N] (batch dims broadcast), f32 accumulation. */
export type MatmulImpl = (a: Tensor, b: Tensor, opts: { transB?: boolean; signal?: AbortSignal }) => Promise<Tensor>;

/**
 * "groupedGemm": rows of x [T, K] are grouped in runs: group g owns rows offsets[g]..offsets[g+1];
 * out[rows of g] = x[rows of g] @ w[g] where w [G, K, N]. offsets i32 [G + 1].
 */
export type GroupedGemmImpl = (x: Tensor, w: Tensor, offsets: Tensor<"i32">, opts: { signal?: AbortSignal }) => Promise<Tensor>;

/** "softmax" along the last axis, f32 out. */
export type SoftmaxImpl = (x: Tensor, opts: { signal?: AbortSignal }) => Promise<Tensor<"f32">>;

/** "topk" along the last axis: values (x's dtype widened to f32) and indices (i32), sorted descending; ties -> lower index first. */
export type TopkImpl = (x: Tensor, k: number, opts: { signal?: AbortSignal }) => Promise<{ values: Tensor<"f32">; indices: Tensor<"i32"> }>;

/** "blockPool": x [B, H, S, D] -> [B, H, ceil(S / block), D], reduce "mean" | "max" | "min" over each block of rows (ragged last block). */
export type BlockPoolImpl = (x: Tensor, block: number, reduce: "mean" | "max" | "min", opts: { signal?: AbortSignal }) => Promise<Tensor<"f32">>;

/**
 * "antidiagScores" (XAttention): for q [B, H, Sq, D], k [B, H, Skv, D] and stride s, the
 * strided estimate: cell (i, j) of the [ceil(Sq/s), ceil(Skv/s)] grid = sum over t in 0..s-1 of
 * q[i*s + t] . k[j*s + (s-1-t)] (the cell's antidiagonal), times `scale`. f32 out [B, H, Sq/s, Skv/s].
 */
export type AntidiagScoresImpl = (q: Tensor, k: Tensor, stride: number, scale: number, opts: { signal?: AbortSignal }) => Promise<Tensor<"f32">>;

/** Registry names of the ops above. */
export const OPS = ["attention", "decodeAttention", "matmul", "groupedGemm", "softmax", "topk", "blockPool", "antidiagScores", "colDiagSums"] as const;
export type OpName = (typeof OPS)[number];

/**
 * "colDiagSums" (vertical-slash estimation, MInference): with P = softmax(scale · q kᵀ) per
 * row, causal at absolute query positions qOffset + i when `causal` (kv > qOffset + i masked),
 * returns cols[b, h, j] = Σ_i P[i, j] (vertical lines) and diags[b, h, o] = Σ of P[i, j] over
 * (qOffset + i) − j = o for o in [0, Skv) (slash lines; entries above the diagonal are not
 * counted). q [B, Hq, Sq, D] (usually the last few queries), k [B, Hkv, Skv, D], Hkv | Hq;
 * both outputs f32 [B, Hq, Skv]. A fully masked row contributes nothing. JS reference in
 * lib/backends/js/col-diag-sums.ts; native on the cpu backend.
 */
export type ColDiagSumsImpl = (
  q: Tensor,
  k: Tensor,
  opts: { scale: number; qOffset: number; causal: boolean; signal?: AbortSignal },
) => Promise<{ cols: Tensor<"f32">; diags: Tensor<"f32"> }>;
