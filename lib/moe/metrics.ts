import { table, type ColumnTable } from "arquero";
import { argError } from "../errors.js";
import type { RoutingRecord } from "./record.js";

/** Load-balance and routing statistics of one routing record. */
export interface RoutingMetrics {
  /** Kept tokens per expert [E]. */
  tokensPerExpert: number[];
  /** Coefficient of variation of the kept load (std / mean, population std). 0 = perfectly even. */
  cv: number;
  /** Busiest expert's load over the mean: the straggler factor of an expert-parallel step. */
  maxOverMean: number;
  /** Experts that received no token. */
  idleExperts: number;
  /** Mean per-token entropy of the router's probabilities, in nats (null without probs). */
  routerEntropy: number | null;
  /** log E: the entropy of a uniform router, for scale. */
  maxEntropy: number;
  /** Dropped assignments. */
  dropped: number;
  /** Dropped assignments per token-position bin: `bins` equal ranges of [0, T). */
  droppedByPosition: { binStart: number; binEnd: number; dropped: number }[];
  /** E×E counts of expert pairs chosen by the same token (symmetric; diagonal = tokens per expert before capacity). */
  coactivation: Int32Array;
}

/**
 * Metrics of a routing record: load per expert, CV, max/mean, router entropy, drops by
 * position, and the co-activation matrix.
 * @example
 * const m = sl.moe.routingMetrics(record, { bins: 8 });
 * m.cv; m.maxOverMean; m.coactivation;   // Int32Array E×E
 */
export function routingMetrics(r: RoutingRecord, opts: { bins?: number } = {}): RoutingMetrics {
  const T = r.numTokens;
  const E = r.numExperts;
  const k = r.k;
  const bins = Math.max(1, Math.min(opts.bins ?? 10, Math.max(1, T)));
  if (!Number.isInteger(bins)) argError("moe.routingMetrics", "bins", "a positive integer", String(opts.bins));
  const load = Array.from(r.counts);
  const mean = load.reduce((a, b) => a + b, 0) / E;
  const std = Math.sqrt(load.reduce((a, c) => a + (c - mean) ** 2, 0) / E);
  let entropy: number | null = null;
  if (r.probs) {
    const p = r.probs.data as Float32Array;
    let h = 0;
    for (let i = 0; i < T * E; i++) if (p[i] > 0) h -= p[i] * Math.log(p[i]);
    entropy = T ? h / T : 0;
  }
  const byPos = Array.from({ length: bins }, (_, b) => ({ binStart: Math.floor((b * T) / bins), binEnd: Math.floor(((b + 1) * T) / bins), dropped: 0 }));
  for (const d of r.dropped) byPos[Math.min(bins - 1, Math.floor((d.token * bins) / T))].dropped++;
  const co = new Int32Array(E * E);
  const idx = r.indices.data as Int32Array;
  for (let t = 0; t < T; t++)
    for (let i = 0; i < k; i++) {
      const a = idx[t * k + i];
      if (a < 0) continue;
      for (let j = 0; j < k; j++) {
        const b = idx[t * k + j];
        if (b >= 0) co[a * E + b]++;
      }
    }
  return {
    tokensPerExpert: load,
    cv: mean > 0 ? std / mean : 0,
    maxOverMean: mean > 0 ? Math.max(...load) / mean : 0,
    idleExperts: load.filter((c) => c === 0).length,
    routerEntropy: entropy,
    maxEntropy: Math.log(E),
    dropped: r.dropped.length,
    droppedByPosition: byPos,
    coactivation: co,
  };
}

/**
 * One row per record (per layer): tokens, experts, k, capacity, dropped, CV, max/mean, idle
 * experts, entropy and the losses, as an arquero table (`.print()`, `.objects()`, `.toHTML()`).
 * @example
 * const t = sl.moe.layerSummary(records);
 * t.orderby("layer").print();
 */
export function layerSummary(records: readonly RoutingRecord[]): ColumnTable {
  const rows = records.map((r, i) => {
    const m = routingMetrics(r);
    return {
      layer: r.layer ?? i,
      router: r.router,
      tokens: r.numTokens,
      experts: r.numExperts,
      k: r.k,
      capacity: r.capacity,
      assignments: r.assignments,
      dropped: m.dropped,
      cv: m.cv,
      maxOverMean: m.maxOverMean,
      idleExperts: m.idleExperts,
      routerEntropy: m.routerEntropy,
      lbLoss: r.losses.loadBalancing?.value ?? null,
      lbNormalization: r.losses.loadBalancing?.normalization ?? null,
      zLoss: r.losses.zLoss?.value ?? null,
    };
  });
  const cols: Record<string, unknown[]> = {};
  const names = ["layer", "router", "tokens", "experts", "k", "capacity", "assignments", "dropped", "cv", "maxOverMean", "idleExperts", "routerEntropy", "lbLoss", "lbNormalization", "zLoss"];
  for (const n of names) cols[n] = rows.map((r) => (r as Record<string, unknown>)[n]);
  return table(cols);
}
