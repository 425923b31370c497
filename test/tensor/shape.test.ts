import { test } from "node:test";
import assert from "node:assert/strict";
import * as sl from "../../lib/index.js";
import { expectError } from "./helpers.js";

const x = () => sl.arange(24).reshape([2, 3, 4]);

test("reshape infers -1 and checks counts", async () => {
  assert.deepEqual(sl.reshape(sl.arange(6), [2, -1]).shape, [2, 3]);
  assert.deepEqual(await sl.arange(6).reshape([3, 2]).toArray(), [[0, 1], [2, 3], [4, 5]]);
  expectError(() => sl.reshape(sl.arange(6), [4, -1]), "reshape", "'shape'", "[4, -1]");
  expectError(() => sl.reshape(sl.arange(6), [-1, -1]), "reshape", "at most one -1");
});

test("permute and transpose against index arithmetic", () => {
  const t = x();
  const p = sl.permute(t, [2, 0, 1]);
  assert.deepEqual(p.shape, [4, 2, 3]);
  for (let a = 0; a < 4; a++) for (let b = 0; b < 2; b++) for (let c = 0; c < 3; c++)
    assert.equal(p.data[a * 6 + b * 3 + c], b * 12 + c * 4 + a);
  const tr = sl.transpose(t, 0, 2);
  assert.deepEqual(tr.shape, [4, 3, 2]);
  assert.equal(tr.data[1 * 6 + 2 * 2 + 1], 1 * 12 + 2 * 4 + 1);
  assert.deepEqual(Array.from(sl.transpose(sl.tensor([[1, 2, 3], [4, 5, 6]])).data), [1, 4, 2, 5, 3, 6]);
  expectError(() => sl.permute(t, [0, 0, 1]), "permute", "'dims'");
  expectError(() => sl.transpose(t, 0, 5), "transpose", "'dim1'", "5");
});

test("slice: ranges, steps, negative indices, index drops a dim", async () => {
  const m = sl.arange(12).reshape([3, 4]);
  assert.deepEqual(await sl.slice(m, [[0, 2], [1, null, 2]]).toArray(), [[1, 3], [5, 7]]);
  assert.deepEqual(await sl.slice(m, [1]).toArray(), [4, 5, 6, 7]);
  assert.deepEqual(await sl.slice(m, [-1, -1]).toArray(), 11);
  assert.deepEqual(await sl.slice(m, [null, [-2, null]]).toArray(), [[2, 3], [6, 7], [10, 11]]);
  assert.deepEqual(await sl.slice(m, [[null, null, -1], 0]).toArray(), [8, 4, 0]);
  assert.deepEqual(sl.slice(m, [[5, 9]]).shape, [0, 4]); // clamped like Python
  assert.deepEqual(await sl.slice(x(), [null, [1, 3], [3, 0, -2]]).toArray(), [[[7, 5], [11, 9]], [[19, 17], [23, 21]]]);
  expectError(() => sl.slice(m, [3]), "slice", "spec[0]", "3");
  expectError(() => sl.slice(m, [null, null, null]), "slice", "'spec'");
});

test("cat, stack, squeeze, unsqueeze", async () => {
  const a = sl.tensor([[1, 2], [3, 4]]);
  const b = sl.tensor([[5, 6]]);
  assert.deepEqual(await sl.cat([a, b], 0).toArray(), [[1, 2], [3, 4], [5, 6]]);
  assert.deepEqual(await sl.cat([a, sl.tensor([[9], [8]])], -1).toArray(), [[1, 2, 9], [3, 4, 8]]);
  assert.deepEqual(await sl.stack([sl.tensor([1, 2]), sl.tensor([3, 4])], 1).toArray(), [[1, 3], [2, 4]]);
  const before = sl.memory().hostBytes;
  const st = sl.stack([a, a]);
  assert.equal(sl.memory().hostBytes - before, st.nbytes); // temporaries released
  assert.deepEqual(st.shape, [2, 2, 2]);
  assert.deepEqual(await sl.stack([a, sl.add(a, 10)], 1).toArray(), [[[1, 2], [11, 12]], [[3, 4], [13, 14]]]);
  assert.deepEqual(await sl.stack([a, sl.add(a, 10)], -1).toArray(), [[[1, 11], [2, 12]], [[3, 13], [4, 14]]]);
  assert.deepEqual(sl.squeeze(sl.zeros([1, 3, 1])).shape, [3]);
  assert.deepEqual(sl.squeeze(sl.zeros([1, 3, 1]), -1).shape, [1, 3]);
  assert.deepEqual(sl.unsqueeze(sl.zeros([3]), 1).shape, [3, 1]);
  expectError(() => sl.cat([a, sl.tensor([[1, 2, 3]])], 0), "cat", "tensors[1]", "[1, 3]");
  expectError(() => sl.cat([a, sl.tensor([[1, 2]], { dtype: "i32" })]), "cat", "tensors[1]", "i32");
  expectError(() => sl.stack([a, b]), "stack", "tensors[1]", "[1, 2]");
  expectError(() => sl.squeeze(sl.zeros([2, 3]), 0), "squeeze", "'axis'");
});

test("indexSelect and gather", async () => {
  const m = sl.arange(10).reshape([5, 2]);
  assert.deepEqual(await sl.indexSelect(m, 0, [4, 0, -1]).toArray(), [[8, 9], [0, 1], [8, 9]]);
  assert.deepEqual(await sl.indexSelect(m, 1, sl.tensor([1, 1, 0], { dtype: "i32" })).toArray(), [[1, 1, 0], [3, 3, 2], [5, 5, 4], [7, 7, 6], [9, 9, 8]]);
  const g = sl.tensor([[10, 11, 12], [20, 21, 22]]);
  assert.deepEqual(await sl.gather(g, 1, sl.tensor([[2, 0], [1, 1]], { dtype: "i32" })).toArray(), [[12, 10], [21, 21]]);
  assert.deepEqual(await sl.gather(g, 0, sl.tensor([[1, 0, 1]], { dtype: "i32" })).toArray(), [[20, 11, 22]]);
  expectError(() => sl.indexSelect(m, 0, [5]), "indexSelect", "'indices'", "5");
  expectError(() => sl.gather(g, 1, sl.tensor([[0.5]])), "gather", "'index'", "f32");
});

test("Tensor methods: reshape, astype, to, item", async () => {
  const t = sl.arange(6).reshape([2, 3]);
  assert.deepEqual(await t.toArray(), [[0, 1, 2], [3, 4, 5]]);
  const h = t.astype("f16");
  assert.equal(h.dtype, "f16");
  assert.deepEqual(Array.from(await h.toTypedArray()), [0, 1, 2, 3, 4, 5]);
  assert.equal(t.to("bf16").dtype, "bf16");
  const c = t.to("cpu");
  assert.notEqual(c.data, t.data);
  assert.deepEqual(Array.from(c.data), Array.from(t.data));
  assert.equal(sl.tensor([2.5], { dtype: "bf16" }).item(), 2.5);
  assert.throws(() => t.item(), /one element/);
  expectError(() => t.to("f64" as any), "Tensor.to", "'target'", "f64");
});
