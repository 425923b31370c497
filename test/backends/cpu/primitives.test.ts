// The cpu backend's primitives against the JS reference (or a float64 reference here where
// no JS op exists): matmul/bmm, grouped GEMM, softmax, top-k, block pooling, antidiagonal
// scores, column/diagonal sums, decode attention. Outputs are NaN-poisoned first.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as sl from "../../../lib/index.js";
import {
  antidiagScoresInto, blockPoolInto, colDiagSumsInto, decodeAttentionInto, groupedGemmInto, matmulInto, softmaxInto, topkInto,
} from "../../../lib/backends/cpu/index.js";
import { resolveOp } from "../../../lib/backends/registry.js";
import type { AntidiagScoresImpl, ColDiagSumsImpl } from "../../../lib/backends/ops.js";
import { assertClose, freshSeed, poisoned, randn, requireAddon, tolFor, widen } from "./helpers.js";

test("matmul: ragged sizes, batch broadcast, transB, f16/bf16", async () => {
  await requireAddon();
  const cases: [number[], number[], boolean, sl.DType][] = [
    [[1, 1], [1, 1], false, "f32"],
    [[37, 70], [70, 91], false, "f32"],
    [[3, 1, 65, 129], [4, 129, 33], false, "f32"],
    [[2, 100, 257], [2, 77, 257], true, "f32"],
    [[130, 64], [64, 200], false, "f16"],
    [[5, 300], [300, 17], false, "bf16"],
  ];
  for (const [as, bs, transB, dtype] of cases) {
    const seed = freshSeed();
    const a = randn(as, seed, dtype);
    const b = randn(bs, seed + 1, dtype);
    const ref = await sl.matmul(a, b, { transB, backend: "js" });
    const out = poisoned(dtype, ref.size);
    const got = await matmulInto(a, b, { transB }, out);
    assert.deepEqual(got.shape, ref.shape);
    assertClose(widen(dtype, out), await ref.toTypedArray(), tolFor(dtype), `matmul ${as} x ${bs}${transB ? "^T" : ""} ${dtype} (seed ${seed})`);
  }
});

test("grouped GEMM over row runs, empty groups included", async () => {
  await requireAddon();
  const seed = freshSeed();
  const T = 203, K = 96, N = 70;
  const offsets = sl.tensor([0, 50, 50, 151, 203], { dtype: "i32" }) as sl.Tensor<"i32">;
  const x = randn([T, K], seed);
  const w = randn([4, K, N], seed + 1);
  const ref = await sl.groupedGemm(x, w, offsets, { backend: "js" });
  const out = new Float32Array(T * N).fill(NaN);
  await groupedGemmInto(x, w, offsets, {}, out);
  assertClose(out, await ref.toTypedArray(), 2e-5, `groupedGemm (seed ${seed})`);
});

test("softmax, including -inf entries and an all -inf row", async () => {
  await requireAddon();
  for (const dtype of ["f32", "bf16"] as const) {
    const seed = freshSeed();
    const x = randn([7, 3, 1000], seed, dtype);
    if (dtype === "f32") {
      const d = x.data as Float32Array;
      for (let i = 0; i < 1000; i += 3) d[i] = -Infinity;
      d.fill(-Infinity, 1000, 2000);
    }
    const ref = await sl.softmax(x, { backend: "js" });
    const out = new Float32Array(x.size).fill(NaN);
    await softmaxInto(x, {}, out);
    // An all -inf row is NaN in both (PyTorch's rule): assertClose requires NaN exactly there.
    assertClose(out, await ref.toTypedArray(), 1e-6, `softmax ${dtype} (seed ${seed})`);
  }
});

