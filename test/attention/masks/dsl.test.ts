import { test } from "node:test";
import assert from "node:assert/strict";
import * as sl from "../../../lib/index.js";
import { ExpressionError } from "../../../lib/attention/dsl/errors.js";
import { SEED, bruteTile, rng } from "./helpers.js";

const floorMod = (a: number, b: number) => a - b * Math.floor(a / b);

test(`expressions agree with the same rule written in JS; bounds sound (seed ${SEED})`, () => {
  const r = rng(SEED + 2);
  const doc = Array.from({ length: 200 }, (_, i) => Math.floor(i / 37));
  const grid = [
    [1, 0, 1],
    [0, 1, 1],
  ];
  const cases: [string, Record<string, any>, (b: number, h: number, q: number, kv: number) => boolean][] = [
    ["q >= kv and q - kv < w", { w: 17 }, (_b, _h, q, kv) => q >= kv && q - kv < 17],
    ["0 <= q - kv < w", { w: 9 }, (_b, _h, q, kv) => 0 <= q - kv && q - kv < 9],
    ["doc[q] == doc[kv]", { doc }, (_b, _h, q, kv) => doc[q] === doc[kv]],
    ["(q - kv) mod 5 == 3", {}, (_b, _h, q, kv) => floorMod(q - kv, 5) === 3],
    ["(kv - q) % 7 == 2 or q == kv", {}, (_b, _h, q, kv) => floorMod(kv - q, 7) === 2 || q === kv],
    ["abs(q - kv) <= max(h, 2) * 3", {}, (_b, h, q, kv) => Math.abs(q - kv) <= Math.max(h, 2) * 3],
    ["floor(q / 16) == floor(kv / 16) xor kv < 4", {}, (_b, _h, q, kv) => (Math.floor(q / 16) === Math.floor(kv / 16)) !== kv < 4],
    ["not (q < kv) and (b == 1 ? kv mod 2 == 0 : true)", {}, (b, _h, q, kv) => !(q < kv) && (b === 1 ? kv % 2 === 0 : true)],
    ["min(q, kv, 50) > ceil(h / 2) + sign(q - kv)", {}, (_b, h, q, kv) => Math.min(q, kv, 50) > Math.ceil(h / 2) + Math.sign(q - kv)],
    ["g[h, floor(q / 100)] == 1", { g: sl.tensor(grid, { dtype: "i32" }) }, (_b, h, q) => grid[h][Math.floor(q / 100)] === 1],
    ["-q + 2q >= kv and pi > 3", {}, (_b, _h, q, kv) => q >= kv],
    ["q / 3 < kv / 2", {}, (_b, _h, q, kv) => q / 3 < kv / 2],
    ["q ^ 2 <= kv * 40 + 1", {}, (_b, _h, q, kv) => q ** 2 <= kv * 40 + 1],
  ];
  for (const [src, params, fn] of cases) {
    const m = sl.mask(src, params);
    assert.equal(m.kind, "expr");
    for (let k = 0; k < 1500; k++) {
      const b = r.int(0, 2), h = r.int(0, 1), q = r.int(0, 199), kv = r.int(0, 199);
      assert.equal(m.at(b, h, q, kv), fn(b, h, q, kv), `${src} at b=${b} h=${h} q=${q} kv=${kv}`);
    }
    for (let k = 0; k < 200; k++) {
      const b = r.int(0, 2), h = r.int(0, 1);
      const q0 = r.int(0, 199), q1 = r.int(q0 + 1, Math.min(200, q0 + r.pick([1, 8, 40, 200])));
      const kv0 = r.int(0, 199), kv1 = r.int(kv0 + 1, Math.min(200, kv0 + r.pick([1, 8, 40, 200])));
      const c = m.classifyTile!(b, h, q0, q1, kv0, kv1);
      if (c !== undefined) assert.equal(c, bruteTile(m, b, h, q0, q1, kv0, kv1), `${src}: tile q[${q0},${q1}) kv[${kv0},${kv1}) b=${b} h=${h} (seed ${SEED})`);
    }
  }
});

