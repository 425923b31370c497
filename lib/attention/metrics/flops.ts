import { argError } from "../../errors.js";
import type { BlockMaskFields } from "../block-mask.js";
import { checkBlockMaskShape } from "./check.js";
import { tallyBlockMask } from "./tally.js";
import { eng, pct, withDisplay } from "./show.js";

/** Options of {@link flops}: the work (a block mask, or a count of kept pairs) and the sizes. */
export interface FlopsOptions {
  /** Count the pairs this block mask attends (exactly, evaluating its mask inside partial tiles). */
  blockMask?: BlockMaskFields;
  /** Or give the kept (q, kv) pairs per (b, h) directly. */
  keptPairs?: number;
  /** Query/key head dim. */
  D: number;
  /** Value head dim; default D. */
  Dv?: number;
  /** Batch; default the block mask's B (or 1). */
  B?: number;
  /** Query heads; default the block mask's H (or 1). */
  H?: number;
  /** Needed with keptPairs for the dense comparison: query and key lengths. */
  qLen?: number;
  kvLen?: number;
}

/** FLOPs of an attention forward pass, with the dense figure beside it. */
export interface Flops {
  /** 2·(D + Dv)·B·H·keptPairs: the multiply-adds of q·k and p·v on kept pairs (= 4·B·H·D·kept when Dv = D). */
  value: number;
  /** The same count for dense attention (every pair); NaN when the lengths are unknown. */
  dense: number;
  /** value / dense. */
  ratio: number;
  /** Kept pairs per (b, h) summed over B·H. */
  keptPairs: number;
  /** FLOPs a tile kernel really spends: every element of every computed tile (partial tiles whole). NaN without a block mask. */
  computed: number;
  definition: string;
}

/**
 * Forward-pass FLOPs of sparse attention: 2·D for q·k plus 2·Dv for p·v per kept (q, kv)
 * pair, i.e. 4·B·H·D·keptPairs when Dv = D (softmax and masking not counted, as everyone
 * counts). Also the dense figure and what a tile kernel actually computes (partial tiles
 * whole), so a speed-up can be judged against the work saved.
 *
 * @example
 * const bm = sl.createBlockMask(sl.masks.causal(), { qLen: 4096, kvLen: 4096 });
 * const f = sl.metrics.flops({ blockMask: bm, D: 128, H: 16 });
 * f.value / 1e9, f.dense / 1e9, f.ratio;   // ~ half of dense
 */
export function flops(opts: FlopsOptions): Flops {
  const op = "metrics.flops";
  if (opts === null || typeof opts !== "object") argError(op, "opts", "{ blockMask | keptPairs, D, Dv?, B?, H? }", String(opts));
  const { blockMask: bm, keptPairs } = opts;
  if ((bm === undefined) === (keptPairs === undefined))
    argError(op, "opts", "exactly one of blockMask or keptPairs", bm ? "both" : "neither");
  const D = opts.D;
  const Dv = opts.Dv ?? D;
  for (const [name, x] of [["D", D], ["Dv", Dv]] as const)
    if (!Number.isInteger(x) || x < 1) argError(op, `opts.${name}`, "a positive integer", String(x));
  const B = opts.B ?? bm?.B ?? 1;
  const H = opts.H ?? bm?.H ?? 1;
  for (const [name, x] of [["B", B], ["H", H]] as const)
    if (!Number.isInteger(x) || x < 1) argError(op, `opts.${name}`, "a positive integer", String(x));
  const perPair = 2 * (D + Dv);
  const definition =
    `FLOPs = 2·(D + Dv)·B·H·keptPairs = ${perPair}·B·H·keptPairs (q·k and p·v multiply-adds on kept pairs; ` +
    `4·B·H·D·keptPairs when Dv = D); dense counts every pair`;
  if (bm !== undefined) {
    checkBlockMaskShape(op, bm, "opts.blockMask");
    if (bm.B !== 1 && bm.B !== B) argError(op, "opts.B", `the block mask's B (${bm.B}) or a batch it broadcasts to`, String(B));
    if (bm.H !== 1 && bm.H !== H) argError(op, "opts.H", `the block mask's H (${bm.H}) or heads it broadcasts to`, String(H));
    for (const [name, x, want] of [["qLen", opts.qLen, bm.qLen], ["kvLen", opts.kvLen, bm.kvLen]] as const)
      if (x !== undefined && x !== want) argError(op, `opts.${name}`, `the block mask's ${name} (${want})`, String(x));
    const t = tallyBlockMask(bm, { causal: false, elements: true });
    // A broadcast block mask (B or H of 1) stands for every batch row or head it covers.
    const rep = (B / bm.B) * (H / bm.H);
    const kept = t.elements * rep;
    const dense = perPair * B * H * bm.qLen * bm.kvLen;
    const value = perPair * kept;
    return shown({ value, dense, ratio: dense ? value / dense : 0, keptPairs: kept, computed: perPair * t.computedElements * rep, definition });
  }
  if (typeof keptPairs !== "number" || !Number.isFinite(keptPairs) || keptPairs < 0)
    argError(op, "opts.keptPairs", "a non-negative number of kept (q, kv) pairs per (b, h)", String(keptPairs));
  const kept = keptPairs * B * H;
  const value = perPair * kept;
  const dense = opts.qLen !== undefined && opts.kvLen !== undefined ? perPair * B * H * opts.qLen * opts.kvLen : NaN;
  return shown({ value, dense, ratio: value / dense, keptPairs: kept, computed: NaN, definition });
}

function shown(f: Flops): Flops {
  return withDisplay(
    f,
    () => [["FLOPs", `${eng(f.value)}FLOP`], ["dense", `${eng(f.dense)}FLOP`], ["ratio", pct(f.ratio)], ["computed by tiles", `${eng(f.computed)}FLOP`]],
    f.definition,
  );
}
