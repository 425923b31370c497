/**
 * The JS side of the mask IR (lib/attention/mask-ir.ts):
 *  - `compileProgram` turns a program into a closure `(b, h, q, kv, score) => number` by
 *    generating straight-line JS from the tree. The generated source contains only numeric
 *    literals our code prints, the five variable names, table references and operators: no
 *    user text ever reaches `new Function`.
 *  - `compileInterval` generates the interval-arithmetic twin: given ranges of b, h, q, kv it
 *    returns bounds on the value. `irClassifier` uses it to classify tiles as empty / full
 *    without visiting elements. It is sound: "full" / "empty" only when every element in the
 *    tile agrees; anything that could produce NaN (a divisor range containing 0, an index
 *    range leaving its table, ...) makes it answer "don't know".
 *
 * Semantics (shared with the native backends): booleans are 0/1; a value is true when it is
 * non-zero and not NaN; `mod` is floored (Python's: -1 mod 5 = 4); `floordiv` is floor(a / b);
 * `and` / `or` short-circuit; an index that is not an integer in [0, table length) throws.
 */
import { SparselabError } from "../errors.js";
import type { MaskExpr, MaskProgram } from "./mask-ir.js";
import { rangeMinMax, type RangeMinMax } from "./masks/support/range-minmax.js";
import { TILE_EMPTY, TILE_FULL, type TileClass } from "./types.js";

/** A compiled point evaluator. `score` is only read by score mods. */
export type CompiledProgram = (b: number, h: number, q: number, kv: number, score: number) => number;

function lit(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "Infinity";
  if (v === -Infinity) return "(-Infinity)";
  if (Object.is(v, -0)) return "(-0)";
  return `(${v})`;
}

const UN_JS: Record<string, (a: string) => string> = {
  neg: (a) => `(-${a})`,
  not: (a) => `(${a} ? 0 : 1)`,
  abs: (a) => `Math.abs(${a})`,
  floor: (a) => `Math.floor(${a})`,
  ceil: (a) => `Math.ceil(${a})`,
  sign: (a) => `Math.sign(${a})`,
  tanh: (a) => `Math.tanh(${a})`,
  exp: (a) => `Math.exp(${a})`,
  log: (a) => `Math.log(${a})`,
  sqrt: (a) => `Math.sqrt(${a})`,
};

const BIN_JS: Record<string, (a: string, b: string) => string> = {
  add: (a, b) => `(${a} + ${b})`,
  sub: (a, b) => `(${a} - ${b})`,
  mul: (a, b) => `(${a} * ${b})`,
  div: (a, b) => `(${a} / ${b})`,
  mod: (a, b) => `R.mod(${a}, ${b})`,
  floordiv: (a, b) => `Math.floor(${a} / ${b})`,
  min: (a, b) => `Math.min(${a}, ${b})`,
  max: (a, b) => `Math.max(${a}, ${b})`,
  pow: (a, b) => `Math.pow(${a}, ${b})`,
  lt: (a, b) => `(${a} < ${b} ? 1 : 0)`,
  le: (a, b) => `(${a} <= ${b} ? 1 : 0)`,
  gt: (a, b) => `(${a} > ${b} ? 1 : 0)`,
  ge: (a, b) => `(${a} >= ${b} ? 1 : 0)`,
  eq: (a, b) => `(${a} === ${b} ? 1 : 0)`,
  ne: (a, b) => `(${a} !== ${b} ? 1 : 0)`,
  and: (a, b) => `(${a} && ${b} ? 1 : 0)`,
  or: (a, b) => `(${a} || ${b} ? 1 : 0)`,
  xor: (a, b) => `(!${a} !== !${b} ? 1 : 0)`,
};

/** SPARSELAB_DEBUG=2 (or more) prints every generated program to stderr. */
function debugPrint(what: string, src: string): void {
  if (Number(globalThis.process?.env?.SPARSELAB_DEBUG ?? 0) >= 2) console.error(`[sparselab] ${what}:\n${src}`);
}

/** Floored modulo, as the IR defines `mod`. */
export function floorMod(a: number, b: number): number {
  return a - b * Math.floor(a / b);
}

const runtime = {
  mod: floorMod,
  ix(i: number, table: number, len: number): number {
    if (Number.isInteger(i) && i >= 0 && i < len) return i;
    throw new SparselabError("mask", `table ${table} indexed at ${i}, outside [0, ${len}) or not an integer`);
  },
};

