/**
 * Routing Transformer: queries and keys clustered by seeded spherical k-means; a query attends
 * the keys of its own cluster.
 */
import { argError } from "../../errors.js";
import type { Tensor } from "../../tensor/tensor.js";
import type { BlockMask } from "../block-mask.js";
import { TILE_FULL, TILE_PARTIAL } from "../types.js";
import {
  bhExpr, CAUSAL_EXPR, checkBool, checkPrefill, Ctx, f32, ir, makeMask, matmulNT, nonNegInt, posInt, TileGrid,
  type PrefillCommonOptions,
} from "./common.js";
import { SeededRandom } from "./rng.js";

/** Options of {@link routingTransformer}. */
export interface RoutingTransformerOptions extends PrefillCommonOptions {
  /** Target tokens per cluster; clusters = ceil(S / clusterSize). Default 128. */
  clusterSize?: number;
  /** Explicit cluster count (overrides clusterSize). */
  clusters?: number;
  /** Lloyd iterations. Default 8. */
  iterations?: number;
  /** Seed of the centroid initialisation. Default 0. */
  seed?: number;
  /** Tile size of the block cover. Default 128. */
  blockSize?: number;
  /**
   * "joint" (default, the paper's rule): centroids fitted on queries and keys together.
   * "keys": centroids fitted on the keys only; each query goes to the centroid with the largest
   * q · centroid (training-free routing when Q and K were not trained to share clusters).
   */
  fit?: "joint" | "keys";
}

/** The cluster assignments behind a Routing Transformer mask: i32 [B·H, S] for queries and keys. */
export interface RoutingAssignment {
  queryCluster: Int32Array;
  keyCluster: Int32Array;
  clusters: number;
}

const assignments = new WeakMap<object, RoutingAssignment>();

/**
 * The cluster assignments behind a mask returned by {@link routingTransformer}.
 * @example
 * const bm = await sl.dynamic.routingTransformer(q, k, { seed: 1 });
 * sl.dynamic.routingAssignment(bm)!.queryCluster.slice(0, 10);
 */
export function routingAssignment(bm: object): RoutingAssignment | undefined {
  return assignments.get(bm);
}

/**
 * Routing Transformer estimator (prefill).
 *
 * Rule (Routing Transformer, arXiv 2003.05997, `KmeansAttention` in lucidrains/routing-transformer
 * and google-research/routing_transformer): queries and keys of a head share one set of
 * centroids learned by spherical k-means on the unit-normalised vectors; every token goes to
 * its nearest centroid (largest dot product); query i attends key j when both are in the same
 * cluster (and j <= i when causal). The paper learns centroids online by EMA; we run `iterations`
 * Lloyd steps from centroids drawn with `seed`, on the q rows and k rows of the call. Each query
 * also keeps its own position so no row is empty. The BlockMask is the cover of the element
 * mask: tiles where some pair shares a cluster are partial, refined by a table-backed mask
 * that native backends run from IR. The assignments: {@link routingAssignment}.
 *
 * @example
 * const bm = await sl.dynamic.routingTransformer(q, k, { clusterSize: 128, seed: 1 });
 */
