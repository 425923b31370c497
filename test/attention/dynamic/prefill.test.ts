import { test } from "node:test";
import assert from "node:assert/strict";
import * as sl from "../../../lib/index.js";
import type { BlockMaskFields } from "../../../lib/attention/block-mask.js";
import { checkCover, classes, freshSeed, randn } from "./helpers.js";

const D = sl.dynamic;
type Est = (q: sl.Tensor, k: sl.Tensor, o: Record<string, unknown>) => Promise<BlockMaskFields>;

// Small cases: [name, estimator, options, element-level (mask carries the selection)].
const CASES: [string, Est, Record<string, unknown>, boolean][] = [
  ["verticalSlash", D.verticalSlash as Est, { verticalSize: 40, slashSize: 30, lastQ: 32, sinkColumns: 8, localDiagonals: 12, blockSize: 32 }, true],
  ["verticalSlash(tiles)", D.verticalSlash as Est, { verticalSize: 40, slashSize: 30, lastQ: 32, sinkColumns: 8, localDiagonals: 12, blockSize: 32, cover: "tiles" }, false],
  ["minferenceBlockSparse", D.minferenceBlockSparse as Est, { blockSize: 32, topK: 3 }, false],
  ["aShape", D.aShape as Est, { sink: 16, local: 48, blockSize: 32 }, true],
  ["xattention", D.xattention as Est, { stride: 4, blockSize: 32, threshold: 0.8 }, false],
  ["flexPrefill", D.flexPrefill as Est, { blockSize: 32, minBudget: 32, gamma: 0.8 }, false],
  ["flexPrefill(queryAware)", D.flexPrefill as Est, { blockSize: 32, minBudget: 32, gamma: 0.8, tau: 10 }, false],
  ["moba", D.moba as Est, { mobaBlock: 64, topK: 2, blockSize: 32 }, true],
  ["seerAttention", D.seerAttention as Est, { blockSize: 32, keepRatio: 0.4 }, false],
  ["nsaSelection", D.nsaSelection as Est, { compressBlock: 16, compressStride: 8, blockSize: 32, topN: 4, window: 40 }, true],
  ["hip", D.hip as Est, { blockSize: 16, budget: 48, sink: 16, window: 32 }, true],
  ["routingTransformer", D.routingTransformer as Est, { clusterSize: 32, iterations: 3, blockSize: 32, seed: 3 }, true],
  ["routingTransformer(keys)", D.routingTransformer as Est, { clusterSize: 32, iterations: 3, blockSize: 32, seed: 3, fit: "keys" }, true],
  ["duoAttentionPrefill", D.duoAttentionPrefill as unknown as Est, { alpha: [0.9, 0.1], sink: 8, recent: 40, blockSize: 32 }, true],
  ["biformer", D.biformer as Est, { regionSize: 32, topK: 3 }, true],
  ["biformer(2d)", D.biformer as Est, { grid: [16, 16], regionsPerSide: 4, topK: 3 }, true],
  ["biformer(causal)", D.biformer as Est, { regionSize: 32, topK: 3, causal: true }, true],
];

