import { test } from "node:test";
import assert from "node:assert/strict";
import { loadBalancingLoss, routerZLoss } from "../../lib/moe/losses.js";
import { layerSummary, routingMetrics } from "../../lib/moe/metrics.js";
import { crossLayerGateHitRate, expertPredictionReport, frequencyCacheHitRate, sameIdsHitRate } from "../../lib/moe/prediction.js";
import { route } from "../../lib/moe/route.js";
import { simulateBalance } from "../../lib/moe/balance-sim.js";
import { readRoutingTrace, toRoutingTrace } from "../../lib/moe/traces.js";
import { Tensor } from "../../lib/tensor/tensor.js";
import { close, freshSeed, randMatrix } from "./helpers.js";

test("metrics: load, CV, max/mean, entropy, drops by position, co-activation (hand case)", () => {
  // 4 tokens, 3 experts, k 2.
  const r = route([[5, 4, 0], [5, 0, 4], [5, 4, 0], [0, 5, 4]], { k: 2 });
  const m = routingMetrics(r, { bins: 2 });
  assert.deepEqual(m.tokensPerExpert, [3, 3, 2]);
  const mean = 8 / 3, std = Math.sqrt(((3 - mean) ** 2 * 2 + (2 - mean) ** 2) / 3);
  close(m.cv, std / mean, 1e-12, "cv");
  close(m.maxOverMean, 3 / mean, 1e-12, "max/mean");
  // co-activation: pairs {0,1} ×2, {0,2} ×1, {1,2} ×1; diagonal = per-expert counts
  const co = Array.from(m.coactivation);
  assert.deepEqual(co, [3, 2, 1, 2, 3, 1, 1, 1, 2]);
  const p = r.probs!.data as Float32Array;
  let h = 0;
  for (let i = 0; i < 12; i++) h -= p[i] * Math.log(p[i]);
  close(m.routerEntropy!, h / 4, 1e-6, "entropy");
  const dropped = route(randMatrix(40, 4, 2), { k: 1, capacityFactor: 0.5 });
  const md = routingMetrics(dropped, { bins: 4 });
  assert.equal(md.droppedByPosition.reduce((a, b) => a + b.dropped, 0), dropped.dropped.length);
  // position policy: the drops are late tokens, never in the first bin's first capacity tokens
  assert.equal(md.droppedByPosition[0].dropped, 0);
});

test("layerSummary is an arquero table with one row per record", () => {
  const recs = [0, 1, 2].map((l) => route(randMatrix(30, 6, l), { k: 2, layer: l, capacityFactor: 1 }));
  const t = layerSummary(recs);
  assert.equal(t.numRows(), 3);
  const rows = t.objects() as any[];
  assert.deepEqual(rows.map((r) => r.layer), [0, 1, 2]);
  assert.equal(rows[0].lbNormalization, "megatron");
  assert.equal(rows[1].dropped, recs[1].dropped.length);
});

test("public loss helpers agree with the record", () => {
  const logits = randMatrix(20, 5, 3);
  const r = route(logits, { k: 2 });
  close(loadBalancingLoss(r, { normalization: "transformers" }).value, r.losses.loadBalancing!.unscaled.transformers, 1e-12, "lb");
  close(routerZLoss(logits).value, r.losses.zLoss!.value, 1e-12, "z");
});

test("traces: the three accepted shapes read into per-layer records; round trip", () => {
  const perToken = [
    { layer: 0, token: 0, topk_ids: [1, 2], topk_weights: [0.7, 0.3] },
    { layer: 1, token: 0, topk_ids: [0, 3] },
    { layer: 0, token: 1, topk_ids: [2, 0], topk_weights: [0.5, 0.5] },
    { layer: 1, token: 1, topk_ids: [3, 1] },
  ].map((o) => JSON.stringify(o)).join("\n");
  const a = readRoutingTrace(perToken, { numExperts: 4 });
  assert.equal(a.length, 2);
  assert.deepEqual(Array.from(a[0].indices.data), [1, 2, 2, 0]);
  assert.deepEqual(Array.from(a[0].weights.data as Float32Array).map((v) => +v.toFixed(4)), [0.7, 0.3, 0.5, 0.5]);
  assert.deepEqual(Array.from(a[1].weights.data), [0.5, 0.5, 0.5, 0.5], "1/k without weights");
  assert.deepEqual(Array.from(a[1].counts), [1, 1, 0, 2]);
  assert.equal(a[1].probs, null);
  // vLLM / SGLang routed_experts: [tokens][layers][k], two requests.
  const routed = [JSON.stringify({ routed_experts: [[[1, 2], [0, 3]]] }), JSON.stringify([[[2, 0], [3, 1]]])].join("\n");
  const b = readRoutingTrace(routed, { numExperts: 4 });
  assert.deepEqual(Array.from(b[0].indices.data), [1, 2, 2, 0]);
  assert.deepEqual(Array.from(b[1].indices.data), [0, 3, 3, 1]);
  // batch rows, and a round trip through toRoutingTrace
  const seed = freshSeed();
  const recs = [0, 1].map((l) => route(randMatrix(25, 8, seed + l), { k: 2, layer: l, capacityFactor: 0.8 }));
  const back = readRoutingTrace(toRoutingTrace(recs), { numExperts: 8 });
  for (let l = 0; l < 2; l++) {
    assert.deepEqual(Array.from(back[l].counts), Array.from(recs[l].counts), `seed ${seed}`);
    assert.deepEqual(routingMetrics(back[l]).coactivation.length, 64);
  }
  assert.throws(() => readRoutingTrace('{"layer": 0}\n'), /line 1: expected a layer/);
  assert.throws(() => readRoutingTrace('{"layer": 0, "topk_ids": [9]}', { numExperts: 4 }), /expert id 9/);
  assert.throws(() => readRoutingTrace("not json"), /line 1: not JSON/);
});

