import { KV, Q, ge, lt, num, or } from "./support/ir.js";
import { checkInt, makeMask } from "./support/make-mask.js";
import { TILE_EMPTY, TILE_FULL, TILE_PARTIAL, type Mask } from "../types.js";

/**
 * Prefix LM: the first `p` keys are visible to every query (bidirectional prefix), the rest
 * causally: `kv < p or q >= kv`.
 * @example
 * const m = sl.masks.prefixLM(64);
 * m.at(0, 0, 10, 50);   // true: inside the prefix
 * m.at(0, 0, 100, 101); // false
 */
export function prefixLM(p: number): Mask {
  checkInt("prefixLM", "p", p, 0);
  return makeMask({
    kind: "prefixLM",
    name: `prefix_lm_${p}`,
    params: { p },
    at: (_b, _h, q, kv) => kv < p || q >= kv,
    program: { expr: or(lt(KV, num(p)), ge(Q, KV)), tables: [] },
    // Exact: (q0, kv1-1) is the hardest element, (q1-1, kv0) the easiest.
    classifyTile: (_b, _h, q0, q1, kv0, kv1) => {
      if (kv1 - 1 < p || q0 >= kv1 - 1) return TILE_FULL;
      if (kv0 >= p && q1 - 1 < kv0) return TILE_EMPTY;
      return TILE_PARTIAL;
    },
  });
}
