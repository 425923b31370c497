import { argError } from "../../errors.js";
import { KV, Q, add, floordiv, idx, mul, num } from "./support/ir.js";
import { checkInt, makeMask } from "./support/make-mask.js";
import { seededRandom } from "./support/prng.js";
import { fromExists } from "./support/delta.js";
import type { Mask } from "../types.js";

export interface BigBirdOptions {
  /** Sequence length the random table covers (positions must be below it). */
  seqLen: number;
  /** Sliding window width in blocks, centred (3 = the block itself and one on each side). Default 3. */
  window?: number;
  /** The first `global` blocks attend everywhere and are attended by all. Default 2. */
  global?: number;
  /** Random key blocks per query block row, drawn without replacement among the rest. Default 3. */
  random?: number;
  /** Block size in tokens. Default 64 (released checkpoints). */
  block?: number;
  /** Seed of the random blocks. Default 0. */
  seed?: number;
}

/**
 * BigBird (ITC): block-level window + global + random blocks. Query block i = floor(q / block)
 * sees key block j when |i - j| <= floor(window / 2), or i < global, or j < global, or j is
 * one of the `random` blocks drawn (seeded) for row i. The blocks are stored as a table
 * [nBlocks, nBlocks] that the IR indexes, so native backends see the same mask.
 * @example
 * const m = sl.masks.bigBird({ seqLen: 4096, window: 3, global: 2, random: 3, block: 64, seed: 1 });
 * sl.createBlockMask(m, { qLen: 4096, kvLen: 4096, blockSize: 64 }).density({ level: "block", denominator: "full" });
 */
export function bigBird(opts: BigBirdOptions): Mask {
  if (typeof opts !== "object" || opts === null) argError("bigBird", "opts", "an options object { seqLen, window, global, random, block, seed }", String(opts));
  const seqLen = checkInt("bigBird", "seqLen", opts.seqLen, 1);
  const window = checkInt("bigBird", "window", opts.window ?? 3, 1);
  const global = checkInt("bigBird", "global", opts.global ?? 2, 0);
  const random = checkInt("bigBird", "random", opts.random ?? 3, 0);
  const block = checkInt("bigBird", "block", opts.block ?? 64, 1);
  const seed = checkInt("bigBird", "seed", opts.seed ?? 0, 0, 0xffffffff);
  const nb = Math.ceil(seqLen / block);
  const half = window >> 1;
  const table = new Int32Array(nb * nb);
  const rand = seededRandom(seed);
  for (let i = 0; i < nb; i++) {
    const pool: number[] = [];
    for (let j = 0; j < nb; j++) {
      const fixed = Math.abs(i - j) <= half || i < global || j < global;
      if (fixed) table[i * nb + j] = 1;
      else pool.push(j);
    }
    // partial Fisher-Yates: the first `random` entries of a shuffled pool
    const r = Math.min(random, pool.length);
    for (let k = 0; k < r; k++) {
      const p = k + Math.floor(rand() * (pool.length - k));
      const t = pool[k];
      pool[k] = pool[p];
      pool[p] = t;
      table[i * nb + pool[k]] = 1;
    }
  }
  const blockAt = (qb: number, kb: number) => table[qb * nb + kb] === 1;
  return makeMask({
    kind: "bigBird",
    name: `big_bird_w${window}_g${global}_r${random}_b${block}_s${seed}`,
    params: { seqLen, window, global, random, block, seed, blocks: table },
    at: (_b, _h, q, kv) => {
      if (!(q >= 0 && q < seqLen && kv >= 0 && kv < seqLen))
        argError("bigBird", "position", `q and kv in [0, ${seqLen}) (seqLen)`, `q=${q}, kv=${kv}`);
      return blockAt(Math.floor(q / block), Math.floor(kv / block));
    },
    program: { expr: idx(0, add(mul(floordiv(Q, num(block)), num(nb)), floordiv(KV, num(block)))), tables: [table] },
    // Exact: look at each BigBird block pair the tile touches (few: tiles are block-sized).
    classifyTile: (_b, _h, q0, q1, kv0, kv1) => {
      if (q1 > seqLen || kv1 > seqLen) return undefined;
      const i0 = Math.floor(q0 / block), i1 = Math.floor((q1 - 1) / block);
      const j0 = Math.floor(kv0 / block), j1 = Math.floor((kv1 - 1) / block);
      if ((i1 - i0 + 1) * (j1 - j0 + 1) > 256) return undefined;
      let t = false, f = false;
      for (let i = i0; i <= i1; i++) for (let j = j0; j <= j1; j++) blockAt(i, j) ? (t = true) : (f = true);
      return fromExists(t, f);
    },
  });
}
