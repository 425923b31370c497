/**
 * What every router returns before capacity is applied. Routers are pure functions over a
 * logits matrix [T, E] (row-major f32); `route()` adds capacity, dropping and losses.
 */
export interface RouterOutput {
  /** Slots per token (k; for expert choice the most experts any token got). */
  k: number;
  /** [T, k] expert ids best first; −1 marks an empty slot (a policy chose no expert there). */
  indices: Int32Array;
  /** [T, k] combine weights (0 in empty slots). */
  weights: Float32Array;
  /**
   * [T, E] the router's full distribution over experts, used by the load-balancing loss and
   * the entropy metric (softmax of the logits, or the normalized sigmoid scores for DeepSeek).
   */
  probs: Float32Array;
  /** When true, `route()` renormalizes each token's kept weights to sum to 1 after dropping (GShard). */
  renormalizeAfterDrop?: boolean;
  /** Router-specific facts worth showing (Sinkhorn iterations, skipped second experts...). */
  details: Record<string, unknown>;
}

/** The logits as the routers read them. */
export interface Logits {
  T: number;
  E: number;
  /** [T, E] row-major; −∞ means "never pick". */
  data: Float32Array;
}
