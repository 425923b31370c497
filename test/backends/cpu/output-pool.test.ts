// The addon's recycled output memory: blocks come back after the GC collects their arrays, and
// an op handed a recycled (stale, NaN-poisoned) block still writes every element.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import * as sl from "../../../lib/index.js";
import { loadAddon, outputStorage } from "../../../lib/backends/cpu/index.js";
import { assertClose, freshSeed, randn, requireAddon } from "./helpers.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** Collects garbage until `done()` or about a second has passed (finalizers run after the GC). */
async function collectUntil(done: () => boolean): Promise<boolean> {
  for (let i = 0; i < 50 && !done(); i++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
  }
  return done();
}

const MARK = 0x5a17c0de;

test("allocOutput hands collected blocks out again", async () => {
  await requireAddon();
  const addon = loadAddon();
  const bytes = 3 * 2 ** 20 + 12;
  // Made and dropped inside a function, so nothing here keeps it alive.
  const markOne = (): void => {
    const first = addon.allocOutput(bytes);
    assert.equal(first.byteLength, bytes);
    new Uint32Array(first).fill(MARK);
  };
  markOne();
  // Once collected, a block of the same size should come back with the mark (every block
  // handed out is marked, whichever of them the pool returns first).
  let recycled = false;
  const dropAndTry = (): boolean => {
    const again = new Uint32Array(addon.allocOutput(bytes));
    recycled ||= again[0] === MARK && again[again.length - 1] === MARK;
    again.fill(MARK);
    return recycled;
  };
  assert.ok(await collectUntil(dropAndTry), "no block was recycled after the GC collected its array");
});

test("attention writes every element of a recycled output block", async () => {
  await requireAddon();
  const addon = loadAddon();
  const seed = freshSeed();
  const [B, H, S, D] = [1, 4, 700, 64];
  const n = B * H * S * D;
  // Fill the pool with NaN-poisoned blocks of the output's size, then let the GC return them.
  for (let i = 0; i < 4; i++) outputStorage(addon, "f32", n).fill(NaN);
  await collectUntil(() => false);
  const q = randn([B, H, S, D], seed);
  const k = randn([B, H, S, D], seed + 1);
  const v = randn([B, H, S, D], seed + 2);
  const bm = sl.createBlockMask(sl.masks.slidingWindow(100), { qLen: S, kvLen: S });
  for (const blockMask of [undefined, bm]) {
    const got = await sl.attention(q, k, v, { backend: "cpu", blockMask });
    const ref = await sl.attention(q, k, v, { backend: "js", blockMask });
    assertClose(await got.toTypedArray(), await ref.toTypedArray(), 2e-5, `recycled output, ${blockMask ? "window" : "dense"} (seed ${seed})`);
  }
});

test("reserved outputs: wrapped once; a failing op still hands its block back", async () => {
  await requireAddon();
  const addon = loadAddon();
  const id = addon.reserveOutput(1 << 20);
  assert.equal(addon.wrapOutput(id).byteLength, 1 << 20);
  assert.throws(() => addon.wrapOutput(id), /wrapOutput/);
  assert.throws(() => addon.wrapOutput(0), /wrapOutput/);
  // An op cancelled mid-run rejects; its reserved block goes back with its array, and the
  // next call of that output size (which may reuse it) is still right.
  const S = 2048;
  const q = randn([1, 8, S, 64], 1);
  const k = randn([1, 8, S, 64], 2);
  const v = randn([1, 8, S, 64], 3);
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 5);
  await assert.rejects(sl.attention(q, k, v, { backend: "cpu", signal: ac.signal }), (e: Error) => e.name === "CancelledError");
  await collectUntil(() => false);
  // Same output size, short keys: the reference stays cheap.
  const k2 = randn([1, 8, 96, 64], 4);
  const v2 = randn([1, 8, 96, 64], 5);
  const got = await sl.attention(q, k2, v2, { backend: "cpu" });
  const ref = await sl.attention(q, k2, v2, { backend: "js" });
  assertClose(await got.toTypedArray(), await ref.toTypedArray(), 2e-5, "after a cancelled call");
});
