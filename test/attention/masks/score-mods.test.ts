import { test } from "node:test";
import assert from "node:assert/strict";
import * as sl from "../../../lib/index.js";
import { compileProgram } from "../../../lib/attention/mask-ir-js.js";
import { SEED, rng } from "./helpers.js";

test(`score mods: apply() == their IR == the formula (seed ${SEED})`, () => {
  const r = rng(SEED + 5);
  const H = 8;
  const table = Float32Array.from({ length: 2 * 6 + 1 }, () => r.float() - 0.5);
  const mods = [
    [sl.scoreMods.alibi(H), (s: number, _b: number, h: number, q: number, kv: number) => s + Math.fround(2 ** ((-8 * (h + 1)) / H)) * (kv - q)],
    [sl.scoreMods.softcap(20), (s: number) => 20 * Math.tanh(s / 20)],
    [sl.scoreMods.relativeBias(table, 6), (s: number, _b: number, _h: number, q: number, kv: number) => s + table[Math.max(-6, Math.min(6, q - kv)) + 6]],
    [sl.scoreMod("score + slope[h] * (kv - q)", { slope: Float32Array.from({ length: H }, (_, h) => 2 ** ((-8 * (h + 1)) / H)) }), (s: number, _b: number, h: number, q: number, kv: number) => s + Math.fround(2 ** ((-8 * (h + 1)) / H)) * (kv - q)],
    [sl.scoreMod("c * tanh(score / c)", { c: 30 }), (s: number) => 30 * Math.tanh(s / 30)],
    [sl.scoreMod("q >= kv ? score : -Infinity"), (s: number, _b: number, _h: number, q: number, kv: number) => (q >= kv ? s : -Infinity)],
  ] as const;
  for (const [m, formula] of mods) {
    const f = compileProgram(m.program!);
    for (let k = 0; k < 500; k++) {
      const s = (r.float() - 0.5) * 200, b = r.int(0, 3), h = r.int(0, H - 1), q = r.int(0, 300), kv = r.int(0, 300);
      const want = formula(s, b, h, q, kv);
      const got = m.apply(s, b, h, q, kv);
      assert.ok(Math.abs(got - want) <= 1e-12 * Math.max(1, Math.abs(want)) || got === want, `${m.name}: ${got} != ${want} (seed ${SEED})`);
      assert.equal(f(b, h, q, kv, s), got, `${m.name}: IR != apply`);
    }
  }
  assert.equal(sl.scoreMods.alibi(8).apply(1, 0, 0, 10, 6), -1);
  assert.throws(() => sl.scoreMods.softcap(0), /softcap: argument 'c'/);
  assert.throws(() => sl.scoreMods.relativeBias([1, 2], 2), /5 entries/);
  assert.throws(() => sl.scoreMod("score + foo"), /unknown name 'foo'/);
});
