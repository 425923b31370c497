import { test } from "node:test";
import assert from "node:assert/strict";
import * as sl from "../../../lib/index.js";
import { compileProgram } from "../../../lib/attention/mask-ir-js.js";
import { SEED, bruteTile, randomBuiltins, rng } from "./helpers.js";

test(`and / or / not: at(), IR and tile bounds agree with their parts (seed ${SEED})`, () => {
  const r = rng(SEED + 4);
  const n = 96;
  const pool = [...randomBuiltins(r, n), sl.mask("(q + kv) mod 3 != 0"), sl.mask((_b, _h, q, kv) => (q ^ kv) % 5 !== 1)];
  for (let k = 0; k < 20; k++) {
    const a = r.pick(pool), b = r.pick(pool);
    const ms = [sl.and(a, b), sl.or(a, b), sl.not(a), sl.and(sl.not(a), sl.or(b, a))];
    for (const m of ms) {
      const f = m.program ? compileProgram(m.program) : undefined;
      for (let t = 0; t < 500; t++) {
        const q = r.int(0, n - 1), kv = r.int(0, n - 1);
        const A = a.at(0, 0, q, kv), B = b.at(0, 0, q, kv);
        const want = m.kind === "and" && m.params.masks && (m.params.masks as unknown[]).length === 2 && (m.params.masks as unknown[])[0] === a ? A && B : undefined;
        if (want !== undefined) assert.equal(m.at(0, 0, q, kv), want);
        if (f) assert.equal(!!f(0, 0, q, kv, 0), m.at(0, 0, q, kv), `${m.name} IR (seed ${SEED})`);
      }
      for (let t = 0; t < 40; t++) {
        const q0 = r.int(0, n - 1), q1 = r.int(q0 + 1, Math.min(n, q0 + 32));
        const kv0 = r.int(0, n - 1), kv1 = r.int(kv0 + 1, Math.min(n, kv0 + 32));
        const c = m.classifyTile?.(0, 0, q0, q1, kv0, kv1);
        if (c !== undefined) assert.equal(c, bruteTile(m, 0, 0, q0, q1, kv0, kv1), `${m.name} tile (seed ${SEED})`);
      }
    }
  }
  const fnPart = sl.and(sl.masks.causal(), sl.mask((_b, _h, q, kv) => q - kv < 4));
  assert.equal(fnPart.program, undefined, "a plain function part means no IR");
  assert.equal(sl.or(sl.masks.causal(), sl.masks.prefixLM(3)).name, "or(causal, prefix_lm_3)");
  assert.throws(() => sl.and(), /and: argument 'masks' must be at least one mask/);
  assert.throws(() => sl.or(sl.masks.causal(), 3 as any), /or: argument 'masks\[1\]'/);
});
