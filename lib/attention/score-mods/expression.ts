import { argError } from "../../errors.js";
import { lowerExpression, type ExprParam } from "../dsl/lower.js";
import { compileProgram } from "../mask-ir-js.js";
import { describe } from "../masks/support/make-mask.js";
import type { ScoreMod } from "../types.js";
import { makeScoreMod } from "./make-score-mod.js";

/**
 * A score mod written in the expression language, with the extra variable `score` and the
 * extra functions tanh, exp, log, sqrt (see sl.mask for the rest of the language).
 * @example
 * const slopes = [0.5, 0.25, 0.125, 0.0625];
 * const alibi = sl.scoreMod("score + slope[h] * (kv - q)", { slope: slopes });
 * const capped = sl.scoreMod("c * tanh(score / c)", { c: 30 });
 */
export function scoreMod(expr: string, params: Record<string, ExprParam> = {}): ScoreMod {
  if (typeof expr !== "string") argError("scoreMod", "expr", "an expression string", describe(expr));
  const program = lowerExpression(expr, params, { op: "scoreMod", vars: ["b", "h", "q", "kv", "score"], result: "number" });
  const f = compileProgram(program);
  return makeScoreMod({
    kind: "expr",
    name: expr.trim(),
    params: { expr, ...params },
    apply: (score, b, h, q, kv) => f(b, h, q, kv, score),
    program,
  });
}
