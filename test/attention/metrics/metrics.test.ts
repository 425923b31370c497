import { test } from "node:test";
import assert from "node:assert/strict";
import * as metrics from "../../../lib/attention/metrics/index.js";
import { SparselabError } from "../../../lib/errors.js";
import { Tensor } from "../../../lib/tensor/tensor.js";
import "../../../lib/backends/js/index.js";
import {
  TILE_EMPTY,
  TILE_FULL,
  TILE_PARTIAL,
  blockMaskFromTiles,
  elementRule,
  fnMask,
  freshSeed,
  naiveAttention,
  randTensor,
  rng,
} from "../attention/helpers.js";
import type { TileClass } from "../../../lib/attention/types.js";

const close = (a: number, b: number, tol = 1e-12, msg = "") => assert.ok(Math.abs(a - b) <= tol, `${msg} ${a} vs ${b}`);

// qLen 8, kvLen 12, blocks 4x4: a 2x3 tile grid
//   qb0: [full, partial, empty]      partial mask inside: kv even
//   qb1: [partial, empty, full]
const even = fnMask("kv_even", (_b, _h, _q, kv) => kv % 2 === 0);
const grid: TileClass[][] = [
  [TILE_FULL, TILE_PARTIAL, TILE_EMPTY],
  [TILE_PARTIAL, TILE_EMPTY, TILE_FULL],
];
const hand = () =>
  blockMaskFromTiles((_b, _h, qb, kb) => grid[qb][kb], { B: 1, H: 1, qLen: 8, kvLen: 12, qBlockSize: 4, kvBlockSize: 4, mask: even });

test("density on a hand-counted block mask, all four definitions", () => {
  const bm = hand();
  // block/full: 4 computed of 6 tiles.
  const bf = metrics.density(bm);
  assert.equal(bf.level, "block");
  assert.equal(bf.denominator, "full");
  close(bf.value, 4 / 6);
  assert.match(bf.definition, /block-level density = computed tiles .* all B·H·qBlocks·kvBlocks tiles/);
  // element/full: full tiles 16 + 16, partial tiles 8 + 8 (kv even) = 48 of 96.
  close(metrics.density(bm, { level: "element" }).value, 48 / 96);
  // block/causal: tiles holding a pair q >= kv are (0,0), (1,0), (1,1): 3; the numerator counts
  // every computed tile (4), so this non-causal mask reads above 1, as BlockMask.density does.
  close(metrics.density(bm, { denominator: "causal" }).value, 4 / 3);
  // element/causal: pairs with q >= kv: rows 0..7 see 1..8 keys = 36.
  const ec = metrics.density(bm, { level: "element", denominator: "causal" });
  close(ec.value, 48 / 36);
  assert.match(ec.definition, /q >= kv/);
});

test("density of a causal block mask over the causal area is 1 at element level", () => {
  // qLen = kvLen = 10, blocks 4: tiles below the diagonal full, diagonal tiles partial (q >= kv).
  const causal = fnMask("causal", (_b, _h, q, kv) => q >= kv);
  const bm = blockMaskFromTiles((_b, _h, qb, kb) => (kb > qb ? TILE_EMPTY : kb === qb ? TILE_PARTIAL : TILE_FULL), {
    B: 1, H: 2, qLen: 10, kvLen: 10, qBlockSize: 4, kvBlockSize: 4, mask: causal,
  });
  close(metrics.density(bm, { level: "element", denominator: "causal" }).value, 1);
  close(metrics.density(bm, { level: "element" }).value, 55 / 100);
  close(metrics.density(bm).value, 6 / 9);
  close(metrics.density(bm, { denominator: "causal" }).value, 1);
});

test("density delegates to a BlockMask's own density() when present", () => {
  const bm = Object.assign(hand(), { density: (o: { level: string; denominator: string }) => (o.level === "block" ? 0.25 : 0.75) });
  close(metrics.density(bm).value, 0.25);
  close(metrics.density(bm, { level: "element" }).value, 0.75);
  assert.throws(() => metrics.density(bm, { level: "tile" as never }), (e: unknown) => e instanceof SparselabError && /opts.level/.test((e as Error).message));
});

test("recall on a hand case: softmax [1/6, 2/6, 3/6], keep the last two -> 5/6", async () => {
  // D = 1, q = 1, k = [0, ln 2, ln 3], scale 1: scores 0, ln 2, ln 3.
  const q = new Tensor([1, 1, 1, 1], "f32", Float32Array.from([1]));
  const k = new Tensor([1, 1, 3, 1], "f32", Float32Array.from([0, Math.log(2), Math.log(3)]));
  const bm = blockMaskFromTiles((_b, _h, _qb, kb) => (kb === 0 ? TILE_EMPTY : TILE_FULL), {
    B: 1, H: 1, qLen: 1, kvLen: 3, qBlockSize: 1, kvBlockSize: 1,
  });
  const r = await metrics.recall(q, k, { blockMask: bm, scale: 1 });
  close(r.value, 5 / 6, 1e-6);
  close(r.min, 5 / 6, 1e-6);
  assert.match(r.definition, /retained attention mass/);
  const idx = new Tensor([1, 1, 3], "i32", Int32Array.from([2, -1, 1]));
  close((await metrics.recall(q, k, { indices: idx, scale: 1 })).value, 5 / 6, 1e-6);
  const none = new Tensor([1, 1, 1], "i32", Int32Array.from([-1]));
  close((await metrics.recall(q, k, { indices: none, scale: 1 })).value, 0);
});

