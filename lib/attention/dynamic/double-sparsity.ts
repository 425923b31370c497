/**
 * Double Sparsity: approximate scores from a few calibrated "label" channels, then exact
 * attention over the top tokens.
 */
import { argError, fmtShape } from "../../errors.js";
import { Tensor } from "../../tensor/tensor.js";
import { check4d, Ctx, f32, posInt, topkIdx, type EstimatorCommonOptions } from "./common.js";
import { allIndices, checkDecode, packIndices } from "./decode-common.js";

/**
 * Chooses label channels per KV head by calibration: channel c's importance is
 * Σ_tokens Σ_{heads of the group} |q_c · k_c| (Double Sparsity's "qk" outlier criterion) on
 * calibration queries and keys at the same positions; without queries, Σ |k_c|. Returns
 * i32 [Hkv, channels], each row sorted ascending.
 *
 * @example
 * const labels = await sl.dynamic.doubleSparsityCalibrate(kCal, { queries: qCal, channels: 8 });
 */
export async function doubleSparsityCalibrate(keys: Tensor, opts: { queries?: Tensor; channels?: number } = {}): Promise<Tensor<"i32">> {
  const op = "dynamic.doubleSparsityCalibrate";
  const k = check4d(op, "keys", keys);
  const [B, Hkv, S, D] = k.shape;
  const r = posInt(op, "channels", opts.channels, Math.max(1, Math.floor(D / 16)));
  if (r > D) argError(op, "channels", `at most the head dim ${D}`, String(r));
  const ks = f32(k);
  const imp = new Float64Array(Hkv * D);
  if (opts.queries !== undefined) {
    const q = check4d(op, "queries", opts.queries);
    const [Bq, Hq, Sq, Dq] = q.shape;
    if (Bq !== B || Sq !== S || Dq !== D || Hq % Hkv !== 0)
      argError(op, "queries", `[${B}, a multiple of ${Hkv}, ${S}, ${D}] at the keys' positions`, `shape ${fmtShape(q.shape)}`);
    const qs = f32(q);
    const g = Hq / Hkv;
    for (let b = 0; b < B; b++)
      for (let h = 0; h < Hq; h++) {
        const kh = Math.floor(h / g);
        for (let t = 0; t < S; t++)
          for (let c = 0; c < D; c++) imp[kh * D + c] += Math.abs(qs[((b * Hq + h) * S + t) * D + c] * ks[((b * Hkv + kh) * S + t) * D + c]);
      }
  } else {
    for (let b = 0; b < B; b++) for (let h = 0; h < Hkv; h++) for (let t = 0; t < S; t++) for (let c = 0; c < D; c++) imp[h * D + c] += Math.abs(ks[((b * Hkv + h) * S + t) * D + c]);
  }
  const out = new Int32Array(Hkv * r);
  for (let h = 0; h < Hkv; h++) out.set(Int32Array.from(topkIdx(imp, h * D, D, r)).sort(), h * r);
  return new Tensor([Hkv, r], "i32", out);
}

/** Options of {@link doubleSparsity}. */
export interface DoubleSparsityOptions extends EstimatorCommonOptions {
  /** Label channels i32 [Hkv, r] from {@link doubleSparsityCalibrate}. Default: calibrated on kCache itself (Σ |q_c|·|k_c|). */
  labels?: Tensor<"i32">;
  /** Tokens kept. Default ceil(S / 16). */
  tokens?: number;
  /** Label channels when calibrating on the fly. Default D / 16. */
  channels?: number;
  /**
   * The label cache from {@link doubleSparsityLabelCache} (the label channels of every key,
   * contiguous, kept beside the KV cache as Double Sparsity does), so a step reads S·r floats
   * instead of striding through the whole cache. Requires `labels`.
   */
  labelCache?: DoubleSparsityLabelCache;
}

/** The label channels of every cached key: f32 [B, Hkv, S, r]. */
export interface DoubleSparsityLabelCache {
  labels: Tensor<"i32">;
  length: number;
  data: Float32Array;
}

/**
 * Builds Double Sparsity's label cache: for each cached key, its label channels (r per KV
 * head) stored contiguously. Append to it as tokens arrive; pass it to {@link doubleSparsity}.
 * @example
 * const cache = sl.dynamic.doubleSparsityLabelCache(kCache, labels);
 * const idx = await sl.dynamic.doubleSparsity(q, kCache, { labels, labelCache: cache });
 */
export function doubleSparsityLabelCache(kCache: Tensor, labels: Tensor<"i32">): DoubleSparsityLabelCache {
  const op = "dynamic.doubleSparsityLabelCache";
  const k = check4d(op, "kCache", kCache);
  const [B, Hkv, S, D] = k.shape;
  if (!(labels instanceof Tensor) || labels.dtype !== "i32" || labels.ndim !== 2 || labels.shape[0] !== Hkv)
    argError(op, "labels", `an i32 tensor [${Hkv}, r]`, labels instanceof Tensor ? `${labels.dtype} ${fmtShape(labels.shape)}` : typeof labels);
  const r = labels.shape[1];
  const lab = labels.data as Int32Array;
  for (const c of lab) if (c < 0 || c >= D) argError(op, "labels", `channel ids in [0, ${D})`, String(c));
  const ks = f32(k);
  const out = new Float32Array(B * Hkv * S * r);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hkv; h++)
      for (let t = 0; t < S; t++) {
        const src = ((b * Hkv + h) * S + t) * D;
        const dst = ((b * Hkv + h) * S + t) * r;
        for (let c = 0; c < r; c++) out[dst + c] = ks[src + lab[h * r + c]];
      }
  return { labels, length: S, data: out };
}

