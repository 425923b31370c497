/**
 * DuoAttention: each KV head is a retrieval head (full cache) or a streaming head (sinks +
 * recent tokens), decided from its learned gate value.
 */
import { argError, SparselabError } from "../../errors.js";
import { Tensor } from "../../tensor/tensor.js";
import type { BlockMask } from "../block-mask.js";
import { TILE_FULL, TILE_PARTIAL } from "../types.js";
import { CAUSAL_EXPR, checkPrefill, Ctx, inRange, ir, makeMask, nonNegInt, posInt, TileGrid, type EstimatorCommonOptions } from "./common.js";
import { checkDecode } from "./decode-common.js";

/** Options of {@link duoAttention}. */
export interface DuoAttentionOptions extends EstimatorCommonOptions {
  /** Gate values α per KV head (learned by DuoAttention's optimisation), length Hkv. */
  alpha: ArrayLike<number> | Tensor;
  /** Heads with α >= threshold are retrieval heads. Default 0.5. Ignored when `sparsity` is set. */
  threshold?: number;
  /** Instead: the share of heads made streaming (the lowest α), as DuoAttention deploys. */
  sparsity?: number;
  /** Attention sinks of streaming heads. Default 128. */
  sink?: number;
  /** Recent tokens of streaming heads. Default 256. */
  recent?: number;
}

/** Per-KV-head decision and token lists of {@link duoAttention}. */
export interface DuoAttentionResult {
  /** [Hkv] true = retrieval head (full cache). */
  retrieval: boolean[];
  /** Per KV head: i32 [B, n_h] sorted positions (all S for retrieval heads, sink + recent otherwise). */
  indices: Tensor<"i32">[];
  /** Tokens attended per query, averaged over heads, divided by S. */
  density: number;
}

/**
 * DuoAttention head split (decode).
 *
 * Rule (DuoAttention, arXiv 2410.10819, github.com/mit-han-lab/duo-attention): a gate α per KV
 * head is learned offline; at deployment, heads with α above a threshold (or the top share
 * 1 − sparsity by α) keep the full KV cache ("retrieval heads"), the rest keep only `sink`
 * (128) attention sinks and the `recent` (256) latest tokens ("streaming heads"). Heads have
 * different token counts, so the result lists indices per head.
 *
 * @example
 * const r = await sl.dynamic.duoAttention(q, kCache, { alpha: [0.9, 0.1, 0.7, 0.05], threshold: 0.5 });
 * r.retrieval;   // [true, false, true, false]
 */
export async function duoAttention(q: Tensor, kCache: Tensor, opts: DuoAttentionOptions): Promise<DuoAttentionResult> {
  const op = "dynamic.duoAttention";
  const { B, Hkv, Skv: S } = checkDecode(op, q, kCache);
  if (!opts || opts.alpha === undefined) throw new SparselabError(op, "argument 'opts.alpha' (one gate value per KV head) is required");
  const alpha = readAlpha(op, opts.alpha, Hkv);
  const sink = nonNegInt(op, "sink", opts.sink, 128);
  const recent = nonNegInt(op, "recent", opts.recent, 256);
  const retrieval = decide(op, alpha, opts);
  const streamList: number[] = [];
  for (let t = 0; t < S; t++) if (t < sink || t >= S - recent) streamList.push(t);
  const indices = retrieval.map((full) => {
    const list = full ? Array.from({ length: S }, (_, i) => i) : streamList;
    const out = new Int32Array(B * list.length);
    for (let b = 0; b < B; b++) out.set(list, b * list.length);
    return new Tensor([B, list.length], "i32", out);
  });
  const density = retrieval.reduce((s, full) => s + (full ? S : streamList.length), 0) / (Hkv * S);
  return { retrieval, indices, density };
}

function readAlpha(op: string, a: ArrayLike<number> | Tensor, Hkv: number): number[] {
  const alpha = a instanceof Tensor ? Array.from(a.floatData()) : Array.from(a);
  if (alpha.length !== Hkv || alpha.some((x) => typeof x !== "number" || Number.isNaN(x)))
    argError(op, "alpha", `${Hkv} numbers (one per KV head)`, `${alpha.length} values`);
  return alpha;
}

