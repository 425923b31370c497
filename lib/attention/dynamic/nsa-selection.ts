/**
 * NSA's selection branch: block importance from compressed-key attention, shared by the GQA
 * group, top-n blocks plus the first block, the local blocks and a sliding window.
 */
import { Tensor } from "../../tensor/tensor.js";
import type { SoftmaxImpl } from "../../backends/ops.js";
import { argError, SparselabError } from "../../errors.js";
import type { BlockMask } from "../block-mask.js";
import { TILE_FULL, TILE_PARTIAL } from "../types.js";
import {
  bhExpr, CAUSAL_EXPR, checkBool, checkPrefill, Ctx, f32, ir, makeMask, matmulNT, nonNegInt, posInt, softmaxRow, TileGrid, topkIdx,
  type PrefillCommonOptions,
} from "./common.js";

/** Options of {@link nsaSelection}. */
export interface NsaSelectionOptions extends PrefillCommonOptions {
  /** Compression block length l. Default 32. */
  compressBlock?: number;
  /** Compression stride d (divides l). Default 16. */
  compressStride?: number;
  /** Selection block size l' (a multiple of d) and the BlockMask tile size. Default 64. */
  blockSize?: number;
  /** Selected blocks per query block n, the forced ones included. Default 16. */
  topN?: number;
  /** Sliding-window branch: keys with q − kv < window. Default 512 (0 = none). */
  window?: number;
}

/**
 * NSA selection-branch estimator (prefill, causal).
 *
 * Rule (Native Sparse Attention, arXiv 2502.11089, §3.3): compressed keys K̃_i summarise
 * tokens [i·d, i·d + l) (NSA learns an MLP for this; training-free we use the mean);
 * p_cmp = softmax(q · K̃ᵀ/√d) over the compressed blocks that end at or before the query;
 * a selection block j (l' tokens) scores Σ p_cmp over the compressed blocks overlapping it;
 * scores are summed over the heads of a GQA group (they share the KV selection) and, so that
 * the result is a block mask, over the l' queries of a query block (NSA's kernel shares per
 * query; ours per l'-query tile). Keep the top n (16) blocks, counting the first block and the
 * two local blocks (own and previous), which are always kept. The returned mask is the union
 * of the selection with the sliding-window branch (q − kv < window, 512), as the model sees
 * both. Official code: none released by the authors; fla-org/native-sparse-attention is
 * the reference reimplementation we read.
 *
 * @example
 * const bm = await sl.dynamic.nsaSelection(q, k, { topN: 16, window: 512 });
 */
