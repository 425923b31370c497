import { H, KV, Q, SCORE, add, idx, mul, sub } from "../masks/support/ir.js";
import { checkInt } from "../masks/support/make-mask.js";
import type { ScoreMod } from "../types.js";
import { makeScoreMod } from "./make-score-mod.js";

/**
 * ALiBi (Press et al.): `score + slope[h] * (kv - q)` with slope[h] = 2^(-8 (h + 1) / H), so
 * farther keys are penalised linearly, more steeply on the first heads. Slopes are stored as f32
 * (the value every backend uses); heads h >= H are an error.
 * @example
 * const m = sl.scoreMods.alibi(8);
 * m.apply(1.0, 0, 0, 10, 6);  // 1 + 0.5 * (6 - 10) = -1
 */
export function alibi(numHeads: number): ScoreMod {
  checkInt("alibi", "numHeads", numHeads, 1);
  const slopes = new Float32Array(numHeads);
  for (let h = 0; h < numHeads; h++) slopes[h] = 2 ** ((-8 * (h + 1)) / numHeads);
  return makeScoreMod({
    kind: "alibi",
    name: `alibi_${numHeads}`,
    params: { numHeads, slopes },
    apply: (score, _b, h, q, kv) => {
      const s = slopes[h];
      if (s === undefined) throw new RangeError(`[sparselab] alibi: head ${h} outside [0, ${numHeads})`);
      return score + s * (kv - q);
    },
    program: { expr: add(SCORE, mul(idx(0, H), sub(KV, Q))), tables: [slopes] },
  });
}
