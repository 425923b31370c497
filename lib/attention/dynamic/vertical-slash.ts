/**
 * MInference's vertical-slash pattern: a few whole key columns plus a few diagonals.
 */
import { argError, SparselabError } from "../../errors.js";
import type { Tensor } from "../../tensor/tensor.js";
import type { BlockMask } from "../block-mask.js";
import { TILE_FULL, TILE_PARTIAL } from "../types.js";
import {
  bhExpr, CAUSAL_EXPR, causalMask, checkBool, recordKeptPairs, checkPrefill, colDiagSums, Ctx, ir, makeMask, perHead, posInt, sliceRows,
  TileGrid, topkIdx, type PrefillCommonOptions,
} from "./common.js";

/** Options of {@link verticalSlash}. */
export interface VerticalSlashOptions extends PrefillCommonOptions {
  /** Queries at the end of the sequence whose attention estimates the pattern. Default 64. */
  lastQ?: number;
  /** Key columns kept per head (one number, or one per query head). Default 1000. */
  verticalSize?: number | number[];
  /** Diagonals kept per head (one number, or one per query head). Default 6096. */
  slashSize?: number | number[];
  /** Columns always kept (the first `sinkColumns` keys). Default 30. */
  sinkColumns?: number;
  /** Diagonals always kept (offsets 0 .. localDiagonals-1). Default 100. */
  localDiagonals?: number;
  /** Tile size of the returned block cover. Default 64 (MInference's kernel tile). */
  blockSize?: number;
  /**
   * "exact" (default): partial tiles carry the element mask (kept columns and diagonals only).
   * "tiles": every tile a kept line crosses is computed whole (block granularity, as
   * FlexPrefill's vertical-slash; more pairs, but no per-element mask work in the kernel).
   */
  cover?: "exact" | "tiles";
}

/** The element-level selection behind a vertical-slash BlockMask (for inspection and tests). */
export interface VerticalSlashSelection {
  /** Per (b, h): sorted kept key columns. */
  columns: Int32Array[];
  /** Per (b, h): sorted kept diagonal offsets q − kv (0 = main diagonal). */
  diagonals: Int32Array[];
}

const selections = new WeakMap<object, VerticalSlashSelection>();

/**
 * The kept columns and diagonals behind a mask returned by {@link verticalSlash}.
 * @example
 * const bm = await sl.dynamic.verticalSlash(q, k);
 * sl.dynamic.verticalSlashSelection(bm)!.diagonals[0].length;   // slashSize of head 0
 */
export function verticalSlashSelection(bm: object): VerticalSlashSelection | undefined {
  return selections.get(bm);
}

/**
 * MInference vertical-slash estimator (prefill, causal).
 *
 * Rule (MInference 1.0, `vertical_slash_sparse_attention` in microsoft/MInference): take the
 * last `lastQ` (64) queries, A = softmax(q_last · Kᵀ / √d) with the causal mask inside the last
 * block; column score = Σ_rows A, diagonal score = Σ of A along each diagonal q − kv. Keep the
 * top `verticalSize` columns, the first `sinkColumns` (30) always among them, and the top
 * `slashSize` diagonals, the last `localDiagonals` (100, the ones nearest the main diagonal)
 * always among them. Budgets are per head (MInference searches them offline per head; pass an
 * array to set them). Query head h uses KV head h / (Hq / Hkv).
 *
 * The selection is element-level: the returned BlockMask's partial tiles carry a mask
 * (causal AND (kept column OR kept diagonal)) backed by two i32 tables, so native backends run
 * it from IR; tiles whose every causal element lies on kept lines are marked full. The
 * columns and diagonals themselves: {@link verticalSlashSelection}.
 *
 * Paper: arXiv 2407.02490. Official code: github.com/microsoft/MInference (minference/modules/minference_forward.py).
 *
 * @example
 * const q = sl.randn([1, 8, 4096, 64], { seed: 1 }), k = sl.randn([1, 8, 4096, 64], { seed: 2 });
 * const bm = await sl.dynamic.verticalSlash(q, k, { verticalSize: 500, slashSize: 1000 });
 * sl.dynamic.verticalSlashSelection(bm)!.columns[0].slice(0, 30); // always 0..29
 */
