/**
 * attention() with the library's own masks, block masks and score mods (the masks area), and
 * the metrics on a real BlockMask: the glue between the two areas.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as sl from "../../../lib/index.js";
import { freshSeed, naiveAttention, randTensor, relErr, rng } from "./helpers.js";
import type { BlockMaskFields } from "../../../lib/attention/block-mask.js";

const backend = "js" as const;

test("attention with createBlockMask(built-in / DSL / function masks) equals dense attention with the mask", async () => {
  const seed = freshSeed();
  const r = rng(seed);
  const [B, H, S, D] = [2, 4, 75, 8];
  const q = randTensor([B, H, S, D], r);
  const k = randTensor([B, 2, S, D], r);
  const v = randTensor([B, 2, S, D], r);
  const docs = Array.from({ length: S }, (_, i) => Math.floor(i / 23));
  const masks = [
    sl.masks.causal(),
    sl.masks.slidingWindow(17),
    sl.mask("q >= kv and (q - kv) % 3 == h % 3"),
    sl.masks.document(docs, sl.masks.causal()),
    sl.mask((b: number, _h: number, qi: number, kj: number) => (qi + kj + b) % 4 !== 0),
  ];
  for (const mask of masks) {
    const perHead = mask.name.includes("h") ? { B, H } : {};
    for (const blockSize of [16, [8, 32]] as const) {
      const bm = sl.createBlockMask(mask, { ...perHead, qLen: S, kvLen: S, blockSize: blockSize as number | [number, number] });
      const out = await sl.attention(q, k, v, { blockMask: bm, backend });
      const ref = naiveAttention(q, k, v, { allowed: (b, h, qi, kj) => mask.at(b, h, qi, kj) }).out;
      const e = relErr(out.data as Float32Array, ref);
      assert.ok(e < 1e-6, `seed ${seed} ${mask.name} block ${blockSize}: rel err ${e}`);
    }
  }
});

test("library score mods (alibi, softcap, a DSL score mod) with a causal block mask", async () => {
  const seed = freshSeed();
  const r = rng(seed);
  const [H, S, D] = [4, 50, 8];
  const q = randTensor([1, H, S, D], r, "f32", 2);
  const k = randTensor([1, H, S, D], r, "f32", 2);
  const v = randTensor([1, H, S, D], r);
  const causal = sl.masks.causal();
  const bm = sl.createBlockMask(causal, { qLen: S, kvLen: S, blockSize: 16 });
  for (const mod of [sl.scoreMods.alibi(H), sl.scoreMods.softcap(1.5), sl.scoreMod("score * 0.5 + (kv - q) * 0.01")]) {
    const out = await sl.attention(q, k, v, { blockMask: bm, scoreMod: mod, backend });
    const ref = naiveAttention(q, k, v, { scoreMod: mod, allowed: (b, h, qi, kj) => causal.at(b, h, qi, kj) }).out;
    const e = relErr(out.data as Float32Array, ref);
    assert.ok(e < 1e-6, `seed ${seed} ${mod.name}: rel err ${e}`);
  }
});

test("metrics.density agrees with BlockMask.density under all four definitions, and flops/recall accept a BlockMask", async () => {
  const seed = freshSeed();
  const r = rng(seed);
  const bm = sl.createBlockMask(sl.mask("q >= kv and q - kv < 40 or kv < 5"), { qLen: 130, kvLen: 150, blockSize: [16, 32] });
  // The fields alone (no density method) take metrics' own counting path.
  const fields: BlockMaskFields = {
    B: bm.B, H: bm.H, qLen: bm.qLen, kvLen: bm.kvLen, qBlockSize: bm.qBlockSize, kvBlockSize: bm.kvBlockSize,
    kvNumBlocks: bm.kvNumBlocks, kvIndices: bm.kvIndices, fullKvNumBlocks: bm.fullKvNumBlocks, fullKvIndices: bm.fullKvIndices, mask: bm.mask,
  };
  for (const level of ["block", "element"] as const)
    for (const denominator of ["full", "causal"] as const) {
      const viaClass = sl.metrics.density(bm, { level, denominator });
      const viaFields = sl.metrics.density(fields, { level, denominator });
      assert.ok(Math.abs(viaClass.value - bm.density({ level, denominator })) < 1e-15);
      assert.ok(Math.abs(viaClass.value - viaFields.value) < 1e-12, `${level}/${denominator}: ${viaClass.value} vs ${viaFields.value}`);
    }
  const f = sl.metrics.flops({ blockMask: bm, D: 16 });
  const elems = bm.density({ level: "element" }) * 130 * 150;
  assert.ok(Math.abs(f.keptPairs - elems) < 1e-6);
  const q = randTensor([1, 1, 130, 16], r);
  const k = randTensor([1, 1, 150, 16], r);
  const rec = await sl.metrics.recall(q, k, { blockMask: bm });
  assert.ok(rec.value > 0 && rec.value < 1, `seed ${seed}: recall ${rec.value}`);
});
