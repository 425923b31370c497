/**
 * BiFormer's bi-level routing: region-to-region affinity from region means, top-k regions per
 * region, then token attention inside the routed regions.
 */
import type { Tensor } from "../../tensor/tensor.js";
import { argError } from "../../errors.js";
import type { BlockMask } from "../block-mask.js";
import { TILE_FULL, TILE_PARTIAL } from "../types.js";
import { bhExpr, CAUSAL_EXPR, checkBool, checkPrefill, Ctx, f32, ir, makeMask, matmulNT, posInt, TileGrid, topkIdx, type PrefillCommonOptions } from "./common.js";

/** Options of {@link biformer}. */
export interface BiformerOptions extends PrefillCommonOptions {
  /** 1-D layout: tokens per region. Default 64 (ignored when `grid` is given). */
  regionSize?: number;
  /** 2-D layout: tokens are a row-major [height, width] image; S must equal height · width. */
  grid?: [number, number];
  /** 2-D layout: regions per side (the image is cut into regionsPerSide² windows). Default 7. */
  regionsPerSide?: number;
  /** Regions routed per region. Default 4. */
  topK?: number;
  /** Default false (BiFormer is a vision encoder); true adds q >= kv and routes only to earlier regions. */
  causal?: boolean;
  /** Tile size of the block cover. Default: regionSize in 1-D, 64 in 2-D. */
  blockSize?: number;
}

/**
 * BiFormer region-routing estimator.
 *
 * Rule (BiFormer, arXiv 2303.08125, `BiLevelRoutingAttention` in rayleizhu/BiFormer): cut the
 * tokens into regions (7×7 windows of an image, or runs of `regionSize` tokens in 1-D),
 * average q and k over each region, A_r = Q̄ K̄ᵀ, keep the top-k (4) regions of each region's
 * row; every token then attends all tokens of the routed regions. In 1-D with tiles equal to
 * regions the BlockMask is exact with full tiles; in 2-D regions are not contiguous in token
 * order, so tiles are partial and a region-id table refines them (run natively from IR).
 *
 * @example
 * const bm = await sl.dynamic.biformer(q, k, { grid: [56, 56], regionsPerSide: 7, topK: 4 });
 */
export async function biformer(q: Tensor, k: Tensor, opts: BiformerOptions = {}): Promise<BlockMask> {
  const op = "dynamic.biformer";
  const ctx = new Ctx(op, opts);
  const causal = checkBool(op, "causal", opts.causal, false);
  const { B, Hq, Hkv, Sq, Skv, D, group } = checkPrefill(op, q, k, causal);
  if (Sq !== Skv) argError(op, "k", `the same length as q (${Sq}) for region routing`, String(Skv));
  const S = Sq;
  const topK = posInt(op, "topK", opts.topK, 4);
  const region = new Int32Array(S);
  let R: number;
  let bs: number;
  if (opts.grid !== undefined) {
    const gr = opts.grid;
    if (!Array.isArray(gr) || gr.length !== 2 || !gr.every((x) => Number.isInteger(x) && x > 0) || gr[0] * gr[1] !== S)
      argError(op, "grid", `[height, width] with height · width = ${S}`, JSON.stringify(gr));
    const rps = posInt(op, "regionsPerSide", opts.regionsPerSide, 7);
    const [hh, ww] = gr;
    for (let y = 0; y < hh; y++)
      for (let x = 0; x < ww; x++) region[y * ww + x] = Math.min(rps - 1, Math.floor((y * rps) / hh)) * rps + Math.min(rps - 1, Math.floor((x * rps) / ww));
    R = rps * rps;
    bs = posInt(op, "blockSize", opts.blockSize, 64);
  } else {
    const rs = posInt(op, "regionSize", opts.regionSize, 64);
    for (let i = 0; i < S; i++) region[i] = Math.floor(i / rs);
    R = Math.ceil(S / rs);
    bs = posInt(op, "blockSize", opts.blockSize, rs);
  }
  const count = new Int32Array(R);
  for (let i = 0; i < S; i++) count[region[i]]++;
  const qs = f32(q);
  const ks = f32(k);
  const routed = new Int32Array(B * Hq * R * R);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      ctx.check();
      const bh = b * Hq + h;
      const kh = b * Hkv + Math.floor(h / group);
      const qr = new Float32Array(R * D);
      const kr = new Float32Array(R * D);
      for (let i = 0; i < S; i++) {
        const r = region[i];
        for (let d = 0; d < D; d++) {
          qr[r * D + d] += qs[(bh * S + i) * D + d] / count[r];
          kr[r * D + d] += ks[(kh * S + i) * D + d] / count[r];
        }
      }
      const a = await matmulNT(ctx, qr, R, kr, R, D);
      for (let r = 0; r < R; r++) {
        const valid = causal ? r + 1 : R;
        for (const j of topkIdx(a, r * R, valid, topK)) routed[(bh * R + r) * R + j] = 1;
      }
    }
  const g = new TileGrid(B, Hq, S, S, bs, bs);
  const qHas = new Uint8Array(R);
  const kHas = new Uint8Array(R);
  for (let bh = 0; bh < B * Hq; bh++)
    for (let qb = 0; qb < g.qBlocks; qb++) {
      qHas.fill(0);
      for (let i = qb * bs; i < Math.min(S, (qb + 1) * bs); i++) qHas[region[i]] = 1;
      for (let kb = 0; kb < g.kvBlocks; kb++) {
        if (causal && kb > qb) continue;
        kHas.fill(0);
        for (let j = kb * bs; j < Math.min(S, (kb + 1) * bs); j++) kHas[region[j]] = 1;
        let any = false;
        let all = true;
        for (let r = 0; r < R; r++) {
          if (!qHas[r]) continue;
          for (let s = 0; s < R; s++) {
            if (!kHas[s]) continue;
            if (routed[(bh * R + r) * R + s]) any = true;
            else all = false;
          }
        }
        if (!any) continue;
        const below = !causal || kb < qb;
        g.mark(bh, qb, kb, all && below ? TILE_FULL : TILE_PARTIAL);
      }
    }
  const regE = (v: "q" | "kv") => ir.idx(1, ir.v(v));
  const idx = ir.bin("add", ir.bin("mul", ir.bin("add", ir.bin("mul", bhExpr(Hq), ir.num(R)), regE("q")), ir.num(R)), regE("kv"));
  const mask = makeMask(
    "biformer",
    `biformer_${R}_regions_top${topK}`,
    { regions: R, topK },
    (b, h, qi, kv) => (!causal || qi >= kv) && routed[((b * Hq + h) * R + region[qi]) * R + region[kv]] === 1,
    { expr: causal ? ir.bin("and", CAUSAL_EXPR, ir.idx(0, idx)) : ir.idx(0, idx), tables: [routed, region] },
  );
  return ctx.finish(g.toFields(mask), { regions: R, topK, blockSize: bs, causal });
}