/** JS source of an expression (exported for debugging: SPARSELAB_DEBUG prints it). */
export function exprToJs(e: MaskExpr): string {
  switch (e.t) {
    case "num":
      return lit(e.v);
    case "var":
      return e.name;
    case "idx":
      return `T${e.table}[R.ix(${exprToJs(e.index)}, ${e.table}, T${e.table}.length)]`;
    case "un":
      return UN_JS[e.op](exprToJs(e.a));
    case "bin":
      return BIN_JS[e.op](exprToJs(e.a), exprToJs(e.b));
    case "sel":
      return `(${exprToJs(e.c)} ? ${exprToJs(e.a)} : ${exprToJs(e.b)})`;
  }
}

/**
 * Compiles a program to a closure. Booleans come back as 0/1.
 * @example
 * const f = compileProgram({ expr: { t: "bin", op: "ge", a: { t: "var", name: "q" }, b: { t: "var", name: "kv" } }, tables: [] });
 * f(0, 0, 5, 3, 0); // 1
 */
export function compileProgram(p: MaskProgram): CompiledProgram {
  const names = p.tables.map((_, i) => `T${i}`);
  const body = `"use strict"; return function (b, h, q, kv, score) { return ${exprToJs(p.expr)}; };`;
  debugPrint("compiled mask program", body);
  const make = new Function("R", ...names, body) as (...a: unknown[]) => CompiledProgram;
  return make(runtime, ...p.tables);
}

// ---------------------------------------------------------------------------------------------
// Interval arithmetic

/** Inclusive ranges of the variables. */
export interface IntervalBox {
  b: [number, number];
  h: [number, number];
  q: [number, number];
  kv: [number, number];
  score?: [number, number];
}

/** Bounds on a value over a box; `nan` true when some point might be NaN or throw (bounds then meaningless). */
export interface IntervalResult {
  lo: number;
  hi: number;
  nan: boolean;
}

type IntervalFn = (b0: number, b1: number, h0: number, h1: number, q0: number, q1: number, k0: number, k1: number, s0: number, s1: number) => number;

/** Helpers the generated interval code calls for the ops too long to inline; results in r0/r1, NaN risk in nan. */
class IntervalRuntime {
  r0 = 0;
  r1 = 0;
  nan = 0;
  /** Tables holding a NaN: min/max cannot bound them, so a lookup into one decides nothing. */
  readonly hasNaN: boolean[];
  constructor(readonly rmq: RangeMinMax[], readonly tables: (Int32Array | Float32Array)[]) {
    this.hasNaN = tables.map((t) => t instanceof Float32Array && t.some((x) => Number.isNaN(x)));
  }
  wide(): void {
    this.nan = 1;
    this.r0 = -Infinity;
    this.r1 = Infinity;
  }
  corners(a: number, b: number, c: number, d: number): void {
    if (a !== a || b !== b || c !== c || d !== d) return this.wide();
    this.r0 = Math.min(a, b, c, d);
    this.r1 = Math.max(a, b, c, d);
  }
  mul(al: number, ah: number, bl: number, bh: number): void {
    this.corners(al * bl, al * bh, ah * bl, ah * bh);
  }
  div(al: number, ah: number, bl: number, bh: number): void {
    if (!(bl > 0 || bh < 0)) return this.wide();
    this.corners(al / bl, al / bh, ah / bl, ah / bh);
  }
  floordiv(al: number, ah: number, bl: number, bh: number): void {
    this.div(al, ah, bl, bh);
    this.r0 = Math.floor(this.r0);
    this.r1 = Math.floor(this.r1);
  }
  /** Floored mod; `int` when both operands are integer-valued (then the result is at most |m| - 1). */
  mod(al: number, ah: number, ml: number, mh: number, int = false): void {
    if (!(ml > 0 || mh < 0) || !Number.isFinite(al) || !Number.isFinite(ah) || !Number.isFinite(ml) || !Number.isFinite(mh)) return this.wide();
    if (ml === mh) {
      const m = ml;
      const ka = Math.floor(al / m), kb = Math.floor(ah / m);
      if (ka === kb) {
        // One period: the value is a shift of a, exactly as the point code computes it.
        this.r0 = floorMod(al, m);
        this.r1 = floorMod(ah, m);
        if (this.r0 > this.r1) {
          const t = this.r0;
          this.r0 = this.r1;
          this.r1 = t;
        }
        return;
      }
    }
    if (ml > 0) {
      this.r0 = 0;
      this.r1 = int ? mh - 1 : mh;
    } else {
      this.r0 = int ? ml + 1 : ml;
      this.r1 = 0;
    }
  }
  pow(al: number, ah: number, el: number, eh: number): void {
    if (al >= 0) return this.corners(al ** el, al ** eh, ah ** el, ah ** eh);
    if (el === eh && Number.isInteger(el)) {
      const a = al ** el, b = ah ** el;
      const z = al < 0 && ah > 0 ? (el > 0 ? 0 : el === 0 ? 1 : NaN) : a;
      if (z !== z) return this.wide(); // 1 / 0 crossing: unbounded
      this.r0 = Math.min(a, b, z);
      this.r1 = Math.max(a, b, z);
      return;
    }
    this.wide();
  }
  abs(l: number, h: number): void {
    if (l >= 0) {
      this.r0 = l;
      this.r1 = h;
    } else if (h <= 0) {
      this.r0 = -h;
      this.r1 = -l;
    } else {
      this.r0 = 0;
      this.r1 = Math.max(-l, h);
    }
  }
  idx(t: number, l: number, h: number): void {
    const len = this.tables[t].length;
    if (this.hasNaN[t]) this.nan = 1;
    if (!(l >= 0) || !(h < len) || l !== Math.floor(l) || h !== Math.floor(h)) {
      // Some index may be out of range or fractional: the point code throws there.
      this.nan = 1;
      l = Math.max(0, Math.ceil(l));
      h = Math.min(len - 1, Math.floor(h));
      if (!(l <= h)) {
        this.r0 = -Infinity;
        this.r1 = Infinity;
        return;
      }
    }
    this.r0 = this.rmq[t].min(l, h);
    this.r1 = this.rmq[t].max(l, h);
  }
}

