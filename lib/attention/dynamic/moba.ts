/**
 * MoBA (Mixture of Block Attention): each query picks its top-k KV blocks by q · mean(K_block).
 */
import type { Tensor } from "../../tensor/tensor.js";
import { argError, SparselabError } from "../../errors.js";
import type { BlockMask } from "../block-mask.js";
import { TILE_FULL, TILE_PARTIAL } from "../types.js";
import {
  bhExpr, blockPool, CAUSAL_EXPR, recordKeptPairs, checkBool, checkPrefill, Ctx, f32, ir, makeMask, matmulNT, posInt, TileGrid, topkIdx,
  type PrefillCommonOptions,
} from "./common.js";

/** Options of {@link moba}. */
export interface MobaOptions extends PrefillCommonOptions {
  /** MoBA block size (keys per block). Default 512. */
  mobaBlock?: number;
  /** Blocks per query, its own block included. Default 3. */
  topK?: number;
  /** Tile size of the returned BlockMask; must divide `mobaBlock`. Default min(128, mobaBlock). */
  blockSize?: number;
}

/** Per-query block choices behind a MoBA mask: i32 [B·H, S, nBlocks], 1 = chosen. */
export interface MobaSelection {
  chosen: Int32Array;
  nBlocks: number;
  mobaBlock: number;
}

const selections = new WeakMap<object, MobaSelection>();

/**
 * The per-query block choices behind a mask returned by {@link moba}.
 * @example
 * const bm = await sl.dynamic.moba(q, k);
 * const { chosen, nBlocks } = sl.dynamic.mobaSelection(bm)!;   // chosen[(bh * S + q) * nBlocks + j]
 */
export function mobaSelection(bm: object): MobaSelection | undefined {
  return selections.get(bm);
}

/**
 * MoBA estimator (prefill, causal).
 *
 * Rule (MoBA, `moba_attn_varlen` in MoonshotAI/MoBA): split keys into blocks of `mobaBlock`
 * (512); gate(q, j) = q · mean(K_j) for blocks wholly before the query's block, +∞ for the
 * query's own block (always kept, attended causally), −∞ for future blocks (never kept); each
 * query keeps its `topK` (3) highest blocks. Query head h reads KV head h / (Hq / Hkv).
 *
 * Selection is per query, so the BlockMask's partial tiles carry a table-backed mask
 * (chosen[b, h, q, kv / mobaBlock] and q >= kv) that native backends run from IR; tiles whose
 * every query chose the block are full. The choices: {@link mobaSelection}.
 *
 * Paper: arXiv 2502.13189. Official code: github.com/MoonshotAI/MoBA.
 *
 * @example
 * const bm = await sl.dynamic.moba(q, k, { mobaBlock: 512, topK: 3 });
 */
export async function moba(q: Tensor, k: Tensor, opts: MobaOptions = {}): Promise<BlockMask> {
  const op = "dynamic.moba";
  const ctx = new Ctx(op, opts);
  const causal = checkBool(op, "causal", opts.causal, true);
  if (!causal) throw new SparselabError(op, "MoBA is causal; causal: false is not supported");
  const { B, Hq, Hkv, Sq: S, D, group } = checkPrefill(op, q, k, causal);
  const mb = posInt(op, "mobaBlock", opts.mobaBlock, 512);
  const topK = posInt(op, "topK", opts.topK, 3);
  const ts = posInt(op, "blockSize", opts.blockSize, Math.min(128, mb));
  if (mb % ts !== 0) argError(op, "blockSize", `a divisor of mobaBlock ${mb}`, String(ts));
  const nb = Math.ceil(S / mb);
  const kMean = await blockPool(ctx, k, mb, "mean"); // [B, Hkv, nb, D]
  const qs = f32(q);
  const chosen = new Int32Array(B * Hq * S * nb);
  const row = new Float64Array(nb);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      ctx.check();
      const bh = b * Hq + h;
      const kh = b * Hkv + Math.floor(h / group);
      const gate = await matmulNT(ctx, qs.subarray(bh * S * D, (bh + 1) * S * D), S, kMean.subarray(kh * nb * D, (kh + 1) * nb * D), nb, D);
      for (let i = 0; i < S; i++) {
        const own = Math.floor(i / mb);
        for (let j = 0; j < nb; j++) row[j] = j < own ? gate[i * nb + j] : j === own ? Infinity : -Infinity;
        for (const j of topkIdx(row, 0, own + 1, Math.min(topK, own + 1))) chosen[(bh * S + i) * nb + j] = 1;
      }
    }
  // Cover: tile (qt, kt) is full when every query of qt chose kt's MoBA block and the tile is
  // below the diagonal; partial when at least one did.
  const g = new TileGrid(B, Hq, S, S, ts, ts);
  const perBlock = mb / ts;
  for (let bh = 0; bh < B * Hq; bh++)
    for (let qt = 0; qt < g.qBlocks; qt++) {
      const q0 = qt * ts;
      const q1 = Math.min(S, q0 + ts);
      for (let j = 0; j < nb; j++) {
        let cnt = 0;
        for (let i = q0; i < q1; i++) cnt += chosen[(bh * S + i) * nb + j];
        if (cnt === 0) continue;
        for (let kt = j * perBlock; kt < Math.min(g.kvBlocks, (j + 1) * perBlock); kt++) {
          if (kt * ts > q1 - 1) continue;
          const below = Math.min(S, (kt + 1) * ts) - 1 <= q0;
          g.mark(bh, qt, kt, cnt === q1 - q0 && below ? TILE_FULL : TILE_PARTIAL);
        }
      }
    }
  const index = ir.bin(
    "add",
    ir.bin("mul", ir.bin("add", ir.bin("mul", bhExpr(Hq), ir.num(S)), ir.v("q")), ir.num(nb)),
    ir.bin("floordiv", ir.v("kv"), ir.num(mb)),
  );
  const mask = makeMask(
    "moba",
    `moba_${mb}_top${topK}`,
    { mobaBlock: mb, topK },
    (b, h, qi, kv) => qi >= kv && chosen[((b * Hq + h) * S + qi) * nb + Math.floor(kv / mb)] === 1,
    { expr: ir.bin("and", CAUSAL_EXPR, ir.idx(0, index)), tables: [chosen] },
  );
  const bm = g.toFields(mask);
  selections.set(bm, { chosen, nBlocks: nb, mobaBlock: mb });
  // Pairs: a chosen past block is visible whole; the own block up to the query.
  let pairs = 0;
  for (let r = 0; r < B * Hq; r++)
    for (let i = 0; i < S; i++) {
      const own = Math.floor(i / mb);
      const o = (r * S + i) * nb;
      for (let j = 0; j < own; j++) if (chosen[o + j]) pairs += mb;
      pairs += i - own * mb + 1;
    }
  recordKeptPairs(bm, pairs);
  return ctx.finish(bm, { mobaBlock: mb, topK, blockSize: ts });
}
