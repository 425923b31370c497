import { test } from "node:test";
import assert from "node:assert/strict";
import { attention } from "../../../lib/attention/attention.js";
import { decodeAttention } from "../../../lib/attention/decode-attention.js";
import { Tensor } from "../../../lib/tensor/tensor.js";
import "../../../lib/backends/js/index.js";
import { TILE_EMPTY, TILE_FULL, blockMaskFromTiles, freshSeed, naiveAttention, randTensor, relErr, rng } from "./helpers.js";

const backend = "js" as const;

/** The rows of kCache [B, Hkv, Skv, D] at sel[b][hk] packed into [B, Hkv, n, D] (one b, hk at a time). */
function gather(t: Tensor, b: number, hk: number, sel: number[]): Tensor {
  const [, Hkv, Skv, D] = t.shape;
  const src = t.data as Float32Array;
  const dst = new Float32Array(sel.length * D);
  sel.forEach((p, i) => dst.set(src.subarray(((b * Hkv + hk) * Skv + p) * D, ((b * Hkv + hk) * Skv + p + 1) * D), i * D));
  return new Tensor([1, 1, sel.length, D], "f32", dst);
}

test("decode attention over indices equals dense attention over the selected tokens (GQA, padding)", async () => {
  const seed = freshSeed();
  const r = rng(seed);
  const [B, Hq, Hkv, Sq, Skv, D, Dv, n] = [2, 4, 2, 2, 90, 8, 6, 12];
  const q = randTensor([B, Hq, Sq, D], r);
  const kc = randTensor([B, Hkv, Skv, D], r);
  const vc = randTensor([B, Hkv, Skv, Dv], r);
  const idx = new Int32Array(B * Hkv * n).fill(-1);
  const chosen: number[][][] = [];
  for (let b = 0; b < B; b++) {
    chosen.push([]);
    for (let hk = 0; hk < Hkv; hk++) {
      // A random distinct subset of random size (the rest padding), in random order.
      const perm = Array.from({ length: Skv }, (_, i) => i).sort(() => r() - 0.5);
      const m = b === 1 && hk === 1 ? 0 : 1 + Math.floor(r() * n);
      const sel = perm.slice(0, m);
      sel.forEach((p, j) => (idx[(b * Hkv + hk) * n + j] = p));
      chosen[b].push(sel);
    }
  }
  const indices = new Tensor([B, Hkv, n], "i32", idx);
  const { output, lse } = await decodeAttention(q, kc, vc, { indices, backend, returnLse: true });
  const out = output.data as Float32Array;
  const ls = lse.data as Float32Array;
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      const hk = Math.floor(h / (Hq / Hkv));
      const sel = chosen[b][hk];
      const qs = new Tensor([1, 1, Sq, D], "f32", (q.data as Float32Array).slice((b * Hq + h) * Sq * D, (b * Hq + h + 1) * Sq * D));
      const rows = out.subarray((b * Hq + h) * Sq * Dv, (b * Hq + h + 1) * Sq * Dv);
      if (sel.length === 0) {
        assert.ok(rows.every((x) => x === 0), `seed ${seed}: empty selection gives 0`);
        assert.equal(ls[(b * Hq + h) * Sq], -Infinity);
        continue;
      }
      const ref = await attention(qs, gather(kc, b, hk, sel), gather(vc, b, hk, sel), { backend, returnLse: true });
      const e = relErr(rows, ref.output.data as Float32Array);
      assert.ok(e < 1e-6, `seed ${seed} b ${b} h ${h}: rel err ${e}`);
      for (let i = 0; i < Sq; i++)
        assert.ok(Math.abs(ls[(b * Hq + h) * Sq + i] - (ref.lse.data as Float32Array)[i]) < 1e-5, `seed ${seed}: lse`);
    }
});

test("decode attention with no selection is dense over the cache; with a block mask it equals attention()", async () => {
  const seed = freshSeed();
  const r = rng(seed);
  const q = randTensor([1, 2, 1, 8], r);
  const kc = randTensor([1, 2, 70, 8], r);
  const vc = randTensor([1, 2, 70, 8], r);
  const dense = await decodeAttention(q, kc, vc, { backend });
  const ref = await attention(q, kc, vc, { backend });
  assert.deepEqual(Array.from(dense.data), Array.from(ref.data), `seed ${seed}`);
  const bm = blockMaskFromTiles((_b, h, _qb, kb) => ((kb + h) % 2 ? TILE_FULL : TILE_EMPTY), {
    B: 1, H: 2, qLen: 1, kvLen: 70, qBlockSize: 1, kvBlockSize: 16,
  });
  const viaDecode = await decodeAttention(q, kc, vc, { backend, blockMask: bm });
  const viaAttn = await attention(q, kc, vc, { backend, blockMask: bm });
  assert.deepEqual(Array.from(viaDecode.data), Array.from(viaAttn.data), `seed ${seed}`);
  assert.ok(relErr(viaDecode.data as Float32Array, dense.data as Float32Array) > 1e-3, "the block mask changed the result");
});

test("decode attention with bf16 and f16 caches: output in q's dtype, within tolerance of float64 on the same values", async () => {
  const seed = freshSeed();
  for (const [dtype, tol] of [["f16", 1e-3], ["bf16", 5e-3]] as const) {
    const r = rng(seed);
    const q = randTensor([1, 2, 1, 16], r, dtype);
    const kc = randTensor([1, 1, 64, 16], r, dtype);
    const vc = randTensor([1, 1, 64, 16], r, dtype);
    const sel = [0, 1, 2, 3, 40, 50, 63];
    const indices = new Tensor([1, 1, sel.length], "i32", Int32Array.from(sel));
    const out = await decodeAttention(q, kc, vc, { indices, backend });
    assert.equal(out.dtype, dtype);
    const { out: ref } = naiveAttention(q, kc, vc, { allowed: (_b, _h, _q, kv) => sel.includes(kv) });
    const e = relErr(out.floatData(), ref);
    assert.ok(e < tol, `seed ${seed} ${dtype}: rel err ${e}`);
  }
});