/** Truth of an interval: 2 certainly true, 0 certainly false, 1 unknown. */
const truth = (l: string, h: string) => `((${l} > 0 || ${h} < 0) ? 2 : (${l} === 0 && ${h} === 0) ? 0 : 1)`;

/**
 * Whether an expression only takes integer values (or NaN) at integer b, h, q, kv: lets `mod`
 * bound its result by |m| - 1 instead of |m|, which keeps table lookups like
 * `start[(q floordiv W) mod H]` inside their table.
 */
export function isIntExpr(e: MaskExpr, tables: readonly (Int32Array | Float32Array)[]): boolean {
  switch (e.t) {
    case "num":
      return Number.isInteger(e.v);
    case "var":
      return e.name !== "score";
    case "idx":
      return tables[e.table] instanceof Int32Array;
    case "un":
      return ["floor", "ceil", "sign", "not"].includes(e.op) || ((e.op === "neg" || e.op === "abs") && isIntExpr(e.a, tables));
    case "bin":
      if (["floordiv", "lt", "le", "gt", "ge", "eq", "ne", "and", "or", "xor"].includes(e.op)) return true;
      if (["add", "sub", "mul", "mod", "min", "max"].includes(e.op)) return isIntExpr(e.a, tables) && isIntExpr(e.b, tables);
      return false;
    case "sel":
      return isIntExpr(e.a, tables) && isIntExpr(e.b, tables);
  }
}