test("topk: sorted, ties to the lower index", async () => {
  await requireAddon();
  const seed = freshSeed();
  const x = sl.randint(0, 20, [9, 333], { seed });
  const xf = sl.astype(x, "f32");
  for (const k of [1, 5, 333]) {
    const ref = await sl.topk(xf, k, { backend: "js" });
    const values = new Float32Array(9 * k).fill(NaN);
    const indices = new Int32Array(9 * k).fill(-7);
    await topkInto(xf, k, {}, { values, indices });
    assert.deepEqual(Array.from(indices), Array.from(await ref.indices.toTypedArray()), `topk k=${k} indices (seed ${seed})`);
    assert.deepEqual(Array.from(values), Array.from(await ref.values.toTypedArray()), `topk k=${k} values (seed ${seed})`);
  }
});

test("blockPool mean / max / min with a ragged last block", async () => {
  await requireAddon();
  const seed = freshSeed();
  const x = randn([2, 3, 130, 80], seed);
  for (const reduce of ["mean", "max", "min"] as const) {
    const ref = await sl.blockPool(x, 64, reduce, { backend: "js" });
    const out = new Float32Array(ref.size).fill(NaN);
    await blockPoolInto(x, 64, reduce, {}, out);
    assertClose(out, await ref.toTypedArray(), 1e-6, `blockPool ${reduce} (seed ${seed})`);
  }
});

test("antidiagScores: strided antidiagonal sums, ragged edges", async () => {
  await requireAddon();
  const seed = freshSeed();
  const [B, H, Sq, Skv, D, s] = [1, 3, 70, 101, 32, 8];
  const q = randn([B, H, Sq, D], seed);
  const k = randn([B, H, Skv, D], seed + 1);
  const qs = q.data as Float32Array;
  const ks = k.data as Float32Array;
  const nI = Math.ceil(Sq / s);
  const nJ = Math.ceil(Skv / s);
  const ref = new Float64Array(B * H * nI * nJ);
  for (let bh = 0; bh < B * H; bh++)
    for (let i = 0; i < nI; i++)
      for (let j = 0; j < nJ; j++) {
        let acc = 0;
        for (let t = 0; t < s; t++) {
          const qi = i * s + t;
          const kj = j * s + (s - 1 - t);
          if (qi >= Sq || kj >= Skv) continue;
          for (let d = 0; d < D; d++) acc += qs[(bh * Sq + qi) * D + d] * ks[(bh * Skv + kj) * D + d];
        }
        ref[(bh * nI + i) * nJ + j] = acc * 0.1;
      }
  const out = new Float32Array(ref.length).fill(NaN);
  await antidiagScoresInto(q, k, s, 0.1, {}, out);
  assertClose(out, ref, 1e-5, `antidiagScores vs float64 (seed ${seed})`);
  const js = await resolveOp<AntidiagScoresImpl>("antidiagScores", { backend: "js" }).impl(q, k, s, 0.1, {});
  assertClose(out, await js.toTypedArray(), 1e-5, `antidiagScores vs the JS reference (seed ${seed})`);
});