for (const [name, est, o, elementLevel] of CASES) {
  test(`${name}: fast and reference paths select the same tiles; the block cover matches the mask`, async () => {
    const seed = freshSeed();
    const note = `${name} seed ${seed}`;
    const q = randn([1, 4, 256, 16], seed);
    const k = randn([1, 2, 256, 16], seed + 1);
    const fast = await est(q, k, { ...o });
    const ref = await est(q, k, { ...o, impl: "reference" });
    assert.deepEqual(classes(fast), classes(ref), `${note}: fast vs reference tile classes`);
    assert.equal(fast.H, name === "aShape" ? 1 : 4, note);
    if (name === "duoAttentionPrefill") {
      // KV head 0 (query heads 0, 1) is a retrieval head; KV head 1 streams.
      assert.ok(fast.mask!.at(0, 1, 200, 100) && !fast.mask!.at(0, 2, 200, 100) && fast.mask!.at(0, 3, 200, 3) && fast.mask!.at(0, 3, 200, 170), note);
    }
    const info = D.estimatorInfo(fast);
    assert.ok(info && info.ms >= 0, `${note}: estimatorInfo recorded`);
    assert.ok(Object.values(D.estimatorInfo(ref)!.backends).every((b) => b === "loops"), `${note}: reference path ran loops`);
    const causal = !name.startsWith("biformer") || name === "biformer(causal)";
    if (elementLevel) checkCover(fast, causal, note);
    // Every query row keeps at least one key (no NaN rows).
    const cls = classes(fast);
    const nk = Math.ceil(fast.kvLen / fast.kvBlockSize);
    for (let r = 0; r < cls.length / nk; r++) assert.ok(cls.slice(r * nk, (r + 1) * nk).some((c) => c > 0), `${note}: tile row ${r} empty`);
  });
}

test("verticalSlash: matches a brute-force run of MInference's rule and always keeps the first 30 columns and the last 100 diagonals", async () => {
  const seed = freshSeed();
  const S = 384, Dh = 16, H = 2, lastQ = 64;
  const q = randn([1, H, S, Dh], seed);
  const k = randn([1, H, S, Dh], seed + 7);
  const bm = await D.verticalSlash(q, k, { verticalSize: 50, slashSize: 120 });
  const sel = D.verticalSlashSelection(bm)!;
  const qs = q.floatData(), ks = k.floatData();
  for (let h = 0; h < H; h++) {
    // Brute force: float64 softmax of the last 64 rows, then column and diagonal sums.
    const col = new Float64Array(S), diag = new Float64Array(S);
    for (let i = S - lastQ; i < S; i++) {
      const s = new Float64Array(i + 1);
      let m = -Infinity;
      for (let j = 0; j <= i; j++) {
        let d = 0;
        for (let x = 0; x < Dh; x++) d += qs[(h * S + i) * Dh + x] * ks[(h * S + j) * Dh + x];
        s[j] = d / Math.sqrt(Dh);
        m = Math.max(m, s[j]);
      }
      let z = 0;
      for (let j = 0; j <= i; j++) z += s[j] = Math.exp(s[j] - m);
      for (let j = 0; j <= i; j++) { col[j] += s[j] / z; diag[i - j] += s[j] / z; }
    }
    const pick = (x: Float64Array, forced: number, n: number) => {
      const idx = [...x.keys()];
      idx.sort((a, b) => (a < forced ? -1 : 0) - (b < forced ? -1 : 0) || x[b] - x[a] || a - b);
      return idx.slice(0, n).sort((a, b) => a - b);
    };
    assert.deepEqual(Array.from(sel.columns[h]), pick(col, 30, 50), `seed ${seed}: head ${h} columns`);
    assert.deepEqual(Array.from(sel.diagonals[h]), pick(diag, 100, 120), `seed ${seed}: head ${h} diagonals`);
    for (let c = 0; c < 30; c++) assert.ok(sel.columns[h].includes(c), `seed ${seed}: column ${c} kept`);
    for (let d = 0; d < 100; d++) assert.ok(sel.diagonals[h].includes(d), `seed ${seed}: diagonal ${d} kept`);
  }
  // The first 30 columns and 100 diagonals are attended by every query that can see them.
  for (let h = 0; h < H; h++)
    for (let i = 0; i < S; i += 17) {
      for (let c = 0; c < Math.min(30, i + 1); c++) assert.ok(bm.mask!.at(0, h, i, c), `seed ${seed}: (${i}, ${c})`);
      for (let d = 0; d < Math.min(100, i + 1); d++) assert.ok(bm.mask!.at(0, h, i, i - d), `seed ${seed}: (${i}, ${i - d})`);
    }
});

