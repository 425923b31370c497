/**
 * Quest: query-aware page selection for decoding from per-page key min/max bounds.
 */
import type { Tensor } from "../../tensor/tensor.js";
import { argError } from "../../errors.js";
import { blockPool, check4d, Ctx, f32, matmulNT, nonNegInt, posInt, topkIdx, type EstimatorCommonOptions } from "./common.js";
import { allIndices, checkDecode, packIndices } from "./decode-common.js";

/** Options of {@link quest}. */
export interface QuestOptions extends EstimatorCommonOptions {
  /** Tokens per page. Default 16. */
  pageSize?: number;
  /** Token budget (the last page included). Default 1024. */
  budget?: number;
  /** The model layer of this call; layers below `denseLayers` attend everything. Default: not dense. */
  layer?: number;
  /** Layers attended densely (Quest skips its first two layers). Default 2. */
  denseLayers?: number;
  /**
   * Page min/max from {@link questMetadata}, kept beside the cache as Quest does (updated
   * when a page fills), so a step does not re-pool the whole cache. Default: computed now.
   */
  metadata?: QuestMetadata;
}

/** Per-page, per-channel key min and max of a cache: f32 [B, Hkv, pages, D] each. */
export interface QuestMetadata {
  pageSize: number;
  /** Cache length the metadata was computed for. */
  length: number;
  min: Float32Array;
  max: Float32Array;
}

/**
 * Quest's page metadata: per page of `pageSize` (16) tokens, the per-channel min and max of the
 * keys (ragged last page). Compute once per cache and pass it to {@link quest} for each step.
 * @example
 * const meta = await sl.dynamic.questMetadata(kCache, { pageSize: 16 });
 * const idx = await sl.dynamic.quest(q, kCache, { budget: 1024, metadata: meta });
 */
export async function questMetadata(kCache: Tensor, opts: { pageSize?: number } & EstimatorCommonOptions = {}): Promise<QuestMetadata> {
  const op = "dynamic.questMetadata";
  const ctx = new Ctx(op, opts);
  const k = check4d(op, "kCache", kCache);
  const page = posInt(op, "pageSize", opts.pageSize, 16);
  return { pageSize: page, length: k.shape[2], min: await blockPool(ctx, k, page, "min"), max: await blockPool(ctx, k, page, "max") };
}

function checkMetadata(op: string, m: QuestMetadata, kCache: Tensor, page: number): void {
  const [B, Hkv, S, D] = kCache.shape;
  const want = B * Hkv * Math.ceil(S / page) * D;
  if (!m || m.pageSize !== page || m.length !== S || !(m.min instanceof Float32Array) || m.min.length !== want || !(m.max instanceof Float32Array) || m.max.length !== want)
    argError(op, "metadata", `questMetadata of this cache (pageSize ${page}, length ${S})`, m ? `pageSize ${m.pageSize}, length ${m.length}` : String(m));
}

/**
 * Per-page upper bounds of q · k for each query head: f32 [B, Hq, pages], the max over the
 * queries of Σ_i max(q_i · m_i, q_i · M_i) where m, M are the page's per-channel key min/max.
 * Never below the true max score in the page.
 * @example
 * const ub = await sl.dynamic.questPageBounds(q, kCache, { pageSize: 16 });
 */
export async function questPageBounds(q: Tensor, kCache: Tensor, opts: { pageSize?: number } & EstimatorCommonOptions = {}): Promise<Float32Array> {
  const op = "dynamic.questPageBounds";
  const ctx = new Ctx(op, opts);
  checkDecode(op, q, kCache);
  return bounds(ctx, q, kCache, posInt(op, "pageSize", opts.pageSize, 16));
}

