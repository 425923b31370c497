import { test } from "node:test";
import assert from "node:assert/strict";
import * as sl from "../../../lib/index.js";
import type { Mask } from "../../../lib/attention/types.js";
import { SEED, bruteTile, randomBuiltins, rng } from "../masks/helpers.js";

/** Checks every tile of every (b, h) of a block mask against brute force, and the layout rules. */
function checkAgainstBrute(bm: sl.BlockMask, m: Mask, what: string) {
  const nq = bm.qBlocks, nk = bm.kvBlocks;
  const pn = bm.kvNumBlocks.data, fn = bm.fullKvNumBlocks.data, pi = bm.kvIndices.data, fi = bm.fullKvIndices.data;
  for (let b = 0; b < bm.B; b++)
    for (let h = 0; h < bm.H; h++)
      for (let i = 0; i < nq; i++) {
        const r = (b * bm.H + h) * nq + i;
        const partial = Array.from(pi.subarray(r * nk, r * nk + pn[r]));
        const full = Array.from(fi.subarray(r * nk, r * nk + fn[r]));
        for (const list of [partial, full]) for (let k = 1; k < list.length; k++) assert.ok(list[k] > list[k - 1], "ascending");
        for (let j = 0; j < nk; j++) {
          const q0 = i * bm.qBlockSize, q1 = Math.min(q0 + bm.qBlockSize, bm.qLen);
          const kv0 = j * bm.kvBlockSize, kv1 = Math.min(kv0 + bm.kvBlockSize, bm.kvLen);
          const want = bruteTile(m, b, h, q0, q1, kv0, kv1);
          const got = full.includes(j) ? sl.TILE_FULL : partial.includes(j) ? sl.TILE_PARTIAL : sl.TILE_EMPTY;
          assert.equal(got, want, `${what}: tile (b=${b}, h=${h}, ${i}, ${j}) (seed ${SEED})`);
        }
      }
}

test(`createBlockMask == brute force for every built-in, ragged sizes and block shapes (seed ${SEED})`, () => {
  const r = rng(SEED + 10);
  for (let round = 0; round < 2; round++) {
    const n = r.int(60, 160);
    for (const m of randomBuiltins(r, n)) {
      const qLen = r.int(1, n), kvLen = r.int(1, n);
      const blockSize: number | [number, number] = r.float() < 0.5 ? r.int(1, 40) : [r.int(1, 40), r.int(1, 40)];
      const bm = sl.createBlockMask(m, { qLen, kvLen, blockSize });
      checkAgainstBrute(bm, m, `${m.name} qLen=${qLen} kvLen=${kvLen} block=${blockSize}`);
    }
  }
});

test(`createBlockMask at a larger size (deep quadtree over the tile grid) == brute force (seed ${SEED})`, () => {
  const r = rng(SEED + 12);
  const n = r.int(1200, 1600);
  const ids = Int32Array.from({ length: n }, (_, i) => Math.floor((i * 7) / n));
  const masks: Mask[] = [
    sl.masks.slidingWindow(r.int(50, 300)),
    sl.masks.document(ids, sl.masks.causal()),
    sl.masks.sink(r.int(1, 40), r.int(30, 200)),
    sl.mask("q >= kv and (q - kv) mod 97 < 40"),
    sl.masks.neighborhood2d({ shape: [30, 40], kernel: [5, 9], tile: [5, 8] }),
    sl.masks.radial({ frames: 12, tokensPerFrame: 100, minWidth: 16 }),
  ];
  for (const m of masks) {
    const blockSize: [number, number] = [r.pick([32, 64, 96, 128]), r.pick([32, 64, 100, 128])];
    const bm = sl.createBlockMask(m, { qLen: n, kvLen: n - r.int(0, 50), blockSize });
    checkAgainstBrute(bm, m, `${m.name} n=${n} block=${blockSize}`);
  }
});