/**
 * Double Sparsity token selection (decode).
 *
 * Rule (Double Sparsity, arXiv 2408.07092, github.com/andy-yang-1/DoubleSparse): offline
 * calibration picks r label channels per head (the "outlier" channels of |q · k|); at decode
 * time the approximate score of token t is Σ_{c in labels} q_c · k_{t,c} (computed from a label
 * cache), summed over the KV head's query group; the top `tokens` (S/16) tokens get exact
 * attention. Returns i32 [B, Hkv, tokens] sorted positions.
 *
 * @example
 * const labels = await sl.dynamic.doubleSparsityCalibrate(kCal, { queries: qCal, channels: 8 });
 * const idx = await sl.dynamic.doubleSparsity(q, kCache, { labels, tokens: 2048 });
 */
export async function doubleSparsity(q: Tensor, kCache: Tensor, opts: DoubleSparsityOptions = {}): Promise<Tensor<"i32">> {
  const op = "dynamic.doubleSparsity";
  const ctx = new Ctx(op, opts);
  const { B, Hq, Hkv, Sq, Skv: S, D, group } = checkDecode(op, q, kCache);
  const nTok = posInt(op, "tokens", opts.tokens, Math.ceil(S / 16));
  let labels = opts.labels;
  if (labels === undefined) {
    // On-the-fly calibration: channel importance mean_t |k_tc| · Σ_group |q_c|.
    const r = posInt(op, "channels", opts.channels, Math.max(1, Math.floor(D / 16)));
    const ks = f32(kCache);
    const qs = f32(q);
    const out = new Int32Array(Hkv * r);
    for (let kh = 0; kh < Hkv; kh++) {
      const imp = new Float64Array(D);
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < S; t++) for (let c = 0; c < D; c++) imp[c] += Math.abs(ks[((b * Hkv + kh) * S + t) * D + c]);
      }
      const qa = new Float64Array(D);
      for (let b = 0; b < B; b++) for (let g = 0; g < group; g++) for (let i = 0; i < Sq; i++) for (let c = 0; c < D; c++) qa[c] += Math.abs(qs[(((b * Hq + kh * group + g) * Sq) + i) * D + c]);
      for (let c = 0; c < D; c++) imp[c] *= qa[c];
      out.set(Int32Array.from(topkIdx(imp, 0, D, r)).sort(), kh * r);
    }
    labels = new Tensor([Hkv, r], "i32", out);
  }
  if (!(labels instanceof Tensor) || labels.dtype !== "i32" || labels.ndim !== 2 || labels.shape[0] !== Hkv)
    argError(op, "labels", `an i32 tensor [${Hkv}, r]`, labels instanceof Tensor ? `${labels.dtype} ${fmtShape(labels.shape)}` : typeof labels);
  const r = labels.shape[1];
  const lab = labels.data as Int32Array;
  for (const c of lab) if (c < 0 || c >= D) argError(op, "labels", `channel ids in [0, ${D})`, String(c));
  const params = { tokens: nTok, channels: r };
  let lc: Float32Array | undefined;
  if (opts.labelCache !== undefined) {
    const c = opts.labelCache;
    if (opts.labels === undefined || !c || c.labels !== opts.labels || c.length !== S || !(c.data instanceof Float32Array) || c.data.length !== B * Hkv * S * r)
      argError(op, "labelCache", `doubleSparsityLabelCache(kCache, labels) of this cache (length ${S}) and these labels`, c ? `length ${c.length}` : String(c));
    lc = c.data;
  }
  if (nTok >= S) return ctx.finish(allIndices(B, Hkv, S), params);
  ctx.used["labelScores"] = "loops";
  const qs = f32(q);
  const ks = f32(kCache);
  const lists: Int32Array[] = [];
  const score = new Float64Array(S);
  for (let b = 0; b < B; b++)
    for (let kh = 0; kh < Hkv; kh++) {
      ctx.check();
      score.fill(0);
      const ch = lab.subarray(kh * r, (kh + 1) * r);
      // Σ over the group's queries of the label-channel dot product: Σ_c (Σ_q q_c) · k_tc.
      const qsum = new Float64Array(r);
      for (let g = 0; g < group; g++)
        for (let i = 0; i < Sq; i++) {
          const qo = ((b * Hq + kh * group + g) * Sq + i) * D;
          for (let c = 0; c < r; c++) qsum[c] += qs[qo + ch[c]];
        }
      if (lc) {
        const base = (b * Hkv + kh) * S * r;
        for (let t = 0; t < S; t++) {
          let s = 0;
          for (let c = 0; c < r; c++) s += qsum[c] * lc[base + t * r + c];
          score[t] = s;
        }
      } else {
        const kb = (b * Hkv + kh) * S * D;
        for (let t = 0; t < S; t++) {
          let s = 0;
          for (let c = 0; c < r; c++) s += qsum[c] * ks[kb + t * D + ch[c]];
          score[t] = s;
        }
      }
      lists.push(Int32Array.from(topkIdx(score, 0, S, nTok)).sort());
    }
  return ctx.finish(packIndices(lists, B, Hkv), params);
}
