/**
 * The A-shape / streaming pattern: attention sinks plus a local window.
 */
import { SparselabError } from "../../errors.js";
import type { Tensor } from "../../tensor/tensor.js";
import type { BlockMask } from "../block-mask.js";
import { TILE_FULL, TILE_PARTIAL } from "../types.js";
import { checkPrefill, Ctx, CAUSAL_EXPR, ir, makeMask, nonNegInt, posInt, TileGrid, type PrefillCommonOptions } from "./common.js";

/** Options of {@link aShape}. */
export interface AShapeOptions extends PrefillCommonOptions {
  /** Initial keys every query sees. Default 128 (MInference's A-shape; StreamingLLM uses 4). */
  sink?: number;
  /** Keys per query in the local window, itself included (q − kv < local). Default 3968. */
  local?: number;
  /** Tile size. Default 128. */
  blockSize?: number;
}

/**
 * A-shape / StreamingLLM pattern (prefill, causal): kv < sink or 0 <= q − kv < local.
 *
 * Static, not content-based; listed with the estimators because MInference assigns it to
 * heads by search and because it is the baseline the dynamic methods must beat. Tiles wholly
 * inside the pattern are full; edge tiles carry the mask (IR, so native backends run it).
 *
 * Papers: StreamingLLM (arXiv 2309.17453), MInference (arXiv 2407.02490, `streaming_forward`
 * with n_init 128, n_local 3968). Official code: github.com/mit-han-lab/streaming-llm,
 * github.com/microsoft/MInference.
 *
 * @example
 * const bm = await sl.dynamic.aShape(q, k, { sink: 4, local: 1024 });
 */
export async function aShape(q: Tensor, k: Tensor, opts: AShapeOptions = {}): Promise<BlockMask> {
  const op = "dynamic.aShape";
  const ctx = new Ctx(op, opts);
  const { B, Hq, Sq: S } = checkPrefill(op, q, k, true);
  if (opts.causal === false) throw new SparselabError(op, "the A-shape pattern is causal; causal: false is not supported");
  const sink = nonNegInt(op, "sink", opts.sink, 128);
  const local = posInt(op, "local", opts.local, 3968);
  const bs = posInt(op, "blockSize", opts.blockSize, 128);
  const g = new TileGrid(1, 1, S, S, bs, bs);
  for (let qb = 0; qb < g.qBlocks; qb++) {
    const q0 = qb * bs;
    const q1 = Math.min(S, q0 + bs) - 1;
    for (let kb = 0; kb <= qb; kb++) {
      const k0 = kb * bs;
      const k1 = Math.min(S, k0 + bs) - 1;
      const below = k1 <= q0;
      const allSink = k1 < sink;
      const anySink = k0 < sink;
      const allLocal = q1 - k0 < local; // the farthest pair of the tile is inside the window
      const anyLocal = q0 - k1 < local;
      if (below && (allSink || allLocal)) g.mark(0, qb, kb, TILE_FULL);
      else if (anySink || anyLocal) g.mark(0, qb, kb, TILE_PARTIAL);
    }
  }
  const mask = makeMask(
    "aShape",
    `a_shape_${sink}_${local}`,
    { sink, local },
    (_b, _h, qi, kv) => qi >= kv && (kv < sink || qi - kv < local),
    {
      expr: ir.bin("and", CAUSAL_EXPR, ir.bin("or", ir.bin("lt", ir.v("kv"), ir.num(sink)), ir.bin("lt", ir.bin("sub", ir.v("q"), ir.v("kv")), ir.num(local)))),
      tables: [],
    },
  );
  void B;
  void Hq;
  // B = H = 1: the pattern is the same for every batch row and head (BlockMask broadcasting).
  return ctx.finish(g.toFields(mask), { sink, local, blockSize: bs });
}

/** Alias of {@link aShape} under StreamingLLM's name. @example const bm = await sl.dynamic.streaming(q, k, { sink: 4, local: 1024 }); */
export const streaming = aShape;

