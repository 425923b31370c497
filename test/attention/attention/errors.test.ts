import { test } from "node:test";
import assert from "node:assert/strict";
import { attention } from "../../../lib/attention/attention.js";
import { decodeAttention } from "../../../lib/attention/decode-attention.js";
import { SparselabError } from "../../../lib/errors.js";
import { Tensor } from "../../../lib/tensor/tensor.js";
import "../../../lib/backends/js/index.js";
import { TILE_FULL, TILE_PARTIAL, blockMaskFromTiles, fnMask } from "./helpers.js";

const f32 = (shape: number[]) => new Tensor(shape, "f32", new Float32Array(shape.reduce((a, b) => a * b, 1)));
const i32 = (shape: number[], data?: number[]) =>
  new Tensor(shape, "i32", data ? Int32Array.from(data) : new Int32Array(shape.reduce((a, b) => a * b, 1)));

/** Asserts the call rejects with a SparselabError naming `op`, `arg`, and each of `mentions`. */
async function rejects(p: Promise<unknown>, op: string, arg: string, ...mentions: string[]): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof SparselabError, `expected SparselabError, got ${e}`);
    assert.equal(e.op, op);
    assert.ok(e.message.includes(`'${arg}'`), `message should name argument '${arg}': ${e.message}`);
    for (const m of mentions) assert.ok(e.message.includes(m), `message should mention ${m}: ${e.message}`);
    return true;
  });
}

test("attention: shape, dtype and head-count errors name op, argument, shapes and what was expected", async () => {
  const q = f32([2, 4, 8, 16]);
  const k = f32([2, 2, 8, 16]);
  const v = f32([2, 2, 8, 16]);
  await rejects(attention(f32([8, 16]), k, v), "attention", "q", "4-D", "[8, 16]");
  await rejects(attention(q, f32([2, 2, 16]), v), "attention", "k", "4-D", "[2, 2, 16]");
  await rejects(attention(q, k, f32([2, 2, 8])), "attention", "v", "4-D");
  await rejects(attention(q, f32([3, 2, 8, 16]), v), "attention", "k", "batch 2", "[3, 2, 8, 16]");
  await rejects(attention(q, k, f32([1, 2, 8, 16])), "attention", "v", "batch 2");
  await rejects(attention(q, f32([2, 3, 8, 16]), f32([2, 3, 8, 16])), "attention", "k", "dividing", "4 heads", "3 heads");
  await rejects(attention(q, f32([2, 2, 8, 32]), v), "attention", "k", "D = 16", "[2, 2, 8, 32]");
  await rejects(attention(q, k, f32([2, 2, 9, 16])), "attention", "v", "[2, 2, 8, Dv]", "[2, 2, 9, 16]");
  await rejects(attention(q, k, f32([2, 1, 8, 16])), "attention", "v", "heads");
  const q16 = new Tensor([2, 4, 8, 16], "f16", new Uint16Array(2 * 4 * 8 * 16));
  await rejects(attention(q16, k, v), "attention", "k", "same dtype", "f16", "f32");
  await rejects(attention(q, k, new Tensor([2, 2, 8, 16], "bf16", new Uint16Array(512))), "attention", "v", "bf16");
  const qi = new Tensor([2, 4, 8, 16], "i32", new Int32Array(1024));
  await rejects(attention(qi, k, v), "attention", "q", "float", "i32");
  await rejects(attention(q, k, v, { scale: NaN }), "attention", "opts.scale", "finite", "NaN");
  await rejects(attention(q, k, v, { scale: Infinity }), "attention", "opts.scale", "finite");
  await rejects(attention(q, k, v, { scoreMod: {} as never }), "attention", "opts.scoreMod", "apply");
  await rejects(attention(q, k, v, { blockmask: 1 } as never), "attention", "opts", "unknown key 'blockmask'");
  // An unknown backend: the registry's message names the op and what is available.
  await assert.rejects(attention(q, k, v, { backend: "nope" as never }), /attention: backend 'nope' does not implement attention; available: js/);
  // A tensor on another device (a stand-in device buffer: only its device matters here).
  const onGpu = new Tensor([2, 2, 8, 16], "f32", { device: "cuda", bytes: 2048, read: async () => new Float32Array(512), free: () => {} });
  await rejects(attention(q, onGpu, v), "attention", "k", "same device as q (cpu)", "device cuda");
  const d = f32([1, 1, 4, 4]);
  d.dispose();
  await rejects(attention(d, f32([1, 1, 4, 4]), f32([1, 1, 4, 4])), "attention", "q", "disposed");
  await rejects(attention(null as never, k, v), "attention", "q", "a Tensor", "null");
});

