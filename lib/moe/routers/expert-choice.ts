import { softmaxRows, topkIndices } from "../rowmath.js";
import type { Logits, RouterOutput } from "./types.js";

/**
 * Expert choice (Zhou et al. 2022): each expert takes its top c tokens of softmax(logits)
 * along the token axis, c = ceil(T·capacityFactor / E) (at most T); the weight is that
 * probability. A token can get zero or many experts: `k` is the most any token got, unused
 * slots are −1, and tokens that got none are counted in `details.unroutedTokens`. It looks
 * at the whole batch, so it is not causal.
 * @example
 * const r = sl.moe.route(logits, { router: "expert-choice", capacityFactor: 2 });
 */
export function expertChoice(l: Logits, capacityFactor: number): RouterOutput {
  const { T, E } = l;
  const probs = softmaxRows(l.data, T, E);
  const c = Math.min(T, Math.ceil((T * capacityFactor) / E));
  const picks = new Int32Array(c);
  const perToken: number[][] = Array.from({ length: T }, () => []);
  for (let e = 0; e < E; e++) {
    topkIndices((t) => probs[t * E + e], T, c, picks);
    for (const t of picks) perToken[t].push(e);
  }
  let k = 0;
  let unrouted = 0;
  for (const p of perToken) {
    k = Math.max(k, p.length);
    if (p.length === 0) unrouted++;
  }
  k = Math.max(k, 1);
  const indices = new Int32Array(T * k).fill(-1);
  const weights = new Float32Array(T * k);
  for (let t = 0; t < T; t++) {
    // Slots best first, like the token-choice routers.
    const p = perToken[t].sort((a, b) => probs[t * E + b] - probs[t * E + a] || a - b);
    for (let i = 0; i < p.length; i++) {
      indices[t * k + i] = p[i];
      weights[t * k + i] = probs[t * E + p[i]];
    }
  }
  return { k, indices, weights, probs, details: { tokensPerExpert: c, unroutedTokens: unrouted } };
}
