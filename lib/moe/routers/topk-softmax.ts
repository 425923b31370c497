import { softmaxRows, topkIndices } from "../rowmath.js";
import type { Logits, RouterOutput } from "./types.js";

/**
 * Megatron's default: top k on the raw logits, then softmax over those k only. The weights
 * equal softmax-topk with renormalization; the aux loss still uses the softmax over all
 * experts (`probs`), computed once from the logits (never a softmax of a softmax).
 * @example
 * const r = sl.moe.route(logits, { router: "topk-softmax", k: 2 });
 */
export function topkSoftmax(l: Logits, k: number): RouterOutput {
  const { T, E, data } = l;
  const indices = new Int32Array(T * k);
  const weights = new Float32Array(T * k);
  for (let t = 0; t < T; t++) {
    const o = t * E;
    topkIndices((j) => data[o + j], E, k, indices, t * k);
    const m = data[o + indices[t * k]];
    let s = 0;
    for (let i = 0; i < k; i++) s += Math.exp(data[o + indices[t * k + i]] - m);
    for (let i = 0; i < k; i++) weights[t * k + i] = Math.exp(data[o + indices[t * k + i]] - m) / s;
  }
  return { k, indices, weights, probs: softmaxRows(data, T, E), details: {} };
}
