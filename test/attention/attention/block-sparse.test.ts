import { test } from "node:test";
import assert from "node:assert/strict";
import { attention } from "../../../lib/attention/attention.js";
import "../../../lib/backends/js/index.js";
import {
  TILE_EMPTY,
  TILE_FULL,
  TILE_PARTIAL,
  alibi,
  blockMaskFromTiles,
  elementRule,
  fnMask,
  freshSeed,
  naiveAttention,
  randTensor,
  relErr,
  rng,
  softcap,
} from "./helpers.js";
import type { TileClass } from "../../../lib/attention/types.js";

const backend = "js" as const;

test("block-sparse attention equals dense attention with the element mask applied (all tile kinds, ragged, unequal blocks)", async () => {
  const seed = freshSeed();
  const r = rng(seed);
  const cases = [
    // [B, H, Sq, Skv, D, qBlock, kvBlock, maskB, maskH]
    [1, 2, 50, 50, 8, 16, 16, 1, 2],
    [2, 2, 45, 77, 8, 8, 16, 2, 1], // ragged both ways, qBlock != kvBlock, Sq != Skv
    [1, 3, 33, 20, 4, 32, 7, 1, 1], // a single q block, odd kv block
  ];
  for (const [B, H, Sq, Skv, D, qbs, kbs, mB, mH] of cases) {
    const q = randTensor([B, H, Sq, D], r);
    const k = randTensor([B, H, Skv, D], r);
    const v = randTensor([B, H, Skv, D], r);
    // A mask that depends on b, h, q and kv, so partial tiles truly need it.
    const salt = Math.floor(r() * 1000);
    const mask = fnMask("hashy", (b, h, qi, kj) => ((qi * 7 + kj * 13 + b * 3 + h * 2 + salt) % 5) < 3);
    const classes: TileClass[] = [TILE_EMPTY, TILE_PARTIAL, TILE_FULL];
    const pick = new Map<string, TileClass>();
    const bm = blockMaskFromTiles(
      (b, h, qb, kb) => {
        const key = `${b},${h},${qb},${kb}`;
        if (!pick.has(key)) pick.set(key, classes[Math.floor(r() * 3)]);
        return pick.get(key)!;
      },
      { B: mB, H: mH, qLen: Sq, kvLen: Skv, qBlockSize: qbs, kvBlockSize: kbs, mask, reverse: r() < 0.5 },
    );
    const { output, lse } = await attention(q, k, v, { backend, blockMask: bm, returnLse: true });
    const ref = naiveAttention(q, k, v, { allowed: elementRule(bm) });
    const e = relErr(output.data as Float32Array, ref.out);
    assert.ok(e < 1e-6, `seed ${seed} case ${[B, H, Sq, Skv, D, qbs, kbs, mB, mH]}: rel err ${e}`);
    const ld = lse.data as Float32Array;
    for (let i = 0; i < ld.length; i++) {
      if (ref.lse[i] === -Infinity) assert.equal(ld[i], -Infinity, `seed ${seed}: row ${i} should be fully masked`);
      else assert.ok(Math.abs(ld[i] - ref.lse[i]) < 1e-5 * Math.max(1, Math.abs(ref.lse[i])), `seed ${seed}: lse row ${i} ${ld[i]} vs ${ref.lse[i]}`);
    }
  }
});

test("all-full block mask equals dense; all-empty gives zeros and -Infinity", async () => {
  const seed = freshSeed();
  const r = rng(seed);
  const q = randTensor([1, 2, 40, 8], r);
  const k = randTensor([1, 2, 40, 8], r);
  const v = randTensor([1, 2, 40, 8], r);
  const o = { B: 1, H: 1, qLen: 40, kvLen: 40, qBlockSize: 16, kvBlockSize: 16 };
  const full = await attention(q, k, v, { backend, blockMask: blockMaskFromTiles(() => TILE_FULL, o) });
  const dense = naiveAttention(q, k, v).out;
  assert.ok(relErr(full.data as Float32Array, dense) < 1e-6, `seed ${seed}`);
  const empty = await attention(q, k, v, { backend, blockMask: blockMaskFromTiles(() => TILE_EMPTY, o), returnLse: true });
  assert.ok((empty.output.data as Float32Array).every((x) => x === 0));
  assert.ok((empty.lse.data as Float32Array).every((x) => x === -Infinity));
});