test("recall matches a brute-force softmax on random inputs (GQA, partial tiles, per head)", async () => {
  const seed = freshSeed();
  const r = rng(seed);
  const [B, Hq, Hkv, S, D] = [2, 4, 2, 37, 8];
  const q = randTensor([B, Hq, S, D], r, "f32", 2);
  const k = randTensor([B, Hkv, S, D], r, "f32", 2);
  const causal = fnMask("causal", (_b, _h, qi, kj) => qi >= kj);
  const bm = blockMaskFromTiles((_b, h, qb, kb) => (kb > qb ? TILE_EMPTY : kb === qb ? TILE_PARTIAL : (kb + h) % 2 ? TILE_FULL : TILE_EMPTY), {
    B: 1, H: Hq, qLen: S, kvLen: S, qBlockSize: 8, kvBlockSize: 8, mask: causal,
  });
  const allowed = elementRule(bm);
  // Brute force: the full softmax row, summed over kept keys.
  const scale = 1 / Math.sqrt(D);
  const qd = q.data as Float32Array;
  const kd = k.data as Float32Array;
  let total = 0;
  const perHead = new Array(Hq).fill(0);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++)
      for (let i = 0; i < S; i++) {
        const hk = Math.floor(h / (Hq / Hkv));
        const s = Array.from({ length: S }, (_, j) => {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += qd[((b * Hq + h) * S + i) * D + d] * kd[((b * Hkv + hk) * S + j) * D + d];
          return dot * scale;
        });
        const mx = Math.max(...s);
        const e = s.map((x) => Math.exp(x - mx));
        const z = e.reduce((a, c) => a + c, 0);
        let kept = 0;
        for (let j = 0; j < S; j++) if (allowed(b, h, i, j)) kept += e[j] / z;
        total += kept;
        perHead[h] += kept / (B * S);
      }
  const got = await metrics.recall(q, k, { blockMask: bm });
  close(got.value, total / (B * Hq * S), 1e-6, `seed ${seed}`);
  got.perHead.forEach((x, h) => close(x, perHead[h], 1e-6, `seed ${seed} head ${h}`));
  assert.ok(got.value > 0.05 && got.value < 0.999, `a non-trivial case: ${got.value}`);
});

test("recall against the causal softmax (causal: true) matches brute force; the window keeps a share of it", async () => {
  const seed = freshSeed();
  const r = rng(seed);
  const [H, S, D, W] = [2, 45, 8, 9];
  const q = randTensor([1, H, S, D], r, "f32", 2);
  const k = randTensor([1, H, S, D], r, "f32", 2);
  const win = fnMask("window", (_b, _h, qi, kj) => qi >= kj && qi - kj < W);
  const bm = blockMaskFromTiles((_b, _h, qb, kb) => (kb > qb || qb - kb > 2 ? TILE_EMPTY : TILE_PARTIAL), {
    B: 1, H: 1, qLen: S, kvLen: S, qBlockSize: 8, kvBlockSize: 8, mask: win,
  });
  const qd = q.data as Float32Array;
  const kd = k.data as Float32Array;
  let total = 0;
  for (let h = 0; h < H; h++)
    for (let i = 0; i < S; i++) {
      const s = Array.from({ length: i + 1 }, (_, j) => {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += qd[(h * S + i) * D + d] * kd[(h * S + j) * D + d];
        return dot / Math.sqrt(D);
      });
      const mx = Math.max(...s);
      const z = s.reduce((a, x) => a + Math.exp(x - mx), 0);
      for (let j = 0; j <= i; j++) if (i - j < W) total += Math.exp(s[j] - mx) / z;
    }
  const got = await metrics.recall(q, k, { blockMask: bm, causal: true });
  close(got.value, total / (H * S), 1e-6, `seed ${seed}`);
  assert.match(got.definition, /causal keys/);
  // Against the full softmax the same window keeps less.
  assert.ok((await metrics.recall(q, k, { blockMask: bm })).value < got.value);
  await assert.rejects(metrics.recall(q, k, { blockMask: bm, causal: true, reference: bm }), /either causal or reference/);
  await assert.rejects(metrics.recall(q, randTensor([1, 3, S, D], r), { blockMask: bm }), /metrics.recall: argument 'k' must be a KV head count dividing/);
  await assert.rejects(metrics.recall(q, k, {} as never), /metrics.recall: argument 'opts' must be exactly one of blockMask or indices/);
});