function genInterval(e: MaskExpr, out: string[], counter: { n: number }, tables: readonly (Int32Array | Float32Array)[]): [string, string] {
  const id = counter.n++;
  const L = `lo${id}`, Hh = `hi${id}`;
  const fromR = () => out.push(`const ${L} = R.r0, ${Hh} = R.r1;`);
  const nanFix = () => out.push(`if (${L} !== ${L} || ${Hh} !== ${Hh}) { R.nan = 1; ${L} = -Infinity; ${Hh} = Infinity; }`);
  switch (e.t) {
    case "num":
      if (Number.isNaN(e.v)) out.push(`R.nan = 1;`);
      out.push(`const ${L} = ${lit(e.v)}, ${Hh} = ${lit(e.v)};`);
      return [L, Hh];
    case "var": {
      const v = { b: ["b0", "b1"], h: ["h0", "h1"], q: ["q0", "q1"], kv: ["k0", "k1"], score: ["s0", "s1"] }[e.name];
      return [v[0], v[1]];
    }
    case "idx": {
      const [il, ih] = genInterval(e.index, out, counter, tables);
      // a fractional index throws at the point; only integer-valued index expressions can be bounded
      if (!isIntExpr(e.index, tables)) out.push(`R.nan = 1;`);
      out.push(`R.idx(${e.table}, ${il}, ${ih});`);
      fromR();
      return [L, Hh];
    }
    case "un": {
      const [al, ah] = genInterval(e.a, out, counter, tables);
      switch (e.op) {
        case "neg":
          out.push(`const ${L} = -${ah}, ${Hh} = -${al};`);
          break;
        case "not":
          out.push(`const t${id} = ${truth(al, ah)}; const ${L} = t${id} === 0 ? 1 : 0, ${Hh} = t${id} === 2 ? 0 : 1;`);
          break;
        case "abs":
          out.push(`R.abs(${al}, ${ah});`);
          fromR();
          break;
        case "floor":
        case "ceil":
        case "sign":
        case "tanh":
        case "exp":
          out.push(`const ${L} = Math.${e.op}(${al}), ${Hh} = Math.${e.op}(${ah});`);
          break;
        case "log":
        case "sqrt":
          out.push(`if (!(${al} >= 0)) R.nan = 1; let ${L} = Math.${e.op}(Math.max(${al}, 0)), ${Hh} = Math.${e.op}(Math.max(${ah}, 0));`);
          nanFix();
          break;
      }
      return [L, Hh];
    }
    case "bin": {
      const [al, ah] = genInterval(e.a, out, counter, tables);
      const [bl, bh] = genInterval(e.b, out, counter, tables);
      switch (e.op) {
        case "add":
          out.push(`let ${L} = ${al} + ${bl}, ${Hh} = ${ah} + ${bh};`);
          nanFix();
          break;
        case "sub":
          out.push(`let ${L} = ${al} - ${bh}, ${Hh} = ${ah} - ${bl};`);
          nanFix();
          break;
        case "mod":
          out.push(`R.mod(${al}, ${ah}, ${bl}, ${bh}, ${isIntExpr(e.a, tables) && isIntExpr(e.b, tables)});`);
          fromR();
          break;
        case "mul":
        case "div":
        case "floordiv":
        case "pow":
          out.push(`R.${e.op}(${al}, ${ah}, ${bl}, ${bh});`);
          fromR();
          break;
        case "min":
        case "max":
          out.push(`const ${L} = Math.${e.op}(${al}, ${bl}), ${Hh} = Math.${e.op}(${ah}, ${bh});`);
          break;
        case "lt":
        case "le":
        case "gt":
        case "ge":
        case "eq":
        case "ne": {
          const c = intervalCompare(e.op, al, ah, bl, bh, "===");
          out.push(`const ${L} = (${c[0]}) ? 1 : 0, ${Hh} = (${c[1]}) ? 0 : 1;`);
          break;
        }
        case "and":
        case "or":
        case "xor": {
          out.push(`const ta${id} = ${truth(al, ah)}, tb${id} = ${truth(bl, bh)};`);
          const res = truthCombine(e.op, `ta${id}`, `tb${id}`, "===", "!==");
          out.push(`const t${id} = ${res}; const ${L} = t${id} === 2 ? 1 : 0, ${Hh} = t${id} === 0 ? 0 : 1;`);
          break;
        }
      }
      return [L, Hh];
    }
    case "sel": {
      const [cl, ch] = genInterval(e.c, out, counter, tables);
      const [al, ah] = genInterval(e.a, out, counter, tables);
      const [bl, bh] = genInterval(e.b, out, counter, tables);
      out.push(`const t${id} = ${truth(cl, ch)};`);
      out.push(
        `const ${L} = t${id} === 2 ? ${al} : t${id} === 0 ? ${bl} : Math.min(${al}, ${bl}), ${Hh} = t${id} === 2 ? ${ah} : t${id} === 0 ? ${bh} : Math.max(${ah}, ${bh});`,
      );
      return [L, Hh];
    }
  }
}

/**
 * Compiles the interval twin of a program: `(box) => { lo, hi, nan }`, bounds on the value over
 * every point of the box (inclusive ranges).
 * @example
 * const bounds = sl.compileInterval(sl.mask("q - kv < 256").program!);
 * bounds({ b: [0, 0], h: [0, 0], q: [1000, 1127], kv: [0, 127] });  // { lo: 0, hi: 0, nan: false }: never true there
 */
