import { argError } from "../errors.js";
import type { DType } from "./dtype.js";
import { fromFloat32, Tensor } from "./tensor.js";
import { checkShape } from "./shape-util.js";

/*
 * Seeded, counter-based random numbers: Philox4x32-10 (Salmon et al., "Parallel random numbers:
 * as easy as 1, 2, 3", SC'11; the Random123 reference). Counter-based means element i of a
 * draw is a pure function of (seed, stream position), so the same seed gives the same numbers
 * on every machine and every backend, in any order of evaluation.
 */

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High 32 bits of the unsigned 64-bit product a * b (a, b unsigned 32-bit). */
export function mulhi32(a: number, b: number): number {
  // Split into 16-bit halves so every partial product is exact in a double.
  const aLo = a & 0xffff, aHi = a >>> 16;
  const bLo = b & 0xffff, bHi = b >>> 16;
  const lolo = aLo * bLo;
  const mid1 = aHi * bLo;
  const mid2 = aLo * bHi;
  const carry = ((lolo >>> 16) + (mid1 & 0xffff) + (mid2 & 0xffff)) >>> 16;
  return (aHi * bHi + (mid1 >>> 16) + (mid2 >>> 16) + carry) >>> 0;
}

/**
 * One Philox4x32-10 block: 128-bit counter (c0..c3) and 64-bit key (k0, k1) to four 32-bit words,
 * written to `out` (unsigned). Matches the Random123 known-answer vectors, e.g. counter 0, key 0
 * gives 6627e8d5 e169c58d bc57ac4c 9b00dbd8.
 *
 * Each round: (hi0, lo0) = M0 * c0, (hi1, lo1) = M1 * c2;
 * c = [hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0]; then the key is bumped by the Weyl constants
 * (0x9E3779B9, 0xBB67AE85) before the next round.
 * @example
 * const out = new Uint32Array(4);
 * sl.philox4x32(0, 0, 0, 0, 0, 0, out);   // [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]
 */