export async function verticalSlash(q: Tensor, k: Tensor, opts: VerticalSlashOptions = {}): Promise<BlockMask> {
  const op = "dynamic.verticalSlash";
  const ctx = new Ctx(op, opts);
  const causal = checkBool(op, "causal", opts.causal, true);
  if (!causal) throw new SparselabError(op, "vertical-slash is defined for causal prefill only (causal: false is not supported)");
  const { B, Hq, Hkv, Sq: S, D, group } = checkPrefill(op, q, k, causal);
  const lastQ = Math.min(posInt(op, "lastQ", opts.lastQ, 64), S);
  const vSize = perHead(op, "verticalSize", opts.verticalSize, 1000, Hq);
  const sSize = perHead(op, "slashSize", opts.slashSize, 6096, Hq);
  const sinkCols = Math.min(posInt(op, "sinkColumns", opts.sinkColumns ?? 30, 30), S);
  const localDiags = Math.min(posInt(op, "localDiagonals", opts.localDiagonals ?? 100, 100), S);
  const bs = posInt(op, "blockSize", opts.blockSize, 64);
  const scale = 1 / Math.sqrt(D);
  const columns: Int32Array[] = [];
  const diagonals: Int32Array[] = [];
  const colTable = new Int32Array(B * Hq * S);
  const diagTable = new Int32Array(B * Hq * S);
  const q0 = S - lastQ;
  // Column / diagonal sums of the last queries' causal softmax (the heavy part: one product
  // of lastQ x S per head).
  const sums = await colDiagSums(ctx, sliceRows(q, q0, S), k, scale, q0);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      ctx.check();
      const bh = b * Hq + h;
      const vertical = Float64Array.from(sums.cols.subarray(bh * S, (bh + 1) * S));
      const slash = Float64Array.from(sums.diags.subarray(bh * S, (bh + 1) * S));
      for (let j = 0; j < sinkCols; j++) vertical[j] = Infinity;
      for (let d = 0; d < localDiags; d++) slash[d] = Infinity;
      const cols = Int32Array.from(topkIdx(vertical, 0, S, Math.max(vSize[h], sinkCols))).sort();
      const diags = Int32Array.from(topkIdx(slash, 0, S, Math.max(sSize[h], localDiags))).sort();
      columns.push(cols);
      diagonals.push(diags);
      for (const c of cols) colTable[bh * S + c] = 1;
      for (const d of diags) diagTable[bh * S + d] = 1;
    }

  const cover = opts.cover ?? "exact";
  if (cover !== "exact" && cover !== "tiles") argError(op, "cover", '"exact" or "tiles"', String(cover));
  const grid = coverVerticalSlash(B, Hq, S, bs, colTable, diagTable);
  // mask: q >= kv and (cols[bh, kv] or diags[bh, q - kv]); q - kv >= 0 under the causal guard.
  const row = ir.bin("mul", bhExpr(Hq), ir.num(S));
  const colE = ir.idx(0, ir.bin("add", row, ir.v("kv")));
  const diagE = ir.idx(1, ir.bin("add", row, ir.bin("max", ir.num(0), ir.bin("sub", ir.v("q"), ir.v("kv")))));
  const mask = makeMask(
    "verticalSlash",
    `vertical_slash_${vSize[0]}_${sSize[0]}`,
    { verticalSize: vSize, slashSize: sSize, lastQ },
    (b, h, qi, kv) => qi >= kv && (colTable[(b * Hq + h) * S + kv] === 1 || diagTable[(b * Hq + h) * S + qi - kv] === 1),
    { expr: ir.bin("and", CAUSAL_EXPR, ir.bin("or", colE, diagE)), tables: [colTable, diagTable] },
  );
  let bm;
  if (cover === "tiles") {
    for (let i = 0; i < grid.cls.length; i++) if (grid.cls[i]) grid.cls[i] = TILE_FULL;
    grid.applyCausal();
    bm = grid.toFields(causalMask());
  } else bm = grid.toFields(mask);
  selections.set(bm, { columns, diagonals });
  if (cover === "exact") {
    // Causal pairs on kept columns plus kept diagonals, minus their crossings (c + d < S).
    let pairs = 0;
    for (let r = 0; r < columns.length; r++) {
      const cols = columns[r];
      const diags = diagonals[r];
      for (const c of cols) pairs += S - c;
      for (const d of diags) pairs += S - d;
      let hi = diags.length; // diags sorted ascending: count d <= S - 1 - c, c ascending
      for (const c of cols) {
        while (hi > 0 && diags[hi - 1] > S - 1 - c) hi--;
        pairs -= hi;
      }
    }
    recordKeptPairs(bm, pairs);
  }
  return ctx.finish(bm, { cover, lastQ, verticalSize: vSize, slashSize: sSize, sinkColumns: sinkCols, localDiagonals: localDiags, blockSize: bs });
}

/**
 * Tiles touched by kept columns / diagonals (partial), promoted to full where every causal
 * element of the tile is on a kept column or every diagonal through it is kept.
 */
export function coverVerticalSlash(B: number, H: number, S: number, bs: number, colTable: Int32Array, diagTable: Int32Array): TileGrid {
  const g = new TileGrid(B, H, S, S, bs, bs);
  const nb = g.qBlocks;
  const colPre = new Int32Array(S + 1);
  const diagPre = new Int32Array(S + 1);
  for (let bh = 0; bh < B * H; bh++) {
    for (let i = 0; i < S; i++) {
      colPre[i + 1] = colPre[i] + colTable[bh * S + i];
      diagPre[i + 1] = diagPre[i] + diagTable[bh * S + i];
    }
    for (let qb = 0; qb < nb; qb++) {
      const q0 = qb * bs;
      const q1 = Math.min(S, q0 + bs) - 1;
      for (let kb = 0; kb <= qb; kb++) {
        const k0 = kb * bs;
        const k1 = Math.min(S, k0 + bs) - 1;
        // Columns in [k0, k1] that some query of the tile can see (kv <= q1).
        const cHi = Math.min(k1, q1);
        const nCols = colPre[cHi + 1] - colPre[k0];
        // Diagonals through the tile, clipped to d >= 0: d in [max(0, q0 - k1), q1 - k0].
        const dLo = Math.max(0, q0 - k1);
        const dHi = q1 - k0;
        const nDiag = diagPre[dHi + 1] - diagPre[dLo];
        if (nCols === 0 && nDiag === 0) continue;
        const allCols = nCols === cHi - k0 + 1 && cHi === k1;
        const allDiags = nDiag === dHi - dLo + 1;
        const below = k1 <= q0;
        g.mark(bh, qb, kb, below && (allCols || allDiags) ? TILE_FULL : TILE_PARTIAL);
      }
    }
  }
  return g;
}
