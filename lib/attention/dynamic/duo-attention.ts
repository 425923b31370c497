/**
 * DuoAttention: each KV head is a retrieval head (full cache) or a streaming head (sinks +
 * recent tokens), decided from its learned gate value.
 */
import { argError, SparselabError } from "../../errors.js";
import { Tensor } from "../../tensor/tensor.js";
import { inRange, nonNegInt, type EstimatorCommonOptions } from "./common.js";
import { checkDecode } from "./decode-common.js";

/** Options of {@link duoAttention}. */
export interface DuoAttentionOptions extends EstimatorCommonOptions {
  /** Gate values α per KV head (learned by DuoAttention's optimisation), length Hkv. */
  alpha: ArrayLike<number> | Tensor;
  /** Heads with α >= threshold are retrieval heads. Default 0.5. Ignored when `sparsity` is set. */
  threshold?: number;
  /** Instead: the share of heads made streaming (the lowest α), as DuoAttention deploys. */
  sparsity?: number;
  /** Attention sinks of streaming heads. Default 128. */
  sink?: number;
  /** Recent tokens of streaming heads. Default 256. */
  recent?: number;
}

/** Per-KV-head decision and token lists of {@link duoAttention}. */
export interface DuoAttentionResult {
  /** [Hkv] true = retrieval head (full cache). */
  retrieval: boolean[];
  /** Per KV head: i32 [B, n_h] sorted positions (all S for retrieval heads, sink + recent otherwise). */
  indices: Tensor<"i32">[];
  /** Tokens attended per query, averaged over heads, divided by S. */
  density: number;
}

/**
 * DuoAttention head split (decode).
 *
 * Rule (DuoAttention, arXiv 2410.10819, github.com/mit-han-lab/duo-attention): a gate α per KV
 * head is learned offline; at deployment, heads with α above a threshold (or the top share
 * 1 − sparsity by α) keep the full KV cache ("retrieval heads"), the rest keep only `sink`
 * (128) attention sinks and the `recent` (256) latest tokens ("streaming heads"). Heads have
 * different token counts, so the result lists indices per head.
 *
 * @example
 * const r = await sl.dynamic.duoAttention(q, kCache, { alpha: [0.9, 0.1, 0.7, 0.05], threshold: 0.5 });
 * r.retrieval;   // [true, false, true, false]
 */
export async function duoAttention(q: Tensor, kCache: Tensor, opts: DuoAttentionOptions): Promise<DuoAttentionResult> {
  const op = "dynamic.duoAttention";
  const { B, Hkv, Skv: S } = checkDecode(op, q, kCache);
  if (!opts || opts.alpha === undefined) throw new SparselabError(op, "argument 'opts.alpha' (one gate value per KV head) is required");
  const alpha = opts.alpha instanceof Tensor ? Array.from(opts.alpha.floatData()) : Array.from(opts.alpha);
  if (alpha.length !== Hkv || alpha.some((a) => typeof a !== "number" || Number.isNaN(a)))
    argError(op, "alpha", `${Hkv} numbers (one per KV head)`, `${alpha.length} values`);
  const sink = nonNegInt(op, "sink", opts.sink, 128);
  const recent = nonNegInt(op, "recent", opts.recent, 256);
  let retrieval: boolean[];
  if (opts.sparsity !== undefined) {
    const sp = inRange(op, "sparsity", opts.sparsity, 0.5, 0, 1);
    const nStream = Math.round(sp * Hkv);
    const order = alpha.map((_, i) => i).sort((x, y) => alpha[x] - alpha[y] || x - y);
    const streaming = new Set(order.slice(0, nStream));
    retrieval = alpha.map((_, i) => !streaming.has(i));
  } else {
    const th = inRange(op, "threshold", opts.threshold, 0.5, -Infinity, Infinity);
    retrieval = alpha.map((a) => a >= th);
  }
  const streamList: number[] = [];
  for (let t = 0; t < S; t++) if (t < sink || t >= S - recent) streamList.push(t);
  const indices = retrieval.map((full) => {
    const list = full ? Array.from({ length: S }, (_, i) => i) : streamList;
    const out = new Int32Array(B * list.length);
    for (let b = 0; b < B; b++) out.set(list, b * list.length);
    return new Tensor([B, list.length], "i32", out);
  });
  const density = retrieval.reduce((s, full) => s + (full ? S : streamList.length), 0) / (Hkv * S);
  return { retrieval, indices, density };
}
