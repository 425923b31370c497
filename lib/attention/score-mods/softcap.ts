import { SCORE, div, mul, num, tanh } from "../masks/support/ir.js";
import { argError } from "../../errors.js";
import type { ScoreMod } from "../types.js";
import { makeScoreMod } from "./make-score-mod.js";

/**
 * Logit soft-capping (Gemma 2, Grok): `c * tanh(score / c)` keeps scores inside (-c, c).
 * @example
 * const m = sl.scoreMods.softcap(50);
 * m.apply(1000, 0, 0, 0, 0);  // ~ 50
 */
export function softcap(c: number): ScoreMod {
  if (typeof c !== "number" || !(c > 0) || !Number.isFinite(c)) argError("softcap", "c", "a positive finite number", String(c));
  return makeScoreMod({
    kind: "softcap",
    name: `softcap_${c}`,
    params: { c },
    apply: (score) => c * Math.tanh(score / c),
    program: { expr: mul(num(c), tanh(div(SCORE, num(c)))), tables: [] },
  });
}
