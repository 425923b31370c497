import { softmaxRows, topkIndices } from "../rowmath.js";
import type { Logits, RouterOutput } from "./types.js";

/**
 * Softmax over all experts (in float64 here; fp32 in the reference models), then the top k
 * probabilities; with `normalize` the k weights are divided by their sum (Mixtral always,
 * Qwen-MoE when norm_topk_prob). Without it the weights are the raw probabilities.
 * @example
 * const r = sl.moe.route(logits, { router: "softmax-topk", k: 2, normalize: true });
 */
export function softmaxTopk(l: Logits, k: number, normalize: boolean): RouterOutput {
  const { T, E } = l;
  const probs = softmaxRows(l.data, T, E);
  const indices = new Int32Array(T * k);
  const weights = new Float32Array(T * k);
  for (let t = 0; t < T; t++) {
    const o = t * E;
    topkIndices((j) => probs[o + j], E, k, indices, t * k);
    let s = 0;
    for (let i = 0; i < k; i++) s += probs[o + indices[t * k + i]];
    for (let i = 0; i < k; i++) {
      const p = probs[o + indices[t * k + i]];
      weights[t * k + i] = normalize ? p / s : p;
    }
  }
  return { k, indices, weights, probs, details: { normalize } };
}
