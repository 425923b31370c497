import { test } from "node:test";
import assert from "node:assert/strict";
import { expertCapacity } from "../../lib/moe/capacity.js";
import { route, type RouteOptions } from "../../lib/moe/route.js";
import { softmaxRows } from "../../lib/moe/rowmath.js";
import { loadBalancingUnscaled } from "../../lib/moe/losses.js";
import { close, freshSeed, randMatrix, softmax } from "./helpers.js";

test("capacity = ceil(T·k/E · CF), without float noise", () => {
  assert.equal(expertCapacity(4096, 2, 8, 1.25), 1280);
  assert.equal(expertCapacity(10, 1, 3, 1), 4);
  assert.equal(expertCapacity(4096, 6, 64, 1.1), Math.ceil(384 * 1.1));
});

test("drop policy 'position' keeps the first tokens, 'probs' the highest weights", () => {
  // 4 tokens all prefer expert 0; T·k/E = 4·1/2 = 2 -> capacity 2 at CF 1.
  const logits = [[1, 0], [3, 0], [2, 0], [5, 0]];
  const pos = route(logits, { router: "switch", capacityFactor: 1, dropPolicy: "position" });
  assert.equal(pos.capacity, 2);
  assert.deepEqual(Array.from(pos.kept.data), [1, 1, 0, 0]);
  assert.deepEqual(pos.dropped.map((d) => [d.token, d.slot, d.expert, d.position]), [[2, 0, 0, 2], [3, 0, 0, 3]]);
  assert.equal((pos.weights.data as Float32Array)[2], 0, "dropped weight is 0");
  const pr = route(logits, { router: "switch", capacityFactor: 1, dropPolicy: "probs" });
  assert.deepEqual(Array.from(pr.kept.data), [0, 1, 0, 1]);
  assert.deepEqual(pr.dropped.map((d) => [d.token, d.position]), [[0, 3], [2, 2]]);
  assert.deepEqual(Array.from(pr.counts), [2, 0]);
  assert.deepEqual(Array.from(pr.routedCounts), [4, 0]);
});

test("drop policy 'slot-major' serves every first choice before any second choice (GShard)", () => {
  // Token 0: experts 0 then 1; tokens 1, 2: expert 1 then 0. T·k/E = 3 -> capacity 2 at CF 2/3.
  const logits = [[2, 1], [1, 2], [1, 2]];
  const pos = route(logits, { router: "softmax-topk", k: 2, capacityFactor: 2 / 3 });
  const sm = route(logits, { router: "softmax-topk", k: 2, capacityFactor: 2 / 3, dropPolicy: "slot-major" });
  assert.equal(pos.capacity, 2);
  // position: expert 1 serves token 0 (its 2nd choice) and token 1; token 2's first choice is dropped.
  assert.deepEqual(pos.dropped.map((d) => [d.token, d.slot, d.expert]), [[2, 0, 1], [2, 1, 0]]);
  // slot-major: expert 1 serves tokens 1 and 2 (first choices); token 0's second choice is dropped.
  assert.deepEqual(sm.dropped.map((d) => [d.token, d.slot, d.expert]), [[0, 1, 1], [2, 1, 0]]);
  assert.equal(route(logits, { router: "gshard", capacityFactor: 1 }).dropPolicy, "slot-major", "gshard's default");
});

test("invariants on random inputs: no expert over capacity, kept + dropped = assignments, weights", () => {
  const seed = freshSeed();
  const cases: RouteOptions[] = [
    { router: "softmax-topk", k: 2, normalize: true },
    { router: "topk-softmax", k: 3 },
    { router: "noisy-topk", k: 2, seed: 4 },
    { router: "switch" },
    { router: "gshard", secondPolicy: "random", seed: 2 },
    { router: "deepseek-v3", k: 4, nGroup: 4, topkGroup: 2, scale: 2.5 },
    { router: "sinkhorn", k: 2, normalize: true },
  ];
  for (const base of cases)
    for (const cf of [undefined, 0.5, 1, 1.5])
      for (const dropPolicy of ["position", "slot-major", "probs"] as const) {
        const T = 97, E = 16;
        const logits = randMatrix(T, E, seed + (cf ?? 0) * 10, 1.5);
        // A skew so that capacity bites.
        for (let t = 0; t < T; t++) (logits.data as Float32Array)[t * E + 3] += 1.5;
        const r = route(logits, { ...base, capacityFactor: cf, dropPolicy });
        const msg = `seed ${seed} ${base.router} cf ${cf} ${dropPolicy}`;
        const k = r.k;
        const idx = r.indices.data as Int32Array, kept = r.kept.data as Uint8Array, w = r.weights.data as Float32Array;
        let nonEmpty = 0, nKept = 0;
        for (let a = 0; a < T * k; a++) {
          if (idx[a] >= 0) nonEmpty++;
          if (kept[a]) nKept++;
          if (!kept[a]) assert.equal(w[a], 0, msg);
        }
        assert.equal(nKept + r.dropped.length, nonEmpty, `${msg}: kept + dropped = assignments`);
        assert.equal(r.assignments, nonEmpty, msg);
        if (base.router !== "gshard") assert.equal(nonEmpty, T * k, `${msg}: T·k assignments`);
        if (cf === undefined) assert.equal(r.dropped.length, 0, `${msg}: dropless`);
        else for (const c of r.counts) assert.ok(c <= r.capacity!, `${msg}: ${c} > capacity ${r.capacity}`);
        for (const d of r.dropped) assert.equal(kept[d.token * k + d.slot], 0, msg);
        // Normalized routers with nothing dropped: weights sum to 1 (× scale for deepseek).
        const norm = base.router === "topk-softmax" || base.normalize || base.router === "deepseek-v3" || base.router === "gshard";
        if (norm)
          for (let t = 0; t < T; t++) {
            let s = 0, all = true, any = false;
            for (let i = 0; i < k; i++) {
              s += w[t * k + i];
              if (idx[t * k + i] >= 0 && !kept[t * k + i]) all = false;
              if (kept[t * k + i]) any = true;
            }
            // GShard renormalizes over what survived capacity; the others keep the router's weights.
            if (all || (base.router === "gshard" && any)) close(s, base.router === "deepseek-v3" ? 2.5 : 1, 1e-5, `${msg} token ${t}`);
            if (!any) assert.equal(s, 0, msg);
          }
      }
});

