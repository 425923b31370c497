import type { MaskExpr, MaskProgram } from "../../attention/mask-ir.js";
import { SparselabError } from "../../errors.js";

/**
 * Prints the mask / score-mod IR as a CUDA C++ expression, FlexAttention's idea done from
 * TypeScript: the mask is compiled into the kernel, so partial tiles cost a few instructions per
 * element instead of a lookup in a materialised mask.
 *
 * Every node evaluates to a float (positions up to 2^24 are exact), comparisons and logic give
 * 0/1, `mod` is floored like Python's so `(q - kv) mod d` behaves for negative differences.
 * Tables become kernel parameters t0, t1, ... (const int* or const float*).
 */
export interface CudaExpr {
  /** The expression text, a float. */
  expr: string;
  /** `, const int* __restrict__ t0, ...` for the kernel's and device functions' parameter lists. */
  tableParams: string;
  /** `, t0, ...` to forward the tables. */
  tableArgs: string;
}

const UNARY: Record<string, (a: string) => string> = {
  neg: (a) => `(-(${a}))`,
  not: (a) => `((${a}) == 0.f ? 1.f : 0.f)`,
  abs: (a) => `fabsf(${a})`,
  floor: (a) => `floorf(${a})`,
  ceil: (a) => `ceilf(${a})`,
  sign: (a) => `((${a}) > 0.f ? 1.f : ((${a}) < 0.f ? -1.f : 0.f))`,
  tanh: (a) => `tanhf(${a})`,
  exp: (a) => `expf(${a})`,
  log: (a) => `logf(${a})`,
  sqrt: (a) => `sqrtf(${a})`,
};

const BINARY: Record<string, (a: string, b: string) => string> = {
  add: (a, b) => `((${a}) + (${b}))`,
  sub: (a, b) => `((${a}) - (${b}))`,
  mul: (a, b) => `((${a}) * (${b}))`,
  div: (a, b) => `((${a}) / (${b}))`,
  mod: (a, b) => `sl_mod(${a}, ${b})`,
  floordiv: (a, b) => `floorf((${a}) / (${b}))`,
  min: (a, b) => `fminf(${a}, ${b})`,
  max: (a, b) => `fmaxf(${a}, ${b})`,
  pow: (a, b) => `powf(${a}, ${b})`,
  lt: (a, b) => `((${a}) < (${b}) ? 1.f : 0.f)`,
  le: (a, b) => `((${a}) <= (${b}) ? 1.f : 0.f)`,
  gt: (a, b) => `((${a}) > (${b}) ? 1.f : 0.f)`,
  ge: (a, b) => `((${a}) >= (${b}) ? 1.f : 0.f)`,
  eq: (a, b) => `((${a}) == (${b}) ? 1.f : 0.f)`,
  ne: (a, b) => `((${a}) != (${b}) ? 1.f : 0.f)`,
  and: (a, b) => `(((${a}) != 0.f && (${b}) != 0.f) ? 1.f : 0.f)`,
  or: (a, b) => `(((${a}) != 0.f || (${b}) != 0.f) ? 1.f : 0.f)`,
  xor: (a, b) => `((((${a}) != 0.f) != ((${b}) != 0.f)) ? 1.f : 0.f)`,
};

function fmtNum(v: number): string {
  if (Number.isNaN(v)) return "__int_as_float(0x7fc00000)";
  if (v === Infinity) return "__int_as_float(0x7f800000)";
  if (v === -Infinity) return "__int_as_float(0xff800000)";
  const s = Number.isInteger(v) ? `${v}.0` : v.toPrecision(9);
  return `${s}f`;
}

const INT_VARS = new Set(["b", "h", "q", "kv"]);
const COMPARE: Record<string, string> = { lt: "<", le: "<=", gt: ">", ge: ">=", eq: "==", ne: "!=" };

/**
 * An integer-valued subexpression (positions, integer constants within 2^24, their sums,
 * differences and negations) as C int arithmetic, else undefined. Where the float form is exact
 * (positions up to 2^24) both give the same value; the int form costs no int-to-float conversions,
 * which run at a quarter of the FMA rate and sat on every element of a masked attention tile.
 */
