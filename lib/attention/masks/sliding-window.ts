import { KV, Q, abs, and, ge, lt, num, sub } from "./support/ir.js";
import { bandClass, dMax, dMin } from "./support/delta.js";
import { checkInt, makeMask } from "./support/make-mask.js";
import type { Mask } from "../types.js";

/**
 * Sliding window of `w` keys per query, itself included, as Mistral counts:
 * `q >= kv and q - kv < w`. With `{ bidirectional: true }`: `abs(q - kv) < w` (w - 1 keys on
 * each side plus itself). Note attention-gym's generator uses `q - kv <= w` (w + 1 keys).
 * @example
 * const m = sl.masks.slidingWindow(256);
 * m.name;                 // "sliding_window_256"
 * m.at(0, 0, 300, 45);    // true  (300 - 45 = 255 < 256)
 * m.at(0, 0, 300, 44);    // false
 */
export function slidingWindow(w: number, opts: { bidirectional?: boolean } = {}): Mask {
  checkInt("slidingWindow", "w", w, 1);
  const bi = !!opts.bidirectional;
  const d = sub(Q, KV);
  return makeMask({
    kind: "slidingWindow",
    name: bi ? `sliding_window_bidirectional_${w}` : `sliding_window_${w}`,
    params: { w, bidirectional: bi },
    at: bi ? (_b, _h, q, kv) => Math.abs(q - kv) < w : (_b, _h, q, kv) => q >= kv && q - kv < w,
    program: { expr: bi ? lt(abs(d), num(w)) : and(ge(Q, KV), lt(d, num(w))), tables: [] },
    classifyTile: (_b, _h, q0, q1, kv0, kv1) => bandClass(dMin(q0, kv1), dMax(q1, kv0), bi ? 1 - w : 0, w - 1),
  });
}