test(`createBlockMask for expressions, plain functions and compositions, per batch and head (seed ${SEED})`, () => {
  const r = rng(SEED + 11);
  const doc = Array.from({ length: 130 }, (_, i) => Math.floor(i / r.int(9, 40)));
  const masks: Mask[] = [
    sl.mask("q >= kv and q - kv < 8 * (h + 1)"),
    sl.mask("doc[q] == doc[kv] and (b == 0 or q >= kv)", { doc }),
    sl.mask("(q - kv) mod 3 == h"),
    sl.mask((b, h, q, kv) => (q * 31 + kv * 17 + b + h) % 7 < 3),
    sl.mask((_b, _h, q, kv) => q >= kv),
    sl.and(sl.masks.causal(), sl.mask((_b, h, q, kv) => q - kv < 10 + h)),
    sl.or(sl.masks.slidingWindow(12), sl.mask("kv < 4 + h")),
    sl.not(sl.masks.document(doc, sl.masks.causal())),
  ];
  for (const m of masks) {
    const B = r.int(1, 2), H = r.int(1, 3);
    const qLen = r.int(1, 130), kvLen = r.int(1, 130);
    const bm = sl.createBlockMask(m, { B, H, qLen, kvLen, blockSize: [r.int(4, 33), r.int(4, 33)] });
    assert.equal(bm.B, B);
    assert.equal(bm.H, H);
    checkAgainstBrute(bm, m, m.name);
  }
});

test("B and H omitted: one broadcast (b, h) evaluated at 0; masks that ignore b/h share rows", () => {
  const bm = sl.createBlockMask(sl.masks.causal(), { qLen: 300, kvLen: 300, blockSize: 64 });
  assert.equal(bm.B, 1);
  assert.equal(bm.H, 1);
  assert.deepEqual(bm.kvNumBlocks.shape, [1, 1, 5]);
  assert.deepEqual(bm.kvIndices.shape, [1, 1, 5, 5]);
  const many = sl.createBlockMask(sl.masks.causal(), { B: 2, H: 3, qLen: 300, kvLen: 300, blockSize: 64 });
  for (let b = 0; b < 2; b++) for (let h = 0; h < 3; h++) assert.deepEqual(many.tileClasses(b, h), bm.tileClasses(0, 0));
  const perHead = sl.createBlockMask(sl.mask("q - kv < 64 * h"), { H: 3, qLen: 256, kvLen: 256, blockSize: 64 });
  assert.notDeepEqual(perHead.tileClasses(0, 0), perHead.tileClasses(0, 2));
});

test("ragged last blocks: counts and element density exact", () => {
  const bm = sl.createBlockMask(sl.masks.causal(), { qLen: 130, kvLen: 70, blockSize: 64 });
  // q blocks [0,64) [64,128) [128,130); kv blocks [0,64) [64,70)
  assert.deepEqual(Array.from(bm.toDense().data), [1, 0, 2, 1, 2, 2]);
  let trueCount = 0;
  for (let q = 0; q < 130; q++) for (let kv = 0; kv < 70; kv++) if (q >= kv) trueCount++;
  assert.equal(bm.density({ level: "element", denominator: "full" }), trueCount / (130 * 70));
  assert.equal(bm.density({ level: "element", denominator: "causal" }), 1);
});

