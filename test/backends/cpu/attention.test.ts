// Native CPU attention against the JS reference: dense and block-sparse, f32/f16/bf16, ragged
// sizes, D in {32, 64, 72, 80, 96, 128, 256}, GQA (Hq/Hkv = 4), the three mask forms (built-in IR,
// DSL IR, plain-function bitmaps), fully masked rows, score mods, lse, cancellation.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as sl from "../../../lib/index.js";
import { attentionInto } from "../../../lib/backends/cpu/index.js";
import type { BlockMaskFields } from "../../../lib/attention/block-mask.js";
import { assertClose, freshSeed, poisoned, randn, requireAddon, tolFor, widen } from "./helpers.js";

interface Case {
  B: number;
  Hq: number;
  Hkv: number;
  Sq: number;
  Skv: number;
  D: number;
  Dv?: number;
  dtype?: sl.DType;
  blockMask?: BlockMaskFields;
  scoreMod?: sl.ScoreMod;
}

/** Runs the native kernel into poisoned storage and the JS reference; compares output and lse. */
async function check(c: Case, label: string): Promise<void> {
  const seed = freshSeed();
  const dtype = c.dtype ?? "f32";
  const Dv = c.Dv ?? c.D;
  const q = randn([c.B, c.Hq, c.Sq, c.D], seed, dtype);
  const k = randn([c.B, c.Hkv, c.Skv, c.D], seed + 1, dtype);
  const v = randn([c.B, c.Hkv, c.Skv, Dv], seed + 2, dtype);
  const scale = 1 / Math.sqrt(c.D);
  const what = `${label} (seed ${seed})`;
  const out = poisoned(dtype, c.B * c.Hq * c.Sq * Dv);
  const lse = new Float32Array(c.B * c.Hq * c.Sq).fill(NaN);
  await attentionInto({ q, k, v, blockMask: c.blockMask, scoreMod: c.scoreMod, scale, returnLse: true }, out, lse);
  const ref = await sl.attention(q, k, v, { blockMask: c.blockMask, scoreMod: c.scoreMod, scale, returnLse: true, backend: "js" });
  assertClose(widen(dtype, out), await ref.output.toTypedArray(), tolFor(dtype), `${what} output`);
  assertClose(lse, await ref.lse.toTypedArray(), 1e-5, `${what} lse`);
}

test("the native addon is built and the cpu backend registered", async () => {
  await requireAddon();
  const st = sl.backends().find((b) => b.name === "cpu")!;
  for (const op of ["attention", "decodeAttention", "matmul", "groupedGemm", "softmax", "topk", "blockPool", "antidiagScores", "colDiagSums"])
    assert.ok(st.ops.includes(op), `cpu backend lacks ${op}`);
});

test("dense f32, ragged sizes, every head dim, GQA 4", async () => {
  await requireAddon();
  for (const D of [32, 64, 72, 80, 96, 128, 256])
    await check({ B: 2, Hq: 4, Hkv: 1, Sq: 77 + D, Skv: 203, D }, `dense D=${D}`);
  await check({ B: 1, Hq: 2, Hkv: 2, Sq: 5, Skv: 300, D: 64, Dv: 48 }, "dense Dv != D");
});

test("f16 and bf16 inputs (converted per tile, f32 accumulation)", async () => {
  await requireAddon();
  for (const dtype of ["f16", "bf16"] as const) {
    await check({ B: 1, Hq: 4, Hkv: 1, Sq: 150, Skv: 150, D: 64, dtype }, `dense ${dtype}`);
    const bm = sl.createBlockMask(sl.masks.causal(), { qLen: 150, kvLen: 150, blockSize: 64 });
    await check({ B: 1, Hq: 4, Hkv: 2, Sq: 150, Skv: 150, D: 96, dtype, blockMask: bm }, `causal ${dtype}`);
  }
});

