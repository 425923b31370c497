import { test } from "node:test";
import assert from "node:assert/strict";
import * as sl from "../../lib/index.js";

test("Philox4x32-10 matches the Random123 known-answer vectors", () => {
  const out = new Uint32Array(4);
  const kat: [number[], number[], number[]][] = [
    [[0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
    [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]],
    [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]],
  ];
  for (const [c, k, want] of kat) {
    sl.philox4x32(c[0], c[1], c[2], c[3], k[0], k[1], out);
    assert.deepEqual(Array.from(out), want);
  }
});

test("pinned first values from the documented algorithm", () => {
  // rand: (w >>> 8) * 2^-24 over the words of block 0 of key (0, 0) = 6627e8d5 ...
  assert.deepEqual(Array.from(sl.rand([6], { seed: 0 }).data), [
    0.3990464210510254, 0.8805201649665833, 0.7357127666473389, 0.6054818034172058, 0.9722411632537842, 0.362091064453125,
  ]);
  assert.equal(sl.rand([1], { seed: 0 }).data[0], (0x6627e8d5 >>> 8) / 2 ** 24);
  assert.deepEqual(Array.from(sl.randn([6], { seed: 42 }).data), [
    -0.9701898097991943, 0.19401895999908447, -1.2356207370758057, 1.9239267110824585, -0.07318150997161865, 0.13913749158382416,
  ]);
  assert.deepEqual(Array.from(sl.randint(0, 10, [8], { seed: 7 }).data), [9, 7, 1, 0, 4, 7, 1, 9]);
  // Seeds above 2^32 use the high key word.
  assert.deepEqual(Array.from(sl.rng(2 ** 40 + 5).words(4)), [0x5e5be6ae, 0x22e16345, 0x30ca2230, 0x0af26f4b]);
  assert.deepEqual(Array.from(sl.rng(2n ** 40n + 5n).words(4)), [0x5e5be6ae, 0x22e16345, 0x30ca2230, 0x0af26f4b]);
});

test("randn follows Box-Muller over the word stream exactly", () => {
  const seed = 12345;
  const w = sl.rng(seed).words(8);
  const z = sl.randn([7], { seed }).data as Float32Array;
  for (let p = 0; p < 4; p++) {
    const u1 = (w[2 * p] + 0.5) / 2 ** 32, u2 = (w[2 * p + 1] + 0.5) / 2 ** 32;
    const r = Math.sqrt(-2 * Math.log(u1));
    if (2 * p < 7) assert.equal(z[2 * p], Math.fround(r * Math.cos(2 * Math.PI * u2)));
    if (2 * p + 1 < 7) assert.equal(z[2 * p + 1], Math.fround(r * Math.sin(2 * Math.PI * u2)));
  }
});

test("same seed same numbers; streams advance; different seeds differ", () => {
  const a = sl.randn([3, 5], { seed: 9 }).data;
  const b = sl.randn([3, 5], { seed: 9 }).data;
  assert.deepEqual(Array.from(a), Array.from(b));
  assert.notDeepEqual(Array.from(sl.randn([15], { seed: 10 }).data), Array.from(a));
  const g = sl.rng(5);
  const first = g.rand([5]);
  const second = g.rand([5]);
  assert.notDeepEqual(Array.from(first.data), Array.from(second.data));
  assert.equal(g.offset, 4); // each draw of 5 words uses 2 blocks
  const h = sl.rng(5);
  assert.deepEqual(Array.from(h.rand([5]).data), Array.from(first.data));
  // bf16 draws are the f32 draws rounded.
  const r16 = sl.randn([8], { seed: 3, dtype: "bf16" });
  assert.deepEqual(Array.from(r16.data), Array.from(sl.randn([8], { seed: 3 }).data as Float32Array, (v) => sl.f32ToBf16(v)));
});

test("distribution sanity: uniform and normal moments, randint range, permutation", () => {
  const seed = Math.floor(Math.random() * 2 ** 31);
  const n = 200_000;
  const u = sl.rand([n], { seed }).data as Float32Array;
  let s = 0, s2 = 0, lo = 1, hi = 0;
  for (const v of u) { s += v; s2 += v * v; lo = Math.min(lo, v); hi = Math.max(hi, v); }
  assert.ok(lo >= 0 && hi < 1, `seed ${seed}`);
  assert.ok(Math.abs(s / n - 0.5) < 0.005, `uniform mean ${s / n}, seed ${seed}`);
  assert.ok(Math.abs(s2 / n - s * s / n / n - 1 / 12) < 0.003, `uniform var, seed ${seed}`);
  const z = sl.randn([n], { seed, mean: 2, std: 3 }).data as Float32Array;
  s = 0; s2 = 0;
  for (const v of z) { s += v; s2 += v * v; }
  const mean = s / n, std = Math.sqrt(s2 / n - mean * mean);
  assert.ok(Math.abs(mean - 2) < 0.05, `normal mean ${mean}, seed ${seed}`);
  assert.ok(Math.abs(std - 3) < 0.05, `normal std ${std}, seed ${seed}`);
  const ints = sl.randint(-3, 4, [10000], { seed }).data as Int32Array;
  const counts = new Map<number, number>();
  for (const v of ints) counts.set(v, (counts.get(v) ?? 0) + 1);
  assert.deepEqual([...counts.keys()].sort((a, b) => a - b), [-3, -2, -1, 0, 1, 2, 3], `seed ${seed}`);
  for (const c of counts.values()) assert.ok(Math.abs(c - 10000 / 7) < 200, `randint count ${c}, seed ${seed}`);
  const p = Array.from(sl.rng(seed).permutation(50).data).sort((a, b) => a - b);
  assert.deepEqual(p, Array.from({ length: 50 }, (_, i) => i));
});
