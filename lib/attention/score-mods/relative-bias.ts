import { argError } from "../../errors.js";
import { Tensor } from "../../tensor/tensor.js";
import { KV, Q, SCORE, add, idx, max, min, num, sub } from "../masks/support/ir.js";
import { checkInt, describe } from "../masks/support/make-mask.js";
import type { ScoreMod } from "../types.js";
import { makeScoreMod } from "./make-score-mod.js";

/**
 * Learned relative-position bias: `score + table[clamp(q - kv, -maxDistance, maxDistance) + maxDistance]`.
 * The table has 2 * maxDistance + 1 entries (distance -maxDistance first); farther distances
 * reuse the end entries. Values are f32.
 * @example
 * const bias = new Float32Array(2 * 4 + 1).map((_, i) => -Math.abs(i - 4) * 0.1);
 * const m = sl.scoreMods.relativeBias(bias, 4);
 * m.apply(0, 0, 0, 10, 7);  // table[3 + 4] = -0.3 (f32)
 */
export function relativeBias(table: Float32Array | readonly number[] | Tensor, maxDistance: number): ScoreMod {
  checkInt("relativeBias", "maxDistance", maxDistance, 0);
  let t: Float32Array;
  if (table instanceof Tensor) {
    if (table.ndim !== 1) argError("relativeBias", "table", "a 1-D tensor", `shape [${table.shape.join(", ")}]`);
    t = Float32Array.from(table.floatData());
  } else if (table instanceof Float32Array || Array.isArray(table)) t = Float32Array.from(table as ArrayLike<number>);
  else return argError("relativeBias", "table", "a Float32Array, number[] or 1-D Tensor", describe(table));
  if (t.length !== 2 * maxDistance + 1)
    argError("relativeBias", "table", `2 * maxDistance + 1 = ${2 * maxDistance + 1} entries`, `${t.length}`);
  return makeScoreMod({
    kind: "relativeBias",
    name: `relative_bias_${maxDistance}`,
    params: { table: t, maxDistance },
    apply: (score, _b, _h, q, kv) => score + t[Math.min(Math.max(q - kv, -maxDistance), maxDistance) + maxDistance],
    program: { expr: add(SCORE, idx(0, add(min(max(sub(Q, KV), num(-maxDistance)), num(maxDistance)), num(maxDistance)))), tables: [t] },
  });
}