test("partial tiles computed on each row block's band of visible columns (and without, SPARSELAB_TUNE_BAND=0)", async () => {
  await requireAddon();
  // 128-blocks, so a 64-row sub-tile's edge and diagonal tiles hold triangles nobody sees, rows
  // whose band in a chunk is empty next to rows whose is not (the O rescale with an empty sum),
  // and rows that see two separate spans (sink + window).
  const S = 389;
  const masks: [string, sl.Mask][] = [
    ["slidingWindow(100)", sl.masks.slidingWindow(100)],
    ["slidingWindow(7)", sl.masks.slidingWindow(7)],
    ["sink(3, 90)", sl.masks.sink(3, 90)],
  ];
  const saved = process.env.SPARSELAB_TUNE_BAND;
  try {
    for (const band of ["1", "0"]) {
      process.env.SPARSELAB_TUNE_BAND = band;
      for (const [name, m] of masks) {
        const bm = sl.createBlockMask(m, { qLen: S, kvLen: S, blockSize: 128 });
        await check({ B: 1, Hq: 4, Hkv: 2, Sq: S, Skv: S, D: 64, blockMask: bm }, `${name} f32 band=${band}`);
        await check({ B: 1, Hq: 2, Hkv: 1, Sq: S, Skv: S, D: 80, dtype: "bf16", blockMask: bm }, `${name} bf16 D80 band=${band}`);
      }
    }
  } finally {
    if (saved === undefined) delete process.env.SPARSELAB_TUNE_BAND;
    else process.env.SPARSELAB_TUNE_BAND = saved;
  }
});

test("block-sparse: built-in masks lowered to IR, ragged blocks", async () => {
  await requireAddon();
  const S = 333;
  const built: [string, sl.Mask, number | [number, number]][] = [
    ["causal", sl.masks.causal(), 64],
    ["slidingWindow(50)", sl.masks.slidingWindow(50), [64, 32]],
    ["prefixLM(70)", sl.masks.prefixLM(70), 128],
    ["sink(4, 40)", sl.masks.sink(4, 40), 16],
    ["dilated(64, 2)", sl.masks.dilated(64, 2), [32, 64]],
  ];
  for (const [name, m, bs] of built) {
    assert.ok(m.program, `${name} should carry an IR program`);
    const bm = sl.createBlockMask(m, { qLen: S, kvLen: S, blockSize: bs });
    await check({ B: 2, Hq: 4, Hkv: 1, Sq: S, Skv: S, D: 80, blockMask: bm }, `mask ${name}`);
  }
  const doc = new Int32Array(S).map((_, i) => Math.floor(i / 97));
  const dm = sl.masks.document(doc, sl.masks.causal());
  const bm = sl.createBlockMask(dm, { qLen: S, kvLen: S, blockSize: 64 });
  await check({ B: 1, Hq: 2, Hkv: 2, Sq: S, Skv: S, D: 64, blockMask: bm }, "document mask (table lookup)");
});

test("block-sparse: DSL masks (IR) and plain-function masks (bitmaps), per-head block masks", async () => {
  await requireAddon();
  const S = 260;
  const dsl = sl.mask("q >= kv and (q - kv < w or kv % 7 == h)", { w: 40 });
  assert.ok(dsl.program, "a DSL mask carries IR");
  const bmDsl = sl.createBlockMask(dsl, { B: 1, H: 4, qLen: S, kvLen: S, blockSize: 32 });
  await check({ B: 2, Hq: 4, Hkv: 1, Sq: S, Skv: S, D: 96, blockMask: bmDsl }, "DSL mask, H=4 block mask");
  const fn = sl.mask((b, h, q, kv) => kv <= q && ((q ^ kv) % 3 === 0 || q - kv < 10 + h + b));
  assert.equal(fn.program, undefined, "a plain-function mask has no IR");
  const bmFn = sl.createBlockMask(fn, { B: 2, H: 4, qLen: S, kvLen: S, blockSize: [64, 32] });
  await check({ B: 2, Hq: 4, Hkv: 2, Sq: S, Skv: S, D: 64, blockMask: bmFn }, "function mask (bitmaps)");
  // A function mask under a broadcast block mask is still evaluated at the real (b, h).
  const bmFnB = sl.createBlockMask(sl.mask((_b, _h, q, kv) => kv <= q && (q + kv) % 5 !== 0), { qLen: S, kvLen: S, blockSize: 64 });
  await check({ B: 2, Hq: 2, Hkv: 2, Sq: S, Skv: S, D: 32, blockMask: bmFnB }, "function mask, broadcast block mask");
});