test("outputError on a hand case and with NaN", async () => {
  const out = new Tensor([3], "f32", Float32Array.from([1, 2, 3]));
  const ref = new Tensor([3], "f32", Float32Array.from([1, 2, 4]));
  const e = await metrics.outputError(out, ref);
  close(e.relL1, 1 / 7);
  close(e.cosine, 17 / Math.sqrt(14 * 21));
  close(e.rmse, Math.sqrt(1 / 3));
  close(e.maxAbs, 1);
  close(e.relL2, 1 / Math.sqrt(21));
  const same = await metrics.outputError(ref, ref);
  assert.deepEqual([same.relL1, same.rmse, same.maxAbs], [0, 0, 0]);
  close(same.cosine, 1);
  const nan = await metrics.outputError(new Tensor([3], "f32", Float32Array.from([1, NaN, 3])), ref);
  assert.ok(Number.isNaN(nan.relL1) && Number.isNaN(nan.cosine) && Number.isNaN(nan.rmse) && Number.isNaN(nan.maxAbs));
  await assert.rejects(metrics.outputError(out, new Tensor([1, 3], "f32", new Float32Array(3))), /metrics.outputError: argument 'out' must be the shape of ref \[1, 3\]/);
});

test("outputError of a sparse pass against dense is what the definition says", async () => {
  const seed = freshSeed();
  const r = rng(seed);
  const q = randTensor([1, 2, 24, 8], r);
  const k = randTensor([1, 2, 24, 8], r);
  const v = randTensor([1, 2, 24, 8], r);
  const dense = naiveAttention(q, k, v).out;
  const sparse = naiveAttention(q, k, v, { allowed: (_b, _h, i, j) => i >= j }).out;
  const e = await metrics.outputError(new Tensor([1, 2, 24, 8], "f32", Float32Array.from(sparse)), new Tensor([1, 2, 24, 8], "f32", Float32Array.from(dense)));
  let l1 = 0;
  let rl1 = 0;
  for (let i = 0; i < dense.length; i++) {
    l1 += Math.abs(Math.fround(sparse[i]) - Math.fround(dense[i]));
    rl1 += Math.abs(Math.fround(dense[i]));
  }
  close(e.relL1, l1 / rl1, 1e-9, `seed ${seed}`);
  assert.ok(e.relL1 > 0.01 && e.cosine < 1);
});

test("flops: 4·B·H·D·keptPairs, with dense and computed figures", () => {
  const bm = hand(); // 48 kept pairs, 64 computed elements (4 tiles of 16), 96 dense
  const f = metrics.flops({ blockMask: bm, D: 8, B: 2, H: 3 });
  assert.equal(f.keptPairs, 48 * 6);
  assert.equal(f.value, 4 * 2 * 3 * 8 * 48);
  assert.equal(f.dense, 4 * 2 * 3 * 8 * 96);
  assert.equal(f.computed, 4 * 2 * 3 * 8 * 64);
  close(f.ratio, 0.5);
  assert.match(f.definition, /4·B·H·D·keptPairs/);
  const g = metrics.flops({ keptPairs: 100, D: 64, Dv: 32, B: 1, H: 2, qLen: 20, kvLen: 10 });
  assert.equal(g.value, 2 * (64 + 32) * 2 * 100);
  assert.equal(g.dense, 2 * (64 + 32) * 2 * 200);
  assert.throws(() => metrics.flops({ D: 8 }), /metrics.flops: argument 'opts' must be exactly one of blockMask or keptPairs/);
  assert.throws(() => metrics.flops({ keptPairs: 1, D: 0 }), /opts.D/);
  assert.throws(() => metrics.flops({ blockMask: bm, D: 8, qLen: 9 }), /opts.qLen/);
});

test("metric results display their value beside their definition, and stay plain data", async () => {
  const { DISPLAY } = await import("../../../lib/display.js");
  const d = metrics.density(hand(), { level: "element", denominator: "causal" });
  const bundle = (d as unknown as Record<symbol, () => Record<string, string>>)[DISPLAY]();
  assert.match(bundle["text/plain"], /density \(element, causal\): 133\.33%/);
  assert.ok(bundle["text/plain"].includes(d.definition));
  assert.match(bundle["text/html"], /<table>/);
  assert.deepEqual(Object.keys(d), ["value", "level", "denominator", "definition"]);
  const f = metrics.flops({ keptPairs: 10, D: 4, qLen: 5, kvLen: 4 });
  assert.match((f as unknown as Record<symbol, () => Record<string, string>>)[DISPLAY]()["text/plain"], /FLOPs: 160\.0 FLOP\ndense: 320\.0 FLOP/);
});
