import { test } from "node:test";
import assert from "node:assert/strict";
import * as sl from "../../../lib/index.js";
import { freshSeed, randn } from "./helpers.js";

const D = sl.dynamic;

test("quest: page bounds are never below the true max score in the page (every query head)", async () => {
  const seed = freshSeed();
  const S = 300, Dh = 16, page = 16;
  const q = randn([2, 4, 1, Dh], seed);
  const k = randn([2, 2, S, Dh], seed + 1);
  for (const impl of ["fast", "reference"] as const) {
    const ub = await D.questPageBounds(q, k, { pageSize: page, impl });
    const qs = q.floatData(), ks = k.floatData();
    const np = Math.ceil(S / page);
    for (let b = 0; b < 2; b++)
      for (let h = 0; h < 4; h++)
        for (let p = 0; p < np; p++) {
          let best = -Infinity;
          for (let t = p * page; t < Math.min(S, (p + 1) * page); t++) {
            let s = 0;
            for (let x = 0; x < Dh; x++) s += qs[(b * 4 + h) * Dh + x] * ks[((b * 2 + (h >> 1)) * S + t) * Dh + x];
            best = Math.max(best, s);
          }
          assert.ok(ub[(b * 4 + h) * np + p] >= best - 1e-4, `seed ${seed} ${impl}: page ${p} bound ${ub[(b * 4 + h) * np + p]} < max ${best}`);
        }
  }
});