export async function routingTransformer(q: Tensor, k: Tensor, opts: RoutingTransformerOptions = {}): Promise<BlockMask> {
  const op = "dynamic.routingTransformer";
  const ctx = new Ctx(op, opts);
  const causal = checkBool(op, "causal", opts.causal, true);
  const { B, Hq, Hkv, Sq, Skv, D, group } = checkPrefill(op, q, k, causal);
  const clusterSize = posInt(op, "clusterSize", opts.clusterSize, 128);
  const C = Math.min(Sq + Skv, posInt(op, "clusters", opts.clusters, Math.max(1, Math.ceil(Math.max(Sq, Skv) / clusterSize))));
  const iters = nonNegInt(op, "iterations", opts.iterations, 8);
  const seed = nonNegInt(op, "seed", opts.seed, 0);
  const bs = posInt(op, "blockSize", opts.blockSize, 128);
  const fit = opts.fit ?? "joint";
  if (fit !== "joint" && fit !== "keys") argError(op, "fit", '"joint" or "keys"', String(fit));
  const qs = f32(q);
  const ks = f32(k);
  const qc = new Int32Array(B * Hq * Sq);
  const kc = new Int32Array(B * Hq * Skv);
  const N = Sq + Skv;
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      ctx.check();
      const bh = b * Hq + h;
      const kh = b * Hkv + Math.floor(h / group);
      // Points: normalised q rows then k rows.
      const pts = new Float32Array(N * D);
      const put = (src: Float32Array, off: number, row: number) => {
        let n = 0;
        for (let d = 0; d < D; d++) n += src[off + d] * src[off + d];
        const inv = n > 0 ? 1 / Math.sqrt(n) : 0;
        for (let d = 0; d < D; d++) pts[row * D + d] = src[off + d] * inv;
      };
      for (let i = 0; i < Sq; i++) put(qs, (bh * Sq + i) * D, i);
      for (let j = 0; j < Skv; j++) put(ks, (kh * Skv + j) * D, Sq + j);
      // Points fitted: all (joint) or the keys only (rows Sq..N).
      const f0 = fit === "joint" ? 0 : Sq;
      const nFit = N - f0;
      const fitPts = pts.subarray(f0 * D);
      const rng = new SeededRandom(seed * 1000003 + bh);
      const cent = new Float32Array(C * D);
      const picked = new Set<number>();
      for (let c = 0; c < C; c++) {
        let r = rng.int(nFit);
        while (picked.has(r) && picked.size < nFit) r = rng.int(nFit);
        picked.add(r);
        cent.set(fitPts.subarray(r * D, (r + 1) * D), c * D);
      }
      const assign = new Int32Array(N);
      for (let it = 0; it <= iters; it++) {
        // The last round assigns every point (queries included); earlier rounds only the fitted ones.
        const last = it === iters;
        const from = last ? 0 : f0;
        const s = await matmulNT(ctx, pts.subarray(from * D), N - from, cent, C, D);
        for (let i = from; i < N; i++) {
          let best = 0;
          let bv = -Infinity;
          const o = (i - from) * C;
          for (let c = 0; c < C; c++) if (s[o + c] > bv) { bv = s[o + c]; best = c; }
          assign[i] = best;
        }
        if (it === iters) break;
        const sum = new Float64Array(C * D);
        const cnt = new Int32Array(C);
        for (let i = f0; i < N; i++) {
          cnt[assign[i]]++;
          for (let d = 0; d < D; d++) sum[assign[i] * D + d] += pts[i * D + d];
        }
        for (let c = 0; c < C; c++) {
          if (cnt[c] === 0) continue; // an empty cluster keeps its centroid
          let n = 0;
          for (let d = 0; d < D; d++) n += sum[c * D + d] * sum[c * D + d];
          const inv = n > 0 ? 1 / Math.sqrt(n) : 0;
          for (let d = 0; d < D; d++) cent[c * D + d] = sum[c * D + d] * inv;
        }
      }
      qc.set(assign.subarray(0, Sq), bh * Sq);
      kc.set(assign.subarray(Sq), bh * Skv);
    }
  const g = new TileGrid(B, Hq, Sq, Skv, bs, bs);
  const has = new Uint8Array(C);
  for (let bh = 0; bh < B * Hq; bh++)
    for (let kb = 0; kb < g.kvBlocks; kb++) {
      has.fill(0);
      const k0 = kb * bs;
      const k1 = Math.min(Skv, k0 + bs);
      let distinct = 0;
      for (let j = k0; j < k1; j++) if (!has[kc[bh * Skv + j]]++) distinct++;
      for (let qb = 0; qb < g.qBlocks; qb++) {
        const q0 = qb * bs;
        const q1 = Math.min(Sq, q0 + bs);
        if (causal && k0 > q1 - 1) continue;
        let hit = 0;
        for (let i = q0; i < q1; i++) if (has[qc[bh * Sq + i]]) hit++;
        const self = q0 < k1 && k0 < q1; // the diagonal (self) positions cross this tile
        if (hit === 0 && !self) continue;
        const below = !causal || k1 - 1 <= q0;
        const full = below && distinct === 1 && hit === q1 - q0;
        g.mark(bh, qb, kb, full ? TILE_FULL : TILE_PARTIAL);
      }
    }
  const same = ir.bin(
    "eq",
    ir.idx(0, ir.bin("add", ir.bin("mul", bhExpr(Hq), ir.num(Sq)), ir.v("q"))),
    ir.idx(1, ir.bin("add", ir.bin("mul", bhExpr(Hq), ir.num(Skv)), ir.v("kv"))),
  );
  const sel = ir.bin("or", same, ir.bin("eq", ir.v("q"), ir.v("kv")));
  const mask = makeMask(
    "routingTransformer",
    `routing_${C}_clusters_seed${seed}`,
    { clusters: C, iterations: iters, seed },
    (b, h, qi, kv) => (!causal || qi >= kv) && (qi === kv || qc[(b * Hq + h) * Sq + qi] === kc[(b * Hq + h) * Skv + kv]),
    { expr: causal ? ir.bin("and", CAUSAL_EXPR, sel) : sel, tables: [qc, kc] },
  );
  const bm = g.toFields(mask);
  assignments.set(bm, { queryCluster: qc, keyCluster: kc, clusters: C });
  return ctx.finish(bm, { clusters: C, iterations: iters, seed, blockSize: bs, causal, fit });
}