test("verticalSlash cover 'tiles' computes every tile the exact cover touches, whole", async () => {
  const seed = freshSeed();
  const q = randn([1, 2, 256, 16], seed);
  const k = randn([1, 2, 256, 16], seed + 1);
  const o = { verticalSize: 20, slashSize: 20, sinkColumns: 4, localDiagonals: 8, blockSize: 32 };
  const exact = classes(await D.verticalSlash(q, k, o));
  const tiles = classes(await D.verticalSlash(q, k, { ...o, cover: "tiles" }));
  const nb = 8;
  exact.forEach((c, i) => {
    const r = Math.floor(i / nb) % nb, col = i % nb;
    assert.equal(tiles[i] > 0, c > 0, `seed ${seed}: tile ${i} kept in both`);
    if (c > 0) assert.equal(tiles[i], col < r ? 2 : 1, `seed ${seed}: tile ${i} full below the diagonal`);
  });
});

test("xattention: per block row keeps at least τ of the estimated mass, column 0 and the diagonal; masses match a brute-force antidiagonal estimate", async () => {
  const seed = freshSeed();
  const S = 256, Dh = 16, stride = 8, bs = 32, tau = 0.9;
  const q = randn([1, 2, S, Dh], seed);
  const k = randn([1, 2, S, Dh], seed + 3);
  const bm = await D.xattention(q, k, { stride, blockSize: bs, threshold: tau });
  const sc = D.xattentionScores(bm)!;
  const cls = classes(bm);
  const nb = S / bs, n = S / stride;
  const qs = q.floatData(), ks = k.floatData();
  for (let h = 0; h < 2; h++) {
    const mass = new Float64Array(nb * nb);
    for (let i = 0; i < n; i++) {
      const row = new Float64Array(i + 1);
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let t = 0; t < stride; t++) for (let x = 0; x < Dh; x++) s += qs[(h * S + i * stride + t) * Dh + x] * ks[(h * S + j * stride + stride - 1 - t) * Dh + x];
        row[j] = s / Math.sqrt(Dh) / stride;
      }
      const m = Math.max(...row);
      const z = row.reduce((a, x) => a + Math.exp(x - m), 0);
      for (let j = 0; j <= i; j++) mass[Math.floor((i * stride) / bs) * nb + Math.floor((j * stride) / bs)] += Math.exp(row[j] - m) / z;
    }
    for (let r = 0; r < nb; r++) {
      let total = 0, kept = 0;
      for (let c = 0; c <= r; c++) {
        const mine = sc.blockMass[(h * nb + r) * nb + c];
        assert.ok(Math.abs(mine - mass[r * nb + c]) < 1e-4, `seed ${seed}: mass (${h}, ${r}, ${c}) ${mine} vs ${mass[r * nb + c]}`);
        total += mine;
        if (cls[(h * nb + r) * nb + c] > 0) kept += mine;
      }
      assert.ok(kept >= tau * total - 1e-12, `seed ${seed}: row ${r} keeps ${kept} of ${total}`);
      assert.ok(cls[(h * nb + r) * nb] > 0 && cls[(h * nb + r) * nb + r] > 0, `seed ${seed}: first column and diagonal kept`);
    }
  }
});