test("the interval bounds decide plain band tiles without elements", () => {
  const m = sl.mask("q >= kv and q - kv < w", { w: 256 });
  assert.equal(m.classifyTile!(0, 0, 1024, 1152, 0, 128), sl.TILE_EMPTY);
  assert.equal(m.classifyTile!(0, 0, 1024, 1152, 896, 897), sl.TILE_FULL);
  const d = sl.mask("doc[q] == doc[kv]", { doc: [0, 0, 0, 0, 1, 1, 1, 1] });
  assert.equal(d.classifyTile!(0, 0, 0, 4, 4, 8), sl.TILE_EMPTY);
  assert.equal(d.classifyTile!(0, 0, 0, 4, 0, 4), sl.TILE_FULL);
});

function errorAt(src: string, params: Record<string, any>, token: string, message: RegExp, col?: number) {
  let err: unknown;
  try {
    sl.mask(src, params);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ExpressionError, `${src}: expected an ExpressionError, got ${err}`);
  assert.ok(err instanceof sl.SparselabError);
  assert.match(err.message, message);
  assert.ok(err.message.includes(src), "the message quotes the expression");
  assert.equal(err.token, token, `${src}: token`);
  assert.equal(err.column, col ?? src.indexOf(token), `${src}: column`);
  const lines = err.message.split("\n");
  const caret = lines.find((l) => /^\s*\^+$/.test(l))!;
  assert.equal(caret.indexOf("^") - 2, err.column, "the caret sits under the token");
}

test("errors point at the offending token", () => {
  errorAt("q >= kv and foo < 3", {}, "foo", /unknown name 'foo'/);
  errorAt("q >= kv and q - kv < w", {}, "w", /unknown name 'w'/);
  errorAt("cos(q) > 0", {}, "cos", /function 'cos' is not supported/);
  errorAt("q = 3", {}, "=", /assignment/);
  errorAt("q >= ", {}, "", /syntax error/, 5);
  errorAt("q & kv", {}, "&", /operator '&' is not supported/);
  errorAt("q - kv", {}, "q - kv", /must be a condition/);
  errorAt("score > 0", {}, "score", /only available in score mods/);
  errorAt("doc > 0", { doc: [1, 2] }, "doc", /is an array: index it/);
  errorAt("x[q] > 0", { x: 5 }, "x", /not an array/);
  errorAt("q > kv and kv > zz and zz > 1", {}, "zz", /unknown name 'zz'/);
  errorAt("abs(q, kv) > 1", {}, "abs", /takes 1 argument/);
  errorAt("t[q] == 1", { t: sl.tensor([[1, 2]], { dtype: "i32" }) }, "t", /2 dimension\(s\) but is indexed with 1/);
  assert.throws(() => sl.mask("q > kv", { q: 3 }), /shadows the variable 'q'/);
});

test("indexing is 0-based and out-of-range indices throw", () => {
  const m = sl.mask("doc[q] == 7", { doc: [7, 0, 0] });
  assert.equal(m.at(0, 0, 0, 0), true);
  assert.equal(m.at(0, 0, 1, 0), false);
  assert.throws(() => m.at(0, 0, 3, 0), /outside \[0, 3\)/);
  const g = sl.mask("g[q, kv] == 1", { g: sl.tensor([[1, 0], [0, 1]], { dtype: "i32" }) });
  assert.equal(g.at(0, 0, 1, 1), true);
  assert.throws(() => g.at(0, 0, 0, 2), /outside/, "a column past the row does not wrap to the next row");
});

test("plain functions: kind fn, no IR, non-boolean returns are errors naming the value", () => {
  const m = sl.mask((_b, _h, q, kv) => (q * 7 + kv) % 3 === 0);
  assert.equal(m.kind, "fn");
  assert.equal(m.program, undefined);
  assert.equal(m.at(0, 0, 1, 1), false);
  assert.equal(m.at(0, 0, 0, 3), true);
  const bad = sl.mask(((_b: number, _h: number, q: number) => q) as any);
  assert.throws(() => bad.at(0, 0, 5, 0), /mask: argument 'fn' must be a function returning a boolean, got 5 \(a number\) at b=0, h=0, q=5, kv=0/);
  assert.throws(() => sl.mask(42 as any), /mask: argument 'expr'/);
});
