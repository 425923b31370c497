import { test } from "node:test";
import assert from "node:assert/strict";
import type { BinaryOp, MaskExpr, UnaryOp } from "../../../lib/attention/mask-ir.js";
import { compileInterval, compileProgram, floorMod } from "../../../lib/attention/mask-ir-js.js";
import { SEED, rng } from "./helpers.js";

// A tree-walking evaluator written straight from the IR's documented semantics.
function evalRef(e: MaskExpr, env: Record<string, number>, tables: (Int32Array | Float32Array)[]): number {
  const truthy = (x: number) => x !== 0 && !Number.isNaN(x);
  switch (e.t) {
    case "num":
      return e.v;
    case "var":
      return env[e.name];
    case "idx": {
      const i = evalRef(e.index, env, tables);
      if (!Number.isInteger(i) || i < 0 || i >= tables[e.table].length) throw new Error("oob");
      return tables[e.table][i];
    }
    case "un": {
      const a = evalRef(e.a, env, tables);
      const f: Record<UnaryOp, number> = {
        neg: -a, not: truthy(a) ? 0 : 1, abs: Math.abs(a), floor: Math.floor(a), ceil: Math.ceil(a), sign: Math.sign(a),
        tanh: Math.tanh(a), exp: Math.exp(a), log: Math.log(a), sqrt: Math.sqrt(a),
      };
      return f[e.op];
    }
    case "bin": {
      const a = evalRef(e.a, env, tables);
      if (e.op === "and" && !truthy(a)) return 0;
      if (e.op === "or" && truthy(a)) return 1;
      const b = evalRef(e.b, env, tables);
      const f: Record<BinaryOp, () => number> = {
        add: () => a + b, sub: () => a - b, mul: () => a * b, div: () => a / b, mod: () => floorMod(a, b),
        floordiv: () => Math.floor(a / b), min: () => Math.min(a, b), max: () => Math.max(a, b), pow: () => a ** b,
        lt: () => +(a < b), le: () => +(a <= b), gt: () => +(a > b), ge: () => +(a >= b), eq: () => +(a === b), ne: () => +(a !== b),
        and: () => +truthy(b), or: () => +truthy(b), xor: () => +(truthy(a) !== truthy(b)),
      };
      return f[e.op]();
    }
    case "sel":
      return truthy(evalRef(e.c, env, tables)) ? evalRef(e.a, env, tables) : evalRef(e.b, env, tables);
  }
}

const UN: UnaryOp[] = ["neg", "not", "abs", "floor", "ceil", "sign", "tanh", "exp", "log", "sqrt"];
const BIN: BinaryOp[] = ["add", "sub", "mul", "div", "mod", "floordiv", "min", "max", "pow", "lt", "le", "gt", "ge", "eq", "ne", "and", "or", "xor"];

function randomExpr(r: ReturnType<typeof rng>, depth: number, nTables: number): MaskExpr {
  if (depth === 0 || r.float() < 0.25) {
    if (r.float() < 0.5) return { t: "var", name: r.pick(["b", "h", "q", "kv", "score"] as const) };
    return { t: "num", v: r.pick([0, 1, 2, 3, -1, 5, 0.5, 7, 16]) };
  }
  const k = r.float();
  if (k < 0.1 && nTables > 0) return { t: "idx", table: r.int(0, nTables - 1), index: { t: "bin", op: "mod", a: randomExpr(r, depth - 1, nTables), b: { t: "num", v: 8 } } };
  if (k < 0.3) return { t: "un", op: r.pick(UN), a: randomExpr(r, depth - 1, nTables) };
  if (k < 0.9) return { t: "bin", op: r.pick(BIN), a: randomExpr(r, depth - 1, nTables), b: randomExpr(r, depth - 1, nTables) };
  return { t: "sel", c: randomExpr(r, depth - 1, nTables), a: randomExpr(r, depth - 1, nTables), b: randomExpr(r, depth - 1, nTables) };
}

const same = (a: number, b: number) => (Number.isNaN(a) && Number.isNaN(b)) || a === b;

test(`compiled closures match the reference evaluator; interval bounds contain every point (seed ${SEED})`, () => {
  const r = rng(SEED + 3);
  const tables = [Int32Array.from([3, -1, 4, 1, -5, 9, 2, 6]), Float32Array.from([0.5, 1.5, -2, 8, 0, 3, 3, 1]), Float32Array.from([1, NaN, 2, -Infinity, 0, 4, 4, 4])];
  let checked = 0;
  for (let k = 0; k < 250; k++) {
    const expr = randomExpr(r, r.int(1, 5), 3);
    const prog = { expr, tables };
    const f = compileProgram(prog);
    const iv = compileInterval(prog);
    for (let s = 0; s < 8; s++) {
      const box = {
        b: [r.int(0, 3), 0] as [number, number], h: [r.int(0, 3), 0] as [number, number],
        q: [r.int(-4, 40), 0] as [number, number], kv: [r.int(-4, 40), 0] as [number, number], score: [r.int(-5, 5), 0] as [number, number],
      };
      for (const key of ["b", "h", "q", "kv", "score"] as const) box[key][1] = box[key][0] + r.pick([0, 1, 3, 9]);
      const bound = iv(box);
      for (let p = 0; p < 30; p++) {
        const env = { b: r.int(box.b[0], box.b[1]), h: r.int(box.h[0], box.h[1]), q: r.int(box.q[0], box.q[1]), kv: r.int(box.kv[0], box.kv[1]), score: r.int(box.score[0], box.score[1]) };
        let want: number | "throw";
        try {
          want = evalRef(expr, env, tables);
        } catch {
          want = "throw";
        }
        let got: number | "throw";
        try {
          got = f(env.b, env.h, env.q, env.kv, env.score);
        } catch {
          got = "throw";
        }
        assert.ok(want === got || (want !== "throw" && got !== "throw" && same(want, got)), `closure ${got} != reference ${want} for ${JSON.stringify(expr)} at ${JSON.stringify(env)} (seed ${SEED})`);
        if (!bound.nan) {
          assert.notEqual(got, "throw", `bounds said no error possible: ${JSON.stringify(expr)} (seed ${SEED})`);
          assert.ok(!Number.isNaN(got), `bounds said no NaN possible: ${JSON.stringify(expr)} at ${JSON.stringify(env)} (seed ${SEED})`);
          assert.ok((got as number) >= bound.lo && (got as number) <= bound.hi, `value ${got} outside [${bound.lo}, ${bound.hi}] for ${JSON.stringify(expr)} at ${JSON.stringify(env)} (seed ${SEED})`);
          checked++;
        }
      }
    }
  }
  assert.ok(checked > 5000, `enough decided boxes were checked (${checked})`);
});
