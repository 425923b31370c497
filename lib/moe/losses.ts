import { SparselabError } from "../errors.js";
import { checkNumber, readMatrix, type MatrixLike } from "./input.js";
import type { RoutingRecord } from "./record.js";
import { logsumexpRow } from "./rowmath.js";

/**
 * Router losses. Both load-balancing normalizations are computed from the same f and P:
 *   f_e = assignments routed to e (before capacity) / denominator,  P_e = mean_t probs[t, e],
 *   loss = coeff · E · Σ_e f_e · P_e.
 * "transformers" divides counts by T (load_balancing_loss_func: it sums the k slots' one-hot
 * means), "megatron" by T·k (switch_load_balancing_loss_func), so transformers = k × megatron.
 * `probs` must be the router's distribution computed once from the logits: a softmax applied
 * to those probabilities again (a known bug) flattens P and shrinks the loss.
 */
export type LossNormalization = "transformers" | "megatron";

export interface LoadBalancingLoss {
  /** coeff · E · Σ f·P in the named normalization. */
  value: number;
  normalization: LossNormalization;
  coeff: number;
  /** Both normalizations, unscaled (coeff 1), so a user can compare with either codebase. */
  unscaled: { transformers: number; megatron: number };
}

export interface RoutingLosses {
  /** Null when the record has no router probabilities (e.g. read from a trace without them). */
  loadBalancing: LoadBalancingLoss | null;
  /** DeepSeek's sequence-level balance loss (coeff · mean over sequences of the per-sequence Megatron loss); null unless seqLen was given. */
  sequenceBalancing: { value: number; coeff: number; seqLen: number; sequences: number } | null;
  /** coeff · mean_t logsumexp(logits_t)²; null when there were no logits. */
  zLoss: { value: number; coeff: number } | null;
}

/** E · Σ f·P for T tokens of `probs` [T, E] and routed `indices` [T, k] (−1 ignored), both normalizations. */
export function loadBalancingUnscaled(probs: Float32Array, indices: Int32Array, T: number, E: number, k: number, tokenStart = 0, tokenEnd = T): { transformers: number; megatron: number } {
  const counts = new Float64Array(E);
  const P = new Float64Array(E);
  const n = tokenEnd - tokenStart;
  let assignments = 0;
  for (let t = tokenStart; t < tokenEnd; t++) {
    for (let i = 0; i < k; i++) {
      const e = indices[t * k + i];
      if (e >= 0) {
        counts[e]++;
        assignments++;
      }
    }
    for (let e = 0; e < E; e++) P[e] += probs[t * E + e];
  }
  let dot = 0;
  for (let e = 0; e < E; e++) dot += counts[e] * (P[e] / n);
  // Megatron's T·k is the number of assignments; with empty slots (GShard, expert choice) the
  // assignments actually made are the honest denominator.
  return { transformers: (E * dot) / n, megatron: assignments > 0 ? (E * dot) / assignments : 0 };
}

/** The load-balancing loss, named by its normalization (internal form over raw arrays). */
export function loadBalancing(probs: Float32Array, indices: Int32Array, T: number, E: number, k: number, normalization: LossNormalization, coeff: number): LoadBalancingLoss {
  const unscaled = loadBalancingUnscaled(probs, indices, T, E, k);
  return { value: coeff * unscaled[normalization], normalization, coeff, unscaled };
}

/** DeepSeek-V3's sequence-wise balance loss: the Megatron-normalized loss per sequence of `seqLen` tokens, averaged. */
export function sequenceBalancing(probs: Float32Array, indices: Int32Array, T: number, E: number, k: number, seqLen: number, coeff: number): { value: number; coeff: number; seqLen: number; sequences: number } {
  const sequences = Math.ceil(T / seqLen);
  let sum = 0;
  for (let s = 0; s < sequences; s++) sum += loadBalancingUnscaled(probs, indices, T, E, k, s * seqLen, Math.min(T, (s + 1) * seqLen)).megatron;
  return { value: (coeff * sum) / sequences, coeff, seqLen, sequences };
}

/** z-loss (ST-MoE): coeff · mean over tokens of logsumexp(logits)². */
export function zLoss(logits: Float32Array, T: number, E: number, coeff: number): { value: number; coeff: number } {
  let s = 0;
  for (let t = 0; t < T; t++) {
    const z = logsumexpRow(logits, t * E, E);
    s += z * z;
  }
  return { value: (coeff * s) / T, coeff };
}

/**
 * The load-balancing loss of a routing record in the named normalization (f from the router's
 * choices before capacity, P from its probabilities).
 * @example
 * const lb = sl.moe.loadBalancingLoss(record, { normalization: "transformers", coeff: 0.01 });
 * lb.value; lb.normalization;   // "transformers"
 */
export function loadBalancingLoss(record: RoutingRecord, opts: { normalization?: LossNormalization; coeff?: number } = {}): LoadBalancingLoss {
  if (!record.probs) throw new SparselabError("moe.loadBalancingLoss", "the record has no router probabilities (read from a trace?)");
  const n = opts.normalization ?? "megatron";
  if (n !== "megatron" && n !== "transformers") throw new SparselabError("moe.loadBalancingLoss", `argument 'normalization' must be "megatron" or "transformers", got ${JSON.stringify(n)}`);
  const coeff = checkNumber("moe.loadBalancingLoss", "coeff", opts.coeff ?? 1, 0);
  return loadBalancing(record.probs.data as Float32Array, record.indices.data as Int32Array, record.numTokens, record.numExperts, record.k, n, coeff);
}

/**
 * The router z-loss of logits [T, E]: coeff · mean_t logsumexp(logits_t)².
 * @example
 * sl.moe.routerZLoss(logits, { coeff: 1e-3 }).value
 */
export function routerZLoss(logits: MatrixLike, opts: { coeff?: number } = {}): { value: number; coeff: number } {
  const m = readMatrix("moe.routerZLoss", "logits", logits, { allowInf: true });
  return zLoss(m.data, m.rows, m.cols, checkNumber("moe.routerZLoss", "coeff", opts.coeff ?? 1, 0));
}
