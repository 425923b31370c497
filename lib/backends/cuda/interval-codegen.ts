import type { MaskExpr, MaskProgram } from "../../attention/mask-ir.js";
import { intervalCompare, isIntExpr, truthCombine } from "../../attention/mask-ir-js.js";

/**
 * The mask IR printed as CUDA interval arithmetic: a device function that bounds the mask's
 * value over a whole tile (b, h fixed; q and kv ranges) and answers 0 (certainly false
 * everywhere: an empty tile), 2 (certainly true: a full tile) or 1 (cannot tell: scan it).
 * This lets the GPU createBlockMask decide most tiles with a few dozen instructions instead of
 * evaluating every element; only the tiles the bounds leave open are scanned.
 *
 * Soundness comes first (a wrong 0 or 2 would drop or unmask attention): every rule is
 * monotone over its inputs; results that may round (non-integer values, or integers beyond
 * 2^24) are widened by a few ulps, since the element code may round differently (FMA
 * contraction); NaN anywhere, divisions by a range that contains 0, and the transcendental ops
 * (whose fast-math versions need not be monotone) give up, i.e. answer 1 for the tile.
 *
 * Table lookups bound the table over the index range with a warp-cooperative min/max
 * (`sl_range_i` / `sl_range_f`, which every lane of the warp must call together: the generated
 * code is straight-line, and the kernel calls it warp-uniformly), or with the whole table's
 * min/max when the range is long.
 */
export interface CudaIntervalFunction {
  /** The function's source (`__device__ int ${name}(float b, float h, float q0, float q1, float k0, float k1 <tables>)`). */
  source: string;
  name: string;
}

/** Index ranges longer than this use the whole table's bounds instead of a scan. */
const RANGE_SCAN_MAX = 4096;
const TWO24 = 16777216;

function lit(v: number): string {
  if (v === Infinity) return "__int_as_float(0x7f800000)";
  if (v === -Infinity) return "__int_as_float(0xff800000)";
  return Number.isInteger(v) ? `${v}.0f` : `${v.toPrecision(9)}f`;
}

interface Ctx {
  out: string[];
  n: number;
  tables: MaskProgram["tables"];
  tableBase: number;
}

/** The dividend's interval variables of each `div` node, for floor(a / c) (filled as gen visits). */
const lastDividend = new WeakMap<MaskExpr, [string, string]>();

/** The divisor when it is a nonzero integer constant below 2^24, else undefined. */
function exactIntDivisor(e: MaskExpr): number | undefined {
  return e.t === "num" && Number.isInteger(e.v) && e.v !== 0 && Math.abs(e.v) < TWO24 ? e.v : undefined;
}

/**
 * [L, H] = floor (or ceil) of [nl, nh] / d in exact integer arithmetic when the dividend range
 * is within 2^24, else the float fallback (`fl`, `fh`) widened by one.
 */
function exactFloorDiv(c: Ctx, L: string, H: string, nl: string, nh: string, d: number, mode: "floor" | "ceil", fl?: string, fh?: string): void {
  const fn = mode === "floor" ? "sl_floordiv_i" : "sl_ceildiv_i";
  const [lo, hi] = d > 0 ? [nl, nh] : [nh, nl];
  const fallback = fl && fh ? `{ ${L} = fminf(${fl}, ${fh}) - 1.f; ${H} = fmaxf(${fl}, ${fh}) + 1.f; }` : `{ unk = true; ${L} = 0.f; ${H} = 0.f; }`;
  c.out.push(
    `float ${L}, ${H};`,
    `if (fabsf(${nl}) <= ${TWO24}.f && fabsf(${nh}) <= ${TWO24}.f) { ${L} = (float)${fn}((int)${lo}, ${d}); ${H} = (float)${fn}((int)${hi}, ${d}); }`,
    `else ${fallback}`,
  );
}

