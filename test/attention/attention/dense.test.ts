import { test } from "node:test";
import assert from "node:assert/strict";
import { attention } from "../../../lib/attention/attention.js";
import "../../../lib/backends/js/index.js";
import { Tensor } from "../../../lib/tensor/tensor.js";
import { freshSeed, naiveAttention, randTensor, relErr, rng } from "./helpers.js";

const backend = "js" as const;

test("dense attention matches a naive float64 softmax(QKᵀ)V, with lse", async () => {
  const seed = freshSeed();
  const r = rng(seed);
  for (const [B, H, Sq, Skv, D, Dv] of [
    [1, 1, 1, 1, 1, 1],
    [2, 3, 17, 29, 8, 8],
    [1, 2, 70, 130, 16, 5], // ragged against the 64 tile, Dv != D, Sq != Skv
  ]) {
    const q = randTensor([B, H, Sq, D], r);
    const k = randTensor([B, H, Skv, D], r);
    const v = randTensor([B, H, Skv, Dv], r);
    const { output, lse } = await attention(q, k, v, { backend, returnLse: true });
    const ref = naiveAttention(q, k, v);
    assert.deepEqual(output.shape, [B, H, Sq, Dv]);
    assert.equal(output.dtype, "f32");
    const e = relErr(output.data as Float32Array, ref.out);
    assert.ok(e < 1e-6, `seed ${seed} shape ${[B, H, Sq, Skv, D, Dv]}: rel err ${e}`);
    const el = relErr(lse.data as Float32Array, ref.lse);
    assert.ok(el < 1e-6, `seed ${seed}: lse rel err ${el}`);
  }
});

test("dense attention: explicit scale and large-magnitude scores stay finite", async () => {
  const seed = freshSeed();
  const r = rng(seed);
  const q = randTensor([1, 2, 33, 16], r, "f32", 30);
  const k = randTensor([1, 2, 40, 16], r, "f32", 30);
  const v = randTensor([1, 2, 40, 16], r);
  for (const scale of [0.5, 2, -1, 0]) {
    const out = await attention(q, k, v, { backend, scale });
    const ref = naiveAttention(q, k, v, { scale });
    const e = relErr(out.data as Float32Array, ref.out);
    assert.ok(e < 1e-6, `seed ${seed} scale ${scale}: rel err ${e}`);
  }
});

test("GQA equals attention with the KV heads repeated", async () => {
  const seed = freshSeed();
  const r = rng(seed);
  const [B, Hq, Hkv, S, D] = [2, 6, 2, 37, 8];
  const q = randTensor([B, Hq, S, D], r);
  const k = randTensor([B, Hkv, S, D], r);
  const v = randTensor([B, Hkv, S, D], r);
  const repeat = (t: Tensor): Tensor => {
    const src = t.data as Float32Array;
    const dst = new Float32Array(B * Hq * S * D);
    for (let b = 0; b < B; b++)
      for (let h = 0; h < Hq; h++) {
        const hk = Math.floor(h / (Hq / Hkv));
        dst.set(src.subarray((b * Hkv + hk) * S * D, (b * Hkv + hk + 1) * S * D), (b * Hq + h) * S * D);
      }
    return new Tensor([B, Hq, S, D], "f32", dst);
  };
  const gqa = await attention(q, k, v, { backend });
  const full = await attention(q, repeat(k), repeat(v), { backend });
  assert.deepEqual(Array.from(gqa.data), Array.from(full.data), `seed ${seed}`);
});

test("f16 and bf16 inputs: output in q's dtype, within their tolerance of the f32 result", async () => {
  const seed = freshSeed();
  for (const [dtype, tol] of [["f16", 2e-3], ["bf16", 1e-2]] as const) {
    const r1 = rng(seed);
    const r2 = rng(seed);
    const shape = [1, 2, 45, 32];
    const q = randTensor(shape, r1, dtype);
    const k = randTensor(shape, r1, dtype);
    const v = randTensor(shape, r1, dtype);
    const q32 = randTensor(shape, r2);
    const k32 = randTensor(shape, r2);
    const v32 = randTensor(shape, r2);
    const out = await attention(q, k, v, { backend });
    assert.equal(out.dtype, dtype);
    const got = out.floatData();
    // Against the same (rounded) inputs in float64: only the output rounding differs.
    const exact = naiveAttention(q, k, v).out;
    const e1 = relErr(got, exact);
    assert.ok(e1 < (dtype === "bf16" ? 5e-3 : 1e-3), `seed ${seed} ${dtype}: vs float64 on rounded inputs ${e1}`);
    // Against the unrounded f32 problem: the dtype's tolerance (anchors.md).
    const e2 = relErr(got, naiveAttention(q32, k32, v32).out);
    assert.ok(e2 < tol, `seed ${seed} ${dtype}: vs f32 problem ${e2}`);
  }
});

test("empty sequences: Skv = 0 gives zeros and lse -Infinity; Sq = 0 gives an empty output", async () => {
  const q = new Tensor([1, 1, 3, 4], "f32", new Float32Array(12).fill(1));
  const k0 = new Tensor([1, 1, 0, 4], "f32", new Float32Array(0));
  const v0 = new Tensor([1, 1, 0, 2], "f32", new Float32Array(0));
  const { output, lse } = await attention(q, k0, v0, { backend, returnLse: true });
  assert.deepEqual(Array.from(output.data), [0, 0, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(lse.data), [-Infinity, -Infinity, -Infinity]);
  const qe = new Tensor([1, 1, 0, 4], "f32", new Float32Array(0));
  const kk = new Tensor([1, 1, 2, 4], "f32", new Float32Array(8));
  const out = await attention(qe, kk, new Tensor([1, 1, 2, 3], "f32", new Float32Array(6)), { backend });
  assert.deepEqual(out.shape, [1, 1, 0, 3]);
});
