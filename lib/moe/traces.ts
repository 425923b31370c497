import { readFile } from "node:fs/promises";
import { SparselabError } from "../errors.js";
import { Tensor } from "../tensor/tensor.js";
import { RoutingRecord } from "./record.js";

const OP = "moe.readRoutingTrace";
const LAYER_KEYS = ["layer", "layer_id", "layer_idx", "layer_number"];
const IDS_KEYS = ["topk_ids", "topk_experts", "expert_ids", "experts", "topk_indices", "indices", "selected_experts", "target_topk_idx", "recorded_topk_idx"];
const WEIGHT_KEYS = ["topk_weights", "weights", "topk_probs", "scores", "routing_weights"];
const ROUTED_KEYS = ["routed_experts"];

/**
 * Reads a JSONL routing trace into one RoutingRecord per layer (sorted by layer). One JSON
 * value per line, in any of these shapes (keys are matched by the first name present):
 *
 * 1. Per token and layer (Megatron-style router traces, per-token loggers):
 *    `{"layer": 3, "token": 17, "topk_ids": [5, 12], "topk_weights": [0.6, 0.4]}`
 *    layer: layer | layer_id | layer_idx | layer_number; ids: topk_ids | topk_experts |
 *    expert_ids | experts | topk_indices | indices | selected_experts | target_topk_idx
 *    (Megatron RouterReplay's recorded indices); weights (optional):
 *    topk_weights | weights | topk_probs | scores | routing_weights.
 * 2. Per layer and batch (a [tokens][k] matrix): `{"layer": 3, "topk_ids": [[5, 12], [1, 5], ...]}`,
 *    with optional `topk_weights` of the same shape.
 * 3. vLLM / SGLang routed experts, one request per line, [tokens][layers][k]:
 *    `{"routed_experts": [[[5, 12], [3, 9]], ...]}` or the bare array `[[[5, 12], [3, 9]], ...]`.
 *
 * Tokens of a layer are kept in the order their lines appear (requests concatenated). Without
 * weights each kept expert gets 1/k. Traces carry no router probabilities, so `probs` and the
 * losses are null; metrics such as load, CV and co-activation still apply. Bad lines throw with
 * their line number.
 * @example
 * const layers = sl.moe.readRoutingTrace(await fs.promises.readFile("routes.jsonl", "utf8"), { numExperts: 64 });
 * sl.moe.layerSummary(layers).print();
 */
export function readRoutingTrace(text: string | Uint8Array, opts: { numExperts?: number } = {}): RoutingRecord[] {
  const src = typeof text === "string" ? text : new TextDecoder().decode(text);
  const layers = new Map<number, { ids: number[][]; weights: (number[] | null)[] }>();
  const add = (layer: number, ids: unknown, w: unknown, where: string): void => {
    if (!Number.isInteger(layer) || layer < 0) bad(where, `layer must be a non-negative integer, got ${JSON.stringify(layer)}`);
    const row = intRow(ids, where);
    let wr: number[] | null = null;
    if (w !== undefined && w !== null) {
      if (!Array.isArray(w) || w.length !== row.length || w.some((v) => typeof v !== "number" || !Number.isFinite(v))) bad(where, `weights must be ${row.length} finite numbers like the ids, got ${JSON.stringify(w).slice(0, 80)}`);
      wr = w as number[];
    }
    let l = layers.get(layer);
    if (!l) layers.set(layer, (l = { ids: [], weights: [] }));
    l.ids.push(row);
    l.weights.push(wr);
  };
  const lines = src.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n].trim();
    if (!line) continue;
    const where = `line ${n + 1}`;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      bad(where, `not JSON (${(e as Error).message})`);
    }
    const obj = (Array.isArray(v) ? { routed_experts: v } : v) as Record<string, unknown>;
    if (!obj || typeof obj !== "object") bad(where, "expected a JSON object or a [tokens][layers][k] array");
    const routed = pick(obj, ROUTED_KEYS);
    if (routed !== undefined) {
      if (!Array.isArray(routed)) bad(where, "routed_experts must be a [tokens][layers][k] array");
      for (let t = 0; t < routed.length; t++) {
        const perLayer = routed[t];
        if (!Array.isArray(perLayer)) bad(where, `routed_experts[${t}] must be a [layers][k] array`);
        for (let l = 0; l < perLayer.length; l++) add(l, perLayer[l], null, `${where}, routed_experts[${t}][${l}]`);
      }
      continue;
    }
    const layer = pick(obj, LAYER_KEYS);
    const ids = pick(obj, IDS_KEYS);
    if (layer === undefined || ids === undefined) bad(where, `expected a layer (${LAYER_KEYS.join("/")}) and expert ids (${IDS_KEYS.join("/")}), or routed_experts; keys were ${Object.keys(obj).join(", ")}`);
    const w = pick(obj, WEIGHT_KEYS);
    if (Array.isArray(ids) && ids.length > 0 && Array.isArray(ids[0])) {
      if (w !== undefined && (!Array.isArray(w) || w.length !== ids.length)) bad(where, `weights must have ${ids.length} rows like the ids`);
      for (let t = 0; t < ids.length; t++) add(layer as number, ids[t], w === undefined ? null : (w as unknown[])[t], `${where}, token row ${t}`);
    } else add(layer as number, ids, w, where);
  }
  if (layers.size === 0) throw new SparselabError(OP, "the trace has no routing lines");
  let E = opts.numExperts ?? 0;
  if (opts.numExperts === undefined) for (const l of layers.values()) for (const r of l.ids) for (const e of r) E = Math.max(E, e + 1);
  return [...layers.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([layer, l]) => recordFromAssignments(l.ids, l.weights, E, layer));
}

