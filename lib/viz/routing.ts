import { argError } from "../errors.js";
import type { RoutingRecord } from "../moe/record.js";
import { routingMetrics } from "../moe/metrics.js";
import { baseLayout, OKABE_ITO, pct, SEQUENTIAL, type Figure } from "./figure.js";

function checkRecord(op: string, r: unknown): asserts r is RoutingRecord {
  const x = r as RoutingRecord;
  if (!x || typeof x !== "object" || !x.indices || !x.counts || typeof x.numExperts !== "number")
    argError(op, "record", "a RoutingRecord (from sl.moe.route or a layer's forward)", typeof r);
}

/**
 * Token × expert routing weights (0 where a token did not choose the expert; dropped
 * assignments shown as 0 with the drop in the hover text). At most `maxTokens` tokens drawn.
 * @example
 * const r = sl.moe.route(sl.moe.randomLogits(64, 8, { seed: 1 }), { router: "softmax-topk", k: 2 });
 * sl.viz.routingHeatmap(r)
 */
export function routingHeatmap(record: RoutingRecord, opts: { maxTokens?: number; title?: string } = {}): Figure {
  const op = "viz.routingHeatmap";
  checkRecord(op, record);
  const T = Math.min(record.numTokens, opts.maxTokens ?? 512), E = record.numExperts, k = record.k;
  const idx = record.indices.data as Int32Array, w = record.weights.data as Float32Array, kept = record.kept.data as Uint8Array;
  const z = Array.from({ length: T }, () => new Array<number>(E).fill(0));
  const text = Array.from({ length: T }, (_, t) => Array.from({ length: E }, (_, e) => `token ${t}, expert ${e}: not chosen`));
  for (let t = 0; t < T; t++)
    for (let j = 0; j < k; j++) {
      const e = idx[t * k + j];
      if (e < 0 || e >= E) continue;
      const on = kept[t * k + j] === 1;
      if (on) z[t][e] = w[t * k + j];
      text[t][e] = `token ${t}, expert ${e}: weight ${w[t * k + j].toFixed(4)} (slot ${j}${on ? "" : ", DROPPED"})`;
    }
  const more = record.numTokens > T ? ` (first ${T} of ${record.numTokens} tokens)` : "";
  return {
    data: [{ type: "heatmap", z, text, hoverinfo: "text", colorscale: SEQUENTIAL, colorbar: { title: { text: "weight" } }, x: Array.from({ length: E }, (_, e) => e) }],
    layout: baseLayout({ title: opts.title ?? `${record.router} routing, top-${k} of ${E}${more}`, xTitle: "expert", yTitle: "token", reversedY: true, height: Math.min(900, 200 + 2 * T) }),
    config: { responsive: true },
  };
}

/**
 * Tokens per expert, one bar group per layer (or one record), with the even share as a line;
 * CV and max/mean in the title.
 * @example
 * const layers = [1, 2, 3].map((seed) => sl.moe.route(sl.moe.randomLogits(512, 8, { seed }), { k: 2, capacityFactor: 1.25 }));
 * sl.viz.expertLoad(layers)            // or one record
 */
export function expertLoad(records: RoutingRecord | RoutingRecord[], opts: { title?: string } = {}): Figure {
  const op = "viz.expertLoad";
  const list = Array.isArray(records) ? records : [records];
  if (list.length === 0) argError(op, "records", "at least one RoutingRecord", "an empty array");
  list.forEach((r) => checkRecord(op, r));
  const E = list[0].numExperts;
  const data: Record<string, unknown>[] = list.map((r, i) => {
    const m = routingMetrics(r);
    return {
      type: "bar",
      name: `${r.layer !== undefined ? `layer ${r.layer}` : `record ${i}`} (CV ${m.cv.toFixed(2)}, max/mean ${m.maxOverMean.toFixed(2)})`,
      x: Array.from({ length: E }, (_, e) => e),
      y: m.tokensPerExpert,
      marker: { color: OKABE_ITO[i % OKABE_ITO.length] },
      hovertemplate: "expert %{x}: %{y} tokens<extra></extra>",
    };
  });
  const even = list[0].assignments / E;
  data.push({ type: "scatter", mode: "lines", name: "even share", x: [-0.5, E - 0.5], y: [even, even], line: { dash: "dash", color: "#000000" } });
  const m0 = routingMetrics(list[0]);
  const title = opts.title ?? (list.length === 1 ? `Tokens per expert: CV ${m0.cv.toFixed(2)}, max/mean ${m0.maxOverMean.toFixed(2)}, ${m0.idleExperts} idle` : `Tokens per expert over ${list.length} layers`);
  const layout = baseLayout({ title, xTitle: "expert", yTitle: "tokens kept" });
  layout.barmode = "group";
  return { data, layout, config: { responsive: true } };
}

/**
 * Dropped assignments per token-position bin (capacity overflow hits late tokens under the
 * "position" drop policy); the title gives the total, the capacity and the policy.
 * @example
 * const r = sl.moe.route(sl.moe.randomLogits(512, 8, { seed: 1 }), { k: 2, capacityFactor: 1 });
 * sl.viz.droppedByPosition(r, { bins: 16 })
 */