test("attention: block mask errors name the field and the mismatch", async () => {
  const q = f32([2, 4, 20, 8]);
  const k = f32([2, 4, 30, 8]);
  const v = f32([2, 4, 30, 8]);
  const mask = fnMask("any", () => true);
  const base = { B: 1, H: 1, qLen: 20, kvLen: 30, qBlockSize: 8, kvBlockSize: 8, mask };
  const good = blockMaskFromTiles(() => TILE_FULL, base);
  await attention(q, k, v, { blockMask: good }); // sanity: the good one passes
  await rejects(attention(q, k, v, { blockMask: blockMaskFromTiles(() => TILE_FULL, { ...base, qLen: 24 }) }), "attention", "opts.blockMask.qLen", "Sq = 20", "24");
  await rejects(attention(q, k, v, { blockMask: blockMaskFromTiles(() => TILE_FULL, { ...base, kvLen: 31 }) }), "attention", "opts.blockMask.kvLen", "Skv = 30");
  await rejects(attention(q, k, v, { blockMask: blockMaskFromTiles(() => TILE_FULL, { ...base, B: 3 }) }), "attention", "opts.blockMask.B", "batch size 2", "3");
  await rejects(attention(q, k, v, { blockMask: blockMaskFromTiles(() => TILE_FULL, { ...base, H: 2 }) }), "attention", "opts.blockMask.H", "head count 4");
  await rejects(attention(q, k, v, { blockMask: { ...good, qBlockSize: 0 } }), "attention", "opts.blockMask.qBlockSize", "positive integer", "0");
  await rejects(attention(q, k, v, { blockMask: { ...good, kvBlockSize: 2.5 } }), "attention", "opts.blockMask.kvBlockSize", "positive integer");
  // Fields with the wrong shape or dtype (blocks of 4 would need [1, 1, 5] counts).
  await rejects(attention(q, k, v, { blockMask: { ...good, qBlockSize: 4 } }), "attention", "opts.blockMask.kvNumBlocks", "[1, 1, 5]", "[1, 1, 3]");
  await rejects(attention(q, k, v, { blockMask: { ...good, kvIndices: f32([1, 1, 3, 4]) as never } }), "attention", "opts.blockMask.kvIndices", "i32", "f32");
  // Counts and indices out of range.
  const badIdx = blockMaskFromTiles(() => TILE_FULL, base);
  (badIdx.fullKvIndices.data as Int32Array)[0] = 9;
  await rejects(attention(q, k, v, { blockMask: badIdx }), "attention", "opts.blockMask.fullKvIndices", "[0, 4)", "9");
  const badNum = blockMaskFromTiles(() => TILE_FULL, base);
  (badNum.kvNumBlocks.data as Int32Array)[1] = 1;
  await rejects(attention(q, k, v, { blockMask: badNum }), "attention", "opts.blockMask", "<= 4");
  const dup = blockMaskFromTiles((_b, _h, _qb, kb) => (kb < 2 ? TILE_PARTIAL : TILE_FULL), base);
  (dup.kvIndices.data as Int32Array)[1] = 0;
  await rejects(attention(q, k, v, { blockMask: dup }), "attention", "opts.blockMask", "at most once", "block 0 twice");
  // Partial tiles without a refining mask.
  const noMask = blockMaskFromTiles(() => TILE_PARTIAL, { ...base, mask: undefined });
  await rejects(attention(q, k, v, { blockMask: noMask }), "attention", "opts.blockMask.mask", "refining the partial tiles");
});

test("decodeAttention: errors for indices and options", async () => {
  const q = f32([1, 4, 1, 8]);
  const kc = f32([1, 2, 50, 8]);
  const vc = f32([1, 2, 50, 8]);
  await rejects(decodeAttention(q, f32([1, 3, 50, 8]), f32([1, 3, 50, 8])), "decodeAttention", "kCache", "dividing");
  await rejects(decodeAttention(q, kc, vc, { indices: f32([1, 2, 3]) as never }), "decodeAttention", "opts.indices", "i32", "f32");
  await rejects(decodeAttention(q, kc, vc, { indices: i32([1, 4, 3]) }), "decodeAttention", "opts.indices", "[1, 2, n]", "[1, 4, 3]");
  await rejects(decodeAttention(q, kc, vc, { indices: i32([1, 2, 2], [0, 50, 1, 2]) }), "decodeAttention", "opts.indices", "[0, 50)", "50 at [0, 0, 1]");
  await rejects(decodeAttention(q, kc, vc, { indices: i32([1, 2, 2], [0, 1, 7, 7]) }), "decodeAttention", "opts.indices", "distinct", "7 twice");
  await rejects(decodeAttention(q, kc, vc, { indices: i32([1, 2, 2], [0, -2, 1, 2]) }), "decodeAttention", "opts.indices", "-2");
  const bm = blockMaskFromTiles(() => TILE_FULL, { B: 1, H: 1, qLen: 1, kvLen: 50, qBlockSize: 1, kvBlockSize: 16 });
  await rejects(decodeAttention(q, kc, vc, { indices: i32([1, 2, 1]), blockMask: bm }), "decodeAttention", "opts", "not both");
  await rejects(decodeAttention(q, kc, vc, { blockMask: { ...bm, kvLen: 40 } }), "decodeAttention", "opts.blockMask.kvLen", "Skv = 50");
});