test("fully masked rows inside a partial tile give 0 and lse -Infinity, other rows are unaffected", async () => {
  const seed = freshSeed();
  const r = rng(seed);
  const q = randTensor([1, 1, 20, 4], r);
  const k = randTensor([1, 1, 20, 4], r);
  const v = randTensor([1, 1, 20, 4], r);
  // Causal but rows 3 and 11 see nothing.
  const mask = fnMask("causal_with_holes", (_b, _h, qi, kj) => qi !== 3 && qi !== 11 && qi >= kj);
  const bm = blockMaskFromTiles((_b, _h, qb, kb) => (kb > qb ? TILE_EMPTY : TILE_PARTIAL), {
    B: 1, H: 1, qLen: 20, kvLen: 20, qBlockSize: 8, kvBlockSize: 8, mask,
  });
  const { output, lse } = await attention(q, k, v, { backend, blockMask: bm, returnLse: true });
  const out = output.data as Float32Array;
  for (const row of [3, 11]) {
    assert.deepEqual(Array.from(out.subarray(row * 4, row * 4 + 4)), [0, 0, 0, 0]);
    assert.equal((lse.data as Float32Array)[row], -Infinity);
  }
  assert.ok(out.every((x) => Number.isFinite(x)), "no NaN anywhere");
  const ref = naiveAttention(q, k, v, { allowed: (b, h, qi, kj) => mask.at(b, h, qi, kj) });
  assert.ok(relErr(out, ref.out) < 1e-6, `seed ${seed}`);
});

test("score mods (alibi, softcap) apply before the mask, on dense and sparse passes", async () => {
  const seed = freshSeed();
  const r = rng(seed);
  const [H, S, D] = [4, 48, 8];
  const q = randTensor([1, H, S, D], r, "f32", 3);
  const k = randTensor([1, H, S, D], r, "f32", 3);
  const v = randTensor([1, H, S, D], r);
  const causal = fnMask("causal", (_b, _h, qi, kj) => qi >= kj);
  const bm = blockMaskFromTiles((_b, _h, qb, kb) => (kb > qb ? TILE_EMPTY : kb === qb ? TILE_PARTIAL : TILE_FULL), {
    B: 1, H: 1, qLen: S, kvLen: S, qBlockSize: 16, kvBlockSize: 16, mask: causal,
  });
  for (const mod of [alibi(H), softcap(2)]) {
    const dense = await attention(q, k, v, { backend, scoreMod: mod });
    const eDense = relErr(dense.data as Float32Array, naiveAttention(q, k, v, { scoreMod: mod }).out);
    assert.ok(eDense < 1e-6, `seed ${seed} ${mod.name} dense: ${eDense}`);
    const sparse = await attention(q, k, v, { backend, scoreMod: mod, blockMask: bm });
    const ref = naiveAttention(q, k, v, { scoreMod: mod, allowed: (b, h, qi, kj) => causal.at(b, h, qi, kj) }).out;
    const eSparse = relErr(sparse.data as Float32Array, ref);
    assert.ok(eSparse < 1e-6, `seed ${seed} ${mod.name} sparse: ${eSparse}`);
    // And the mod really changed something.
    const plain = naiveAttention(q, k, v).out;
    assert.ok(relErr(dense.data as Float32Array, plain) > 1e-3, `${mod.name} had no effect`);
  }
});

test("a score mod that returns -Infinity masks like the mask does", async () => {
  const seed = freshSeed();
  const r = rng(seed);
  const q = randTensor([1, 1, 10, 4], r);
  const k = randTensor([1, 1, 10, 4], r);
  const v = randTensor([1, 1, 10, 4], r);
  const mod = { kind: "fn", name: "causal_by_mod", params: {}, apply: (s: number, _b: number, _h: number, qi: number, kj: number) => (kj > qi ? -Infinity : s) };
  const out = await attention(q, k, v, { backend, scoreMod: mod });
  const ref = naiveAttention(q, k, v, { allowed: (_b, _h, qi, kj) => qi >= kj }).out;
  assert.ok(relErr(out.data as Float32Array, ref) < 1e-6, `seed ${seed}`);
});

test("masked keys never reach the output, even when their K or V hold Inf or NaN", async () => {
  const seed = freshSeed();
  const r = rng(seed);
  const S = 24;
  const q = randTensor([1, 1, S, 4], r);
  const k = randTensor([1, 1, S, 4], r);
  const v = randTensor([1, 1, S, 4], r);
  const ref = naiveAttention(q, k, v, { allowed: (_b, _h, qi, kj) => qi >= kj }).out;
  // Poison keys/values above the diagonal for row 0..: key S-1 is seen only by the last query.
  (v.data as Float32Array)[(S - 1) * 4] = Infinity;
  (v.data as Float32Array)[(S - 2) * 4 + 1] = NaN;
  (k.data as Float32Array)[(S - 3) * 4 + 2] = NaN;
  const causal = fnMask("causal", (_b, _h, qi, kj) => qi >= kj);
  const bm = blockMaskFromTiles((_b, _h, qb, kb) => (kb > qb ? TILE_EMPTY : kb === qb ? TILE_PARTIAL : TILE_FULL), {
    B: 1, H: 1, qLen: S, kvLen: S, qBlockSize: 8, kvBlockSize: 8, mask: causal,
  });
  const out = (await attention(q, k, v, { backend, blockMask: bm })).data as Float32Array;
  // Rows that do not see the poisoned keys (all but the last three) match the clean reference.
  const clean = (S - 3) * 4;
  assert.ok(relErr(out.subarray(0, clean), ref.subarray(0, clean)) < 1e-6, `seed ${seed}`);
});
