import { test } from "node:test";
import assert from "node:assert/strict";
import * as sl from "../../lib/index.js";

const f32bits = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0];

test("f16 known bit patterns decode", () => {
  assert.equal(sl.f16ToF32(0x3c00), 1);
  assert.equal(sl.f16ToF32(0xc000), -2);
  assert.equal(sl.f16ToF32(0x7bff), 65504);
  assert.equal(sl.f16ToF32(0x7c00), Infinity);
  assert.equal(sl.f16ToF32(0xfc00), -Infinity);
  assert.ok(Number.isNaN(sl.f16ToF32(0x7e00)));
  assert.equal(sl.f16ToF32(0x0001), 2 ** -24);
  assert.equal(sl.f16ToF32(0x03ff), 1023 * 2 ** -24);
  assert.equal(sl.f16ToF32(0x0400), 2 ** -14);
  assert.ok(Object.is(sl.f16ToF32(0x8000), -0));
});

test("f16 encode rounds to nearest even, keeps NaN/Inf, handles subnormals and overflow", () => {
  assert.equal(sl.f32ToF16(1), 0x3c00);
  assert.equal(sl.f32ToF16(65504), 0x7bff);
  assert.equal(sl.f32ToF16(65520), 0x7c00); // halfway to the next binade rounds up to Inf
  assert.equal(sl.f32ToF16(65519), 0x7bff);
  assert.equal(sl.f32ToF16(Infinity), 0x7c00);
  assert.equal(sl.f32ToF16(-Infinity), 0xfc00);
  assert.equal(sl.f32ToF16(NaN) & 0x7c00, 0x7c00);
  assert.notEqual(sl.f32ToF16(NaN) & 0x3ff, 0);
  assert.equal(sl.f32ToF16(2 ** -24), 0x0001);
  assert.equal(sl.f32ToF16(2 ** -25), 0x0000); // exactly half of the smallest subnormal: ties to even (0)
  assert.equal(sl.f32ToF16(3 * 2 ** -25), 0x0002); // 1.5 ulp: ties to even (2)
  assert.equal(sl.f32ToF16(1 + 2 ** -11), 0x3c00); // halfway between 1 and 1+2^-10: even is 1
  assert.equal(sl.f32ToF16(1 + 3 * 2 ** -11), 0x3c02); // halfway between 0x3c01 and 0x3c02: even
  assert.equal(sl.f32ToF16(-0), 0x8000);
});

test("bf16 known bit patterns and round to nearest even", () => {
  assert.equal(sl.bf16ToF32(0x3f80), 1);
  assert.equal(sl.f32ToBf16(1), 0x3f80);
  assert.equal(sl.bf16ToF32(0x7f80), Infinity);
  assert.ok(Number.isNaN(sl.bf16ToF32(0x7fc0)));
  assert.equal(sl.f32ToBf16(1 + 2 ** -8), 0x3f80); // halfway, even mantissa (0) kept
  assert.equal(sl.f32ToBf16(1 + 3 * 2 ** -8), 0x3f82); // halfway from 0x3f81: rounds to even 0x3f82
  assert.equal(sl.f32ToBf16(1 + 2 ** -8 + 2 ** -20), 0x3f81); // just above halfway: up
  assert.equal(sl.f32ToBf16(Infinity), 0x7f80);
  assert.equal(sl.f32ToBf16(-Infinity), 0xff80);
  const n = sl.f32ToBf16(NaN);
  assert.equal(n & 0x7f80, 0x7f80);
  assert.notEqual(n & 0x7f, 0);
  // A NaN whose payload lives only in the low 16 bits must stay NaN, not become Inf.
  const lowNaN = new Float32Array(new Uint32Array([0x7f800001]).buffer)[0];
  assert.ok(Number.isNaN(sl.bf16ToF32(sl.f32ToBf16(lowNaN))));
  // The largest finite f32 rounds up to Inf in bf16 (like PyTorch).
  assert.equal(sl.f32ToBf16(3.4028234663852886e38), 0x7f80);
  assert.equal(sl.bf16ToF32(0x0001), 2 ** -133); // bf16 subnormal
});

test("astype round trips keep NaN/Inf and round once", () => {
  const x = sl.tensor([1, -2.5, NaN, Infinity, -Infinity, 1 + 2 ** -8, 70000, 2 ** -24]);
  const h = x.astype("f16");
  assert.deepEqual(Array.from(h.data), [0x3c00, 0xc100, h.data[2], 0x7c00, 0xfc00, 0x3c04, 0x7c00, 0x0001]);
  assert.equal(h.data[2] & 0x7c00, 0x7c00);
  const b = x.astype("bf16");
  assert.deepEqual(Array.from(b.data).filter((_, i) => i !== 2), [0x3f80, 0xc020, 0x7f80, 0xff80, 0x3f80, 0x4789, 0x3380]);
  const back = b.astype("f32").data as Float32Array;
  assert.ok(Number.isNaN(back[2]));
  assert.equal(back[3], Infinity);
  // Float to int truncates toward zero; NaN -> 0; bool is x != 0.
  assert.deepEqual(Array.from(sl.tensor([1.9, -1.9, NaN, 3e10]).astype("i32").data), [1, -1, 0, 2147483647]);
  assert.deepEqual(Array.from(sl.tensor([0, 0.5, -1]).astype("bool").data), [0, 1, 1]);
  assert.equal(f32bits(sl.tensor([0.1]).astype("f32").item()), f32bits(0.1));
});

test("toTypedArray widens f16/bf16 to Float32Array; toArray nests", async () => {
  const t = sl.tensor([[1, 2], [3, 4]], { dtype: "bf16" });
  const flat = await t.toTypedArray();
  assert.ok(flat instanceof Float32Array);
  assert.deepEqual(Array.from(flat), [1, 2, 3, 4]);
  assert.deepEqual(await t.toArray(), [[1, 2], [3, 4]]);
});
