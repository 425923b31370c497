import { Rng } from "../rng.js";
import { softmaxRows } from "../rowmath.js";
import type { Logits, RouterOutput } from "./types.js";

/** What GShard does with each token's second expert. */
export type SecondExpertPolicy = "all" | "random" | "threshold";

/**
 * GShard top-2: the first expert is the argmax of softmax(logits); the second is the argmax
 * with the first masked to −∞. With g1, g2 normalized to sum to 1, the second is kept always
 * ("all"), when 2·g2 > U with U ~ uniform(0, 1) seeded ("random"), or when g2 > threshold
 * ("threshold"). A skipped second expert leaves slot 1 empty (index −1), counted in
 * `details.secondSkipped`. The combine weights are renormalized over what survives capacity,
 * and capacity serves first choices before second choices (dropPolicy "slot-major" by default),
 * as DeepSpeed's top2gating does.
 * @example
 * const r = sl.moe.route(logits, { router: "gshard", capacityFactor: 1, secondPolicy: "random", seed: 1 });
 */
export function gshardTop2(l: Logits, opts: { policy: SecondExpertPolicy; threshold: number; seed: number }): RouterOutput {
  const { T, E } = l;
  const probs = softmaxRows(l.data, T, E);
  const indices = new Int32Array(T * 2);
  const weights = new Float32Array(T * 2);
  const rng = new Rng(opts.seed);
  let skipped = 0;
  for (let t = 0; t < T; t++) {
    const o = t * E;
    let i1 = 0;
    for (let j = 1; j < E; j++) if (probs[o + j] > probs[o + i1]) i1 = j;
    let i2 = -1;
    for (let j = 0; j < E; j++) if (j !== i1 && (i2 < 0 || l.data[o + j] > l.data[o + i2])) i2 = j;
    const g1 = probs[o + i1];
    const g2 = i2 >= 0 ? probs[o + i2] : 0;
    const g2n = g2 / (g1 + g2);
    // Draw U for every token so that token t's decision does not depend on earlier tokens' policy.
    const u = rng.uniform();
    const keep = i2 >= 0 && (opts.policy === "all" || (opts.policy === "random" ? 2 * g2n > u : g2n > opts.threshold));
    indices[t * 2] = i1;
    weights[t * 2] = g1;
    if (keep) {
      indices[t * 2 + 1] = i2;
      weights[t * 2 + 1] = g2;
    } else {
      indices[t * 2 + 1] = -1;
      skipped++;
    }
  }
  return {
    k: 2,
    indices,
    weights,
    probs,
    renormalizeAfterDrop: true,
    details: { secondPolicy: opts.policy, secondSkipped: skipped, ...(opts.policy === "threshold" ? { threshold: opts.threshold } : {}) },
  };
}