test("IR mask bitmaps: kept per block mask across calls and shapes; the per-row program path", async () => {
  await requireAddon();
  const S = 230;
  const perHead = sl.createBlockMask(sl.mask("q >= kv and (q - kv < 30 or (q + kv) % 5 == h)"), { B: 1, H: 1, qLen: S, kvLen: S, blockSize: 32 });
  const shared = sl.createBlockMask(sl.masks.slidingWindow(45), { qLen: S, kvLen: S, blockSize: [64, 32] });
  const saved = process.env.SPARSELAB_TUNE_MAX_BITMAP_BYTES;
  try {
    for (const limit of [undefined, "0"]) {
      if (limit === undefined) delete process.env.SPARSELAB_TUNE_MAX_BITMAP_BYTES;
      else process.env.SPARSELAB_TUNE_MAX_BITMAP_BYTES = limit;
      const how = limit === undefined ? "bitmaps" : "per-row program";
      for (const [name, bm] of [["mask using h", perHead], ["mask shared by heads", shared]] as const) {
        // The second call with the same block mask and shape reuses the first one's bitmaps;
        // another head count or batch needs new ones.
        await check({ B: 1, Hq: 4, Hkv: 2, Sq: S, Skv: S, D: 64, blockMask: bm }, `${name}, ${how}, first call`);
        await check({ B: 1, Hq: 4, Hkv: 2, Sq: S, Skv: S, D: 64, blockMask: bm }, `${name}, ${how}, again`);
        await check({ B: 2, Hq: 2, Hkv: 1, Sq: S, Skv: S, D: 32, blockMask: bm }, `${name}, ${how}, B 2 Hq 2`);
      }
    }
  } finally {
    if (saved === undefined) delete process.env.SPARSELAB_TUNE_MAX_BITMAP_BYTES;
    else process.env.SPARSELAB_TUNE_MAX_BITMAP_BYTES = saved;
  }
});

test("fully masked rows give output 0 and lse -Infinity", async () => {
  await requireAddon();
  const S = 140;
  for (const m of [sl.mask("kv < q - 5"), sl.mask((_b, _h, q, kv) => kv < q - 5)]) {
    const bm = sl.createBlockMask(m, { qLen: S, kvLen: S, blockSize: 32 });
    const q = randn([1, 2, S, 64], 1);
    const k = randn([1, 2, S, 64], 2);
    const v = randn([1, 2, S, 64], 3);
    const out = new Float32Array(2 * S * 64).fill(NaN);
    const lse = new Float32Array(2 * S).fill(NaN);
    await attentionInto({ q, k, v, blockMask: bm, scale: 0.125, returnLse: true }, out, lse);
    for (let h = 0; h < 2; h++)
      for (let r = 0; r <= 5; r++) {
        assert.equal(lse[h * S + r], -Infinity, `row ${r} lse`);
        for (let d = 0; d < 64; d++) assert.equal(out[(h * S + r) * 64 + d], 0, `row ${r} output`);
      }
    await check({ B: 1, Hq: 2, Hkv: 2, Sq: S, Skv: S, D: 64, blockMask: bm }, `partly masked (${m.kind})`);
  }
});

test("score mods: alibi, softcap, relative bias, expressions (dense and masked)", async () => {
  await requireAddon();
  const S = 190;
  const table = new Float32Array(2 * 64 + 1).map((_, i) => Math.sin(i) * 0.5);
  const mods: [string, sl.ScoreMod][] = [
    ["alibi", sl.scoreMods.alibi(4)],
    ["softcap", sl.scoreMods.softcap(2)],
    ["relativeBias", sl.scoreMods.relativeBias(table, 64)],
    ["expression", sl.scoreMod("score * 0.5 + (q - kv) % 3 * 0.1")],
  ];
  const bm = sl.createBlockMask(sl.masks.slidingWindow(70), { qLen: S, kvLen: S, blockSize: 64 });
  for (const [name, mod] of mods) {
    assert.ok(mod.program, `${name} carries IR`);
    await check({ B: 1, Hq: 4, Hkv: 1, Sq: S, Skv: S, D: 64, scoreMod: mod }, `dense + ${name}`);
    await check({ B: 1, Hq: 4, Hkv: 2, Sq: S, Skv: S, D: 80, scoreMod: mod, blockMask: bm }, `window + ${name}`);
  }
});

