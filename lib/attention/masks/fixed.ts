import { KV, Q, and, eq, floordiv, ge, mod, num, or } from "./support/ir.js";
import { checkInt, makeMask } from "./support/make-mask.js";
import type { Mask } from "../types.js";

/**
 * Sparse Transformer "fixed" pattern (Child et al. 2019), causal: keys in the query's own block
 * of `l` tokens, plus the last `c` tokens of every block (the "summary" columns):
 * `q >= kv and (floor(q / l) == floor(kv / l) or kv mod l >= l - c)`.
 * @example
 * const m = sl.masks.fixed(128, 8);
 * m.at(0, 0, 1000, 127);  // true: a summary column of block 0
 * m.at(0, 0, 1000, 100);  // false
 */
export function fixed(l: number, c: number): Mask {
  checkInt("fixed", "l", l, 1);
  checkInt("fixed", "c", c, 0, l);
  return makeMask({
    kind: "fixed",
    name: `fixed_${l}_${c}`,
    params: { l, c },
    at: (_b, _h, q, kv) => q >= kv && (Math.floor(q / l) === Math.floor(kv / l) || kv % l >= l - c),
    program: { expr: and(ge(Q, KV), or(eq(floordiv(Q, num(l)), floordiv(KV, num(l))), ge(mod(KV, num(l)), num(l - c)))), tables: [] },
    // classifyTile: the generic interval classifier over the program is exact enough here
  });
}
