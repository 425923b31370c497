/**
 * HiP attention's hierarchical top-k: coarse key chunks, halved and re-ranked until each
 * kept chunk is one tile.
 */
import type { Tensor } from "../../tensor/tensor.js";
import { SparselabError } from "../../errors.js";
import type { BlockMask } from "../block-mask.js";
import { TILE_FULL, TILE_PARTIAL } from "../types.js";
import {
  bhExpr, CAUSAL_EXPR, checkBool, checkPrefill, Ctx, f32, ir, makeMask, matmulNT, nonNegInt, posInt, TileGrid,
  type PrefillCommonOptions,
} from "./common.js";

/** Options of {@link hip}. */
export interface HipOptions extends PrefillCommonOptions {
  /** Tile size: query block and leaf key chunk. Default 64. */
  blockSize?: number;
  /** Key tokens selected per query block (rounded to tiles). Default 2048. */
  budget?: number;
  /** Initial keys always kept. Default 256. */
  sink?: number;
  /** Local window always kept (q − kv < window). Default 512. */
  window?: number;
}

/**
 * HiP hierarchical top-k estimator (prefill, causal).
 *
 * Rule (HiP attention, arXiv 2406.09827, `hip_attention` in DeepAuto-AI/hip-attention): for each
 * query block, k = budget / blockSize chunks initially split the visible keys evenly; each
 * round every chunk longer than one tile splits into two halves, each half is scored by its
 * representative key (the middle token: max over the block's queries of q · k_rep), and the k
 * best halves survive; rounds repeat until every chunk is a single tile. The union with the
 * sink (first 256 keys) and the window (last 512) is returned. Query heads read KV head
 * h / (Hq / Hkv).
 *
 * @example
 * const bm = await sl.dynamic.hip(q, k, { budget: 1024 });
 */
export async function hip(q: Tensor, k: Tensor, opts: HipOptions = {}): Promise<BlockMask> {
  const op = "dynamic.hip";
  const ctx = new Ctx(op, opts);
  const causal = checkBool(op, "causal", opts.causal, true);
  if (!causal) throw new SparselabError(op, "HiP here is causal prefill; causal: false is not supported");
  const { B, Hq, Hkv, Sq: S, D, group } = checkPrefill(op, q, k, causal);
  const bs = posInt(op, "blockSize", opts.blockSize, 64);
  const budget = posInt(op, "budget", opts.budget, 2048);
  const sink = nonNegInt(op, "sink", opts.sink, 256);
  const win = nonNegInt(op, "window", opts.window, 512);
  const kTop = Math.max(1, Math.ceil(budget / bs));
  const nb = Math.ceil(S / bs);
  const qs = f32(q);
  const ks = f32(k);
  const sel = new Int32Array(B * Hq * nb * nb);
  const g = new TileGrid(B, Hq, S, S, bs, bs);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      ctx.check();
      const bh = b * Hq + h;
      const kh = b * Hkv + Math.floor(h / group);
      for (let qb = 0; qb < nb; qb++) {
        const q0 = qb * bs;
        const nq = Math.min(S, q0 + bs) - q0;
        const visible = qb + 1; // leaf tiles 0..qb
        let chunks: [number, number][] = []; // [first leaf, leaf count]
        if (visible <= kTop) for (let j = 0; j < visible; j++) chunks.push([j, 1]);
        else for (let c = 0; c < kTop; c++) {
          const a = Math.floor((c * visible) / kTop);
          const e = Math.floor(((c + 1) * visible) / kTop);
          chunks.push([a, e - a]);
        }
        while (chunks.some(([, n]) => n > 1)) {
          const cand: [number, number][] = [];
          for (const [a, n] of chunks) {
            if (n === 1) cand.push([a, 1]);
            else {
              const half = Math.ceil(n / 2);
              cand.push([a, half], [a + half, n - half]);
            }
          }
          // Representative key of a chunk: its middle token (clipped to the sequence).
          const reps = new Float32Array(cand.length * D);
          cand.forEach(([a, n], c) => {
            const t0 = a * bs;
            const t1 = Math.min(S, (a + n) * bs);
            const mid = Math.min(t0 + Math.floor((t1 - t0) / 2), q0 + nq - 1);
            reps.set(ks.subarray((kh * S + mid) * D, (kh * S + mid + 1) * D), c * D);
          });
          const s = await matmulNT(ctx, qs.subarray((bh * S + q0) * D, (bh * S + q0 + nq) * D), nq, reps, cand.length, D);
          const score = new Float64Array(cand.length).fill(-Infinity);
          for (let i = 0; i < nq; i++) for (let c = 0; c < cand.length; c++) if (s[i * cand.length + c] > score[c]) score[c] = s[i * cand.length + c];
          const order = cand.map((_, c) => c).sort((x, y) => score[y] - score[x] || cand[x][0] - cand[y][0]);
          chunks = order.slice(0, kTop).map((c) => cand[c]);
        }
        for (const [a] of chunks) sel[(bh * nb + qb) * nb + a] = 1;
        const qe = q0 + nq - 1;
        for (let kb = 0; kb <= qb; kb++) {
          const k0 = kb * bs;
          const k1 = Math.min(S, k0 + bs) - 1;
          const below = k1 <= q0;
          const chosen = sel[(bh * nb + qb) * nb + kb] === 1;
          const allDense = k1 < sink || (win > 0 && qe - k0 < win);
          const anyDense = k0 < sink || (win > 0 && q0 - k1 < win);
          if (below && (chosen || allDense)) g.mark(bh, qb, kb, TILE_FULL);
          else if (chosen || anyDense) g.mark(bh, qb, kb, TILE_PARTIAL);
        }
      }
    }
  const idx = ir.bin(
    "add",
    ir.bin("mul", ir.bin("add", ir.bin("mul", bhExpr(Hq), ir.num(nb)), ir.bin("floordiv", ir.v("q"), ir.num(bs))), ir.num(nb)),
    ir.bin("floordiv", ir.v("kv"), ir.num(bs)),
  );
  const dense = ir.bin("or", ir.bin("lt", ir.v("kv"), ir.num(sink)), ir.bin("lt", ir.bin("sub", ir.v("q"), ir.v("kv")), ir.num(win)));
  const mask = makeMask(
    "hip",
    `hip_budget${budget}_sink${sink}_window${win}`,
    { budget, sink, window: win, blockSize: bs },
    (b, h, qi, kv) => qi >= kv && (kv < sink || qi - kv < win || sel[((b * Hq + h) * nb + Math.floor(qi / bs)) * nb + Math.floor(kv / bs)] === 1),
    { expr: ir.bin("and", CAUSAL_EXPR, ir.bin("or", dense, ir.idx(0, idx))), tables: [sel] },
  );
  return ctx.finish(g.toFields(mask), { blockSize: bs, budget, sink, window: win });
}
