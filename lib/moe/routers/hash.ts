import { mix32 } from "../rng.js";
import type { RouterOutput } from "./types.js";

/**
 * Hash routing (Roller et al. 2021): a fixed function of the token id picks the experts, no
 * learned gate. Slot i uses hash(id, seed, i) mod E, probing onwards to keep the k experts
 * distinct; each weight is 1/k. `probs` is the softmax of the logits when the router had them
 * (so losses still describe the learned gate), else the routing itself (1/k on each choice).
 * @example
 * const r = sl.moe.route(null, { router: "hash", tokenIds, numExperts: 16, k: 1 });
 */
export function hashRouter(tokenIds: ArrayLike<number>, E: number, k: number, seed: number, probs?: Float32Array): RouterOutput {
  const T = tokenIds.length;
  const indices = new Int32Array(T * k);
  const weights = new Float32Array(T * k).fill(1 / k);
  const own = probs ?? new Float32Array(T * E);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < k; i++) {
      let e = mix32((tokenIds[t] >>> 0) ^ mix32(seed * 16 + i + 1)) % E;
      // Linear probing keeps the k picks distinct (k ≤ E is validated by route()).
      for (let tries = 0; tries < E; tries++) {
        let used = false;
        for (let p = 0; p < i; p++) if (indices[t * k + p] === e) used = true;
        if (!used) break;
        e = (e + 1) % E;
      }
      indices[t * k + i] = e;
      if (!probs) own[t * E + e] = 1 / k;
    }
  }
  return { k, indices, weights, probs: own, details: { seed, probs: probs ? "softmax(logits)" : "the hash routing (no logits given)" } };
}
