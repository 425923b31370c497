import { test } from "node:test";
import assert from "node:assert/strict";
import { attention } from "../../../lib/attention/attention.js";
import { decodeAttention } from "../../../lib/attention/decode-attention.js";
import { CancelledError } from "../../../lib/errors.js";
import { setAmbientSignal } from "../../../lib/cancel.js";
import "../../../lib/backends/js/index.js";
import { freshSeed, randTensor, rng } from "./helpers.js";

const backend = "js" as const;

test("an already aborted signal rejects with CancelledError before any work", async () => {
  const r = rng(freshSeed());
  const q = randTensor([1, 1, 8, 4], r);
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(attention(q, q, q, { backend, signal: ac.signal }), (e: unknown) => e instanceof CancelledError && /attention: cancelled/.test((e as Error).message));
  await assert.rejects(decodeAttention(q, q, q, { backend, signal: ac.signal }), CancelledError);
});

test("a long run yields to the event loop and stops when the signal fires mid-run", async () => {
  const r = rng(freshSeed());
  // Big enough to take well over the 10 ms yield interval (about 0.3 GFLOP in JS).
  const q = randTensor([1, 4, 1024, 64], r);
  const ac = new AbortController();
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  setTimeout(() => ac.abort(), 30);
  const t0 = performance.now();
  await assert.rejects(attention(q, q, q, { backend, signal: ac.signal }), CancelledError);
  clearInterval(timer);
  assert.ok(ticks > 0, "timers ran while attention was working (it yielded)");
  assert.ok(performance.now() - t0 < 5000, "stopped soon after the abort");
});

test("the ambient signal (the kernel's interrupt) cancels when no signal is passed", async () => {
  const r = rng(freshSeed());
  const q = randTensor([1, 1, 8, 4], r);
  const ac = new AbortController();
  ac.abort();
  setAmbientSignal(ac.signal);
  try {
    await assert.rejects(attention(q, q, q, { backend }), CancelledError);
  } finally {
    setAmbientSignal(undefined);
  }
  await attention(q, q, q, { backend }); // and runs again once cleared
});
