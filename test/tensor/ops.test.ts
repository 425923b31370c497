import { test } from "node:test";
import assert from "node:assert/strict";
import * as sl from "../../lib/index.js";
import { hasOp, registerOp, resolveOp } from "../../lib/backends/registry.js";
import { expectReject, freshSeed, relErr } from "./helpers.js";

/** Naive float64 batched matmul with broadcasting batch dims, the oracle. */
function naiveMatmul(a: sl.Tensor, b: sl.Tensor, transB: boolean): { shape: number[]; v: Float64Array } {
  const A = a.floatData(), B = b.floatData();
  const [M, K] = a.shape.slice(-2);
  const N = transB ? b.shape[b.ndim - 2] : b.shape[b.ndim - 1];
  const ab = a.shape.slice(0, -2), bb = b.shape.slice(0, -2);
  const nd = Math.max(ab.length, bb.length);
  const pa = [...Array(nd - ab.length).fill(1), ...ab], pb = [...Array(nd - bb.length).fill(1), ...bb];
  const batch = pa.map((d, i) => Math.max(d, pb[i]));
  const nb = batch.reduce((x, y) => x * y, 1);
  const v = new Float64Array(nb * M * N);
  for (let t = 0; t < nb; t++) {
    let rem = t, ia = 0, ib = 0, sa = 1, sb = 1;
    for (let d = nd - 1; d >= 0; d--) {
      const i = rem % batch[d];
      rem = Math.floor(rem / batch[d]);
      ia += (pa[d] === 1 ? 0 : i) * sa;
      ib += (pb[d] === 1 ? 0 : i) * sb;
      sa *= pa[d];
      sb *= pb[d];
    }
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += A[ia * M * K + i * K + k] * (transB ? B[ib * N * K + j * K + k] : B[ib * K * N + k * N + j]);
        v[(t * M + i) * N + j] = s;
      }
  }
  return { shape: [...batch, M, N], v };
}

test("matmul/bmm vs naive float64 on random ragged shapes, broadcast batches, transB, dtypes", async () => {
  const seed = freshSeed();
  const g = sl.rng(seed);
  const r = (lo: number, hi: number) => lo + (g.words(1)[0] % (hi - lo + 1));
  for (let trial = 0; trial < 12; trial++) {
    const M = r(1, 70), K = r(1, 300), N = r(1, 270);
    const transB = trial % 2 === 1;
    const aBatch = trial % 3 === 0 ? [] : [r(1, 3)];
    const bBatch = trial % 4 === 0 ? [] : aBatch.length && trial % 5 === 0 ? [1] : aBatch.length ? [aBatch[0]] : [r(1, 2)];
    const dtype = trial % 6 === 5 ? "bf16" : "f32";
    const a = g.randn([...aBatch, M, K], { dtype });
    const b = g.randn([...bBatch, ...(transB ? [N, K] : [K, N])], { dtype });
    const out = await sl.matmul(a, b, { transB, backend: "js" });
    const want = naiveMatmul(a, b, transB);
    const ctx = `trial ${trial} a [${a.shape}] b [${b.shape}] transB ${transB} ${dtype} seed ${seed}`;
    assert.deepEqual(out.shape, want.shape, ctx);
    assert.equal(out.dtype, dtype, ctx);
    const err = relErr(out.floatData(), want.v);
    assert.ok(err < (dtype === "bf16" ? 8e-3 : 1e-6), `${ctx}: rel err ${err}`);
  }
  // Fixed ragged shapes that always cross the kernel's blocking: K over two 256-blocks, M over
  // two 64-row strips and not a multiple of 4, N not a multiple of the 4-column panel.
  for (const transB of [false, true]) {
    const a = sl.randn([130, 513], { seed: seed + 2 }), b = sl.randn(transB ? [35, 513] : [513, 35], { seed: seed + 3 });
    const out = await sl.matmul(a, b, { transB, backend: "js" });
    const err = relErr(out.data as Float32Array, naiveMatmul(a, b, transB).v);
    assert.ok(err < 1e-6, `[130,513]x[513,35] transB ${transB} rel err ${err} seed ${seed}`);
  }
  const empty = await sl.matmul(sl.zeros([3, 0]), sl.zeros([0, 2]));
  assert.deepEqual([empty.shape, Array.from(empty.data)], [[3, 2], [0, 0, 0, 0, 0, 0]]);
  const a = sl.randn([4, 5, 6], { seed }), b = sl.randn([4, 6, 3], { seed: seed + 1 });
  const c = await sl.bmm(a, b);
  assert.ok(relErr(c.floatData(), naiveMatmul(a, b, false).v) < 1e-6, `bmm seed ${seed}`);
  // 1-D operands behave like numpy.
  const v = await sl.matmul(sl.tensor([1, 2]), sl.tensor([[1, 2, 3], [4, 5, 6]]));
  assert.deepEqual(v.shape, [3]);
  assert.deepEqual(Array.from(v.data), [9, 12, 15]);
  const dot = await sl.matmul(sl.tensor([1, 2]), sl.tensor([3, 4]));
  assert.deepEqual([dot.shape, dot.item()], [[], 11]);
  // NaN in an input reaches the outputs that use it.
  const nan = await sl.matmul(sl.tensor([[NaN, 0], [1, 1]]), sl.tensor([[0], [1]]));
  assert.ok(Number.isNaN(nan.data[0]) && nan.data[1] === 1);
});

