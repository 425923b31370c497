import { Rng } from "../rng.js";
import { softmaxRows } from "../rowmath.js";
import type { Logits, RouterOutput } from "./types.js";

/**
 * Switch Transformer top-1: the argmax of the softmax, weighted by its probability (no
 * renormalization, so the gate value still carries the router's confidence). Jitter ε
 * multiplies the logits by U(1 − ε, 1 + ε) drawn from `seed` (Switch applies it to the router
 * input; `route()` does that when given x and a gate weight, and passes jittered logits here).
 * @example
 * const r = sl.moe.route(logits, { router: "switch", capacityFactor: 1.25, jitter: 0.01, seed: 0 });
 */
export function switchTop1(l: Logits, opts: { jitter: number; seed: number }): RouterOutput {
  const { T, E } = l;
  let data = l.data;
  if (opts.jitter > 0) {
    const rng = new Rng(opts.seed);
    data = new Float32Array(data.length);
    for (let i = 0; i < data.length; i++) data[i] = l.data[i] * (1 - opts.jitter + 2 * opts.jitter * rng.uniform());
  }
  const probs = softmaxRows(data, T, E);
  const indices = new Int32Array(T);
  const weights = new Float32Array(T);
  for (let t = 0; t < T; t++) {
    let best = 0;
    for (let j = 1; j < E; j++) if (probs[t * E + j] > probs[t * E + best]) best = j;
    indices[t] = best;
    weights[t] = probs[t * E + best];
  }
  return { k: 1, indices, weights, probs, details: { jitter: opts.jitter } };
}