test("density definitions on hand cases", () => {
  // causal, 4x4 tiles: 4 partial + 6 full = 10 of 16 computed; all 10 are causal tiles
  const c = sl.createBlockMask(sl.masks.causal(), { qLen: 512, kvLen: 512, blockSize: 128 });
  assert.deepEqual(c.blockCounts(), { partial: 4, full: 6, empty: 6, total: 16 });
  assert.equal(c.density({ level: "block", denominator: "full" }), 10 / 16);
  assert.equal(c.density({ level: "block", denominator: "causal" }), 1);
  assert.equal(c.density({ level: "element", denominator: "full" }), (512 * 513) / 2 / (512 * 512));
  assert.equal(c.density({ level: "element", denominator: "causal" }), 1);
  // window of 1 (the diagonal): 4 partial tiles; 512 true entries
  const d = sl.createBlockMask(sl.masks.slidingWindow(1), { H: 2, qLen: 512, kvLen: 512, blockSize: 128 });
  assert.equal(d.density({ level: "block", denominator: "full" }), 4 / 16);
  assert.equal(d.density({ level: "block", denominator: "causal" }), 4 / 10);
  assert.equal(d.density({ level: "element", denominator: "full" }), 512 / (512 * 512));
  assert.equal(d.density({ level: "element", denominator: "causal" }), 512 / ((512 * 513) / 2));
  // dense (no masking): the block numerator counts every computed tile, so causal gives > 1
  const all = sl.createBlockMask(sl.mask("true"), { qLen: 256, kvLen: 256, blockSize: 128 });
  assert.equal(all.density(), 1);
  assert.equal(all.density({ denominator: "causal" }), 4 / 3);
  assert.throws(() => all.density({ level: "tile" as any }), /density: argument 'level'/);
});

test("toDense, toDenseMask and toString", async () => {
  const bm = sl.createBlockMask(sl.masks.causal(), { qLen: 512, kvLen: 512 });
  assert.deepEqual(await bm.toDense().toArray(), [[[[1, 0, 0, 0], [2, 1, 0, 0], [2, 2, 1, 0], [2, 2, 2, 1]]]]);
  const lines = bm.toString().split("\n");
  assert.match(lines[0], /BlockMask\(B=1, H=1, qLen=512, kvLen=512, block=128x128, mask=causal\)/);
  assert.deepEqual(lines.slice(1), ["░···", "█░··", "██░·", "███░"]);
  const small = sl.createBlockMask(sl.masks.slidingWindow(3), { B: 1, H: 2, qLen: 20, kvLen: 17, blockSize: [4, 5] });
  const dense = small.toDenseMask();
  assert.deepEqual(dense.shape, [1, 2, 20, 17]);
  for (let h = 0; h < 2; h++)
    for (let q = 0; q < 20; q++) for (let kv = 0; kv < 17; kv++) assert.equal(dense.data[(h * 20 + q) * 17 + kv], q >= kv && q - kv < 3 ? 1 : 0);
  // big grids are drawn coarser, and say so
  const big = sl.createBlockMask(sl.masks.slidingWindow(256), { qLen: 65536, kvLen: 65536 });
  const text = big.toString();
  assert.match(text, /1 char = 11x11 tiles/);
  assert.ok(text.split("\n").every((l, i) => i === 0 || [...l].length <= 64));
  const bundle = big[sl.DISPLAY]() as Record<string, string>;
  assert.equal(bundle["text/plain"], text);
  assert.match(bundle["text/html"], /<pre/);
});

