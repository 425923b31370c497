import { test } from "node:test";
import assert from "node:assert/strict";
import * as sl from "../../lib/index.js";

// The notebook path: everything through `sl.moe`, typed as a user sees it.
test("sl.moe: route -> metrics -> layer -> traces -> prediction through the public namespace", async () => {
  const logits: sl.Tensor = sl.moe.randomLogits(64, 8, { seed: 2, skew: 0.3 });
  const opts: sl.moe.RouteOptions = { router: "deepseek-v3", k: 2, nGroup: 4, topkGroup: 2, capacityFactor: 1, seqLen: 32 };
  const r: sl.moe.RoutingRecord = sl.moe.route(logits, opts);
  assert.equal(r.router, "deepseek-v3");
  assert.ok(sl.isDisplayable(r));
  const m: sl.moe.RoutingMetrics = sl.moe.routingMetrics(r);
  assert.equal(m.coactivation.length, 64);
  const lb: sl.moe.LoadBalancingLoss = sl.moe.loadBalancingLoss(r, { normalization: "transformers" });
  assert.equal(lb.normalization, "transformers");
  assert.equal(sl.moe.expertCapacity(64, 2, 8, 1), 16);
  const moe: sl.moe.MoeLayer = sl.moe.layer({ dModel: 16, dFf: 24, experts: 4, k: 2, seed: 3, backend: "js" });
  const f: sl.moe.MoeForward = await moe.forward(sl.moe.randomLogits(10, 16, { seed: 4 }));
  assert.deepEqual(f.output.shape, [10, 16]);
  const { permuted, plan } = sl.moe.dispatch(sl.moe.randomLogits(64, 5, { seed: 5 }), r, { tile: 4 });
  assert.equal(permuted.shape[0], plan.rows);
  const layers = sl.moe.readRoutingTrace(sl.moe.toRoutingTrace([r]), { numExperts: 8 });
  assert.deepEqual(Array.from(layers[0].counts), Array.from(r.counts));
  assert.equal(sl.moe.layerSummary(layers).numRows(), 1);
  assert.ok(sl.moe.frequencyCacheHitRate(r, { cacheSize: 2 }) >= 0);
  const sim: sl.moe.BalanceSimResult = sl.moe.simulateBalance({ steps: 5, tokensPerStep: 32 });
  assert.equal(sim.steps.length, 5);
});