test("load-balancing loss: hand value, transformers = k × megatron, probs from one softmax", () => {
  const logits = [[2, 0, 0], [0, 2, 0], [0, 0, 2], [2, 1, 0]];
  const r = route(logits, { router: "softmax-topk", k: 2, lossNormalization: "transformers", auxLossCoeff: 0.01 });
  // By hand: P_e = mean softmax; counts of top-2 picks; E Σ (c_e / T) P_e.
  const P = [0, 0, 0];
  for (const row of logits) softmax(row).forEach((p, e) => (P[e] += p / 4));
  const counts = [0, 0, 0];
  for (const e of r.indices.data as Int32Array) counts[e]++;
  const tf = 3 * counts.reduce((s, c, e) => s + (c / 4) * P[e], 0);
  const lb = r.losses.loadBalancing!;
  assert.equal(lb.normalization, "transformers");
  close(lb.unscaled.transformers, tf, 1e-6, "transformers");
  close(lb.unscaled.megatron, tf / 2, 1e-6, "megatron = transformers / k");
  close(lb.value, 0.01 * tf, 1e-6, "coeff applied");
  // The double-softmax bug would feed softmax(probs) as P: flatter, a different (smaller) loss.
  const probs = softmaxRows(new Float32Array(logits.flat()), 4, 3);
  const twice = softmaxRows(probs, 4, 3);
  const buggy = loadBalancingUnscaled(twice, r.indices.data as Int32Array, 4, 3, 2).transformers;
  assert.ok(Math.abs(buggy - lb.unscaled.transformers) > 1e-3, "the case separates one softmax from two");
  assert.equal(route(logits, { k: 2 }).losses.loadBalancing!.normalization, "megatron", "default says megatron");
  // Perfectly uniform routing scores 1 under megatron's normalization.
  const u = route([[0, 0], [0, 0]], { router: "softmax-topk", k: 1 });
  close(u.losses.loadBalancing!.unscaled.megatron, 1, 1e-6, "uniform -> 1");
});

test("sequence-level loss averages per-sequence megatron losses; z-loss = mean logsumexp²", () => {
  const seed = freshSeed();
  const logits = randMatrix(64, 8, seed);
  const one = route(logits, { router: "deepseek-v3", k: 2, seqLen: 64 });
  close(one.losses.sequenceBalancing!.value, one.losses.loadBalancing!.unscaled.megatron, 1e-9, `seed ${seed}: one sequence = batch`);
  const four = route(logits, { router: "deepseek-v3", k: 2, seqLen: 16 });
  assert.equal(four.losses.sequenceBalancing!.sequences, 4);
  let manual = 0;
  for (let s = 0; s < 4; s++) {
    const part = route(Array.from({ length: 16 }, (_, t) => Array.from((logits.data as Float32Array).subarray((s * 16 + t) * 8, (s * 16 + t + 1) * 8))), { router: "deepseek-v3", k: 2 });
    manual += part.losses.loadBalancing!.unscaled.megatron / 4;
  }
  close(four.losses.sequenceBalancing!.value, manual, 1e-6, `seed ${seed}: per-sequence average`);
  const z = route([[0, 0], [Math.log(3), 0]], { k: 1, zLossCoeff: 0.001 });
  close(z.losses.zLoss!.value, (0.001 * (Math.log(2) ** 2 + Math.log(4) ** 2)) / 2, 1e-9, "z-loss");
});

test("record displays a text and html summary naming drops and losses", () => {
  const r = route(randMatrix(50, 4, 1), { router: "switch", capacityFactor: 0.5, auxLossCoeff: 0.01 });
  const b = (r as any)[Symbol.for("Jupyter.display")]() as Record<string, string>;
  assert.match(b["text/plain"], /RoutingRecord\(switch\): 50 tokens, 4 experts, k 1, capacity 7 \(position\)/);
  assert.match(b["text/plain"], /dropped \d+/);
  assert.match(b["text/plain"], /megatron normalization/);
  assert.match(b["text/html"], /<div class="sparselab-routing">/);
  const j = JSON.parse(JSON.stringify(r));
  assert.deepEqual(j.indices.shape, [50, 1]);
  assert.deepEqual(j.counts, Array.from(r.counts));
  assert.equal(j.dropped.length, r.dropped.length);
  assert.equal(j.losses.loadBalancing.normalization, "megatron");
});