export function droppedByPosition(record: RoutingRecord, opts: { bins?: number; title?: string } = {}): Figure {
  checkRecord("viz.droppedByPosition", record);
  const m = routingMetrics(record, { bins: opts.bins ?? 16 });
  const total = record.assignments;
  return {
    data: [{
      type: "bar",
      x: m.droppedByPosition.map((d) => `${d.binStart}–${d.binEnd - 1}`),
      y: m.droppedByPosition.map((d) => d.dropped),
      marker: { color: OKABE_ITO[5] },
      hovertemplate: "tokens %{x}: %{y} dropped<extra></extra>",
    }],
    layout: baseLayout({
      title: opts.title ?? `Dropped assignments by token position: ${m.dropped} of ${total} (${pct(m.dropped / Math.max(1, total))}), capacity ${record.capacity ?? "none"}, policy ${record.dropPolicy}`,
      xTitle: "token position", yTitle: "dropped assignments",
    }),
    config: { responsive: true },
  };
}

/**
 * E × E counts of expert pairs chosen by the same token (diagonal: tokens routed to the expert).
 * @example
 * sl.viz.coactivation(sl.moe.route(sl.moe.randomLogits(512, 8, { seed: 1 }), { k: 2 }))
 */
export function coactivation(record: RoutingRecord, opts: { title?: string } = {}): Figure {
  checkRecord("viz.coactivation", record);
  const m = routingMetrics(record);
  const E = record.numExperts;
  const z = Array.from({ length: E }, (_, i) => Array.from(m.coactivation.subarray(i * E, (i + 1) * E)));
  return {
    data: [{ type: "heatmap", z, colorscale: SEQUENTIAL, colorbar: { title: { text: "tokens" } }, hovertemplate: "experts %{y} & %{x}: %{z} tokens<extra></extra>" }],
    layout: baseLayout({ title: opts.title ?? `Expert co-activation (diagonal: tokens routed to the expert)`, xTitle: "expert", yTitle: "expert", reversedY: true, width: 600, height: 560 }),
    config: { responsive: true },
  };
}

/**
 * Layer-to-layer expert flow from a routing trace (per-layer records of the same tokens): a
 * sankey whose links count tokens whose top-1 expert was e in layer l and e' in layer l + 1.
 * @example
 * const layers = [1, 2, 3].map((seed) => sl.moe.route(sl.moe.randomLogits(512, 8, { seed }), { k: 2 }));
 * sl.viz.routingSankey(layers)         // or sl.moe.readRoutingTrace(jsonlText) of a real model
 */
export function routingSankey(layers: RoutingRecord[], opts: { topLinks?: number; title?: string } = {}): Figure {
  const op = "viz.routingSankey";
  if (!Array.isArray(layers) || layers.length < 2) argError(op, "layers", "an array of at least two per-layer RoutingRecords", Array.isArray(layers) ? `${layers.length} records` : typeof layers);
  layers.forEach((r) => checkRecord(op, r));
  const T = Math.min(...layers.map((r) => r.numTokens));
  const labels: string[] = [];
  const nodeOf = (l: number, e: number) => l * layers[0].numExperts + e;
  layers.forEach((r, l) => {
    for (let e = 0; e < layers[0].numExperts; e++) labels.push(`L${r.layer ?? l} E${e}`);
  });
  const source: number[] = [], target: number[] = [], value: number[] = [];
  for (let l = 0; l + 1 < layers.length; l++) {
    const a = layers[l], b = layers[l + 1];
    const ia = a.indices.data as Int32Array, ib = b.indices.data as Int32Array;
    const counts = new Map<number, number>();
    for (let t = 0; t < T; t++) {
      const key = ia[t * a.k] * 65536 + ib[t * b.k];
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    const top = [...counts.entries()].sort((x, y) => y[1] - x[1]).slice(0, opts.topLinks ?? 64);
    for (const [key, n] of top) {
      source.push(nodeOf(l, Math.floor(key / 65536)));
      target.push(nodeOf(l + 1, key % 65536));
      value.push(n);
    }
  }
  // A sankey has no cartesian axes: drop the base layout's, which plotly would ignore.
  const { xaxis: _x, yaxis: _y, ...layout } = baseLayout({ title: opts.title ?? `Top-1 expert flow across ${layers.length} layers (${T} tokens; the ${opts.topLinks ?? 64} largest links per layer pair)`, width: 900, height: 600 });
  return {
    data: [{
      type: "sankey",
      node: { label: labels, pad: 8, thickness: 12, color: labels.map((_, i) => OKABE_ITO[i % OKABE_ITO.length]), hovertemplate: "%{label}: %{value} tokens<extra></extra>" },
      link: { source, target, value, hovertemplate: "%{source.label} → %{target.label}: %{value} tokens<extra></extra>" },
    }],
    layout,
    config: { responsive: true },
  };
}
