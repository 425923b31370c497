/** The one way score mods are made. */
import type { MaskProgram } from "../mask-ir.js";
import type { ScoreMod } from "../types.js";

export interface ScoreModSpec {
  kind: string;
  name: string;
  params: Record<string, unknown>;
  apply: (score: number, b: number, h: number, q: number, kv: number) => number;
  program?: MaskProgram;
}

export function makeScoreMod(s: ScoreModSpec): ScoreMod {
  return {
    kind: s.kind,
    name: s.name,
    params: Object.freeze({ ...s.params }),
    apply: s.apply,
    ...(s.program ? { program: s.program } : {}),
    toString: () => `ScoreMod(${s.name})`,
  } as ScoreMod;
}
