import { test } from "node:test";
import assert from "node:assert/strict";
import * as sl from "../../lib/index.js";

test("text/plain: header and numpy-like values, elided long axes", () => {
  const b = sl.tensor([[1, 2, 3], [4, 5, 6]])[sl.DISPLAY]() as sl.MimeBundle;
  assert.equal(b["text/plain"], "Tensor(f32, [2, 3], cpu)\n[[1., 2., 3.],\n [4., 5., 6.]]");
  const big = sl.arange(100).reshape([10, 10])[sl.DISPLAY]() as sl.MimeBundle;
  const lines = (big["text/plain"] as string).split("\n");
  assert.equal(lines[0], "Tensor(i32, [10, 10], cpu)");
  assert.equal(lines[1], "[[ 0,  1,  2, ...,  7,  8,  9],");
  assert.equal(lines[4], " ...,");
  assert.equal(lines.length, 8);
  const f = sl.tensor([0.5, -1.25, NaN, Infinity], { dtype: "bf16" })[sl.DISPLAY]() as sl.MimeBundle;
  assert.equal(f["text/plain"], "Tensor(bf16, [4], cpu)\n[ 0.5000, -1.2500,     nan,     inf]");
  const s = sl.tensor(2.5)[sl.DISPLAY]() as sl.MimeBundle;
  assert.equal(s["text/plain"], "Tensor(f32, [], cpu)\n2.5000");
  assert.equal(s["text/html"], undefined);
  const three = sl.zeros([2, 2, 2])[sl.DISPLAY]() as sl.MimeBundle;
  assert.equal(three["text/plain"], "Tensor(f32, [2, 2, 2], cpu)\n[[[0., 0.],\n  [0., 0.]],\n\n [[0., 0.],\n  [0., 0.]]]");
  assert.equal(three["text/html"], undefined);
});

test("text/html table for 1-D and 2-D, elided and escaped", () => {
  const b = sl.arange(30).reshape([15, 2])[sl.DISPLAY]() as sl.MimeBundle;
  const html = b["text/html"] as string;
  assert.match(html, /^<div class="sparselab-tensor">/);
  assert.equal((html.match(/<tr>/g) ?? []).length, 1 + 13); // header + 6 + gap + 6
  assert.ok(html.includes("⋮"));
  assert.ok(html.includes(">29<"));
  assert.ok(!html.includes(">15<")); // row 7 (values 14, 15) is elided
  const d = sl.zeros([2]);
  d.dispose();
  assert.equal((d[sl.DISPLAY]() as sl.MimeBundle)["text/plain"], "Tensor(f32, [2], cpu) (disposed)");
  assert.equal(String(sl.zeros([2, 3], { dtype: "i32" })), "Tensor(i32, [2, 3], cpu)");
});