test("fromKvBlocks / fromDense rebuild the same mask; bad lists are errors", () => {
  const m = sl.masks.document([0, 0, 0, 1, 1, 1, 1, 1, 2, 2], sl.masks.causal());
  const bm = sl.createBlockMask(m, { B: 1, H: 2, qLen: 10, kvLen: 10, blockSize: 3 });
  const back = sl.BlockMask.fromKvBlocks(bm.kvNumBlocks, bm.kvIndices, bm.fullKvNumBlocks, bm.fullKvIndices, { blockSize: 3, qLen: 10, kvLen: 10, mask: m });
  assert.deepEqual(back.toDense().data, bm.toDense().data);
  const viaDense = sl.BlockMask.fromDense(bm.toDense(), { blockSize: 3, qLen: 10, kvLen: 10, mask: m });
  assert.deepEqual(viaDense.kvIndices.data, bm.kvIndices.data);
  // unsorted lists are sorted
  const num = sl.tensor([[[2]]], { dtype: "i32" });
  const idx = sl.tensor([[[[1, 0]]]], { dtype: "i32" });
  const u = sl.BlockMask.fromKvBlocks(num, idx, undefined, undefined, { blockSize: 4, mask: sl.masks.causal() });
  assert.deepEqual(Array.from(u.kvIndices.data), [0, 1]);
  assert.equal(u.qLen, 4);
  assert.equal(u.kvLen, 8);
  assert.throws(() => sl.BlockMask.fromKvBlocks(num, sl.tensor([[[[1, 1]]]], { dtype: "i32" }), undefined, undefined, { mask: sl.masks.causal() }), /listed once/);
  assert.throws(() => sl.BlockMask.fromKvBlocks(num, sl.tensor([[[[0, 5]]]], { dtype: "i32" }), undefined, undefined, { mask: sl.masks.causal() }), /indices in \[0, 2\)/);
  assert.throws(() => sl.BlockMask.fromKvBlocks(num, idx), /argument 'mask' must be a Mask to refine the partial tiles/);
  assert.throws(() => sl.BlockMask.fromDense(sl.tensor([[3]], { dtype: "u8" })), /values 0 \(empty\), 1 \(partial\) or 2 \(full\)/);
});

test("slice by batch and head shifts the mask with it", () => {
  const m = sl.mask("q - kv < 4 * (h + 1) and q >= kv and b + 1 > 0");
  const bm = sl.createBlockMask(m, { B: 2, H: 4, qLen: 40, kvLen: 40, blockSize: 4 });
  const s = bm.slice({ b: 1, h: 2 });
  assert.equal(s.B, 1);
  assert.equal(s.H, 1);
  assert.deepEqual(s.tileClasses(0, 0), bm.tileClasses(1, 2));
  // the sliced mask evaluates at the original head
  for (let q = 0; q < 40; q++) for (let kv = 0; kv < 40; kv++) assert.equal(s.mask!.at(0, 0, q, kv), m.at(1, 2, q, kv));
  assert.equal(s.density({ level: "element" }), bm.slice({ b: 0, h: 2 }).density({ level: "element" }));
  const r = bm.slice({ h: [1, 3] });
  assert.equal(r.H, 2);
  assert.deepEqual(r.tileClasses(0, 1), bm.tileClasses(0, 2));
  assert.throws(() => bm.slice({ h: 4 }), /slice: argument 'h' must be an integer in \[0, 3\]/);
});

test("safetensors export/import with FlexAttention's names", async () => {
  const m = sl.masks.slidingWindow(20);
  const bm = sl.createBlockMask(m, { H: 2, qLen: 100, kvLen: 90, blockSize: [16, 8] });
  const bytes = await bm.toSafetensors();
  const { tensors, metadata } = sl.decodeSafetensors(bytes);
  assert.deepEqual(Object.keys(tensors).sort(), ["full_kv_indices", "full_kv_num_blocks", "full_q_indices", "full_q_num_blocks", "kv_indices", "kv_num_blocks", "q_indices", "q_num_blocks"]);
  assert.equal(metadata.BLOCK_SIZE, "[16,8]");
  assert.equal(metadata.seq_lengths, "[100,90]");
  assert.deepEqual(tensors.kv_num_blocks.shape, [1, 2, 7]);
  assert.deepEqual(tensors.q_indices.shape, [1, 2, 12, 7]);
  // q lists are the transpose of the kv lists
  const cls = sl.BlockMask.fromSafetensors(bytes, { mask: m }).tileClasses(0, 1);
  const qn = tensors.q_num_blocks.data, qi = tensors.q_indices.data;
  for (let j = 0; j < 12; j++) {
    const want = [...Array(7).keys()].filter((i) => cls[i * 12 + j] === sl.TILE_PARTIAL);
    const r = 12 + j;
    assert.deepEqual(Array.from(qi.subarray(r * 7, r * 7 + qn[r])), want);
  }
  const back = sl.BlockMask.fromSafetensors(bytes, { mask: m });
  assert.equal(back.qLen, 100);
  assert.equal(back.kvLen, 90);
  assert.equal(back.qBlockSize, 16);
  assert.equal(back.kvBlockSize, 8);
  // PyTorch's convention: full tiles on the ragged last row (q 96..99) / column (kv 88..89) are partial
  const a = bm.toDense().data, t = back.toDense().data;
  for (let h = 0; h < 2; h++)
    for (let i = 0; i < 7; i++)
      for (let j = 0; j < 12; j++) {
        const k = (h * 7 + i) * 12 + j;
        const edge = i === 6 || j === 11;
        assert.equal(t[k], edge && a[k] === sl.TILE_FULL ? sl.TILE_PARTIAL : a[k], `tile ${h},${i},${j}`);
      }
  assert.ok(Array.from(a).some((c, k) => c === sl.TILE_FULL && Math.floor(k / 12) % 7 === 6), "the case has a full ragged tile");
  assert.equal(metadata.convention, "torch");
  // "exact" round-trips unchanged
  const exact = sl.BlockMask.fromSafetensors(await bm.toSafetensors({ convention: "exact" }), { mask: m });
  assert.deepEqual(exact.toDense().data, bm.toDense().data);
  assert.equal(exact.density({ level: "element" }), bm.density({ level: "element" }));
});