test("quest: keeps the last page and the highest-bound pages within the budget; fast == reference; dense layers", async () => {
  const seed = freshSeed();
  const S = 300, page = 16, budget = 100;
  const q = randn([1, 4, 1, 16], seed);
  const k = randn([1, 2, S, 16], seed + 1);
  const idx = await D.quest(q, k, { pageSize: page, budget });
  const ref = await D.quest(q, k, { pageSize: page, budget, impl: "reference" });
  assert.deepEqual(Array.from(idx.data), Array.from(ref.data), `seed ${seed}`);
  const r = S - Math.floor((S - 1) / page) * page; // 12 tokens on the last page
  assert.deepEqual(idx.shape, [1, 2, r + page * Math.floor((budget - r) / page)]);
  const ub = await D.questPageBounds(q, k, { pageSize: page });
  const np = Math.ceil(S / page);
  for (let kh = 0; kh < 2; kh++) {
    const list = Array.from(idx.data.subarray(kh * idx.shape[2], (kh + 1) * idx.shape[2]));
    assert.ok(list.includes(S - 1) && list.every((t, i) => i === 0 || t > list[i - 1]), `seed ${seed}: sorted, last token kept`);
    const pages = new Set(list.map((t) => Math.floor(t / page)));
    const gb = Array.from({ length: np - 1 }, (_, p) => Math.max(ub[(kh * 2) * np + p], ub[(kh * 2 + 1) * np + p]));
    const minKept = Math.min(...[...pages].filter((p) => p !== np - 1).map((p) => gb[p]));
    for (let p = 0; p < np - 1; p++) if (!pages.has(p)) assert.ok(gb[p] <= minKept, `seed ${seed}: dropped page ${p} outranks a kept one`);
  }
  const meta = await D.questMetadata(k, { pageSize: page });
  assert.deepEqual(Array.from((await D.quest(q, k, { pageSize: page, budget, metadata: meta })).data), Array.from(idx.data), `seed ${seed}: with metadata`);
  await assert.rejects(D.quest(q, k, { pageSize: 8, budget, metadata: meta }), /argument 'metadata' must be questMetadata of this cache \(pageSize 8/);
  const dense = await D.quest(q, k, { layer: 1 });
  assert.deepEqual(dense.shape, [1, 2, S]);
});

test("doubleSparsity: with all channels as labels it picks the exact top tokens; calibration picks the outlier channels", async () => {
  const seed = freshSeed();
  const S = 200, Dh = 16;
  const q = randn([1, 2, 1, Dh], seed);
  const k = randn([1, 1, S, Dh], seed + 1);
  const labels = sl.tensor(Array.from({ length: Dh }, (_, i) => i), { dtype: "i32" });
  const all = new sl.Tensor([1, Dh], "i32", labels.data as Int32Array);
  const idx = await D.doubleSparsity(q, k, { labels: all, tokens: 20 });
  const qs = q.floatData(), ks = k.floatData();
  const score = Array.from({ length: S }, (_, t) => {
    let s = 0;
    for (let h = 0; h < 2; h++) for (let x = 0; x < Dh; x++) s += qs[h * Dh + x] * ks[t * Dh + x];
    return [s, t];
  }).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  assert.deepEqual(Array.from(idx.data), score.slice(0, 20).map((x) => x[1]).sort((a, b) => a - b), `seed ${seed}`);
  // The label cache path picks the same tokens.
  const some = new sl.Tensor([1, 3], "i32", new Int32Array([1, 7, 12]));
  const viaCache = await D.doubleSparsity(q, k, { labels: some, tokens: 20, labelCache: D.doubleSparsityLabelCache(k, some) });
  assert.deepEqual(Array.from(viaCache.data), Array.from((await D.doubleSparsity(q, k, { labels: some, tokens: 20 })).data), `seed ${seed}`);
  await assert.rejects(D.doubleSparsity(q, k, { labels: all, tokens: 20, labelCache: D.doubleSparsityLabelCache(k, some) }), /labelCache/);
  // Calibration: make channel 5 an outlier in both q and k.
  const kc = k.floatData().slice(), qc = randn([1, 2, S, Dh], seed + 2).floatData().slice();
  for (let t = 0; t < S; t++) kc[t * Dh + 5] *= 40;
  for (let t = 0; t < 2 * S; t++) qc[t * Dh + 5] *= 40;
  const lab = await D.doubleSparsityCalibrate(new sl.Tensor([1, 1, S, Dh], "f32", kc), { queries: new sl.Tensor([1, 2, S, Dh], "f32", qc), channels: 2 });
  assert.ok(Array.from(lab.data).includes(5), `seed ${seed}: outlier channel found, got ${Array.from(lab.data)}`);
  await assert.rejects(D.doubleSparsity(q, k, { labels: new sl.Tensor([1, 1], "i32", new Int32Array([99])) }), /channel ids in \[0, 16\)/);
});

test("tidalDecode: selects the top tokens of the group's exact attention; TidalDecoder reuses and re-selects", async () => {
  const seed = freshSeed();
  const S = 128;
  const q = randn([1, 2, 1, 16], seed);
  const k = randn([1, 1, S, 16], seed + 1);
  const idx = await D.tidalDecode(q, k, { topK: 8 });
  assert.deepEqual(idx.shape, [1, 1, 8]);
  const qs = q.floatData(), ks = k.floatData();
  const p = new Float64Array(S);
  for (let h = 0; h < 2; h++) {
    const s = Array.from({ length: S }, (_, t) => { let d = 0; for (let x = 0; x < 16; x++) d += qs[h * 16 + x] * ks[t * 16 + x]; return d / 4; });
    const m = Math.max(...s);
    const z = s.reduce((a, x) => a + Math.exp(x - m), 0);
    s.forEach((x, t) => (p[t] += Math.exp(x - m) / z));
  }
  const want = [...p.keys()].sort((a, b) => p[b] - p[a] || a - b).slice(0, 8).sort((a, b) => a - b);
  assert.deepEqual(Array.from(idx.data), want, `seed ${seed}`);
  const td = new D.TidalDecoder({ topK: 8, selectionLayer: 2, reselectionLayer: 4 });
  assert.deepEqual((await td.step(0, q, k)).shape, [1, 1, S]);
  await assert.rejects(new D.TidalDecoder({ selectionLayer: 2 }).step(3, q, k), /selection layer 2 has not run/);
  const a = await td.step(2, q, k);
  assert.equal(await td.step(3, randn([1, 2, 1, 16], seed + 9), k), a);
  const q2 = randn([1, 2, 1, 16], seed + 11);
  const b = await td.step(4, q2, k);
  assert.deepEqual(Array.from(b.data), Array.from((await D.tidalDecode(q2, k, { topK: 8 })).data));
  assert.deepEqual(td.selectedAt, [2, 4]);
});

test("duoAttention: retrieval heads keep the cache, streaming heads sinks + recent; threshold and sparsity", async () => {
  const q = randn([1, 4, 1, 8], 1);
  const k = randn([1, 2, 1000, 8], 2);
  const r = await D.duoAttention(q, k, { alpha: [0.9, 0.2], threshold: 0.5, sink: 4, recent: 10 });
  assert.deepEqual(r.retrieval, [true, false]);
  assert.equal(r.indices[0].shape[1], 1000);
  assert.deepEqual(Array.from(r.indices[1].data), [0, 1, 2, 3, ...Array.from({ length: 10 }, (_, i) => 990 + i)]);
  assert.ok(Math.abs(r.density - (1000 + 14) / 2000) < 1e-12);
  const s = await D.duoAttention(q, k, { alpha: [0.9, 0.2], sparsity: 0.5 });
  assert.deepEqual(s.retrieval, [true, false]);
  await assert.rejects(D.duoAttention(q, k, { alpha: [1] }), /alpha.*2 numbers/);
});

test("quest indices run through decodeAttention and keep more mass than their share of the cache", async () => {
  const seed = freshSeed();
  const w = sl.workloads.llmLike({ S: 512, H: 2, D: 32, seed });
  const q = sl.slice(w.q, [null, null, [511, 512], null]);
  const idx = await D.quest(q, w.k, { budget: 128 });
  const rc = await sl.metrics.recall(q, w.k, { indices: idx });
  // Better than the kept share would give on uniform attention (Quest picks the heavy pages).
  const share = idx.shape[2] / 512;
  assert.ok(rc.value > 1.2 * share, `seed ${seed}: quest recall ${rc.value} vs kept share ${share}`);
});