test("matmul/bmm errors name op, argument, shapes and dtypes", async () => {
  await expectReject(() => sl.matmul(sl.zeros([2, 3]), sl.zeros([4, 5])), "matmul", "'b'", "[..., 3, N]", "[4, 5]", "f32 x f32");
  await expectReject(() => sl.matmul(sl.zeros([2, 3]), sl.zeros([5, 4]), { transB: true }), "matmul", "[..., N, 3]");
  await expectReject(() => sl.matmul(sl.zeros([2, 2, 3]), sl.zeros([3, 3, 4])), "matmul", "batch dims");
  await expectReject(() => sl.matmul(sl.zeros([2, 3], { dtype: "i32" }), sl.zeros([3, 4])), "matmul", "'a'", "float", "i32");
  await expectReject(() => sl.bmm(sl.zeros([2, 3]), sl.zeros([2, 3, 4])), "bmm", "'a'", "3-D");
  await expectReject(() => sl.bmm(sl.zeros([2, 2, 3]), sl.zeros([3, 3, 4])), "bmm", "'b'", "batch 2");
  await expectReject(() => sl.matmul(sl.zeros([2, 3]), sl.zeros([3, 4]), { backend: "cuda" }), "matmul", "cuda");
});

test("softmax: rows sum to 1, stable at large values, matches float64", async () => {
  const seed = freshSeed();
  const x = sl.randn([7, 33], { seed, std: 5 });
  const p = await sl.softmax(x, { backend: "js" });
  const v = x.data as Float32Array;
  for (let r = 0; r < 7; r++) {
    const row = Array.from(v.subarray(r * 33, r * 33 + 33));
    const m = Math.max(...row);
    const e = row.map((t) => Math.exp(t - m));
    const s = e.reduce((a, b) => a + b, 0);
    let total = 0;
    for (let j = 0; j < 33; j++) {
      assert.equal(p.data[r * 33 + j], Math.fround(e[j] / s), `seed ${seed}`);
      total += p.data[r * 33 + j];
    }
    assert.ok(Math.abs(total - 1) < 1e-6, `seed ${seed}`);
  }
  const big = await sl.softmax(sl.tensor([[1000, 1000, 1000, 1000], [1e30, 0, -1e30, -Infinity]]));
  assert.deepEqual(Array.from(big.data), [0.25, 0.25, 0.25, 0.25, 1, 0, 0, 0]);
  const masked = await sl.softmax(sl.full([1, 3], -Infinity));
  assert.ok(Array.from(masked.data).every(Number.isNaN)); // PyTorch's answer for a fully masked row
  const cols = await sl.softmax(x, { axis: 0 });
  assert.deepEqual(cols.shape, [7, 33]);
  for (let j = 0; j < 33; j++) {
    let t = 0;
    for (let r = 0; r < 7; r++) t += cols.data[r * 33 + j];
    assert.ok(Math.abs(t - 1) < 1e-6, `axis 0 column ${j} seed ${seed}`);
  }
  const viaT = await sl.softmax(sl.transpose(x));
  assert.deepEqual(Array.from(sl.transpose(viaT).data), Array.from(cols.data));
  await expectReject(() => sl.softmax(x, { axis: 2 }), "softmax", "'axis'", "2");
  const h = await sl.softmax(sl.tensor([[0, Math.log(3)]], { dtype: "bf16" }));
  assert.equal(h.dtype, "f32");
  assert.ok(Math.abs(h.data[1] - 0.75) < 2e-3);
});

test("topk: sorted descending, ties to the lower index, NaN largest, all k", async () => {
  const { values, indices } = await sl.topk(sl.tensor([[1, 3, 3, 2], [5, 5, 5, 5]]), 3);
  assert.deepEqual(await values.toArray(), [[3, 3, 2], [5, 5, 5]]);
  assert.deepEqual(await indices.toArray(), [[1, 2, 3], [0, 1, 2]]);
  const n = await sl.topk(sl.tensor([1, NaN, 7]), 2);
  assert.deepEqual(Array.from(n.indices.data), [1, 2]);
  const seed = freshSeed();
  const x = sl.randint(0, 20, [9, 100], { seed }).astype("f32"); // many ties
  for (const k of [0, 1, 5, 33, 100]) {
    const r = await sl.topk(x, k, { backend: "js" });
    assert.deepEqual(r.values.shape, [9, k]);
    for (let row = 0; row < 9; row++) {
      const xs = Array.from((x.data as Float32Array).subarray(row * 100, row * 100 + 100), (v, i) => [v, i]);
      xs.sort((p, q) => q[0] - p[0] || p[1] - q[1]);
      assert.deepEqual(Array.from(r.indices.data.subarray(row * k, row * k + k)), xs.slice(0, k).map((e) => e[1]), `k ${k} row ${row} seed ${seed}`);
      assert.deepEqual(Array.from(r.values.data.subarray(row * k, row * k + k)), xs.slice(0, k).map((e) => e[0]), `k ${k} seed ${seed}`);
    }
  }
  await expectReject(() => sl.topk(sl.zeros([2, 3]), 4), "topk", "'k'", "[0, 3]", "4");
});

