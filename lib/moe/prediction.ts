import { table, type ColumnTable } from "arquero";
import { argError } from "../errors.js";
import { checkInt, readMatrix, type MatrixLike } from "./input.js";
import type { RoutingRecord } from "./record.js";
import { matmulRows, topkIndices } from "./rowmath.js";

/**
 * Expert prediction for offloading: how well can the experts of layer l+1 be known before
 * layer l+1's router runs, so their weights can be fetched ahead? Every rate here is "hit rate
 * at k": the mean over tokens of |predicted ∩ chosen| / |chosen|, with k predicted experts per
 * token (chosen = the experts layer l+1's router picked, dropped or not).
 */

function chosenSets(r: RoutingRecord): number[][] {
  const idx = r.indices.data as Int32Array;
  return Array.from({ length: r.numTokens }, (_, t) => {
    const s: number[] = [];
    for (let i = 0; i < r.k; i++) if (idx[t * r.k + i] >= 0) s.push(idx[t * r.k + i]);
    return s;
  });
}

function hitRate(pred: (t: number) => ArrayLike<number>, chosen: number[][]): number {
  let sum = 0;
  let n = 0;
  for (let t = 0; t < chosen.length; t++) {
    const c = chosen[t];
    if (c.length === 0) continue;
    const p = pred(t);
    let hit = 0;
    for (const e of c) for (let i = 0; i < p.length; i++) if (p[i] === e) hit++;
    sum += hit / c.length;
    n++;
  }
  return n ? sum / n : 0;
}

/**
 * The cross-layer gate predictor: apply the next layer's gate to the hidden state the current
 * layer already has (next layer's W_gate on h_l instead of h_{l+1}); residual streams change
 * slowly, so top-k of h_l·W_{l+1} often names the experts h_{l+1}·W_{l+1} will pick.
 * @example
 * sl.moe.crossLayerGateHitRate(hiddenL, layers[l + 1].gateWeight, records[l + 1])   // e.g. 0.83
 */
export function crossLayerGateHitRate(hidden: MatrixLike, nextGateWeight: MatrixLike, next: RoutingRecord, opts: { k?: number } = {}): number {
  const op = "moe.crossLayerGateHitRate";
  const h = readMatrix(op, "hidden", hidden, { rows: next.numTokens });
  const w = readMatrix(op, "nextGateWeight", nextGateWeight, { rows: h.cols, cols: next.numExperts });
  const k = checkInt(op, "k", opts.k ?? next.k, 1, next.numExperts);
  const E = next.numExperts;
  const logits = matmulRows(h.data, w.data, h.rows, h.cols, E);
  const pred = new Int32Array(k);
  return hitRate((t) => {
    topkIndices((e) => logits[t * E + e], E, k, pred);
    return pred;
  }, chosenSets(next));
}

/**
 * The frequency-cache predictor: keep the `cacheSize` experts used most so far (counts over
 * the earlier tokens of this layer, plus an optional `history` record to start warm) and
 * predict them for the next token; ties go to the lower expert id.
 * @example
 * sl.moe.frequencyCacheHitRate(records[l + 1], { cacheSize: 4 })
 */
export function frequencyCacheHitRate(record: RoutingRecord, opts: { cacheSize?: number; history?: RoutingRecord } = {}): number {
  const E = record.numExperts;
  const size = checkInt("moe.frequencyCacheHitRate", "cacheSize", opts.cacheSize ?? record.k, 1, E);
  const counts = new Float64Array(E);
  if (opts.history) {
    if (opts.history.numExperts !== E) argError("moe.frequencyCacheHitRate", "history", `a record over ${E} experts`, `${opts.history.numExperts}`);
    for (const s of chosenSets(opts.history)) for (const e of s) counts[e]++;
  }
  const chosen = chosenSets(record);
  const pred = new Int32Array(size);
  return hitRate((t) => {
    topkIndices((e) => counts[e], E, size, pred);
    for (const e of chosen[t]) counts[e]++; // updated after predicting token t
    return pred;
  }, chosen);
}

/** The naive baseline: predict that token t uses the same expert ids in layer l+1 as in layer l.
 * @example
 * sl.moe.sameIdsHitRate(records[0], records[1])
 */
export function sameIdsHitRate(prev: RoutingRecord, next: RoutingRecord): number {
  if (prev.numTokens !== next.numTokens) argError("moe.sameIdsHitRate", "next", `a record over ${prev.numTokens} tokens like prev`, `${next.numTokens}`);
  const p = chosenSets(prev);
  return hitRate((t) => p[t], chosenSets(next));
}

/** One layer's routing, with what the cross-layer predictor needs when available. */
export interface PredictionLayer {
  record: RoutingRecord;
  /** The hidden state entering this layer [T, d]. */
  hidden?: MatrixLike;
  /** This layer's gate weight [d, E]. */
  gateWeight?: MatrixLike;
}

/**
 * Hit rates for every consecutive pair of layers (l -> l+1): cross-layer gate (when layer l's
 * hidden state and layer l+1's gate weight are given), frequency cache, and same-ids baseline,
 * as an arquero table with one row per predicted layer.
 * @example
 * sl.moe.expertPredictionReport(layers, { cacheSize: 8 }).print();
 */
export function expertPredictionReport(layers: readonly PredictionLayer[], opts: { k?: number; cacheSize?: number } = {}): ColumnTable {
  const rows = { layer: [] as number[], crossLayerGate: [] as (number | null)[], frequencyCache: [] as number[], sameIds: [] as (number | null)[], k: [] as number[] };
  for (let l = 0; l + 1 < layers.length; l++) {
    const cur = layers[l];
    const next = layers[l + 1];
    rows.layer.push(next.record.layer ?? l + 1);
    rows.k.push(opts.k ?? next.record.k);
    rows.crossLayerGate.push(cur.hidden !== undefined && next.gateWeight !== undefined ? crossLayerGateHitRate(cur.hidden, next.gateWeight, next.record, { k: opts.k }) : null);
    rows.frequencyCache.push(frequencyCacheHitRate(next.record, { cacheSize: opts.cacheSize ?? opts.k }));
    rows.sameIds.push(cur.record.numTokens === next.record.numTokens && cur.record.numExperts === next.record.numExperts ? sameIdsHitRate(cur.record, next.record) : null);
  }
  return table(rows);
}
