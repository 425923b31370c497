import { KV, Q, and, ge, lt, num, or, sub } from "./support/ir.js";
import { dMax, dMin } from "./support/delta.js";
import { checkInt, makeMask } from "./support/make-mask.js";
import { TILE_EMPTY, TILE_FULL, type Mask } from "../types.js";

/**
 * Attention sinks plus a sliding window (StreamingLLM; MInference's "A-shape"): causal, and
 * the first `n` keys or the last `window` keys (itself included):
 * `q >= kv and (kv < n or q - kv < window)`.
 * StreamingLLM keeps 4 sinks; A-shape uses 128 sinks and a 3968-token window.
 * @example
 * const m = sl.masks.sink(4, 1024);
 * m.at(0, 0, 5000, 2);     // true: a sink
 * m.at(0, 0, 5000, 3000);  // false
 */
export function sink(n: number, window: number): Mask {
  checkInt("sink", "n", n, 0);
  checkInt("sink", "window", window, 1);
  return makeMask({
    kind: "sink",
    name: `sink_${n}_window_${window}`,
    params: { n, window },
    at: (_b, _h, q, kv) => q >= kv && (kv < n || q - kv < window),
    program: { expr: and(ge(Q, KV), or(lt(KV, num(n)), lt(sub(Q, KV), num(window)))), tables: [] },
    classifyTile: (_b, _h, q0, q1, kv0, kv1) => {
      const a = dMin(q0, kv1), b = dMax(q1, kv0);
      if (b < 0 || (kv0 >= n && a >= window)) return TILE_EMPTY;
      if (a >= 0 && (kv1 - 1 < n || b < window)) return TILE_FULL;
      return undefined;
    },
  });
}