/** Reads a JSONL trace file (see readRoutingTrace for the accepted shapes).
 * @example
 * const layers = await sl.moe.readRoutingTraceFile("routes.jsonl");
 */
export async function readRoutingTraceFile(path: string, opts: { numExperts?: number } = {}): Promise<RoutingRecord[]> {
  return readRoutingTrace(await readFile(path, "utf8"), opts);
}

/**
 * Writes records as shape-2 JSONL (one line per layer: layer, topk_ids, topk_weights), which
 * readRoutingTrace reads back. Dropped assignments are written as −1.
 * @example
 * await fs.promises.writeFile("routes.jsonl", sl.moe.toRoutingTrace(records));
 */
export function toRoutingTrace(records: readonly RoutingRecord[]): string {
  return records
    .map((r, i) => {
      const idx = r.indices.data as Int32Array;
      const kept = r.kept.data as Uint8Array;
      const w = r.weights.data as Float32Array;
      const ids: number[][] = [];
      const ws: number[][] = [];
      for (let t = 0; t < r.numTokens; t++) {
        const a = Array.from({ length: r.k }, (_, s) => t * r.k + s);
        ids.push(a.map((j) => (kept[j] ? idx[j] : -1)));
        ws.push(a.map((j) => w[j]));
      }
      return JSON.stringify({ layer: r.layer ?? i, topk_ids: ids, topk_weights: ws });
    })
    .join("\n") + "\n";
}

function recordFromAssignments(ids: number[][], weights: (number[] | null)[], E: number, layer: number): RoutingRecord {
  const T = ids.length;
  let k = 1;
  for (const r of ids) k = Math.max(k, r.length);
  const indices = new Int32Array(T * k).fill(-1);
  const w = new Float32Array(T * k);
  const kept = new Uint8Array(T * k);
  const counts = new Int32Array(E);
  for (let t = 0; t < T; t++) {
    const row = ids[t];
    const valid = row.filter((e) => e >= 0).length;
    for (let s = 0; s < row.length; s++) {
      const e = row[s];
      if (e < 0) continue;
      if (e >= E) bad(`layer ${layer}, token ${t}`, `expert id ${e} ≥ numExperts ${E}`);
      indices[t * k + s] = e;
      kept[t * k + s] = 1;
      w[t * k + s] = weights[t] ? weights[t]![s] : 1 / valid;
      counts[e]++;
    }
  }
  return new RoutingRecord({
    router: "trace",
    numTokens: T,
    numExperts: E,
    k,
    capacity: null,
    dropPolicy: "position",
    indices: new Tensor([T, k], "i32", indices),
    weights: new Tensor([T, k], "f32", w),
    kept: new Tensor([T, k], "u8", kept),
    probs: null,
    counts,
    routedCounts: counts.slice(),
    dropped: [],
    losses: { loadBalancing: null, sequenceBalancing: null, zLoss: null },
    details: { source: "trace", weights: weights.some((x) => x) ? "from the trace" : "1/k (the trace had none)" },
    layer,
  });
}

function pick(o: Record<string, unknown>, keys: string[]): unknown {
  for (const k of keys) if (k in o) return o[k];
  return undefined;
}

function intRow(v: unknown, where: string): number[] {
  const row = typeof v === "number" ? [v] : v;
  if (!Array.isArray(row) || row.some((e) => !Number.isInteger(e) || e < -1)) bad(where, `expert ids must be integers ≥ 0 (−1 = none), got ${JSON.stringify(v).slice(0, 80)}`);
  return row as number[];
}

function bad(where: string, msg: string): never {
  throw new SparselabError(OP, `${where}: ${msg}`);
}