test("a safetensors file written by hand from the format's spec (as PyTorch would) loads", () => {
  // one partial tile (0,0) and one full (1,0), partial (1,1): causal over 2x2 blocks of 64
  const tensors: [string, number[], number[]][] = [
    ["kv_num_blocks", [1, 1, 2], [1, 1]],
    ["kv_indices", [1, 1, 2, 2], [0, 0, 1, 0]],
    ["full_kv_num_blocks", [1, 1, 2], [0, 1]],
    ["full_kv_indices", [1, 1, 2, 2], [0, 0, 0, 0]],
  ];
  const header: Record<string, unknown> = { __metadata__: { BLOCK_SIZE: "(64, 64)", seq_lengths: "(128, 128)" } };
  let off = 0;
  for (const [name, shape, data] of tensors) {
    header[name] = { dtype: "I32", shape, data_offsets: [off, off + data.length * 4] };
    off += data.length * 4;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8) json += " ";
  const out = new Uint8Array(8 + json.length + off);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(json.length), true);
  for (let i = 0; i < json.length; i++) out[8 + i] = json.charCodeAt(i);
  let p = 8 + json.length;
  for (const [, , data] of tensors) for (const v of data) dv.setInt32((p += 4) - 4, v, true);
  const bm = sl.BlockMask.fromSafetensors(out, { mask: sl.masks.causal() });
  assert.deepEqual(Array.from(bm.toDense().data), [1, 0, 2, 1]);
  assert.equal(bm.qBlockSize, 64);
});

test("bad input names the op, the argument and what was expected", () => {
  const m = sl.masks.causal();
  assert.throws(() => sl.createBlockMask(m, { qLen: 10, kvLen: 10, blockSize: 0 }), /createBlockMask: argument 'blockSize' must be an integer >= 1, got 0/);
  assert.throws(() => sl.createBlockMask(m, { qLen: 10, kvLen: 10, blockSize: [4, -1] as any }), /blockSize\[1\]/);
  assert.throws(() => sl.createBlockMask(m, { qLen: 0, kvLen: 10 }), /argument 'qLen' must be an integer >= 1, got 0/);
  assert.throws(() => sl.createBlockMask(m, { qLen: 10, kvLen: 10, H: 1.5 }), /argument 'H'/);
  assert.throws(() => sl.createBlockMask({} as any, { qLen: 10, kvLen: 10 }), /createBlockMask: argument 'mask' must be a Mask/);
  assert.throws(() => sl.createBlockMask(sl.masks.document([0, 0, 1]), { qLen: 5, kvLen: 5, blockSize: 2 }), /document.*\[0, 3\)/);
});
