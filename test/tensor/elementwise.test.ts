import { test } from "node:test";
import assert from "node:assert/strict";
import * as sl from "../../lib/index.js";
import { expectError, freshSeed, maxAbsDiff } from "./helpers.js";
import { erf } from "../../lib/tensor/elementwise.js";

test("broadcasting binary ops on hand cases", async () => {
  const a = sl.tensor([[1, 2, 3], [4, 5, 6]]);
  assert.deepEqual(await sl.add(a, sl.tensor([10, 20, 30])).toArray(), [[11, 22, 33], [14, 25, 36]]);
  assert.deepEqual(await sl.sub(a, sl.tensor([[1], [2]])).toArray(), [[0, 1, 2], [2, 3, 4]]);
  assert.deepEqual(await sl.mul(sl.tensor([[1], [2]]), sl.tensor([1, 10, 100])).toArray(), [[1, 10, 100], [2, 20, 200]]);
  assert.deepEqual(await sl.div(a, 2).toArray(), [[0.5, 1, 1.5], [2, 2.5, 3]]);
  assert.deepEqual(await sl.sub(1, sl.tensor([1, 2])).toArray(), [0, -1]);
  assert.deepEqual(sl.add(sl.zeros([4, 1, 3]), sl.zeros([2, 1])).shape, [4, 2, 3]);
  expectError(() => sl.add(sl.zeros([2, 3]), sl.zeros([4])), "add", "'b'", "[2, 3]", "[4]");
});

test("dtype promotion rules", () => {
  const i = sl.arange(3);
  assert.equal(sl.add(i, i).dtype, "i32");
  assert.equal(sl.add(i, 1).dtype, "i32");
  assert.equal(sl.add(i, 0.5).dtype, "f32");
  assert.equal(sl.div(i, 2).dtype, "f32");
  assert.equal(sl.mul(sl.ones([2], { dtype: "bf16" }), 3).dtype, "bf16");
  assert.equal(sl.mul(sl.ones([2], { dtype: "bf16" }), sl.ones([2], { dtype: "f16" })).dtype, "f32");
  assert.equal(sl.gt(i, 1).dtype, "bool");
  assert.deepEqual(Array.from(sl.mul(sl.tensor([65536], { dtype: "i32" }), sl.tensor([65536], { dtype: "i32" })).data), [0]); // int32 wrap
});

test("unary ops against Math on random inputs, with NaN/Inf kept", () => {
  const seed = freshSeed();
  const x = sl.randn([1000], { seed, std: 4 });
  const v = x.data as Float32Array;
  const cases: [string, (t: sl.Tensor) => sl.Tensor, (v: number) => number][] = [
    ["exp", sl.exp, Math.exp],
    ["tanh", sl.tanh, Math.tanh],
    ["sigmoid", sl.sigmoid, (t) => 1 / (1 + Math.exp(-t))],
    ["relu", sl.relu, (t) => Math.max(t, 0)],
    ["silu", sl.silu, (t) => t / (1 + Math.exp(-t))],
    ["neg", sl.neg, (t) => -t],
    ["abs", sl.abs, Math.abs],
    ["gelu(tanh)", (t) => sl.gelu(t, { approximate: "tanh" }), (t) => 0.5 * t * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (t + 0.044715 * t ** 3)))],
  ];
  for (const [name, f, ref] of cases) {
    const out = f(x).data as Float32Array;
    const want = Array.from(v, (t) => Math.fround(ref(t)));
    assert.ok(maxAbsDiff(out, want) <= 1e-6 * Math.max(1, ...want.map(Math.abs)), `${name} seed ${seed}`);
  }
  const pos = sl.abs(x);
  assert.ok(maxAbsDiff(sl.log(pos).data as Float32Array, Array.from(pos.data as Float32Array, (t) => Math.fround(Math.log(t)))) === 0, `log seed ${seed}`);
  assert.ok(maxAbsDiff(sl.sqrt(pos).data as Float32Array, Array.from(pos.data as Float32Array, (t) => Math.fround(Math.sqrt(t)))) === 0, `sqrt seed ${seed}`);
  const sp = sl.tensor([NaN, Infinity, -Infinity, 0]);
  const e = Array.from(sl.exp(sp).data);
  assert.ok(Number.isNaN(e[0]));
  assert.deepEqual(e.slice(1), [Infinity, 0, 1]);
  assert.ok(Number.isNaN(sl.relu(sp).data[0]));
  assert.deepEqual(Array.from(sl.sigmoid(sl.tensor([1000, -1000])).data), [1, 0]);
  assert.deepEqual(Array.from(sl.silu(sl.tensor([-1000])).data), [-0]);
});

test("exact gelu uses erf to double precision", () => {
  // Reference values of erf from tables (Abramowitz & Stegun 7.1), both sides of the series/fraction switch at 3.
  const erfTable: [number, number][] = [[0.1, 0.1124629160182849], [0.5, 0.5204998778130465], [1, 0.8427007929497149], [2, 0.9953222650189527], [2.9, 0.9999589021219005], [3.1, 0.9999883513426328], [3.5, 0.9999992569016276], [5, 0.9999999999984626]];
  for (const [x, want] of erfTable) {
    assert.ok(Math.abs(erf(x) - want) < 1.5e-15, `erf(${x}) = ${erf(x)}, want ${want}`);
    assert.ok(Math.abs(erf(-x) + want) < 2e-15);
  }
  const xs = sl.randn([200], { seed: freshSeed(), std: 3 });
  const g = sl.gelu(xs).data as Float32Array;
  (xs.data as Float32Array).forEach((x, i) => assert.equal(g[i], Math.fround(0.5 * x * (1 + erf(x * Math.SQRT1_2)))));
  assert.deepEqual(Array.from(sl.gelu(sl.tensor([-10, 0, 10])).data), [-0, 0, 10]);
});

test("where, maximum, minimum, clamp, comparisons", async () => {
  const x = sl.tensor([[-1, 2], [3, -4]]);
  assert.deepEqual(await sl.where(sl.gt(x, 0), x, 0).toArray(), [[0, 2], [3, 0]]);
  assert.deepEqual(await sl.where(sl.tensor([true, false]), sl.tensor([[1], [2]]), sl.tensor([9, 9])).toArray(), [[1, 9], [2, 9]]);
  assert.deepEqual(Array.from(sl.maximum(sl.tensor([1, NaN, 3]), 2).data).map(String), ["2", "NaN", "3"]);
  assert.deepEqual(Array.from(sl.minimum(sl.tensor([1, 5]), sl.tensor([2, 4])).data), [1, 4]);
  assert.deepEqual(Array.from(sl.clamp(sl.tensor([-5, 0.5, 5]), { min: -1, max: 1 }).data), [-1, 0.5, 1]);
  assert.deepEqual(Array.from(sl.eq(sl.arange(3), 1).data), [0, 1, 0]);
  assert.deepEqual(Array.from(sl.le(sl.arange(3), 1).data), [1, 1, 0]);
  assert.deepEqual(Array.from(sl.pow(sl.arange(4), 2).data), [0, 1, 4, 9]);
  expectError(() => sl.where(sl.tensor([true, false, true]), sl.zeros([2]), 1), "where", "'cond'");
  expectError(() => sl.gelu(x, { approximate: "fast" as any }), "gelu", "'approximate'");
});