test("balance simulator: aux-free and aux-loss reduce the load CV; none does not", () => {
  const opts = { numExperts: 8, k: 2, tokensPerStep: 256, steps: 150, seed: 1 };
  const none = simulateBalance({ ...opts, mode: "none" });
  const free = simulateBalance({ ...opts, mode: "aux-free", gamma: 1e-2 });
  const aux = simulateBalance({ ...opts, mode: "aux-loss", auxCoeff: 0.1 });
  const last = (r: typeof none) => r.steps.slice(-20).reduce((a, s) => a + s.cv, 0) / 20;
  assert.equal(none.steps.length, 150);
  assert.ok(last(free) < 0.5 * none.steps[0].cv, `aux-free ${last(free)} vs start ${none.steps[0].cv}`);
  assert.ok(last(aux) < 0.7 * none.steps[0].cv, `aux-loss ${last(aux)} vs start ${none.steps[0].cv}`);
  assert.ok(last(none) > 0.8 * none.steps[0].cv);
  // Aux-free: the popular expert 0's bias went down, the rare last expert's went up.
  assert.ok(free.bias[0] < 0 && free.bias[7] > 0);
  assert.match(free.toString(), /balance simulation \(aux-free\)/);
  assert.equal(free.table().numRows(), 150);
  assert.ok(free.settledAt > 5 && free.settledAt < 150, `aux-free settles inside the run: ${free.settledAt}`);
  assert.ok(Math.abs(none.finalTrend) < 0.1, `the unbalanced router is flat: ${none.finalTrend}`);
});

test("expert prediction: a gate on a near-identical hidden state predicts well; frequency cache; baseline", () => {
  const seed = freshSeed();
  const T = 200, d = 16, E = 8;
  const h0 = randMatrix(T, d, seed);
  // The next layer's hidden state = h0 plus a small residual update.
  const h1d = new Float32Array(h0.data as Float32Array);
  const noise = randMatrix(T, d, seed + 1, 0.1).data as Float32Array;
  for (let i = 0; i < h1d.length; i++) h1d[i] += noise[i];
  const h1 = new Tensor([T, d], "f32", h1d);
  const w1 = randMatrix(d, E, seed + 2);
  const r1 = route(h1, { gateWeight: w1, k: 2, layer: 1 });
  const hit = crossLayerGateHitRate(h0, w1, r1);
  assert.ok(hit > 0.8, `seed ${seed}: cross-layer gate hit rate ${hit}`);
  // Exactness check: on the same hidden state the predictor is perfect.
  close(crossLayerGateHitRate(h1, w1, r1), 1, 1e-12, "same state");
  // A frequency cache of all experts always hits after the first token.
  const full = frequencyCacheHitRate(r1, { cacheSize: E });
  close(full, 1, 1e-12, "cache of every expert");
  const fc = frequencyCacheHitRate(r1, { cacheSize: 2 });
  assert.ok(fc > 0 && fc < 1);
  const r0 = route(h0, { gateWeight: randMatrix(d, E, seed + 3), k: 2, layer: 0 });
  const same = sameIdsHitRate(r0, r1);
  assert.ok(same >= 0 && same <= 1);
  const rep = expertPredictionReport([{ record: r0, hidden: h0 }, { record: r1, gateWeight: w1 }], { cacheSize: 2 });
  const row = rep.objects()[0] as any;
  close(row.crossLayerGate, hit, 1e-12, "report");
  close(row.frequencyCache, fc, 1e-12, "report fc");
});
