import { Rng } from "../rng.js";
import { softmaxRows, softplus, topkIndices } from "../rowmath.js";
import type { Logits, RouterOutput } from "./types.js";

/**
 * Noisy top-k gating (Shazeer et al. 2017): H = logits + N(0,1)·softplus(noiseLogits), where
 * noiseLogits = x·W_noise; keep the top k of H and softmax over them. Without noise logits the
 * noise standard deviation is the constant `noiseStd`. The noise is drawn from `seed`, so a
 * run repeats exactly. `probs` is the softmax of the noisy logits H (what the gate saw).
 * @example
 * const r = sl.moe.route(logits, { router: "noisy-topk", k: 2, seed: 7, noiseStd: 1 });
 */
export function noisyTopk(l: Logits, k: number, opts: { seed: number; noiseStd: number; noiseLogits?: Float32Array }): RouterOutput {
  const { T, E, data } = l;
  const rng = new Rng(opts.seed);
  const noisy = new Float32Array(T * E);
  for (let i = 0; i < T * E; i++) {
    const std = opts.noiseLogits ? softplus(opts.noiseLogits[i]) : opts.noiseStd;
    noisy[i] = data[i] + rng.normal() * std;
  }
  const indices = new Int32Array(T * k);
  const weights = new Float32Array(T * k);
  for (let t = 0; t < T; t++) {
    const o = t * E;
    topkIndices((j) => noisy[o + j], E, k, indices, t * k);
    const m = noisy[o + indices[t * k]];
    let s = 0;
    for (let i = 0; i < k; i++) s += Math.exp(noisy[o + indices[t * k + i]] - m);
    for (let i = 0; i < k; i++) weights[t * k + i] = Math.exp(noisy[o + indices[t * k + i]] - m) / s;
  }
  return {
    k,
    indices,
    weights,
    probs: softmaxRows(noisy, T, E),
    details: { seed: opts.seed, noise: opts.noiseLogits ? "softplus(noiseLogits)" : `constant std ${opts.noiseStd}` },
  };
}
