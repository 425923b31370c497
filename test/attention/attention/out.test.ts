// The `out` option: the output is written into a caller's tensor on every backend that runs
// attention here, equal to a freshly allocated result; bad `out` tensors are refused by name.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as sl from "../../../lib/index.js";
import { freshSeed } from "./helpers.js";

test("opts.out: written in place and returned, equal to a fresh output, on js and cpu", async () => {
  await sl.ready();
  const backends = sl.backends().filter((b) => b.loaded && b.ops.includes("attention") && b.name !== "cuda").map((b) => b.name);
  assert.ok(backends.includes("js"));
  const seed = freshSeed();
  const [B, Hq, Hkv, S, D] = [1, 4, 2, 300, 64];
  for (const dtype of ["f32", "bf16"] as const) {
    const q = sl.randn([B, Hq, S, D], { seed }).astype(dtype);
    const k = sl.randn([B, Hkv, S, D], { seed: seed + 1 }).astype(dtype);
    const v = sl.randn([B, Hkv, S, D], { seed: seed + 2 }).astype(dtype);
    const blockMask = sl.createBlockMask(sl.masks.slidingWindow(100), { qLen: S, kvLen: S });
    for (const backend of backends) {
      const fresh = await sl.attention(q, k, v, { blockMask, backend });
      const out = sl.full([B, Hq, S, D], Number.NaN).astype(dtype); // poisoned: every element must be written
      const r = await sl.attention(q, k, v, { blockMask, backend, out, returnLse: true });
      assert.equal(r.output, out, `${backend}: the out tensor itself is returned`);
      assert.deepEqual(Array.from(out.data), Array.from(fresh.data), `${backend} ${dtype} seed ${seed}`);
      assert.equal(r.lse.shape.join(), [B, Hq, S].join());
      // reused for a second mask: overwritten, not accumulated
      const causal = sl.createBlockMask(sl.masks.causal(), { qLen: S, kvLen: S });
      await sl.attention(q, k, v, { blockMask: causal, backend, out });
      const fresh2 = await sl.attention(q, k, v, { blockMask: causal, backend });
      assert.deepEqual(Array.from(out.data), Array.from(fresh2.data), `${backend} ${dtype} reuse, seed ${seed}`);
    }
  }
});

test("opts.out: wrong shape, dtype, a disposed tensor or an input's storage are refused, naming opts.out", async () => {
  const q = sl.randn([1, 2, 16, 8], { seed: 1 }), k = sl.randn([1, 2, 16, 8], { seed: 2 }), v = sl.randn([1, 2, 16, 8], { seed: 3 });
  await assert.rejects(sl.attention(q, k, v, { out: sl.zeros([1, 2, 16, 4]) }), /attention.*opts\.out.*\[1, 2, 16, 8\].*\[1, 2, 16, 4\]/s);
  await assert.rejects(sl.attention(q, k, v, { out: sl.zeros([1, 2, 16, 8]).astype("f16") }), /opts\.out.*dtype f32.*dtype f16/s);
  const gone = sl.zeros([1, 2, 16, 8]);
  gone.dispose();
  await assert.rejects(sl.attention(q, k, v, { out: gone }), /opts\.out.*disposed/s);
  await assert.rejects(sl.attention(q, k, v, { out: q }), /opts\.out.*sharing storage/s);
  await assert.rejects(sl.attention(q, k, v, { out: [1, 2] as never }), /opts\.out.*a Tensor/s);
});
