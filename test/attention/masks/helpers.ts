/** Shared by the mask and block-mask tests: a seeded generator and brute-force references. */
import * as sl from "../../../lib/index.js";
import { TILE_EMPTY, TILE_FULL, TILE_PARTIAL, type Mask } from "../../../lib/attention/types.js";

/** The run's seed: SEED=... reproduces a failure (every assertion message prints it). */
export const SEED = Number(process.env.SEED ?? Math.floor(Math.random() * 2 ** 31));

export function rng(seed: number): { int(lo: number, hi: number): number; pick<T>(xs: readonly T[]): T; float(): number } {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    float: next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (xs) => xs[Math.floor(next() * xs.length)],
  };
}

/** Brute-force class of a tile from at(). */
export function bruteTile(m: Mask, b: number, h: number, q0: number, q1: number, kv0: number, kv1: number): number {
  let t = false, f = false;
  for (let q = q0; q < q1; q++)
    for (let kv = kv0; kv < kv1; kv++) {
      if (m.at(b, h, q, kv)) t = true;
      else f = true;
    }
  return t ? (f ? TILE_PARTIAL : TILE_FULL) : TILE_EMPTY;
}

/** A representative set of built-in masks with random parameters for sequences up to n. */
export function randomBuiltins(r: ReturnType<typeof rng>, n: number): Mask[] {
  const ids: number[] = [];
  let doc = 0;
  for (let i = 0; i < n; i++) {
    if (i > 0 && r.float() < 4 / n) doc++;
    ids.push(doc);
  }
  const side = r.int(3, 9);
  return [
    sl.masks.causal(),
    sl.masks.slidingWindow(r.int(1, 40)),
    sl.masks.slidingWindow(r.int(1, 40), { bidirectional: true }),
    sl.masks.prefixLM(r.int(0, 50)),
    sl.masks.document(ids),
    sl.masks.document(ids, sl.masks.causal()),
    sl.masks.document(ids, sl.masks.slidingWindow(r.int(1, 20))),
    sl.masks.dilated(r.int(0, 30), r.int(1, 5)),
    sl.masks.dilated(r.int(0, 30), r.int(1, 5), { causal: true }),
    sl.masks.sink(r.int(0, 8), r.int(1, 30)),
    sl.masks.globalTokens([r.int(0, n - 1), r.int(0, n - 1), r.int(0, 10)], r.int(1, 20)),
    sl.masks.globalTokens([r.int(0, n - 1), 0], r.int(1, 20), { causal: true }),
    sl.masks.bigBird({ seqLen: n, window: r.pick([1, 3, 5]), global: r.int(0, 2), random: r.int(0, 3), block: r.int(4, 16), seed: r.int(0, 1000) }),
    sl.masks.strided(r.int(1, 24)),
    sl.masks.fixed(r.int(2, 24), r.int(0, 2)),
    sl.masks.neighborhood1d({ shape: [n], kernel: 2 * r.int(0, 6) + 1, dilation: r.int(1, 3) }),
    sl.masks.neighborhood1d({ shape: [n], kernel: r.int(1, 9), causal: true, dilation: r.int(1, 2) }),
    sl.masks.neighborhood2d({ shape: [side, Math.max(3, Math.floor(n / side))], kernel: 3, dilation: [1, r.int(1, Math.max(1, Math.floor(Math.floor(n / side) / 3)))] }),
    sl.masks.neighborhood3d({ shape: [3, 4, Math.max(3, Math.floor(n / 12))], kernel: [3, 3, 3], causal: [true, false, false] }),
    sl.masks.neighborhood2d({ shape: [4, 12], kernel: [3, 5], dilation: [1, r.int(1, 2)], tile: [r.pick([1, 2, 4]), r.pick([1, 2, 3, 4, 6])] }),
    sl.masks.neighborhood3d({ shape: [2, 4, 6], kernel: [1, 3, 3], causal: [true, false, false], tile: [r.pick([1, 2]), 2, r.pick([1, 3])] }),
    sl.masks.radial({ frames: r.int(2, 12), tokensPerFrame: r.int(4, 24), minWidth: r.int(1, 8), sinkFrames: r.int(0, 2) }),
    sl.masks.power({ window: r.int(1, 6) }),
    sl.masks.power({ window: r.int(1, 3), block: r.int(2, 8) }),
  ];
}