test("the registered op runs through sl.attention with backend cpu", async () => {
  await requireAddon();
  const seed = freshSeed();
  const q = randn([1, 8, 257, 64], seed);
  const k = randn([1, 2, 257, 64], seed + 1);
  const v = randn([1, 2, 257, 64], seed + 2);
  const bm = sl.createBlockMask(sl.masks.causal(), { qLen: 257, kvLen: 257 });
  const got = await sl.attention(q, k, v, { blockMask: bm, backend: "cpu" });
  const ref = await sl.attention(q, k, v, { blockMask: bm, backend: "js" });
  assertClose(await got.toTypedArray(), await ref.toTypedArray(), 2e-5, `sl.attention cpu (seed ${seed})`);
});

test("cancellation stops a long run mid-op", async () => {
  await requireAddon();
  const S = 4096;
  const q = randn([1, 8, S, 64], 11);
  const k = randn([1, 8, S, 64], 12);
  const v = randn([1, 8, S, 64], 13);
  const out = new Float32Array(8 * S * 64);
  const t0 = performance.now();
  await attentionInto({ q, k, v, scale: 0.125, returnLse: false }, out);
  const full = performance.now() - t0;
  const ac = new AbortController();
  const t1 = performance.now();
  setTimeout(() => ac.abort(), full / 10);
  await assert.rejects(attentionInto({ q, k, v, scale: 0.125, returnLse: false, signal: ac.signal }, out), (e: Error) => e.name === "CancelledError");
  const cut = performance.now() - t1;
  // The machine is shared: compare with the slower of a full run before and one after.
  const t2 = performance.now();
  await attentionInto({ q, k, v, scale: 0.125, returnLse: false }, out);
  const full2 = Math.max(full, performance.now() - t2);
  assert.ok(cut < full2 * 0.7, `cancelled run took ${cut.toFixed(0)} ms of a ${full2.toFixed(0)} ms op: the kernel did not stop mid-op`);
  // An already-aborted signal rejects before any work.
  await assert.rejects(attentionInto({ q, k, v, scale: 0.125, returnLse: false, signal: AbortSignal.abort() }, out), (e: Error) => e.name === "CancelledError");
});

test("one kv head per pack batch (batches share two pack buffers; tiles wait only for their batch)", async () => {
  await requireAddon();
  const saved = process.env.SPARSELAB_TUNE_PACK_KB;
  try {
    process.env.SPARSELAB_TUNE_PACK_KB = "1";
    await check({ B: 2, Hq: 6, Hkv: 3, Sq: 190, Skv: 260, D: 64 }, "dense, 6 batches");
    const bm = sl.createBlockMask(sl.masks.slidingWindow(40), { qLen: 190, kvLen: 260, blockSize: 32 });
    await check({ B: 2, Hq: 6, Hkv: 3, Sq: 190, Skv: 260, D: 80, dtype: "bf16", blockMask: bm }, "window bf16, 6 batches");
  } finally {
    if (saved === undefined) delete process.env.SPARSELAB_TUNE_PACK_KB;
    else process.env.SPARSELAB_TUNE_PACK_KB = saved;
  }
});

test("dense tile-size variants (wide kv chunks, 96-row q tiles) used for long sequences", async () => {
  await requireAddon();
  // The defaults switch to these at S >= 2048; the tuning variables force them at small S.
  const saved = [process.env.SPARSELAB_TUNE_QTILE, process.env.SPARSELAB_TUNE_KVCHUNK];
  try {
    for (const [qt, kc, D] of [[96, 256, 128], [64, 512, 64], [96, 512, 80]] as const) {
      process.env.SPARSELAB_TUNE_QTILE = String(qt);
      process.env.SPARSELAB_TUNE_KVCHUNK = String(kc);
      await check({ B: 1, Hq: 4, Hkv: 1, Sq: 301, Skv: 1100, D }, `dense ${qt}x${kc} D=${D}`);
    }
  } finally {
    if (saved[0] === undefined) delete process.env.SPARSELAB_TUNE_QTILE;
    else process.env.SPARSELAB_TUNE_QTILE = saved[0];
    if (saved[1] === undefined) delete process.env.SPARSELAB_TUNE_KVCHUNK;
    else process.env.SPARSELAB_TUNE_KVCHUNK = saved[1];
  }
});