test("blockPool: mean/max/min over ragged row blocks vs float64", async () => {
  const seed = freshSeed();
  const x = sl.randn([2, 3, 11, 5], { seed });
  const v = x.data as Float32Array;
  for (const reduce of ["mean", "max", "min"] as const) {
    const out = await sl.blockPool(x, 4, reduce, { backend: "js" });
    assert.deepEqual(out.shape, [2, 3, 3, 5]);
    for (let bh = 0; bh < 6; bh++)
      for (let q = 0; q < 3; q++)
        for (let d = 0; d < 5; d++) {
          const rows: number[] = [];
          for (let s = q * 4; s < Math.min(11, q * 4 + 4); s++) rows.push(v[(bh * 11 + s) * 5 + d]);
          const want = reduce === "mean" ? rows.reduce((a, b) => a + b, 0) / rows.length : reduce === "max" ? Math.max(...rows) : Math.min(...rows);
          assert.equal(out.data[(bh * 3 + q) * 5 + d], Math.fround(want), `${reduce} seed ${seed}`);
        }
  }
  const nan = await sl.blockPool(sl.tensor([NaN, 1, 2, 3]).reshape([1, 1, 4, 1]), 2, "max");
  assert.ok(Number.isNaN(nan.data[0]) && nan.data[1] === 3);
  await expectReject(() => sl.blockPool(x, 0), "blockPool", "'block'", "positive");
  await expectReject(() => sl.blockPool(sl.zeros([3, 4]), 2), "blockPool", "'x'", "4-D", "[3, 4]");
});

test("groupedGemm vs per-group float64 products, empty groups and uncovered rows", async () => {
  const seed = freshSeed();
  const T = 23, K = 17, N = 9, G = 4;
  const x = sl.randn([T, K], { seed });
  const w = sl.randn([G, K, N], { seed: seed + 1 });
  const offsets = sl.tensor([1, 8, 8, 20, 22], { dtype: "i32" }); // group 1 empty; rows 0, 22 in no group
  const out = await sl.groupedGemm(x, w, offsets, { backend: "js" });
  const X = x.data as Float32Array, W = w.data as Float32Array;
  const want = new Float64Array(T * N);
  const o = [1, 8, 8, 20, 22];
  for (let g = 0; g < G; g++)
    for (let t = o[g]; t < o[g + 1]; t++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += X[t * K + k] * W[(g * K + k) * N + j];
        want[t * N + j] = s;
      }
  assert.ok(relErr(out.data as Float32Array, want) < 1e-6, `seed ${seed}`);
  for (const t of [0, 22]) for (let j = 0; j < N; j++) assert.equal(out.data[t * N + j], 0);
  await expectReject(() => sl.groupedGemm(x, w, sl.tensor([0, 5, 3, 10, 23], { dtype: "i32" })), "groupedGemm", "'offsets'", "non-decreasing", "position 2");
  await expectReject(() => sl.groupedGemm(x, w, sl.tensor([0, 23], { dtype: "i32" })), "groupedGemm", "'offsets'", "[5]");
  await expectReject(() => sl.groupedGemm(x, sl.zeros([G, K + 1, N]), offsets), "groupedGemm", "'w'", `[G, ${K}, N]`);
});

test("wrappers pick up a backend registered later (how the native cpu backend plugs in)", async () => {
  await sl.ready();
  const calls: string[] = [];
  const js = resolveOp("softmax", { backend: "js" }).impl;
  const prior = hasOp("cpu", "softmax") ? resolveOp("softmax", { backend: "cpu" }).impl : js;
  registerOp("cpu", "softmax", async (x: sl.Tensor, o: object) => {
    calls.push("cpu");
    return js(x, o);
  });
  try {
    const p = await sl.softmax(sl.tensor([[1, 2]]));
    assert.deepEqual(calls, ["cpu"]);
    assert.equal(p.size, 2);
    await sl.softmax(sl.tensor([[1, 2]]), { backend: "js" });
    assert.deepEqual(calls, ["cpu"]);
  } finally {
    // Restore: a later test file in this process should see the real registry.
    registerOp("cpu", "softmax", prior);
  }
});

test("heavy ops honour an aborted signal", async () => {
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(() => sl.matmul(sl.zeros([4, 4]), sl.zeros([4, 4]), { signal: ac.signal, backend: "js" }), /cancelled/);
  await assert.rejects(() => sl.groupedGemm(sl.zeros([4, 4]), sl.zeros([1, 4, 4]), sl.tensor([0, 4], { dtype: "i32" }), { signal: ac.signal, backend: "js" }), /cancelled/);
});