export function compileInterval(p: MaskProgram): (box: IntervalBox) => IntervalResult {
  const fn = compileIntervalRaw(p);
  return (box) => {
    const s = box.score ?? [-Infinity, Infinity];
    fn.run(box.b[0], box.b[1], box.h[0], box.h[1], box.q[0], box.q[1], box.kv[0], box.kv[1], s[0], s[1]);
    return { lo: fn.R.r0, hi: fn.R.r1, nan: fn.R.nan === 1 };
  };
}

function compileIntervalRaw(p: MaskProgram): { run: IntervalFn; R: IntervalRuntime } {
  const out: string[] = [];
  const tables = p.tables;
  const [l, h] = genInterval(p.expr, out, { n: 0 }, tables);
  const body = `"use strict"; return function (b0, b1, h0, h1, q0, q1, k0, k1, s0, s1) { R.nan = 0; ${out.join("\n")}\nR.r0 = ${l}; R.r1 = ${h}; return 0; };`;
  debugPrint("compiled interval program", body);
  const R = new IntervalRuntime(
    p.tables.map((t) => rangeMinMax(t)),
    p.tables,
  );
  const run = new Function("R", body)(R) as IntervalFn;
  return { run, R };
}

/**
 * A `classifyTile` for any program: TILE_FULL when the value is certainly true over the tile,
 * TILE_EMPTY when certainly false, undefined otherwise (the caller then looks closer).
 * @example
 * const classify = sl.irClassifier(sl.mask("doc[q] == doc[kv]", { doc: [0, 0, 1, 1] }).program!);
 * classify(0, 0, 0, 2, 2, 4);  // sl.TILE_EMPTY (0): documents 0 and 1 never meet
 */
export function irClassifier(p: MaskProgram): (b: number, h: number, q0: number, q1: number, kv0: number, kv1: number) => TileClass | undefined {
  const { run, R } = compileIntervalRaw(p);
  return (b, h, q0, q1, kv0, kv1) => {
    run(b, b, h, h, q0, q1 - 1, kv0, kv1 - 1, -Infinity, Infinity);
    if (R.nan) return undefined;
    const lo = R.r0, hi = R.r1;
    if (lo > 0 || hi < 0) return TILE_FULL;
    if (lo === 0 && hi === 0) return TILE_EMPTY;
    return undefined;
  };
}

/**
 * @internal Interval rule of a comparison: [certainly true, certainly false] conditions over the
 * bounds [al, ah] and [bl, bh], written with the target language's equality (`===` for the JS
 * classifier, `==` for the CUDA one), so both classifiers run the same rules.
 */
export function intervalCompare(op: "lt" | "le" | "gt" | "ge" | "eq" | "ne", al: string, ah: string, bl: string, bh: string, eq: string): [string, string] {
  const point = `(${al} ${eq} ${ah} && ${bl} ${eq} ${bh} && ${al} ${eq} ${bl})`;
  const apart = `(${ah} < ${bl} || ${bh} < ${al})`;
  return {
    lt: [`${ah} < ${bl}`, `${al} >= ${bh}`],
    le: [`${ah} <= ${bl}`, `${al} > ${bh}`],
    gt: [`${al} > ${bh}`, `${ah} <= ${bl}`],
    ge: [`${al} >= ${bh}`, `${ah} < ${bl}`],
    eq: [point, apart],
    ne: [apart, point],
  }[op] as [string, string];
}

/**
 * @internal Three-valued and / or / xor over truth codes ta, tb (0 certainly false, 1 unknown,
 * 2 certainly true), written with the target language's `eq` / `ne`.
 */
export function truthCombine(op: "and" | "or" | "xor", ta: string, tb: string, eq: string, ne: string): string {
  return {
    and: `(${ta} ${eq} 0 || ${tb} ${eq} 0) ? 0 : (${ta} ${eq} 2 && ${tb} ${eq} 2) ? 2 : 1`,
    or: `(${ta} ${eq} 2 || ${tb} ${eq} 2) ? 2 : (${ta} ${eq} 0 && ${tb} ${eq} 0) ? 0 : 1`,
    xor: `(${ta} ${eq} 1 || ${tb} ${eq} 1) ? 1 : (${ta} ${ne} ${tb}) ? 2 : 0`,
  }[op];
}
