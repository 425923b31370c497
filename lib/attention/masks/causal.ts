import { KV, Q, ge } from "./support/ir.js";
import { bandClass, dMax, dMin } from "./support/delta.js";
import { makeMask } from "./support/make-mask.js";
import type { Mask } from "../types.js";

/**
 * Causal: query q sees keys kv <= q (`q >= kv`). Positions are absolute, so with qLen < kvLen
 * the queries are the first qLen positions (FlexAttention's convention).
 * @example
 * const bm = sl.createBlockMask(sl.masks.causal(), { qLen: 1024, kvLen: 1024 });
 * bm.toString();   // lower-triangular grid: full below the diagonal, partial on it
 */
export function causal(): Mask {
  return makeMask({
    kind: "causal",
    name: "causal",
    params: {},
    at: (_b, _h, q, kv) => q >= kv,
    program: { expr: ge(Q, KV), tables: [] },
    classifyTile: (_b, _h, q0, q1, kv0, kv1) => bandClass(dMin(q0, kv1), dMax(q1, kv0), 0, Infinity),
  });
}