test("colDiagSums: column and diagonal sums of softmaxed scores (causal, GQA)", async () => {
  await requireAddon();
  const seed = freshSeed();
  const [B, Hq, Hkv, Sq, Skv, D] = [2, 4, 2, 40, 300, 64];
  const qOffset = Skv - Sq;
  const q = randn([B, Hq, Sq, D], seed);
  const k = randn([B, Hkv, Skv, D], seed + 1);
  const qs = q.data as Float32Array;
  const ks = k.data as Float32Array;
  const scale = 1 / 8;
  for (const causal of [true, false]) {
    const cols = new Float64Array(B * Hq * Skv);
    const diags = new Float64Array(B * Hq * Skv);
    for (let b = 0; b < B; b++)
      for (let h = 0; h < Hq; h++) {
        const hk = Math.floor(h / (Hq / Hkv));
        const bh = b * Hq + h;
        for (let i = 0; i < Sq; i++) {
          const s = new Float64Array(Skv).fill(-Infinity);
          let m = -Infinity;
          for (let j = 0; j < Skv; j++) {
            if (causal && j > qOffset + i) continue;
            let acc = 0;
            for (let d = 0; d < D; d++) acc += qs[(bh * Sq + i) * D + d] * ks[((b * Hkv + hk) * Skv + j) * D + d];
            s[j] = acc * scale;
            m = Math.max(m, s[j]);
          }
          let l = 0;
          for (let j = 0; j < Skv; j++) l += Math.exp(s[j] - m);
          for (let j = 0; j < Skv; j++) {
            const p = Math.exp(s[j] - m) / l;
            cols[bh * Skv + j] += p;
            const o = qOffset + i - j;
            if (o >= 0) diags[bh * Skv + o] += p;
          }
        }
      }
    const gc = new Float32Array(cols.length).fill(NaN);
    const gd = new Float32Array(diags.length).fill(NaN);
    await colDiagSumsInto(q, k, { scale, qOffset, causal }, { cols: gc, diags: gd });
    assertClose(gc, cols, 1e-5, `colDiagSums cols causal=${causal} (seed ${seed})`);
    assertClose(gd, diags, 1e-5, `colDiagSums diags causal=${causal} (seed ${seed})`);
    const js = await resolveOp<ColDiagSumsImpl>("colDiagSums", { backend: "js" }).impl(q, k, { scale, qOffset, causal });
    assertClose(gc, await js.cols.toTypedArray(), 1e-5, `colDiagSums cols vs the JS reference, causal=${causal} (seed ${seed})`);
    assertClose(gd, await js.diags.toTypedArray(), 1e-5, `colDiagSums diags vs the JS reference, causal=${causal} (seed ${seed})`);
  }
});

test("decode attention over selected tokens (padding, GQA) and over a block mask", async () => {
  await requireAddon();
  for (const dtype of ["f32", "bf16"] as const) {
    const seed = freshSeed();
    const [B, Hq, Hkv, Sq, Skv, D, n] = [2, 8, 2, 2, 1500, 96, 700];
    const q = randn([B, Hq, Sq, D], seed, dtype);
    const kc = randn([B, Hkv, Skv, D], seed + 1, dtype);
    const vc = randn([B, Hkv, Skv, D], seed + 2, dtype);
    const idx = new Int32Array(B * Hkv * n);
    const r = sl.rng(seed);
    for (let row = 0; row < B * Hkv; row++) {
      const perm = r.permutation(Skv).data as Int32Array;
      for (let i = 0; i < n; i++) idx[row * n + i] = i % 9 === 4 ? -1 : perm[i];
    }
    const indices = new sl.Tensor([B, Hkv, n], "i32", idx);
    const ref = await sl.decodeAttention(q, kc, vc, { indices, returnLse: true, backend: "js" });
    const out = poisoned(dtype, B * Hq * Sq * D);
    const lse = new Float32Array(B * Hq * Sq).fill(NaN);
    await decodeAttentionInto({ q, kCache: kc, vCache: vc, indices, scale: 1 / Math.sqrt(D), returnLse: true }, out, lse);
    assertClose(widen(dtype, out), await ref.output.toTypedArray(), tolFor(dtype), `decode indices ${dtype} (seed ${seed})`);
    assertClose(lse, await ref.lse.toTypedArray(), 1e-5, `decode lse ${dtype} (seed ${seed})`);
  }
  const seed = freshSeed();
  const q = randn([1, 4, 3, 64], seed);
  const kc = randn([1, 1, 900, 64], seed + 1);
  const vc = randn([1, 1, 900, 64], seed + 2);
  const bm = sl.createBlockMask(sl.mask("kv < 64 or kv >= 700 or kv % 5 == q"), { qLen: 3, kvLen: 900, blockSize: [16, 64] });
  const ref = await sl.decodeAttention(q, kc, vc, { blockMask: bm, backend: "js" });
  const out = new Float32Array(4 * 3 * 64).fill(NaN);
  await decodeAttentionInto({ q, kCache: kc, vCache: vc, blockMask: bm, scale: 0.125, returnLse: false }, out);
  assertClose(out, await ref.toTypedArray(), 2e-5, `decode block mask (seed ${seed})`);
});
