import { test } from "node:test";
import assert from "node:assert/strict";
import * as sl from "../../lib/index.js";
import { expectError, freshSeed } from "./helpers.js";

/** float64 reduction of a [outer, n, inner] view: the reference every reduction is checked against. */
function ref(v: ArrayLike<number>, shape: number[], axis: number | undefined, f: (xs: number[]) => number): number[] {
  if (axis === undefined) return [f(Array.from(v))];
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const n = shape[axis];
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const out: number[] = [];
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      const xs: number[] = [];
      for (let k = 0; k < n; k++) xs.push(v[(o * n + k) * inner + i]);
      out.push(f(xs));
    }
  return out;
}

const F64: Record<string, (xs: number[]) => number> = {
  sum: (xs) => xs.reduce((a, b) => a + b, 0),
  mean: (xs) => xs.reduce((a, b) => a + b, 0) / xs.length,
  max: (xs) => Math.max(...xs),
  min: (xs) => Math.min(...xs),
  argmax: (xs) => xs.indexOf(Math.max(...xs)),
  argmin: (xs) => xs.indexOf(Math.min(...xs)),
  logsumexp: (xs) => Math.log(xs.reduce((a, b) => a + Math.exp(b), 0)),
  norm: (xs) => Math.sqrt(xs.reduce((a, b) => a + b * b, 0)),
};

test("every reduction matches a float64 loop on random inputs, every axis and keepdim", () => {
  const seed = freshSeed();
  const g = sl.rng(seed);
  for (let trial = 0; trial < 6; trial++) {
    const nd = 1 + (g.words(1)[0] % 3);
    const shape = Array.from(g.words(nd), (w) => 1 + (w % 7));
    const x = g.randn(shape, { std: 3 });
    const v = x.data as Float32Array;
    for (const axis of [undefined, ...shape.map((_, i) => i), -1]) {
      for (const [name, f] of Object.entries(F64)) {
        const fn = (sl as any)[name] as (t: sl.Tensor, o: sl.ReduceOptions) => sl.Tensor;
        const out = fn(x, { axis });
        const want = ref(v, shape, axis === -1 ? nd - 1 : axis, f);
        const got = Array.from(out.data as ArrayLike<number>);
        const ctx = `${name} axis ${axis} shape [${shape}] seed ${seed}`;
        assert.equal(got.length, want.length, ctx);
        for (let i = 0; i < got.length; i++) {
          if (name.startsWith("arg")) assert.equal(got[i], want[i], ctx);
          else assert.equal(got[i], Math.fround(want[i]), ctx);
        }
        const kd = fn(x, { axis, keepdim: true });
        assert.equal(kd.ndim, nd, ctx);
      }
    }
  }
});

test("reductions: NaN, ties, empty axes, integer sums, dtypes", () => {
  assert.ok(Number.isNaN(sl.max(sl.tensor([1, NaN, 3])).item()));
  assert.equal(sl.argmax(sl.tensor([1, NaN, 3, NaN])).item(), 1);
  assert.deepEqual(Array.from(sl.max(sl.tensor([[NaN, 1], [5, 2], [0, NaN]]), { axis: 0 }).data).map(String), ["NaN", "NaN"]);
  assert.deepEqual(Array.from(sl.min(sl.tensor([[NaN, 1], [5, -2]]), { axis: 0 }).data).map(String), ["NaN", "-2"]);
  assert.equal(sl.argmax(sl.tensor([3, 1, 3])).item(), 0);
  assert.equal(sl.argmin(sl.tensor([3, 1, 1])).item(), 1);
  assert.equal(sl.sum(sl.zeros([0])).item(), 0);
  assert.ok(Number.isNaN(sl.mean(sl.zeros([0])).item()));
  assert.equal(sl.logsumexp(sl.full([3], -Infinity)).item(), -Infinity);
  assert.equal(sl.logsumexp(sl.tensor([1000, 1000])).item(), Math.fround(1000 + Math.log(2)));
  assert.equal(sl.norm(sl.tensor([3e30, 4e30])).item(), Math.fround(5e30)); // no overflow in the squares
  assert.equal(sl.norm(sl.tensor([3, -4]), { p: 1 }).item(), 7);
  assert.equal(sl.norm(sl.tensor([3, -4]), { p: Infinity }).item(), 4);
  const s = sl.sum(sl.tensor([2 ** 30, 2 ** 30 - 1], { dtype: "i32" }));
  assert.equal(s.dtype, "i32");
  assert.equal(s.item(), 2 ** 31 - 1);
  expectError(() => sl.sum(sl.tensor([2 ** 30, 2 ** 30], { dtype: "i32" })), "sum", "i32");
  assert.equal(sl.max(sl.arange(5)).dtype, "i32");
  assert.equal(sl.mean(sl.ones([4], { dtype: "bf16" })).dtype, "f32");
  // f32 accumulation would lose the small terms; float64 keeps them.
  const big = sl.tensor([1e8, 1, 1, 1, 1, -1e8]);
  assert.equal(sl.sum(big).item(), 4);
  expectError(() => sl.max(sl.zeros([2, 0]), { axis: 1 }), "max", "non-empty");
  expectError(() => sl.sum(sl.zeros([2, 3]), { axis: 2 }), "sum", "'axis'", "2");
  expectError(() => sl.norm(sl.zeros([2]), { p: 3 }), "norm", "'p'");
});

test("several axes at once equal reducing them one by one", async () => {
  const seed = freshSeed();
  const x = sl.randn([3, 4, 5, 2], { seed });
  const multi = sl.sum(x, { axis: [0, 2] });
  const chained = sl.sum(sl.sum(x, { axis: 2 }), { axis: 0 });
  assert.deepEqual(multi.shape, [4, 2]);
  const a = multi.data as Float32Array, b = chained.data as Float32Array;
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-5, `seed ${seed}`);
  assert.deepEqual(sl.mean(x, { axis: [-1, 1], keepdim: true }).shape, [3, 1, 5, 1]);
  const mx = sl.max(x, { axis: [1, 3] }).data as Float32Array;
  const mx2 = sl.max(sl.max(x, { axis: 3 }), { axis: 1 }).data as Float32Array;
  assert.deepEqual(Array.from(mx), Array.from(mx2));
  assert.equal(sl.norm(x, { axis: [0, 1, 2, 3] }).item(), sl.norm(x).item());
  expectError(() => sl.argmax(x, { axis: [0, 1] }), "argmax", "'axis'", "single axis");
  expectError(() => sl.sum(x, { axis: [] }), "sum", "'axis'");
});