function emitInt(e: MaskExpr): string | undefined {
  switch (e.t) {
    case "num":
      return Number.isInteger(e.v) && Math.abs(e.v) <= 2 ** 24 ? `(${e.v})` : undefined;
    case "var":
      return INT_VARS.has(e.name) ? `(${e.name})` : undefined;
    case "un": {
      const a = e.op === "neg" ? emitInt(e.a) : undefined;
      return a && `(-${a})`;
    }
    case "bin": {
      if (e.op !== "add" && e.op !== "sub") return undefined;
      const a = emitInt(e.a), b = a && emitInt(e.b);
      return b && `(${a} ${e.op === "add" ? "+" : "-"} ${b})`;
    }
    default:
      return undefined;
  }
}

function emit(e: MaskExpr, tableBase: number, tables: MaskProgram["tables"], intOps = false): string {
  if (intOps && e.t === "bin" && COMPARE[e.op]) {
    const a = emitInt(e.a), b = a && emitInt(e.b);
    if (b) return `((${a} ${COMPARE[e.op]} ${b}) ? 1.f : 0.f)`;
  }
  if (intOps && e.t === "idx" && tables[e.table]) {
    const i = emitInt(e.index);
    if (i) return `((float)t${tableBase + e.table}[min(max(${i}, 0), ${tables[e.table].length - 1})])`;
  }
  const emit_ = (x: MaskExpr) => emit(x, tableBase, tables, intOps);
  switch (e.t) {
    case "num":
      return fmtNum(e.v);
    case "var":
      return `((float)${e.name})`;
    case "idx": {
      const t = tables[e.table];
      if (!t) throw new SparselabError("cuda codegen", `table ${e.table} referenced but not provided`);
      const len = t.length;
      // Clamp the index: the JS side validates tables at build time; the clamp keeps a bad
      // index from reading outside the allocation (a sticky GPU fault) in any case.
      return `((float)t${tableBase + e.table}[min(max((int)(${emit_(e.index)}), 0), ${len - 1})])`;
    }
    case "un": {
      const f = UNARY[e.op];
      if (!f) throw new SparselabError("cuda codegen", `unsupported unary op '${e.op}'`);
      return f(emit_(e.a));
    }
    case "bin": {
      const f = BINARY[e.op];
      if (!f) throw new SparselabError("cuda codegen", `unsupported binary op '${e.op}'`);
      return f(emit_(e.a), emit_(e.b));
    }
    case "sel":
      return `((${emit_(e.c)}) != 0.f ? (${emit_(e.a)}) : (${emit_(e.b)}))`;
  }
}

/**
 * Compiles one or more programs; tables of later programs are numbered after earlier ones.
 * `intOps` prints comparisons and table indices whose operands are integer-valued (positions,
 * integer constants, sums and differences) in int arithmetic: the same results for positions up
 * to 2^24 (exact ones beyond), without int-to-float conversions. The attention kernels use it;
 * createBlockMask's element scan keeps the float form its interval bounds were proved against.
 */
export function toCuda(programs: (MaskProgram | undefined)[], opts: { intOps?: boolean } = {}): { exprs: (string | undefined)[]; tableParams: string; tableArgs: string; tables: MaskProgram["tables"] } {
  const exprs: (string | undefined)[] = [];
  const tables: MaskProgram["tables"] = [];
  for (const p of programs) {
    if (!p) {
      exprs.push(undefined);
      continue;
    }
    exprs.push(emit(p.expr, tables.length, p.tables, opts.intOps ?? false));
    tables.push(...p.tables);
  }
  const tableParams = tables
    .map((t, i) => `, const ${t instanceof Float32Array ? "float" : "int"}* __restrict__ t${i}`)
    .join("");
  const tableArgs = tables.map((_, i) => `, t${i}`).join("");
  return { exprs, tableParams, tableArgs, tables };
}

/** Device helpers every generated expression may call. */
export const CODEGEN_PRELUDE = `
__device__ __forceinline__ float sl_mod(float a, float b) { return a - b * floorf(a / b); }
`;