async function bounds(ctx: Ctx, q: Tensor, kCache: Tensor, page: number, meta?: QuestMetadata): Promise<Float32Array> {
  const [B, Hq, Sq, D] = q.shape;
  const [, Hkv, S] = kCache.shape;
  const group = Hq / Hkv;
  const np = Math.ceil(S / page);
  const mn = meta ? meta.min : await blockPool(ctx, kCache, page, "min");
  const mx = meta ? meta.max : await blockPool(ctx, kCache, page, "max");
  const qs = f32(q);
  const out = new Float32Array(B * Hq * np).fill(-Infinity);
  if (!ctx.reference) {
    // Σ_i max(q_i m_i, q_i M_i) = q⁺ · M + q⁻ · m (q⁺ = max(q, 0), q⁻ = min(q, 0)): two
    // products against the page metadata, on the registry's matmul.
    for (let b = 0; b < B; b++)
      for (let h = 0; h < Hq; h++) {
        ctx.check();
        const bh = b * Hq + h;
        const kh = b * Hkv + Math.floor(h / group);
        const qp = new Float32Array(Sq * D);
        const qn = new Float32Array(Sq * D);
        for (let i = 0; i < Sq * D; i++) {
          const x = qs[bh * Sq * D + i];
          if (x >= 0) qp[i] = x;
          else qn[i] = x;
        }
        const hi = await matmulNT(ctx, qp, Sq, mx.subarray(kh * np * D, (kh + 1) * np * D), np, D);
        const lo = await matmulNT(ctx, qn, Sq, mn.subarray(kh * np * D, (kh + 1) * np * D), np, D);
        for (let i = 0; i < Sq; i++)
          for (let p = 0; p < np; p++) {
            const v = hi[i * np + p] + lo[i * np + p];
            if (v > out[bh * np + p]) out[bh * np + p] = v;
          }
      }
    return out;
  }
  ctx.flops += 4 * B * Hq * Sq * np * D;
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      ctx.check();
      const bh = b * Hq + h;
      const kh = b * Hkv + Math.floor(h / group);
      for (let i = 0; i < Sq; i++) {
        const qo = (bh * Sq + i) * D;
        for (let p = 0; p < np; p++) {
          const po = (kh * np + p) * D;
          let s = 0;
          for (let d = 0; d < D; d++) {
            const qd = qs[qo + d];
            s += qd >= 0 ? qd * mx[po + d] : qd * mn[po + d];
          }
          if (s > out[bh * np + p]) out[bh * np + p] = s;
        }
      }
    }
  return out;
}

/**
 * Quest page selection (decode).
 *
 * Rule (Quest, arXiv 2406.10774, github.com/mit-han-lab/Quest): keys are stored in pages of 16
 * tokens with per-channel min m and max M; a page's score is the upper bound
 * Σ_i max(q_i m_i, q_i M_i) of q · k over its keys; the pages with the highest bounds are kept
 * within the token budget. The last (current, possibly partial) page is always kept, as in the
 * official kernels. A KV head serves its query group: a page's bound is the max over the
 * group's heads (a page any head needs is loaded). Layers below `denseLayers` (2) are dense.
 *
 * Returns i32 [B, Hkv, n] sorted token positions, n = r + pageSize · floor((budget − r) /
 * pageSize) with r the last page's length (or all S positions when the budget covers the cache).
 *
 * @example
 * const idx = await sl.dynamic.quest(q, kCache, { budget: 1024 });
 * const out = await sl.decodeAttention(q, kCache, vCache, { indices: idx });
 */
export async function quest(q: Tensor, kCache: Tensor, opts: QuestOptions = {}): Promise<Tensor<"i32">> {
  const op = "dynamic.quest";
  const ctx = new Ctx(op, opts);
  const { B, Hq, Hkv, Skv: S, group } = checkDecode(op, q, kCache);
  const page = posInt(op, "pageSize", opts.pageSize, 16);
  const budget = posInt(op, "budget", opts.budget, 1024);
  const denseLayers = nonNegInt(op, "denseLayers", opts.denseLayers, 2);
  if (opts.metadata !== undefined) checkMetadata(op, opts.metadata, kCache, page);
  const params = { pageSize: page, budget, denseLayers, layer: opts.layer };
  if (opts.layer !== undefined && nonNegInt(op, "layer", opts.layer, 0) < denseLayers) return ctx.finish(allIndices(B, Hkv, S), params);
  if (budget >= S) return ctx.finish(allIndices(B, Hkv, S), params);
  const np = Math.ceil(S / page);
  const ub = await bounds(ctx, q, kCache, page, opts.metadata);
  const last = np - 1;
  const r = S - last * page;
  const extra = Math.max(0, Math.floor((budget - r) / page));
  const lists: Int32Array[] = [];
  const gb = new Float64Array(np);
  for (let b = 0; b < B; b++)
    for (let kh = 0; kh < Hkv; kh++) {
      gb.fill(-Infinity);
      for (let g = 0; g < group; g++) {
        const bh = b * Hq + kh * group + g;
        for (let p = 0; p < np; p++) gb[p] = Math.max(gb[p], ub[bh * np + p]);
      }
      const pages = Array.from(topkIdx(gb, 0, last, extra)).sort((x, y) => x - y);
      pages.push(last);
      const list = new Int32Array(pages.length === 0 ? 0 : (pages.length - 1) * page + r);
      let n = 0;
      for (const p of pages) for (let t = p * page; t < Math.min(S, (p + 1) * page); t++) list[n++] = t;
      lists.push(list);
    }
  return ctx.finish(packIndices(lists, B, Hkv), params);
}