export async function nsaSelection(q: Tensor, k: Tensor, opts: NsaSelectionOptions = {}): Promise<BlockMask> {
  const op = "dynamic.nsaSelection";
  const ctx = new Ctx(op, opts);
  const causal = checkBool(op, "causal", opts.causal, true);
  if (!causal) throw new SparselabError(op, "NSA selection is causal; causal: false is not supported");
  const { B, Hq, Hkv, Sq: S, D, group } = checkPrefill(op, q, k, causal);
  const l = posInt(op, "compressBlock", opts.compressBlock, 32);
  const d = posInt(op, "compressStride", opts.compressStride, 16);
  const ls = posInt(op, "blockSize", opts.blockSize, 64);
  const topN = posInt(op, "topN", opts.topN, 16);
  const win = nonNegInt(op, "window", opts.window, 512);
  if (l % d !== 0) argError(op, "compressStride", `a divisor of compressBlock ${l}`, String(d));
  const nc = S >= l ? Math.floor((S - l) / d) + 1 : 0;
  const nsb = Math.ceil(S / ls);
  const qs = f32(q);
  const ks = f32(k);
  const scale = 1 / Math.sqrt(D);
  // Compressed keys: mean over [i·d, i·d + l).
  const kc = new Float32Array(B * Hkv * Math.max(1, nc) * D);
  for (let bh = 0; bh < B * Hkv; bh++)
    for (let i = 0; i < nc; i++)
      for (let t = i * d; t < i * d + l; t++) for (let x = 0; x < D; x++) kc[(bh * nc + i) * D + x] += ks[(bh * S + t) * D + x] / l;
  // Compressed importance summed over the group's heads and each query block's queries:
  // impC[b, kvHead, qBlock, i]; mapped to selection blocks afterwards.
  const impC = new Float64Array(B * Hkv * nsb * Math.max(1, nc));
  const softmax = ctx.pick<SoftmaxImpl>("softmax");
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      ctx.check();
      if (nc === 0) break;
      const bh = b * Hq + h;
      const kh = b * Hkv + Math.floor(h / group);
      // Compressed block i is complete for query t when i·d + l − 1 <= t; later ones are masked.
      const validOf = (t: number) => (t >= l - 1 ? Math.min(nc, Math.floor((t - l + 1) / d) + 1) : 0);
      // Chunks of query blocks (about 1024 queries: few native calls, small buffers), each
      // against only the compressed blocks its last query can see.
      const per = Math.max(1, Math.floor(1024 / ls));
      for (let c0 = 0; c0 < nsb; c0 += per) {
        const t0 = c0 * ls;
        const t1 = Math.min(S, (c0 + per) * ls);
        const nv = validOf(t1 - 1);
        if (nv === 0) continue;
        const rows = t1 - t0;
        const sc = await matmulNT(ctx, qs.subarray((bh * S + t0) * D, (bh * S + t1) * D), rows, kc.subarray(kh * nc * D, (kh * nc + nv) * D), nv, D);
        for (let r = 0; r < rows; r++) {
          const v = Math.max(1, validOf(t0 + r)); // rows with nothing valid are skipped below
          const o = r * nv;
          for (let i = 0; i < v; i++) sc[o + i] *= scale;
          sc.fill(-Infinity, o + v, o + nv);
        }
        let p: Float32Array;
        if (softmax) p = (await softmax(new Tensor([rows, nv], "f32", sc), { signal: ctx.signal })).data as Float32Array;
        else {
          const row = new Float64Array(nv);
          p = sc;
          for (let r = 0; r < rows; r++) {
            for (let i = 0; i < nv; i++) row[i] = sc[r * nv + i];
            softmaxRow(row, 0, nv);
            for (let i = 0; i < nv; i++) p[r * nv + i] = row[i];
          }
        }
        for (let r = 0; r < rows; r++) {
          const valid = validOf(t0 + r);
          const o = (kh * nsb + Math.floor((t0 + r) / ls)) * nc;
          const po = r * nv;
          for (let i = 0; i < valid; i++) impC[o + i] += p[po + i];
        }
      }
    }
  const imp = new Float64Array(B * Hkv * nsb * nsb); // [b, kvHead, qBlock, selBlock]
  for (let r = 0; r < B * Hkv * nsb; r++)
    for (let i = 0; i < nc; i++) {
      const w = impC[r * nc + i];
      if (w === 0) continue;
      const j0 = Math.floor((i * d) / ls);
      const j1 = Math.min(nsb - 1, Math.floor((i * d + l - 1) / ls));
      for (let j = j0; j <= j1; j++) imp[r * nsb + j] += w;
    }
  // Top-n per (kv head, query block), forced: block 0, own, previous.
  const selKv = new Uint8Array(B * Hkv * nsb * nsb);
  const row = new Float64Array(nsb);
  for (let r = 0; r < B * Hkv * nsb; r++) {
    const qb = r % nsb;
    for (let j = 0; j <= qb; j++) row[j] = imp[r * nsb + j];
    row[0] = Infinity;
    row[qb] = Infinity;
    if (qb > 0) row[qb - 1] = Infinity;
    for (const j of topkIdx(row, 0, qb + 1, topN)) selKv[r * nsb + j] = 1;
  }
  const selTable = new Int32Array(B * Hq * nsb * nsb);
  const g = new TileGrid(B, Hq, S, S, ls, ls);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      const bh = b * Hq + h;
      const src = (b * Hkv + Math.floor(h / group)) * nsb * nsb;
      for (let qb = 0; qb < nsb; qb++) {
        const q0 = qb * ls;
        const q1 = Math.min(S, q0 + ls) - 1;
        for (let kb = 0; kb <= qb; kb++) {
          const k0 = kb * ls;
          const k1 = Math.min(S, k0 + ls) - 1;
          const below = k1 <= q0;
          const selected = selKv[src + qb * nsb + kb] === 1;
          if (selected) selTable[(bh * nsb + qb) * nsb + kb] = 1;
          const allWin = win > 0 && q1 - k0 < win;
          const anyWin = win > 0 && q0 - k1 < win;
          if (below && (selected || allWin)) g.mark(bh, qb, kb, TILE_FULL);
          else if (selected || anyWin) g.mark(bh, qb, kb, TILE_PARTIAL);
        }
      }
    }
  const idx = ir.bin(
    "add",
    ir.bin("mul", ir.bin("add", ir.bin("mul", bhExpr(Hq), ir.num(nsb)), ir.bin("floordiv", ir.v("q"), ir.num(ls))), ir.num(nsb)),
    ir.bin("floordiv", ir.v("kv"), ir.num(ls)),
  );
  const mask = makeMask(
    "nsaSelection",
    `nsa_selection_top${topN}_window${win}`,
    { topN, window: win, blockSize: ls },
    (b, h, qi, kv) => qi >= kv && (qi - kv < win || selTable[(((b * Hq + h) * nsb + Math.floor(qi / ls)) * nsb) + Math.floor(kv / ls)] === 1),
    { expr: ir.bin("and", CAUSAL_EXPR, ir.bin("or", ir.bin("lt", ir.bin("sub", ir.v("q"), ir.v("kv")), ir.num(win)), ir.idx(0, idx))), tables: [selTable] },
  );
  return ctx.finish(g.toFields(mask), { compressBlock: l, compressStride: d, blockSize: ls, topN, window: win });
}