test("moba: never selects a future block, always keeps the query's own block, and matches a brute-force gate", async () => {
  const seed = freshSeed();
  const S = 256, Dh = 16, mb = 32, topK = 3;
  const q = randn([1, 2, S, Dh], seed);
  const k = randn([1, 1, S, Dh], seed + 5);
  const bm = await D.moba(q, k, { mobaBlock: mb, topK, blockSize: 32 });
  const { chosen, nBlocks } = D.mobaSelection(bm)!;
  const qs = q.floatData(), ks = k.floatData();
  const mean = new Float64Array(nBlocks * Dh);
  for (let t = 0; t < S; t++) for (let x = 0; x < Dh; x++) mean[Math.floor(t / mb) * Dh + x] += ks[t * Dh + x] / mb;
  for (let h = 0; h < 2; h++)
    for (let i = 0; i < S; i++) {
      const own = Math.floor(i / mb);
      const row = Array.from(chosen.subarray((h * S + i) * nBlocks, (h * S + i + 1) * nBlocks));
      assert.equal(row[own], 1, `seed ${seed}: own block of query ${i}`);
      for (let j = own + 1; j < nBlocks; j++) assert.equal(row[j], 0, `seed ${seed}: future block ${j} of query ${i}`);
      const gate = Array.from({ length: own }, (_, j) => {
        let s = 0;
        for (let x = 0; x < Dh; x++) s += qs[(h * S + i) * Dh + x] * mean[j * Dh + x];
        return [s, j];
      }).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
      const expect = new Set([own, ...gate.slice(0, topK - 1).map((g) => g[1])]);
      for (let j = 0; j < nBlocks; j++) assert.equal(row[j], expect.has(j) ? 1 : 0, `seed ${seed}: query ${i} block ${j}`);
    }
});

test("minferenceBlockSparse: keeps exactly the top-k causal tiles of the pooled scores", async () => {
  const seed = freshSeed();
  const S = 256, Dh = 16, bs = 32, topK = 3;
  const q = randn([1, 1, S, Dh], seed);
  const k = randn([1, 1, S, Dh], seed + 9);
  const cls = classes(await D.minferenceBlockSparse(q, k, { blockSize: bs, topK }));
  const qs = q.floatData(), ks = k.floatData();
  const nb = S / bs;
  const pool = (x: Float32Array) => Array.from({ length: nb }, (_, j) => Array.from({ length: Dh }, (_, d) => { let s = 0; for (let t = j * bs; t < (j + 1) * bs; t++) s += x[t * Dh + d]; return s / bs; }));
  const qp = pool(qs), kp = pool(ks);
  for (let r = 0; r < nb; r++) {
    const sc = Array.from({ length: r + 1 }, (_, c) => [qp[r].reduce((a, x, d) => a + x * kp[c][d], 0), c]).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    const keep = new Set(sc.slice(0, topK).map((x) => x[1]));
    for (let c = 0; c < nb; c++) assert.equal(cls[r * nb + c] > 0, keep.has(c), `seed ${seed}: tile (${r}, ${c})`);
  }
});

test("flexPrefill: reports per-head JS divergence and decisions; tau splits heads into query-aware and vertical-slash", async () => {
  const seed = freshSeed();
  const q = randn([1, 2, 256, 16], seed);
  const k = randn([1, 2, 256, 16], seed + 1);
  const all = D.flexPrefillDecision(await D.flexPrefill(q, k, { blockSize: 32, minBudget: 32, tau: 1e9 }))!;
  const none = D.flexPrefillDecision(await D.flexPrefill(q, k, { blockSize: 32, minBudget: 32, tau: 0 }))!;
  assert.deepEqual(Array.from(all.queryAware), [1, 1], `seed ${seed}`);
  assert.deepEqual(Array.from(none.queryAware), [0, 0], `seed ${seed}`);
  for (const js of all.jsDivergence) assert.ok(js >= 0 && js <= Math.sqrt(Math.LN2) + 1e-9, `seed ${seed}: sqrt JSD ${js} in [0, sqrt(ln 2)]`);
});

test("nsaSelection: the GQA group shares one selection, the first block and the window are kept", async () => {
  const seed = freshSeed();
  const q = randn([1, 4, 256, 16], seed);
  const k = randn([1, 2, 256, 16], seed + 1);
  const bm = await D.nsaSelection(q, k, { compressBlock: 16, compressStride: 8, blockSize: 32, topN: 3, window: 40 });
  const cls = classes(bm);
  const per = 8 * 8;
  assert.deepEqual(cls.slice(0, per), cls.slice(per, 2 * per), `seed ${seed}: heads 0 and 1 share KV head 0`);
  for (let qi = 0; qi < 256; qi += 7) {
    assert.ok(bm.mask!.at(0, 3, qi, 0), `seed ${seed}: first block for query ${qi}`);
    assert.ok(bm.mask!.at(0, 3, qi, Math.max(0, qi - 39)), `seed ${seed}: window for query ${qi}`);
  }
});

