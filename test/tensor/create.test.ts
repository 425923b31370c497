import { test } from "node:test";
import assert from "node:assert/strict";
import * as sl from "../../lib/index.js";
import { expectError } from "./helpers.js";

test("tensor() from nested arrays, scalars, typed arrays", async () => {
  const a = sl.tensor([[1, 2, 3], [4, 5, 6]]);
  assert.deepEqual(a.shape, [2, 3]);
  assert.equal(a.dtype, "f32");
  assert.deepEqual(await a.toArray(), [[1, 2, 3], [4, 5, 6]]);
  const s = sl.tensor(3.5);
  assert.deepEqual(s.shape, []);
  assert.equal(s.item(), 3.5);
  const m = sl.tensor([[true, false]]);
  assert.equal(m.dtype, "bool");
  assert.deepEqual(Array.from(m.data), [1, 0]);
  const src = new Float32Array([1, 2, 3, 4, 5, 6]);
  const t = sl.tensor(src, { shape: [3, 2] });
  src[0] = 99; // copied, not aliased
  assert.deepEqual(await t.toArray(), [[1, 2], [3, 4], [5, 6]]);
  assert.equal(sl.tensor(new Int32Array([1, 2])).dtype, "i32");
  assert.equal(sl.tensor(new Uint8Array([1, 2])).dtype, "u8");
  const raw = sl.tensor(new Uint16Array([0x3c00, 0x4000]), { dtype: "f16" });
  assert.deepEqual(Array.from(await raw.toTypedArray()), [1, 2]);
  assert.deepEqual(Array.from(sl.tensor([1, 2], { dtype: "bf16" }).data), [0x3f80, 0x4000]);
  assert.deepEqual(sl.tensor([]).shape, [0]);
  assert.deepEqual(sl.tensor([[], []]).shape, [2, 0]);
});

test("tensor() rejects ragged data and out-of-range integers, naming op and argument", () => {
  expectError(() => sl.tensor([[1, 2], [3]]), "tensor", "'data'", "[1]");
  expectError(() => sl.tensor([1, "x" as any]), "tensor", "'data'");
  expectError(() => sl.tensor([1.5], { dtype: "i32" }), "tensor", "i32", "1.5");
  expectError(() => sl.tensor([300], { dtype: "u8" }), "u8", "300");
  expectError(() => sl.tensor([1, 2, 3], { shape: [2, 2] }), "tensor", "'shape'", "[2, 2]");
  expectError(() => sl.tensor([1], { dtype: "f64" as any }), "tensor", "'dtype'", "f64");
});

test("zeros, ones, full, arange, linspace, *Like", async () => {
  assert.deepEqual(Array.from(sl.zeros([2, 2]).data), [0, 0, 0, 0]);
  assert.deepEqual(Array.from(sl.ones([3], { dtype: "bf16" }).data), [0x3f80, 0x3f80, 0x3f80]);
  assert.deepEqual(Array.from(sl.full([2], -Infinity).data), [-Infinity, -Infinity]);
  assert.deepEqual(Array.from(sl.full([2], 7, { dtype: "i32" }).data), [7, 7]);
  const r = sl.arange(5);
  assert.equal(r.dtype, "i32");
  assert.deepEqual(Array.from(r.data), [0, 1, 2, 3, 4]);
  assert.deepEqual(Array.from(sl.arange(2, 8, 3).data), [2, 5]);
  assert.deepEqual(Array.from(sl.arange(5, 0, -2).data), [5, 3, 1]);
  const fr = sl.arange(0, 1, 0.25);
  assert.equal(fr.dtype, "f32");
  assert.deepEqual(Array.from(fr.data), [0, 0.25, 0.5, 0.75]);
  assert.deepEqual(Array.from(sl.linspace(0, 1, 5).data), [0, 0.25, 0.5, 0.75, 1]);
  assert.deepEqual(Array.from(sl.linspace(3, 3, 1).data), [3]);
  assert.equal(sl.linspace(0, 1, 0).size, 0);
  const z = sl.zerosLike(sl.ones([2, 3], { dtype: "f16" }));
  assert.deepEqual([z.shape, z.dtype], [[2, 3], "f16"]);
  expectError(() => sl.arange(0, 1, 0), "arange", "'step'");
  expectError(() => sl.zeros([2, -1]), "full", "'shape'");
});

test("dispose and memory statistics", () => {
  const before = sl.memory();
  const t = sl.zeros([256]);
  const mid = sl.memory();
  assert.equal(mid.tensors, before.tensors + 1);
  assert.equal(mid.hostBytes, before.hostBytes + 1024);
  t.dispose();
  t.dispose();
  assert.equal(sl.memory().hostBytes, before.hostBytes);
  assert.throws(() => t.data, /disposed/);
  expectError(() => sl.add(t, 1), "add", "'a'", "disposed");
});
