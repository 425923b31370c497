import { sigmoid, topkIndices } from "../rowmath.js";
import type { Logits, RouterOutput } from "./types.js";

export interface DeepseekV3Options {
  /** Selection bias b [E] (the aux-loss-free balancing term); used only to choose experts. */
  bias: Float64Array;
  /** Expert groups (n_group); E must be divisible by it. 1 = no group limit. */
  nGroup: number;
  /** Groups kept per token (topk_group). */
  topkGroup: number;
  /** Divide the k weights by their sum (norm_topk_prob). */
  normalize: boolean;
  /** routed_scaling_factor, multiplied into the weights after normalizing. */
  scale: number;
}

/**
 * DeepSeek-V3 routing: s = sigmoid(logits); experts are chosen on s + b; with groups, each
 * group's score is the sum of its two best s + b, the best `topkGroup` groups are kept and
 * every expert of the other groups is set to −∞ (not 0: s + b can be negative, and a 0 would
 * then beat the kept experts); top k inside the kept groups. The weights use the unbiased s
 * of the chosen experts, renormalized (+1e-20 as in the reference), times `scale`. `probs` is
 * s / Σ s per token, the distribution the sequence-level aux loss uses.
 * @example
 * // DeepSeek-V3's shape: 256 experts, 8 groups, 4 kept, k 8, scale 2.5
 * const r = sl.moe.route(logits, { router: "deepseek-v3", k: 8, nGroup: 8, topkGroup: 4, scale: 2.5, bias });
 */
export function deepseekV3(l: Logits, k: number, o: DeepseekV3Options): RouterOutput {
  const { T, E, data } = l;
  const G = o.nGroup;
  const gs = E / G;
  const s = new Float64Array(E);
  const choice = new Float64Array(E);
  const groupScore = new Float64Array(G);
  const keptGroups = new Int32Array(o.topkGroup);
  const top2 = new Int32Array(2);
  const indices = new Int32Array(T * k);
  const weights = new Float32Array(T * k);
  const probs = new Float32Array(T * E);
  for (let t = 0; t < T; t++) {
    let sum = 0;
    for (let j = 0; j < E; j++) {
      s[j] = sigmoid(data[t * E + j]);
      choice[j] = s[j] + o.bias[j];
      sum += s[j];
    }
    for (let j = 0; j < E; j++) probs[t * E + j] = s[j] / sum;
    if (G > 1) {
      for (let g = 0; g < G; g++) {
        topkIndices((j) => choice[g * gs + j], gs, 2, top2);
        groupScore[g] = choice[g * gs + top2[0]] + choice[g * gs + top2[1]];
      }
      topkIndices((g) => groupScore[g], G, o.topkGroup, keptGroups);
      const keep = new Uint8Array(G);
      for (const g of keptGroups) keep[g] = 1;
      for (let j = 0; j < E; j++) if (!keep[Math.floor(j / gs)]) choice[j] = -Infinity;
    }
    topkIndices((j) => choice[j], E, k, indices, t * k);
    let wsum = 0;
    for (let i = 0; i < k; i++) wsum += s[indices[t * k + i]];
    for (let i = 0; i < k; i++) {
      const w = s[indices[t * k + i]];
      weights[t * k + i] = (o.normalize ? w / (wsum + 1e-20) : w) * o.scale;
    }
  }
  return {
    k,
    indices,
    weights,
    probs,
    details: { nGroup: G, topkGroup: o.topkGroup, scale: o.scale, normalize: o.normalize },
  };
}

/**
 * The aux-loss-free balancing step (DeepSeek-V3): b_i += γ·sign(mean load − load_i), so
 * under-loaded experts become easier to pick. Returns a new bias; `counts` are tokens per
 * expert of the last batch.
 * @example
 * bias = sl.moe.updateExpertBias(bias, record.routedCounts, 1e-3);
 */
export function updateExpertBias(bias: ArrayLike<number>, counts: ArrayLike<number>, gamma: number): Float64Array {
  const E = bias.length;
  let mean = 0;
  for (let i = 0; i < E; i++) mean += counts[i];
  mean /= E;
  const out = new Float64Array(E);
  for (let i = 0; i < E; i++) out[i] = bias[i] + gamma * Math.sign(mean - counts[i]);
  return out;
}