test("estimators reject bad inputs with errors naming the op and argument", async () => {
  const q = randn([1, 4, 64, 16], 1);
  const k = randn([1, 3, 64, 16], 2);
  await assert.rejects(D.xattention(q, k), /dynamic\.xattention: argument 'k'.*GQA/);
  await assert.rejects(D.moba(q, randn([1, 2, 64, 16], 3), { topK: 0 }), /dynamic\.moba: argument 'topK' must be a positive integer, got 0/);
  await assert.rejects(D.xattention(q, randn([1, 2, 64, 16], 3), { blockSize: 30, stride: 8 }), /blockSize/);
  await assert.rejects(D.verticalSlash(randn([64, 16], 1) as sl.Tensor, k), /dynamic\.verticalSlash: argument 'q' must be a 4-D tensor/);
  await assert.rejects(D.verticalSlash(q, randn([1, 2, 64, 16], 3), { verticalSize: [1, 2] }), /verticalSize.*one per head/);
  await assert.rejects(D.flexPrefill(q, randn([1, 2, 32, 16], 3)), /Sq == Skv/);
});

test("sparse attention with an estimator's mask runs and approaches dense as the budget grows", async () => {
  const seed = freshSeed();
  const w = sl.workloads.llmLike({ S: 256, H: 2, D: 32, seed });
  const causal = await D.aShape(w.q, w.k, { sink: 0, local: 256, blockSize: 32 });
  const dense = await sl.attention(w.q, w.k, w.v, { blockMask: causal });
  const big = await D.minferenceBlockSparse(w.q, w.k, { blockSize: 32, topK: 8 });
  const out = await sl.attention(w.q, w.k, w.v, { blockMask: big });
  const err = await sl.metrics.outputError(out, dense);
  assert.ok(err.relL2 < 1e-4, `seed ${seed}: all causal tiles kept -> dense (relL2 ${err.relL2})`);
});

test("keptPairs of vertical-slash and MoBA equal the element count of sl.metrics.density", async () => {
  const seed = freshSeed();
  const S = 320;
  const q = randn([1, 2, S, 16], seed);
  const k = randn([1, 1, S, 16], seed + 1);
  const causalPairs = 2 * (S * (S + 1)) / 2;
  for (const bm of [
    await D.verticalSlash(q, k, { verticalSize: 37, slashSize: 51, sinkColumns: 5, localDiagonals: 9, blockSize: 32 }),
    await D.moba(q, k, { mobaBlock: 64, topK: 2, blockSize: 32 }),
  ]) {
    const d = sl.metrics.density(bm, { level: "element", denominator: "causal" }).value;
    assert.ok(Math.abs(D.keptPairs(bm)! / causalPairs - d) < 1e-12, `seed ${seed}: ${D.estimatorInfo(bm)!.method} ${D.keptPairs(bm)! / causalPairs} vs ${d}`);
  }
});

test("estimators stop on an aborted signal with CancelledError", async () => {
  const q = randn([1, 2, 128, 16], 1);
  const k = randn([1, 2, 128, 16], 2);
  const ac = new AbortController();
  ac.abort();
  for (const f of [D.xattention, D.moba, D.hip, D.nsaSelection, D.verticalSlash] as Est[])
    await assert.rejects(f(q, k, { signal: ac.signal, blockSize: 32, mobaBlock: 64 }), (e: Error) => e.name === "CancelledError");
  for (const impl of ["fast", "reference"] as const)
    await assert.rejects(D.quest(randn([1, 2, 1, 16], 3), k, { signal: ac.signal, budget: 16, impl }), (e: Error) => e.name === "CancelledError");
});
