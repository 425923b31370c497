import { sigmoid, softmaxRows, topkIndices } from "../rowmath.js";
import type { Logits, RouterOutput } from "./types.js";

/**
 * Sinkhorn balancing of exp(logits) [T, E]: alternately scale rows and columns until the
 * column scaling changes by less than `tol` (mean absolute change), or `maxIters`. The result
 * has (nearly) equal row sums and equal column sums: a balanced soft assignment.
 * Returns the balanced matrix, the iterations run and whether it converged.
 * @example
 * const { plan, converged } = sl.moe.sinkhornBalance({ T: 4, E: 2, data: new Float32Array(8) }, 1e-4, 100);
 */
export function sinkhornBalance(l: Logits, tol: number, maxIters: number): { plan: Float64Array; iterations: number; converged: boolean; error: number } {
  const { T, E, data } = l;
  // exp(logits − max) only rescales the whole matrix, which the row/column scalings absorb;
  // it keeps exp from overflowing on large logits.
  let m = -Infinity;
  for (let i = 0; i < data.length; i++) if (data[i] > m) m = data[i];
  const c = new Float64Array(T * E);
  for (let i = 0; i < c.length; i++) c[i] = Math.exp(data[i] - m);
  const d0 = new Float64Array(T).fill(1);
  let d1 = new Float64Array(E).fill(1);
  const eps = 1e-8;
  let error = Infinity;
  let it = 0;
  while (error > tol && it < maxIters) {
    for (let t = 0; t < T; t++) {
      let s = 0;
      for (let e = 0; e < E; e++) s += d1[e] * c[t * E + e];
      d0[t] = 1 / T / (s + eps);
    }
    const next = new Float64Array(E);
    for (let t = 0; t < T; t++) for (let e = 0; e < E; e++) next[e] += d0[t] * c[t * E + e];
    for (let e = 0; e < E; e++) next[e] = 1 / E / (next[e] + eps);
    error = 0;
    for (let e = 0; e < E; e++) error += Math.abs(next[e] - d1[e]);
    error /= E;
    d1 = next;
    it++;
  }
  const plan = new Float64Array(T * E);
  for (let t = 0; t < T; t++) for (let e = 0; e < E; e++) plan[t * E + e] = d1[e] * c[t * E + e] * d0[t];
  return { plan, iterations: it, converged: error <= tol, error };
}

/**
 * Sinkhorn routing (BASE layers / Megatron's "sinkhorn"): experts are chosen by top k of the
 * Sinkhorn-balanced assignment, which spreads tokens evenly; the weights come from the
 * unbalanced router (sigmoid of the logit for k = 1, softmax over all experts for k > 1, as
 * Megatron does), optionally renormalized over the k.
 * @example
 * const r = sl.moe.route(logits, { router: "sinkhorn", k: 1, tol: 1e-4, maxIters: 200 });
 * r.details.converged
 */
export function sinkhornRouter(l: Logits, k: number, opts: { tol: number; maxIters: number; normalize: boolean }): RouterOutput {
  const { T, E, data } = l;
  const { plan, iterations, converged, error } = sinkhornBalance(l, opts.tol, opts.maxIters);
  const probs = softmaxRows(data, T, E);
  const indices = new Int32Array(T * k);
  const weights = new Float32Array(T * k);
  for (let t = 0; t < T; t++) {
    topkIndices((e) => plan[t * E + e], E, k, indices, t * k);
    let s = 0;
    for (let i = 0; i < k; i++) {
      const e = indices[t * k + i];
      const w = k === 1 ? sigmoid(data[t * E + e]) : probs[t * E + e];
      weights[t * k + i] = w;
      s += w;
    }
    if (opts.normalize) for (let i = 0; i < k; i++) weights[t * k + i] /= s;
  }
  return { k, indices, weights, probs, details: { iterations, converged, error, tol: opts.tol } };
}