/** Emits statements computing [lo, hi] of `e`; returns the two variable names. */
function gen(e: MaskExpr, c: Ctx): [string, string] {
  const id = c.n++;
  const L = `lo${id}`, H = `hi${id}`;
  const isInt = isIntExpr(e, c.tables);
  // Rounding guard for an arithmetic result: exact when integer-valued and within 2^24; else
  // widened by a few ulps of `mag` (the operands' magnitude), which also covers an FMA in the
  // element code leaving a tiny residue where this code computes an exact 0.
  const settle = (mag: string) => {
    c.out.push(`if (${L} != ${L} || ${H} != ${H}) unk = true;`);
    const widen = `{ const float w = (${mag}) * 4.8e-7f; ${L} -= w; ${H} += w; }`;
    if (isInt) c.out.push(`if (!(fabsf(${L}) <= ${TWO24}.f && fabsf(${H}) <= ${TWO24}.f)) ${widen}`);
    else c.out.push(widen);
  };
  const magOf = (l: string, h: string) => `fmaxf(fabsf(${l}), fabsf(${h}))`;
  const truth = (l: string, h: string) => `((${l} > 0.f || ${h} < 0.f) ? 2 : (${l} == 0.f && ${h} == 0.f) ? 0 : 1)`;
  switch (e.t) {
    case "num":
      if (Number.isNaN(e.v)) {
        c.out.push(`unk = true; float ${L} = 0.f, ${H} = 0.f;`);
        return [L, H];
      }
      c.out.push(`float ${L} = ${lit(e.v)}, ${H} = ${lit(e.v)};`);
      return [L, H];
    case "var": {
      const v = { b: ["b", "b"], h: ["h", "h"], q: ["q0", "q1"], kv: ["k0", "k1"] }[e.name as "b" | "h" | "q" | "kv"];
      if (!v) {
        c.out.push(`unk = true; float ${L} = 0.f, ${H} = 0.f;`); // "score" has no place in a mask
        return [L, H];
      }
      c.out.push(`float ${L} = ${v[0]}, ${H} = ${v[1]};`);
      return [L, H];
    }
    case "idx": {
      const [il, ih] = gen(e.index, c);
      const t = c.tables[e.table];
      const len = t.length;
      let mn = Infinity, mx = -Infinity, nan = false;
      for (let i = 0; i < len; i++) {
        const x = t[i];
        if (Number.isNaN(x)) nan = true;
        else {
          if (x < mn) mn = x;
          if (x > mx) mx = x;
        }
      }
      const tv = `t${c.tableBase + e.table}`;
      const fn = t instanceof Float32Array ? "sl_range_f" : "sl_range_i";
      // The element code reads t[clamp((int)index, 0, len - 1)]: truncation and clamping are monotone.
      c.out.push(
        `float ${L}, ${H};`,
        `{ if (${il} != ${il} || ${ih} != ${ih}) unk = true;`,
        `  const int a${id} = min(max((int)fmaxf(fminf(${il}, 2.0e9f), -2.0e9f), 0), ${len - 1}), z${id} = min(max((int)fmaxf(fminf(${ih}, 2.0e9f), -2.0e9f), 0), ${len - 1});`,
        `  if (z${id} - a${id} < ${RANGE_SCAN_MAX}) { if (${fn}(${tv}, a${id}, z${id}, &${L}, &${H})) unk = true; }`,
        `  else { ${L} = ${lit(mn)}; ${H} = ${lit(mx)};${nan ? " unk = true;" : ""} } }`,
      );
      return [L, H];
    }
    case "un": {
      const [al, ah] = gen(e.a, c);
      switch (e.op) {
        case "neg":
          c.out.push(`float ${L} = -${ah}, ${H} = -${al};`);
          return [L, H];
        case "not":
          c.out.push(`const int c${id} = ${truth(al, ah)}; float ${L} = c${id} == 0 ? 1.f : 0.f, ${H} = c${id} == 2 ? 0.f : 1.f;`);
          return [L, H];
        case "abs":
          c.out.push(`float ${L} = ${al} >= 0.f ? ${al} : ${ah} <= 0.f ? -${ah} : 0.f, ${H} = fmaxf(fabsf(${al}), fabsf(${ah}));`);
          return [L, H];
        case "floor":
        case "ceil": {
          // floor(a / c) with an integer a and an integer constant c: exact integer division
          // (the DSL writes floor division this way), so tiles aligned to c stay decidable.
          const inner = e.a;
          if (inner.t === "bin" && inner.op === "div" && exactIntDivisor(inner.b) !== undefined && isIntExpr(inner.a, c.tables)) {
            const [nl, nh] = lastDividend.get(inner)!;
            exactFloorDiv(c, L, H, nl, nh, exactIntDivisor(inner.b)!, e.op, `${e.op}f(${al})`, `${e.op}f(${ah})`);
            return [L, H];
          }
          c.out.push(`float ${L} = ${e.op}f(${al}), ${H} = ${e.op}f(${ah});`);
          return [L, H];
        }
        case "sign":
          c.out.push(`float ${L} = ${al} > 0.f ? 1.f : ${al} < 0.f ? -1.f : 0.f, ${H} = ${ah} > 0.f ? 1.f : ${ah} < 0.f ? -1.f : 0.f;`);
          return [L, H];
        default:
          c.out.push(`unk = true; float ${L} = 0.f, ${H} = 0.f;`); // tanh, exp, log, sqrt
          return [L, H];
      }
    }
    case "bin": {
      const [al, ah] = gen(e.a, c);
      const [bl, bh] = gen(e.b, c);
      if (e.op === "div") lastDividend.set(e, [al, ah]);
      switch (e.op) {
        case "add":
          c.out.push(`float ${L} = ${al} + ${bl}, ${H} = ${ah} + ${bh};`);
          settle(`${magOf(al, ah)} + ${magOf(bl, bh)}`);
          return [L, H];
        case "sub":
          c.out.push(`float ${L} = ${al} - ${bh}, ${H} = ${ah} - ${bl};`);
          settle(`${magOf(al, ah)} + ${magOf(bl, bh)}`);
          return [L, H];
        case "mul":
          c.out.push(
            `float ${L}, ${H};`,
            `{ const float p0 = ${al} * ${bl}, p1 = ${al} * ${bh}, p2 = ${ah} * ${bl}, p3 = ${ah} * ${bh};`,
            `  if (p0 != p0 || p1 != p1 || p2 != p2 || p3 != p3) unk = true;`,
            `  ${L} = fminf(fminf(p0, p1), fminf(p2, p3)); ${H} = fmaxf(fmaxf(p0, p1), fmaxf(p2, p3)); }`,
          );
          settle(magOf(L, H));
          return [L, H];
        case "div":
        case "floordiv": {
          if (e.op === "floordiv" && exactIntDivisor(e.b) !== undefined && isIntExpr(e.a, c.tables)) {
            exactFloorDiv(c, L, H, al, ah, exactIntDivisor(e.b)!, "floor");
            return [L, H];
          }
          // A divisor range of one sign: a / d is then monotone in a for each d, and in d for each a.
          const f = e.op === "floordiv" ? (x: string) => `floorf(${x})` : (x: string) => x;
          c.out.push(
            `float ${L}, ${H};`,
            `if (${bl} > 0.f || ${bh} < 0.f) { const float p0 = ${f(`(${al}) / (${bl})`)}, p1 = ${f(`(${al}) / (${bh})`)}, p2 = ${f(`(${ah}) / (${bl})`)}, p3 = ${f(`(${ah}) / (${bh})`)};`,
            `  ${L} = fminf(fminf(p0, p1), fminf(p2, p3)); ${H} = fmaxf(fmaxf(p0, p1), fmaxf(p2, p3)); if (p0 != p0 || p1 != p1 || p2 != p2 || p3 != p3) unk = true; }`,
            `else { unk = true; ${L} = 0.f; ${H} = 0.f; }`,
          );
          // A fast-math quotient that rounds across an integer moves a floor by one: widen by one.
          if (e.op === "floordiv") c.out.push(`${L} -= 1.f; ${H} += 1.f;`);
          else settle(magOf(L, H));
          return [L, H];
        }
        case "mod": {
          const intArgs = isIntExpr(e.a, c.tables) && isIntExpr(e.b, c.tables);
          // sl_mod(a, m) = a - m * floor(a / m) lies in [0, m) for m > 0 and (m, 0] for m < 0.
          // With one integer divisor and a range of a inside one period it is a - m * k, exact.
          c.out.push(
            `float ${L}, ${H};`,
            `if (${bl} == ${bh} && ${bl} > 0.f && ${intArgs ? "true" : "false"} && fabsf(${al}) <= ${TWO24}.f && fabsf(${ah}) <= ${TWO24}.f && floorf(${al} / ${bl}) == floorf(${ah} / ${bl})) {`,
            `  const float k = floorf(${al} / ${bl}); ${L} = ${al} - ${bl} * k; ${H} = ${ah} - ${bl} * k; }`,
            `else if (${bl} > 0.f) { ${L} = 0.f; ${H} = ${intArgs ? `${bh} - 1.f` : bh}; }`,
            `else if (${bh} < 0.f) { ${L} = ${intArgs ? `${bl} + 1.f` : bl}; ${H} = 0.f; }`,
            `else { unk = true; ${L} = 0.f; ${H} = 0.f; }`,
          );
          settle(`${magOf(al, ah)} + ${magOf(bl, bh)}`);
          return [L, H];
        }
        case "min":
        case "max":
          c.out.push(`float ${L} = f${e.op}f(${al}, ${bl}), ${H} = f${e.op}f(${ah}, ${bh});`);
          return [L, H];
        case "pow":
          c.out.push(`unk = true; float ${L} = 0.f, ${H} = 0.f;`);
          return [L, H];
        case "lt":
        case "le":
        case "gt":
        case "ge":
        case "eq":
        case "ne": {
          const cond = intervalCompare(e.op, al, ah, bl, bh, "==");
          c.out.push(`float ${L} = (${cond[0]}) ? 1.f : 0.f, ${H} = (${cond[1]}) ? 0.f : 1.f;`);
          return [L, H];
        }
        case "and":
        case "or":
        case "xor": {
          const res = truthCombine(e.op, `ta${id}`, `tb${id}`, "==", "!=");
          c.out.push(
            `const int ta${id} = ${truth(al, ah)}, tb${id} = ${truth(bl, bh)};`,
            `const int c${id} = ${res}; float ${L} = c${id} == 2 ? 1.f : 0.f, ${H} = c${id} == 0 ? 0.f : 1.f;`,
          );
          return [L, H];
        }
      }
      c.out.push(`unk = true; float ${L} = 0.f, ${H} = 0.f;`);
      return [L, H];
    }
    case "sel": {
      const [cl, ch] = gen(e.c, c);
      const [al, ah] = gen(e.a, c);
      const [bl, bh] = gen(e.b, c);
      c.out.push(
        `const int c${id} = ${truth(cl, ch)};`,
        `float ${L} = c${id} == 2 ? ${al} : c${id} == 0 ? ${bl} : fminf(${al}, ${bl}), ${H} = c${id} == 2 ? ${ah} : c${id} == 0 ? ${bh} : fmaxf(${ah}, ${bh});`,
      );
      return [L, H];
    }
  }
}