export function philox4x32(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number, out: Uint32Array): void {
  c0 >>>= 0; c1 >>>= 0; c2 >>>= 0; c3 >>>= 0; k0 >>>= 0; k1 >>>= 0;
  for (let r = 0; r < 10; r++) {
    const hi0 = mulhi32(M0, c0);
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi32(M1, c2);
    const lo1 = Math.imul(M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

const TWO32 = 4294967296;

function seedKey(op: string, seed: number | bigint): [number, number] {
  if (typeof seed === "bigint") {
    if (seed < 0n || seed >= 1n << 64n) argError(op, "seed", "an integer in [0, 2^64)", String(seed));
    return [Number(seed & 0xffffffffn), Number(seed >> 32n)];
  }
  if (!Number.isSafeInteger(seed) || seed < 0) argError(op, "seed", "a non-negative safe integer (or a bigint)", String(seed));
  return [seed % TWO32, Math.floor(seed / TWO32)];
}

/**
 * A seeded random stream. The key is the seed (low 32 bits, high 32 bits); the counter is
 * (block index low, block index high, 0, 0). Every draw consumes whole Philox blocks starting
 * at the stream's current block offset and then advances it, so the n-th draw from `rng(seed)`
 * is the same on every machine.
 *
 * Conversions from the 32-bit words w of the stream (block j gives words 4j..4j+3):
 * - uniform: `(w >>> 8) * 2^-24`, an f32 in [0, 1) (exact, 24 bits).
 * - normal (Box-Muller, one pair per two words): `u1 = (w[2i] + 0.5) * 2^-32`,
 *   `u2 = (w[2i+1] + 0.5) * 2^-32`, `r = sqrt(-2 ln u1)`, `z[2i] = r cos(2 pi u2)`,
 *   `z[2i+1] = r sin(2 pi u2)`, in float64, then rounded to the dtype.
 * - integer in [low, high): `low + mulhi(w, high - low)` (the high 32 bits of w * range).
 *
 * @example
 * const g = sl.rng(42);
 * const a = g.randn([2, 3]);        // first draw
 * const b = g.rand([4]);            // continues the stream
 * sl.rng(42).randn([2, 3]);         // same numbers as `a`
 */
export class Rng {
  readonly seed: number | bigint;
  readonly #k0: number;
  readonly #k1: number;
  /** Next Philox block (counter) to use. */
  #block = 0;
  readonly #buf = new Uint32Array(4);

  constructor(seed: number | bigint = 0) {
    [this.#k0, this.#k1] = seedKey("rng", seed);
    this.seed = seed;
  }

  /** The block offset the next draw starts at (each block is four 32-bit words). */
  get offset(): number {
    return this.#block;
  }

  /**
   * `n` raw 32-bit words, consuming ceil(n / 4) blocks.
   * @example
   * sl.rng(0).words(4);   // Uint32Array [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]
   */
  words(n: number): Uint32Array {
    const out = new Uint32Array(n);
    const buf = this.#buf;
    let b = this.#block;
    for (let i = 0; i < n; i += 4, b++) {
      philox4x32(b % TWO32, Math.floor(b / TWO32), 0, 0, this.#k0, this.#k1, buf);
      const m = Math.min(4, n - i);
      for (let j = 0; j < m; j++) out[i + j] = buf[j];
    }
    this.#block = b;
    return out;
  }

  /**
   * Uniform floats in [0, 1) of `shape` (f32 by default).
   * @example
   * sl.rng(1).rand([2, 2]);
   */
  rand(shape: readonly number[], opts: { dtype?: DType } = {}): Tensor {
    checkShape("rand", shape);
    const dtype = floatDtype("rand", opts.dtype);
    const n = shape.reduce((a, b) => a * b, 1);
    const w = this.words(n);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = (w[i] >>> 8) * 5.9604644775390625e-8;
    return finish(shape, dtype, out);
  }

  /**
   * Normal(mean, std) floats of `shape` by Box-Muller over the stream.
   * @example
   * sl.rng(1).randn([64, 64], { std: 0.02, dtype: "bf16" });
   */
  randn(shape: readonly number[], opts: { dtype?: DType; mean?: number; std?: number } = {}): Tensor {
    checkShape("randn", shape);
    const dtype = floatDtype("randn", opts.dtype);
    const mean = opts.mean ?? 0;
    const std = opts.std ?? 1;
    if (!Number.isFinite(mean)) argError("randn", "mean", "a finite number", String(mean));
    if (!Number.isFinite(std) || std < 0) argError("randn", "std", "a finite number >= 0", String(std));
    const n = shape.reduce((a, b) => a * b, 1);
    const pairs = Math.ceil(n / 2);
    const w = this.words(pairs * 2);
    const out = new Float32Array(n);
    for (let p = 0; p < pairs; p++) {
      const u1 = (w[2 * p] + 0.5) / TWO32;
      const u2 = (w[2 * p + 1] + 0.5) / TWO32;
      const r = Math.sqrt(-2 * Math.log(u1));
      const t = 2 * Math.PI * u2;
      out[2 * p] = mean + std * r * Math.cos(t);
      if (2 * p + 1 < n) out[2 * p + 1] = mean + std * r * Math.sin(t);
    }
    return finish(shape, dtype, out);
  }

  /**
   * Integers uniform in [low, high) of `shape` (i32).
   * @example
   * sl.rng(1).randint(0, 8, [16]);   // expert ids
   */
  randint(low: number, high: number, shape: readonly number[]): Tensor<"i32"> {
    checkShape("randint", shape);
    if (!Number.isInteger(low) || low < -(2 ** 31)) argError("randint", "low", "an integer >= -2^31", String(low));
    if (!Number.isInteger(high) || high <= low || high > 2 ** 31 || high - low > TWO32)
      argError("randint", "high", `an integer in (low, 2^31] with high - low <= 2^32 (low = ${low})`, String(high));
    const n = shape.reduce((a, b) => a * b, 1);
    const range = high - low;
    const w = this.words(n);
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = low + (range === TWO32 ? w[i] : mulhi32(w[i], range));
    return new Tensor(shape, "i32", out);
  }

  /**
   * A random permutation of 0..n-1 (Fisher-Yates driven by the stream), i32.
   * @example
   * sl.rng(1).permutation(10);
   */
  permutation(n: number): Tensor<"i32"> {
    if (!Number.isInteger(n) || n < 0) argError("permutation", "n", "a non-negative integer", String(n));
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    const w = this.words(n);
    for (let i = n - 1; i > 0; i--) {
      const j = mulhi32(w[i], i + 1);
      const t = out[i]; out[i] = out[j]; out[j] = t;
    }
    return new Tensor([n], "i32", out);
  }
}

function floatDtype(op: string, d: DType | undefined): DType {
  const dtype = d ?? "f32";
  if (dtype !== "f32" && dtype !== "f16" && dtype !== "bf16") argError(op, "dtype", "a float dtype (f32, f16, bf16)", String(dtype));
  return dtype;
}

function finish(shape: readonly number[], dtype: DType, v: Float32Array): Tensor {
  return dtype === "f32" ? new Tensor(shape, "f32", v) : new Tensor(shape, dtype, fromFloat32(v, dtype));
}

/**
 * A seeded random stream (Philox4x32-10; see {@link Rng} for the exact algorithm).
 * @example
 * const g = sl.rng(7);
 * const w = g.randn([64, 64], { std: 0.02 });
 */
export function rng(seed: number | bigint = 0): Rng {
  return new Rng(seed);
}

/**
 * Uniform [0, 1) floats from a fresh stream of `seed` (default 0): `rng(seed).rand(shape)`.
 * @example
 * const u = sl.rand([2, 3], { seed: 1 });
 */
export function rand(shape: readonly number[], opts: { seed?: number | bigint; dtype?: DType } = {}): Tensor {
  return new Rng(opts.seed ?? 0).rand(shape, opts);
}

/**
 * Standard-normal floats from a fresh stream of `seed` (default 0): `rng(seed).randn(shape)`.
 * @example
 * const q = sl.randn([1, 8, 1024, 64], { seed: 0, dtype: "bf16" });
 */
export function randn(shape: readonly number[], opts: { seed?: number | bigint; dtype?: DType; mean?: number; std?: number } = {}): Tensor {
  return new Rng(opts.seed ?? 0).randn(shape, opts);
}

/**
 * Integers uniform in [low, high) from a fresh stream of `seed` (default 0), i32.
 * @example
 * const ids = sl.randint(0, 4, [16], { seed: 3 });
 */
export function randint(low: number, high: number, shape: readonly number[], opts: { seed?: number | bigint } = {}): Tensor<"i32"> {
  return new Rng(opts.seed ?? 0).randint(low, high, shape);
}

