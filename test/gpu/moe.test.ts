// CUDA MoE kernels against float64 / JS references on fresh random inputs: the grouped GEMMs
// (wgmma on Hopper at each N tile, and the mma.sync kernel; empty and ragged groups, K and N not
// multiples of the tile, bf16 and f16, host and device offsets, enough tiles that every
// persistent block loops), the GPU permutation against the host one, top-k routing, the
// dispatch gather and the weighted combine. Outputs are poisoned first.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../lib/tensor/tensor.js";
import { toDevice, toHost } from "../../lib/backends/cuda/device-tensor.js";
import { cudaRuntime } from "../../lib/backends/cuda/runtime.js";
import {
  cudaGroupedGemm, routeSoftmaxTopk, permutation, permuteByExpert, gatherRows, combineRows, groupedGemmKernel,
} from "../../lib/backends/cuda/moe.js";
import { gpuSkipReason, poison, randomTensor, relErr, widen } from "./gpu-helpers.js";
import type { DType } from "../../lib/tensor/dtype.js";

const skip = gpuSkipReason();
if (skip) console.log(`# skipping CUDA MoE tests: ${skip}`);

/** Float64 reference of the rows listed (all rows when `rows` is undefined); others stay NaN. */
function refGrouped(x: Float32Array, w: Float32Array, off: Int32Array, K: number, N: number, rows?: Set<number>): Float64Array {
  const T = off[off.length - 1];
  const out = new Float64Array(T * N).fill(NaN);
  for (let g = 0; g + 1 < off.length; g++)
    for (let r = off[g]; r < off[g + 1]; r++) {
      if (rows && !rows.has(r)) continue;
      out.fill(0, r * N, (r + 1) * N);
      for (let kk = 0; kk < K; kk++) {
        const a = x[r * K + kk];
        const wo = (g * K + kk) * N;
        for (let n = 0; n < N; n++) out[r * N + n] += a * w[wo + n];
      }
    }
  return out;
}

/** Relative error over the reference's rows; every output element must be finite (poisoned NaN otherwise). */
function checkRows(got: Float32Array, ref: Float64Array): number {
  const a: number[] = [], b: number[] = [];
  for (let i = 0; i < got.length; i++) {
    if (!Number.isFinite(got[i])) return Infinity;
    if (!Number.isNaN(ref[i])) {
      a.push(got[i]);
      b.push(ref[i]);
    }
  }
  return relErr(a, b);
}

type Env = Record<string, string | undefined>;

/** Runs fn with SPARSELAB_CUDA_GEMM / _BN set, restoring them after. */
async function withEnv<T>(env: Env, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
}

const hopper = !skip && cudaRuntime()!.info.major === 9;
// Each kernel configuration the dispatcher can pick: wgmma at each N tile on Hopper, mma.sync everywhere.
const tma = hopper && cudaRuntime()!.info.tensorMaps;
// The TMA kernel takes work from an atomic counter by default; SCHED=static is its fixed-stride walk.
const configs: [string, Env][] = [
  ...(tma ? ["256", "192", "128"].map((bn): [string, Env] => [`wgmma TMA BN ${bn}`, { SPARSELAB_CUDA_GEMM: undefined, SPARSELAB_CUDA_GEMM_BN: bn, SPARSELAB_CUDA_GEMM_CLUSTER: undefined }]) : []),
  ...(tma ? [["wgmma TMA BN 256, static schedule", { SPARSELAB_CUDA_GEMM: undefined, SPARSELAB_CUDA_GEMM_BN: "256", SPARSELAB_CUDA_GEMM_CLUSTER: undefined, SPARSELAB_CUDA_GEMM_SCHED: "static" }] as [string, Env]] : []),
  // BN 256 and 128 store through TMA by default (warpgroups straddling a group end from registers); EPI=regs: register stores throughout.
  ...(tma ? ["256", "128"].map((bn): [string, Env] => [`wgmma TMA BN ${bn}, register epilogue`, { SPARSELAB_CUDA_GEMM: undefined, SPARSELAB_CUDA_GEMM_BN: bn, SPARSELAB_CUDA_GEMM_CLUSTER: undefined, SPARSELAB_CUDA_GEMM_EPI: "regs" }]) : []),
  ...(tma ? ["256", "128"].map((bn): [string, Env] => [`wgmma TMA 2-CTA multicast BN ${bn}`, { SPARSELAB_CUDA_GEMM: undefined, SPARSELAB_CUDA_GEMM_BN: bn, SPARSELAB_CUDA_GEMM_CLUSTER: "2" }]) : []),
  ...(hopper ? ["256", "128"].map((bn): [string, Env] => [`wgmma cp.async BN ${bn}`, { SPARSELAB_CUDA_GEMM: "cp.async", SPARSELAB_CUDA_GEMM_BN: bn, SPARSELAB_CUDA_GEMM_CLUSTER: undefined }]) : []),
  ["mma.sync", { SPARSELAB_CUDA_GEMM: "mma", SPARSELAB_CUDA_GEMM_BN: undefined, SPARSELAB_CUDA_GEMM_CLUSTER: undefined }],
];