/** true = retrieval head: α >= threshold, or outside the lowest `sparsity` share of α. */
function decide(op: string, alpha: number[], opts: { threshold?: number; sparsity?: number }): boolean[] {
  if (opts.sparsity !== undefined) {
    const sp = inRange(op, "sparsity", opts.sparsity, 0.5, 0, 1);
    const nStream = Math.round(sp * alpha.length);
    const order = alpha.map((_, i) => i).sort((x, y) => alpha[x] - alpha[y] || x - y);
    const streaming = new Set(order.slice(0, nStream));
    return alpha.map((_, i) => !streaming.has(i));
  }
  const th = inRange(op, "threshold", opts.threshold, 0.5, -Infinity, Infinity);
  return alpha.map((a) => a >= th);
}

/** Options of {@link duoAttentionPrefill}. */
export interface DuoAttentionPrefillOptions extends Omit<DuoAttentionOptions, "signal"> {
  /** Tile size. Default 128. */
  blockSize?: number;
}

/**
 * DuoAttention for prefill: the same per-KV-head split as {@link duoAttention}, as a causal
 * BlockMask over query heads: a retrieval head's queries see every earlier key, a streaming
 * head's see the `sink` first keys and the `recent` latest (q − kv < recent). Tiles inside
 * the pattern are full; edge tiles carry a table-backed mask the native backends run from IR.
 *
 * @example
 * const bm = await sl.dynamic.duoAttentionPrefill(q, k, { alpha: [0.9, 0.1], sink: 128, recent: 256 });
 * const out = await sl.attention(q, k, v, { blockMask: bm });
 */
export async function duoAttentionPrefill(q: Tensor, k: Tensor, opts: DuoAttentionPrefillOptions): Promise<BlockMask> {
  const op = "dynamic.duoAttentionPrefill";
  const ctx = new Ctx(op, opts);
  const { B, Hq, Hkv, Sq: S, group } = checkPrefill(op, q, k, true);
  if (!opts || opts.alpha === undefined) throw new SparselabError(op, "argument 'opts.alpha' (one gate value per KV head) is required");
  const retrieval = decide(op, readAlpha(op, opts.alpha, Hkv), opts);
  const sink = nonNegInt(op, "sink", opts.sink, 128);
  const recent = nonNegInt(op, "recent", opts.recent, 256);
  const bs = posInt(op, "blockSize", opts.blockSize, 128);
  const full = new Int32Array(Hq);
  for (let h = 0; h < Hq; h++) full[h] = retrieval[Math.floor(h / group)] ? 1 : 0;
  const g = new TileGrid(1, Hq, S, S, bs, bs);
  for (let h = 0; h < Hq; h++)
    for (let qb = 0; qb < g.qBlocks; qb++) {
      const q0 = qb * bs;
      const q1 = Math.min(S, q0 + bs) - 1;
      for (let kb = 0; kb <= qb; kb++) {
        const k0 = kb * bs;
        const k1 = Math.min(S, k0 + bs) - 1;
        const below = k1 <= q0;
        if (full[h]) g.mark(h, qb, kb, below ? TILE_FULL : TILE_PARTIAL);
        else if (below && (k1 < sink || q1 - k0 < recent)) g.mark(h, qb, kb, TILE_FULL);
        else if (k0 < sink || q0 - k1 < recent) g.mark(h, qb, kb, TILE_PARTIAL);
      }
    }
  const streamE = ir.bin("or", ir.bin("lt", ir.v("kv"), ir.num(sink)), ir.bin("lt", ir.bin("sub", ir.v("q"), ir.v("kv")), ir.num(recent)));
  const mask = makeMask(
    "duoAttention",
    `duo_attention_sink${sink}_recent${recent}`,
    { sink, recent, retrieval },
    (_b, h, qi, kv) => qi >= kv && (full[h] === 1 || kv < sink || qi - kv < recent),
    { expr: ir.bin("and", CAUSAL_EXPR, ir.bin("or", ir.idx(0, ir.v("h")), streamE)), tables: [full] },
  );
  void B;
  // B = 1: the split is per head, the same for every batch row (BlockMask broadcasting).
  return ctx.finish(g.toFields(mask), { sink, recent, retrieval, blockSize: bs });
}