/**
 * Prints `program` as a tile classifier `name(b, h, q0, q1, k0, k1, tables...)` (q1 and k1
 * inclusive) returning 0 empty, 2 full, 1 undecided. `tableParams` is the parameter text the
 * element code uses (codegen.ts's), so both read the same tables.
 */
export function toCudaInterval(program: MaskProgram, tableParams: string, name = "sl_tile_class", tableBase = 0): CudaIntervalFunction {
  const c: Ctx = { out: [], n: 0, tables: program.tables, tableBase };
  const [l, h] = gen(program.expr, c);
  const body = c.out.map((s) => `  ${s}`).join("\n");
  const source = `__device__ __forceinline__ int ${name}(float b, float h, float q0, float q1, float k0, float k1${tableParams}) {
  bool unk = false;
${body}
  if (unk || ${l} != ${l} || ${h} != ${h}) return 1;
  return (${l} > 0.f || ${h} < 0.f) ? 2 : (${l} == 0.f && ${h} == 0.f) ? 0 : 1;
}
`;
  return { source, name };
}

/**
 * Device helpers of the interval code: ulp widening and the warp-cooperative table range
 * bounds (every lane of a warp calls them together; they return true when a NaN was seen).
 */
export const INTERVAL_PRELUDE = `
__device__ __forceinline__ int sl_floordiv_i(int a, int d) { const int q = a / d; return (a % d != 0 && ((a < 0) != (d < 0))) ? q - 1 : q; }
__device__ __forceinline__ int sl_ceildiv_i(int a, int d) { const int q = a / d; return (a % d != 0 && ((a < 0) == (d < 0))) ? q + 1 : q; }
__device__ __forceinline__ bool sl_range_i(const int* __restrict__ t, int a, int z, float* lo, float* hi) {
  float mn = __int_as_float(0x7f800000), mx = __int_as_float(0xff800000);
  for (int i = a + (int)(threadIdx.x & 31); i <= z; i += 32) { const float v = (float)t[i]; mn = fminf(mn, v); mx = fmaxf(mx, v); }
  for (int o = 16; o; o >>= 1) { mn = fminf(mn, __shfl_xor_sync(0xffffffffu, mn, o)); mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o)); }
  *lo = mn; *hi = mx;
  return false;
}
__device__ __forceinline__ bool sl_range_f(const float* __restrict__ t, int a, int z, float* lo, float* hi) {
  float mn = __int_as_float(0x7f800000), mx = __int_as_float(0xff800000);
  bool nan = false;
  for (int i = a + (int)(threadIdx.x & 31); i <= z; i += 32) { const float v = t[i]; nan |= v != v; mn = fminf(mn, v); mx = fmaxf(mx, v); }
  for (int o = 16; o; o >>= 1) { mn = fminf(mn, __shfl_xor_sync(0xffffffffu, mn, o)); mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o)); }
  *lo = mn; *hi = mx;
  return __any_sync(0xffffffffu, nan);
}
`;
