/**
 * The block-mask editor: its comm_open state, its view module, edits from the page coming back
 * as a runnable BlockMask, kernel-side edits, and the rules for partial tiles.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as sl from "../../lib/index.js";
import * as w from "../../widgets/index.js";
import { freshKernel, settle } from "../widgets/fake-comms.js";

test("comm_open carries the tile grid, geometry and the view module (which imports and has render)", async () => {
  const kern = freshKernel();
  const bm = sl.createBlockMask(sl.masks.causal(), { H: 2, qLen: 100, kvLen: 120, blockSize: [16, 32] });
  const ed = w.blockMaskEditor(bm, { h: 1 });
  await settle();
  const s = kern.openOf(ed.model_id).data.state;
  assert.equal(s._model_name, "AnyModel");
  assert.deepEqual([s.q_blocks, s.kv_blocks, s.q_block_size, s.kv_block_size, s.q_len, s.kv_len], [7, 4, 16, 32, 100, 120]);
  assert.deepEqual(s.classes, Array.from(bm.tileClasses(0, 1)));
  assert.equal(s.has_mask, true);
  assert.equal(s.mask_name, "causal");
  const mod = await import("data:text/javascript," + encodeURIComponent(s._esm));
  assert.equal(typeof mod.default.render, "function");
  assert.ok(ed.density() > 0 && Math.abs(ed.density() - bm.density({ level: "block", denominator: "full" })) < 1e-12);
});

test("a click on the page (classes update) comes back as a BlockMask that runs, equal to the same mask built directly", async () => {
  const kern = freshKernel();
  const bm = sl.createBlockMask(sl.masks.causal(), { qLen: 64, kvLen: 64, blockSize: 16 }); // 4 x 4 tiles
  const ed = w.blockMaskEditor(bm);
  await settle();
  // the page empties every full (below-diagonal) tile: only the diagonal blocks remain, causal inside
  const cls = [...ed.state.classes].map((c) => (c === 2 ? 0 : c));
  await kern.fromFrontend(ed.model_id, { method: "update", state: { classes: cls }, buffer_paths: [] });
  const edited = ed.blockMask();
  assert.deepEqual(Array.from(edited.tileClasses()), cls);
  assert.equal(edited.density(), 4 / 16);
  const seed = 1 + Math.floor(Math.random() * 1e6);
  const q = sl.randn([1, 2, 64, 8], { seed }), k = sl.randn([1, 2, 64, 8], { seed: seed + 1 }), v = sl.randn([1, 2, 64, 8], { seed: seed + 2 });
  const direct = sl.createBlockMask(sl.mask((_b, _h, qi, kv) => qi >= kv && Math.floor(qi / 16) === Math.floor(kv / 16)), { qLen: 64, kvLen: 64, blockSize: 16 });
  const a = (await sl.attention(q, k, v, { blockMask: edited, backend: "js" })).floatData();
  const b = (await sl.attention(q, k, v, { blockMask: direct, backend: "js" })).floatData();
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-5, `seed ${seed}: element ${i}: ${a[i]} vs ${b[i]}`);
});

test("kernel-side setTile sends an update; tile() reads it; bad tiles are rejected naming the argument", async () => {
  const kern = freshKernel();
  const ed = w.blockMaskEditor(sl.createBlockMask(sl.masks.slidingWindow(32), { qLen: 128, kvLen: 128, blockSize: 32 }));
  await settle();
  ed.setTile(0, 3, 2);
  assert.equal(ed.tile(0, 3), 2);
  const sent = kern.msgs(ed.model_id).at(-1)!.data;
  assert.equal(sent.method, "update");
  assert.equal(sent.state.classes[3], 2);
  assert.equal(ed.blockMask().tileClasses()[3], 2);
  assert.throws(() => ed.setTile(4, 0, 0), /BlockMaskEditor\.setTile: argument 'i'/);
  assert.throws(() => ed.setTile(0, 0, 3 as any), /BlockMaskEditor\.setTile: argument 'cls'/);
});

test("without a mask partial tiles are refused: setTile, and a partial arriving from the page", async () => {
  const kern = freshKernel();
  const cls = sl.tensor([[2, 0], [2, 2]], { dtype: "u8" });
  const ed = w.blockMaskEditor(sl.BlockMask.fromDense(cls, { blockSize: 8 }));
  await settle();
  assert.equal(ed.state.has_mask, false);
  assert.throws(() => ed.setTile(0, 1, 1), /partial tiles need a mask/);
  await kern.fromFrontend(ed.model_id, { method: "update", state: { classes: [2, 1, 2, 2] }, buffer_paths: [] });
  assert.throws(() => ed.blockMask(), /BlockMaskEditor\.blockMask: argument 'classes' must be no partial tiles/);
  // with a mask supplied, the same edit is a valid block mask
  const ed2 = w.blockMaskEditor(sl.BlockMask.fromDense(cls, { blockSize: 8 }), { mask: sl.masks.causal() });
  ed2.setTile(0, 1, 1);
  assert.deepEqual(Array.from(ed2.blockMask().tileClasses()), [2, 1, 2, 2]);
  assert.throws(() => w.blockMaskEditor(sl.createBlockMask(sl.masks.causal(), { qLen: 4096, kvLen: 4096, blockSize: 16 })), /blockMaskEditor: argument 'bm' must be at most 128 tiles per side/);
});
