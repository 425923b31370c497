import { argError } from "../../errors.js";
import { allocStorage } from "../../tensor/dtype.js";
import { Tensor } from "../../tensor/tensor.js";
import type { BackendName } from "../../backends/registry.js";
import type { BlockMaskFields } from "../block-mask.js";
import type { ScoreMod } from "../types.js";
import { attention, checkOptions, checkQkv } from "../attention.js";
import { decodeAttention } from "../decode-attention.js";
import { pct, withDisplay } from "./show.js";
import { createBlockMask } from "../create-block-mask.js";
import { causal } from "../masks/causal.js";

/** Options of {@link recall}: what counts as kept (a block mask, or decode index sets), and how scores are made. */
export interface RecallOptions {
  /** Kept = the pairs this block mask attends (partial tiles refined by its mask). */
  blockMask?: BlockMaskFields;
  /** Decode: kept = these cache positions, i32 [B, Hkv, n] (-1 = padding), as in decodeAttention. */
  indices?: Tensor<"i32">;
  /** Default 1 / sqrt(D). */
  scale?: number;
  /**
   * The attention the kept mass is a share of. Default: dense (every key). For a causal model
   * pass `causal: true` (or any block mask as `reference`), so recall is measured against the
   * causal softmax. The kept set should lie within the reference; one reaching outside it can
   * read above 1 (not clipped, so it shows).
   */
  reference?: BlockMaskFields;
  /** Shorthand for `reference` = the causal block mask (q >= kv). Not with `indices`. */
  causal?: boolean;
  /** Applied to the scores of both passes (recall is then measured under the modified softmax). Not with `indices`. */
  scoreMod?: ScoreMod;
  backend?: BackendName;
  signal?: AbortSignal;
}

/** The retained attention mass, with its definition. */
export interface Recall {
  /** Mean over (b, h, q) of the softmax mass on kept keys, in [0, 1]. */
  value: number;
  /** Mean per query head (over batch and queries). */
  perHead: number[];
  /** The smallest per-row recall (the worst-served query). */
  min: number;
  definition: string;
}

/**
 * Recall (retained attention mass): for each query row, the share of the dense softmax
 * softmax(scale · q·Kᵀ) that falls on kept keys, averaged over (b, h, q). Exact, and computed
 * tile-wise without an Sq x Skv matrix: the row's kept mass is exp(lse_kept − lse_all), where
 * both log-sum-exps come from flash-style attention passes on the fastest backend (with a
 * 1-wide V on the host, so the extra work is small). A row that keeps nothing has recall 0. A query row whose reference attends nothing
 * (possible with a custom reference) gives NaN, which shows rather than hides.
 *
 * @example
 * const q = sl.randn([1, 4, 2048, 64], { seed: 1 });
 * const k = sl.randn([1, 4, 2048, 64], { seed: 2 });
 * const bm = sl.createBlockMask(sl.masks.slidingWindow(256), { qLen: 2048, kvLen: 2048 });
 * (await sl.metrics.recall(q, k, { blockMask: bm, causal: true })).value;   // share of the causal softmax kept
 */
export async function recall(q: Tensor, k: Tensor, opts: RecallOptions): Promise<Recall> {
  const op = "metrics.recall";
  checkOptions(op, opts, ["blockMask", "indices", "reference", "causal", "scale", "scoreMod", "backend", "signal"]);
  if ((opts.blockMask === undefined) === (opts.indices === undefined))
    argError(op, "opts", "exactly one of blockMask or indices (what counts as kept)", opts.blockMask ? "both" : "neither");
  if (opts.indices !== undefined && opts.scoreMod !== undefined)
    argError(op, "opts.scoreMod", "absent with indices (decode attention takes no score mod)", "a score mod");
  if (opts.causal !== undefined && typeof opts.causal !== "boolean") argError(op, "opts.causal", "a boolean", String(opts.causal));
  if (opts.causal && opts.reference !== undefined) argError(op, "opts", "either causal or reference, not both", "both");
  if (opts.indices !== undefined && (opts.causal || opts.reference !== undefined))
    argError(op, "opts.reference", "absent with indices (decode recall is against the whole cache)", "a reference");
  // Validate here so errors name metrics.recall rather than the attention passes it runs.
  checkQkv(op, q, k, k, ["q", "k", "k"]);
  // Only the lse matters, and it does not depend on V. On the host a zero V of width 1 makes
  // the value half of the work vanish; device kernels may require Dv = D and V on the device,
  // so there V is simply K.
  const [B, Hkv, Skv] = k.shape;
  const onHost = k.device === "cpu";
  const v = onHost ? new Tensor([B, Hkv, Skv, 1], k.dtype, allocStorage(k.dtype, B * Hkv * Skv)) : k;
  try {
    const common = { scale: opts.scale, backend: opts.backend, signal: opts.signal, returnLse: true as const };
    let all;
    let kept;
    if (opts.indices) {
      all = await decodeAttention(q, k, v, common);
      kept = await decodeAttention(q, k, v, { ...common, indices: opts.indices });
    } else {
      const reference = opts.causal ? createBlockMask(causal(), { qLen: q.shape[2], kvLen: Skv }) : opts.reference;
      all = await attention(q, k, v, { ...common, scoreMod: opts.scoreMod, blockMask: reference });
      kept = await attention(q, k, v, { ...common, scoreMod: opts.scoreMod, blockMask: opts.blockMask });
    }
    const la = await all.lse.toTypedArray();
    const lk = await kept.lse.toTypedArray();
    all.output.dispose();
    kept.output.dispose();
    all.lse.dispose();
    kept.lse.dispose();
    const [, Hq, Sq] = q.shape;
    const perHead = new Float64Array(Hq);
    let sum = 0;
    let min = Infinity;
    for (let i = 0; i < la.length; i++) {
      // Not clipped at 1: a kept set reaching outside the reference should show, and rounding
      // alone moves the last digits only.
      const r = la[i] === -Infinity ? NaN : lk[i] === -Infinity ? 0 : Math.exp(lk[i] - la[i]);
      sum += r;
      if (r < min) min = r;
      perHead[Math.floor(i / Sq) % Hq] += r;
    }
    const rows = la.length;
    const result: Recall = {
      value: rows ? sum / rows : NaN,
      perHead: Array.from(perHead, (x) => (B * Sq ? x / (B * Sq) : NaN)),
      min: rows ? min : NaN,
      definition:
        "recall = mean over (b, h, q) of Σ_{kv kept} softmax(scale·q·Kᵀ" +
        (opts.scoreMod ? " with the score mod" : "") +
        (opts.causal ? " over the causal keys kv <= q" : opts.reference ? " over the reference block mask's keys" : " over all keys") +
        ")_kv (retained attention mass; exact)",
    };
    return withDisplay(result, () => [["recall", pct(result.value)], ["worst row", pct(result.min)], ["per head", result.perHead.map(pct).join(", ")]], result.definition);
  } finally {
    if (onHost) v.dispose();
  }
}