const cases: [string, number[], number, number, DType][] = [
  ["ragged groups, one empty, bf16", [130, 0, 257, 64, 1], 256, 384, "bf16"],
  ["K, N off the tile, f16", [40, 300, 7], 72, 200, "f16"],
  ["many small groups, bf16", Array.from({ length: 33 }, (_, i) => (i * 37) % 90), 128, 136, "bf16"],
  ["empty first and last groups, N 1408, bf16", [0, 129, 383, 0], 136, 1408, "bf16"],
  // BN 256: a 192-column tail (three B boxes loaded, full width); BN 128: a 64-column tail (one box).
  ["N 448: partial-width tail tiles, bf16", [300, 77], 192, 448, "bf16"],
];

for (const [cfg, env] of configs)
  for (const [name, sizes, K, N, dtype] of cases) {
    test(`cuda groupedGemm (${cfg}): ${name}`, { skip }, async () => {
      const seed = (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0;
      const off = new Int32Array(sizes.length + 1);
      sizes.forEach((s, i) => (off[i + 1] = off[i] + s));
      const T = off[sizes.length];
      const x = randomTensor([T, K], dtype, seed);
      const w = randomTensor([sizes.length, K, N], dtype, seed + 7);
      poison(T * N * 2);
      const out = await withEnv(env, () => cudaGroupedGemm(toDevice(x), toDevice(w), new Tensor([off.length], "i32", off)));
      const got = widen(await toHost(out));
      const e = checkRows(got, refGrouped(widen(x), widen(w), off, K, N));
      assert.ok(e < (dtype === "bf16" ? 1e-2 : 4e-3), `${cfg}, seed ${seed}: rel err ${e}`);
    });
  }

// Thousands of rows: more work items than blocks, so each persistent block walks several tiles and
// the load pipeline wraps its stages many times. Device offsets (no host copy). Reference on a
// sample of rows (every group's first and last rows, and a stride) to keep the JS loop short.
for (const [cfg, env] of configs)
  test(`cuda groupedGemm (${cfg}): 9000 rows in 6 ragged groups, K 320, N 1408, device offsets`, { skip }, async () => {
    const seed = (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0;
    const sizes = [2999, 1, 0, 2048, 1700, 2252];
    const K = 320, N = 1408;
    const off = new Int32Array(sizes.length + 1);
    sizes.forEach((s, i) => (off[i + 1] = off[i] + s));
    const T = off[sizes.length];
    const x = randomTensor([T, K], "bf16", seed);
    const w = randomTensor([sizes.length, K, N], "bf16", seed + 7);
    const rows = new Set<number>();
    for (let r = seed % 11; r < T; r += 11) rows.add(r);
    for (let g = 0; g < sizes.length; g++) for (const r of [off[g], off[g] + 1, off[g + 1] - 2, off[g + 1] - 1]) if (r >= off[g] && r < off[g + 1]) rows.add(r);
    poison(T * N * 2);
    const dOff = toDevice(new Tensor([off.length], "i32", off));
    const out = await withEnv(env, () => cudaGroupedGemm(toDevice(x), toDevice(w), dOff));
    const got = widen(await toHost(out));
    const e = checkRows(got, refGrouped(widen(x), widen(w), off, K, N, rows));
    assert.ok(e < 1e-2, `${cfg}, seed ${seed}: rel err ${e}`);
  });

test("cuda groupedGemm picks wgmma on Hopper (TMA where the driver has tensor maps)", { skip }, () => {
  assert.equal(groupedGemmKernel(), tma ? "wgmma-tma" : hopper ? "wgmma-cp.async" : "mma");
});

test("cuda permuteByExpert matches the host permutation (stable), drops indices outside [0, E)", { skip }, async () => {
  const seed = (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0;
  for (const [T, k, E, dropEvery] of [[4099, 6, 64, 0], [777, 2, 8, 0], [1000, 3, 200, 37], [1, 1, 1, 0]]) {
    let s = seed + T;
    const idx = new Int32Array(T * k);
    for (let i = 0; i < idx.length; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      // Skewed expert popularity, so some experts get many rows and some none.
      idx[i] = Math.floor(((s / 2 ** 32) ** 2) * E);
      if (dropEvery && i % dropEvery === 5) idx[i] = i % 2 ? -1 : E;
    }
    const g = permuteByExpert(toDevice(new Tensor([T, k], "i32", idx)), E);
    const src = (await g.src.toTypedArray()) as Int32Array, pos = (await g.pos.toTypedArray()) as Int32Array;
    const offsets = (await g.offsets.toTypedArray()) as Int32Array;
    // Host reference over the kept assignments, in the same order.
    const kept = Array.from(idx, (e, i) => [e, i]).filter(([e]) => e >= 0 && e < E);
    const counts = new Int32Array(E + 1);
    for (const [e] of kept) counts[e + 1]++;
    for (let e = 0; e < E; e++) counts[e + 1] += counts[e];
    assert.deepEqual(Array.from(offsets), Array.from(counts), `seed ${seed}: offsets T=${T} E=${E}`);
    const next = counts.slice(0, E);
    const wantPos = new Int32Array(T * k).fill(-1), wantSrc = new Int32Array(T * k).fill(-1);
    for (const [e, i] of kept) {
      const p = next[e]++;
      wantPos[i] = p;
      wantSrc[p] = Math.floor(i / k);
    }
    assert.deepEqual(Array.from(pos), Array.from(wantPos), `seed ${seed}: pos T=${T} E=${E}`);
    assert.deepEqual(Array.from(src), Array.from(wantSrc), `seed ${seed}: src T=${T} E=${E}`);
    if (!dropEvery) {
      const host = permutation(idx, T, k, E);
      assert.deepEqual(Array.from(src), Array.from(host.src), `seed ${seed}: src equals permutation()`);
    }
  }
});

test("cuda routeSoftmaxTopk + permutation + gather + combine", { skip }, async () => {
  const seed = (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0;
  const T = 517, E = 70, k = 3, d = 64;
  const logits = randomTensor([T, E], "f32", seed, 4);
  const L = logits.data as Float32Array;
  const r = await routeSoftmaxTopk(toDevice(logits), k, true, { probs: true });
  const idx = (await r.indices.toTypedArray()) as Int32Array;
  const wts = (await r.weights.toTypedArray()) as Float32Array;
  const probs = (await r.probs!.toTypedArray()) as Float32Array;
  for (let t = 0; t < T; t++) {
    let m = -Infinity;
    for (let e = 0; e < E; e++) m = Math.max(m, L[t * E + e]);
    const p = Array.from({ length: E }, (_, e) => Math.exp(L[t * E + e] - m));
    const s = p.reduce((a, b) => a + b, 0);
    for (let e = 0; e < E; e++) assert.ok(Math.abs(probs[t * E + e] - p[e] / s) < 1e-5, `seed ${seed}: prob ${t},${e}`);
    const order = p.map((v, e) => [v, e]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, k);
    const top = order.reduce((a, b) => a + b[0], 0);
    for (let j = 0; j < k; j++) {
      assert.equal(idx[t * k + j], order[j][1], `seed ${seed}: token ${t} slot ${j}`);
      assert.ok(Math.abs(wts[t * k + j] - order[j][0] / top) < 1e-5, `seed ${seed}: weight ${t},${j}`);
    }
  }
  const { src, pos } = permutation(idx, T, k, E);
  const x = randomTensor([T, d], "bf16", seed + 3);
  const xd = toDevice(x);
  const gathered = widen(await toHost(gatherRows(xd, toDevice(new Tensor([src.length], "i32", src)))));
  const xf = widen(x);
  for (let i = 0; i < src.length; i++) for (let c = 0; c < d; c++) assert.equal(gathered[i * d + c], xf[src[i] * d + c]);
  // Combine the gathered rows straight back: with normalised weights it must give x again.
  const y = widen(await toHost(combineRows(toDevice(new Tensor([src.length, d], "bf16", (await toHost(gatherRows(xd, toDevice(new Tensor([src.length], "i32", src))))).data)), toDevice(new Tensor([T, k], "i32", pos)), r.weights, T, k)));
  assert.ok(relErr(y, xf) < 1e-2, `seed ${seed}: combine of a plain gather must give x back`);
});

test("cuda moeForward (SwiGLU experts) matches a float64 per-token loop over its routing", { skip }, async () => {
  const { moeForward } = await import("../../lib/backends/cuda/moe.js");
  const seed = (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0;
  const T = 300, d = 64, f = 96, E = 8, k = 2;
  const x = randomTensor([T, d], "bf16", seed);
  const wr = randomTensor([1, d, E], "bf16", seed + 1);
  const wg = randomTensor([E, d, f], "bf16", seed + 2, 0.3), wu = randomTensor([E, d, f], "bf16", seed + 3, 0.3), wd = randomTensor([E, f, d], "bf16", seed + 4, 0.3);
  const r = await moeForward(toDevice(x), { router: toDevice(wr), gate: toDevice(wg), up: toDevice(wu), down: toDevice(wd) }, { k });
  const out = widen(await toHost(r.output));
  const idx = (await r.indices.toTypedArray()) as Int32Array, wts = (await r.weights.toTypedArray()) as Float32Array;
  const X = widen(x), WR = widen(wr), WG = widen(wg), WU = widen(wu), WD = widen(wd);
  const ref = new Float64Array(T * d);
  for (let t = 0; t < T; t++) {
    const logit = Array.from({ length: E }, (_, e) => { let a = 0; for (let c = 0; c < d; c++) a += X[t * d + c] * WR[c * E + e]; return a; });
    const m = Math.max(...logit), p = logit.map((l) => Math.exp(l - m)), z = p.reduce((a, b) => a + b, 0);
    const chosen = [0, 1].map((j) => idx[t * k + j]);
    const norm = chosen.reduce((a, e) => a + p[e] / z, 0);
    for (let j = 0; j < k; j++) {
      const e = chosen[j];
      assert.ok(Math.abs(wts[t * k + j] - p[e] / z / norm) < 3e-2, `seed ${seed}: token ${t} weight ${wts[t * k + j]} vs ${p[e] / z / norm}`);
      const h = new Float64Array(f);
      for (let o = 0; o < f; o++) {
        let g = 0, u = 0;
        for (let c = 0; c < d; c++) { g += X[t * d + c] * WG[(e * d + c) * f + o]; u += X[t * d + c] * WU[(e * d + c) * f + o]; }
        h[o] = (g / (1 + Math.exp(-g))) * u;
      }
      for (let c = 0; c < d; c++) {
        let y = 0;
        for (let o = 0; o < f; o++) y += h[o] * WD[(e * f + o) * d + c];
        ref[t * d + c] += wts[t * k + j] * y;
      }
    }
  }
  const e = relErr(out, ref);
  assert.ok(e < 2e-2, `seed ${seed}: MoE output rel err ${e}`);
});
