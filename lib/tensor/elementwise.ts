import { argError, fmtShape } from "../errors.js";
import { isFloat, type DType } from "./dtype.js";
import { fromFloat32, Tensor } from "./tensor.js";
import { requireHost } from "./check.js";
import { broadcastShapes, broadcastStrides, numel, sameShape } from "./shape-util.js";
import { binaryKernel, unaryKernel } from "./kernels.js";

/*
 * Elementwise ops with numpy broadcasting. Values are read as JS numbers (float64), computed
 * in float64, and rounded to the output dtype at the end (f16/bf16 via f32: for + - * / sqrt
 * that double rounding equals direct rounding, since 24 >= 2 * 11 + 2 bits). Dtype rules:
 *  - float with float: the common dtype if equal, else f32;
 *  - float with an integer tensor or any number: the float dtype;
 *  - integer with integer (i32, u8, bool): i32, wrapping like int32 arithmetic; div gives f32;
 *  - an integer tensor with a non-integer number: f32;
 *  - comparisons give bool.
 */

/** A tensor or a plain number (a scalar that broadcasts everywhere). */
export type Operand = Tensor | number;

type Values = ArrayLike<number>;

function values(t: Tensor): Values {
  return t.dtype === "f16" || t.dtype === "bf16" ? t.floatData() : (t.data as Values);
}

function operand(op: string, x: unknown, arg: string): { shape: readonly number[]; vals: Values; dtype: DType | "number"; int: boolean } {
  if (typeof x === "number") return { shape: [], vals: [x], dtype: "number", int: Number.isInteger(x) };
  const t = requireHost(op, x, arg);
  return { shape: t.shape, vals: values(t), dtype: t.dtype, int: !isFloat(t.dtype) };
}

function resultDtype(a: DType | "number", aInt: boolean, b: DType | "number", bInt: boolean, kind: "arith" | "div" | "cmp"): DType {
  if (kind === "cmp") return "bool";
  const fa = a !== "number" && isFloat(a);
  const fb = b !== "number" && isFloat(b);
  if (fa && fb) return a === b ? (a as DType) : "f32";
  if (fa) return a as DType;
  if (fb) return b as DType;
  if (kind === "div" || !aInt || !bInt) return "f32";
  return "i32";
}

/** Writes float64 results into storage of `dtype`. */
function store(shape: readonly number[], dtype: DType, res: Float64Array | Float32Array | Int32Array | Uint8Array): Tensor {
  if (dtype === "f32") return new Tensor(shape, "f32", res instanceof Float32Array ? res : Float32Array.from(res));
  if (dtype === "i32") return new Tensor(shape, "i32", res instanceof Int32Array ? res : Int32Array.from(res, (v) => v | 0));
  if (dtype === "bool" || dtype === "u8") return new Tensor(shape, dtype, res instanceof Uint8Array ? res : Uint8Array.from(res));
  return new Tensor(shape, dtype, fromFloat32(res, dtype));
}

function allocFor(dtype: DType, n: number): Float32Array | Int32Array | Uint8Array | Float64Array {
  if (dtype === "i32") return new Int32Array(n);
  if (dtype === "bool" || dtype === "u8") return new Uint8Array(n);
  // f16/bf16 results stay float64 until the end rather than being rounded to f32 per op here.
  return dtype === "f32" ? new Float32Array(n) : new Float64Array(n);
}

/**
 * Runs a binary op: `expr` computes the result from x (a's value) and y (b's value) in float64;
 * `intExpr`, when given, replaces it for i32 results (int32 wrap-around arithmetic).
 */
function binary(op: string, a: Operand, b: Operand, kind: "arith" | "div" | "cmp", expr: string, intExpr?: string): Tensor {
  const A = operand(op, a, "a");
  const B = operand(op, b, "b");
  if (A.dtype === "number" && B.dtype === "number") argError(op, "a", "at least one Tensor operand", "two numbers");
  const shape = broadcastShapes(op, A.shape, B.shape);
  const dtype = resultDtype(A.dtype, A.int, B.dtype, B.int, kind);
  const out = allocFor(dtype, numel(shape));
  const k = binaryKernel(dtype === "i32" && intExpr ? intExpr : expr);
  if (sameShape(A.shape, B.shape)) k.same(A.vals, B.vals, out, out.length);
  else k.bcast(A.vals, broadcastStrides(A.shape, shape), B.vals, broadcastStrides(B.shape, shape), shape, out);
  return store(shape, dtype, out);
}

/**
 * a + b with broadcasting.
 * @example
 * sl.add(sl.ones([2, 3]), sl.tensor([1, 2, 3]));   // [[2, 3, 4], [2, 3, 4]]
 */
export function add(a: Operand, b: Operand): Tensor {
  return binary("add", a, b, "arith", "x + y", "(x + y) | 0");
}
/**
 * a - b with broadcasting.
 * @example
 * sl.sub(sl.ones([3]), 1);
 */
export function sub(a: Operand, b: Operand): Tensor {
  return binary("sub", a, b, "arith", "x - y", "(x - y) | 0");
}
/**
 * a * b with broadcasting.
 * @example
 * sl.mul(sl.randn([4, 8]), 0.5);
 */
export function mul(a: Operand, b: Operand): Tensor {
  return binary("mul", a, b, "arith", "x * y", "Math.imul(x, y)");
}
/**
 * a / b with broadcasting (always a float result; integer / integer gives f32).
 * @example
 * sl.div(sl.arange(4), 2);   // f32 [0, 0.5, 1, 1.5]
 */
export function div(a: Operand, b: Operand): Tensor {
  return binary("div", a, b, "div", "x / y");
}
/**
 * Elementwise maximum (NaN propagates).
 * @example
 * sl.maximum(sl.randn([3]), 0);
 */
export function maximum(a: Operand, b: Operand): Tensor {
  return binary("maximum", a, b, "arith", "x !== x || y !== y ? NaN : x > y ? x : y");
}
/**
 * Elementwise minimum (NaN propagates).
 * @example
 * sl.minimum(sl.randn([3]), 0);
 */
export function minimum(a: Operand, b: Operand): Tensor {
  return binary("minimum", a, b, "arith", "x !== x || y !== y ? NaN : x < y ? x : y");
}
/**
 * a ** b (float result).
 * @example
 * sl.pow(sl.arange(4), 2);
 */
export function pow(a: Operand, b: Operand): Tensor {
  return binary("pow", a, b, "div", "x ** y");
}
/** a == b as bool. @example sl.eq(sl.arange(3), 1); */
export function eq(a: Operand, b: Operand): Tensor {
  return binary("eq", a, b, "cmp", "x === y ? 1 : 0");
}
/** a < b as bool. @example sl.lt(sl.arange(3), 1); */
export function lt(a: Operand, b: Operand): Tensor {
  return binary("lt", a, b, "cmp", "x < y ? 1 : 0");
}
/** a <= b as bool. @example sl.le(sl.arange(3), 1); */
export function le(a: Operand, b: Operand): Tensor {
  return binary("le", a, b, "cmp", "x <= y ? 1 : 0");
}
/** a > b as bool. @example sl.gt(sl.arange(3), 1); */
export function gt(a: Operand, b: Operand): Tensor {
  return binary("gt", a, b, "cmp", "x > y ? 1 : 0");
}
/** a >= b as bool. @example sl.ge(sl.arange(3), 1); */
export function ge(a: Operand, b: Operand): Tensor {
  return binary("ge", a, b, "cmp", "x >= y ? 1 : 0");
}

/** Runs a unary op: `expr` of x in float64 (`erf`, `p0`, `p1` in scope); integer inputs give f32 unless keepInt. */
function unary(op: string, x: Tensor, expr: string, keepInt = false, p0 = 0, p1 = 0): Tensor {
  const t = requireHost(op, x);
  const dtype: DType = isFloat(t.dtype) ? t.dtype : keepInt ? "i32" : "f32";
  const out = allocFor(dtype, t.size);
  unaryKernel(expr)(values(t), out, t.size, erf, p0, p1);
  return store(t.shape, dtype, out);
}

/**
 * erf(x) to within 1e-15 absolute: its Maclaurin series for |x| < 1.5 (where cancellation
 * costs under one digit), a continued fraction for erfc beyond (fewer terms as x grows: ~400/x^2 + 20), exactly +-1 past 6.
 */
export function erf(x: number): number {
  if (x !== x) return NaN;
  const ax = Math.abs(x);
  if (ax >= 6) return Math.sign(x);
  if (ax < 1.5) {
    // erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    let term = ax;
    let sum = ax;
    const x2 = ax * ax;
    for (let n = 1; n < 100; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * sum * 1.1283791670955126;
  }
  // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + 1/2 / (x + 1 / (x + 3/2 / (x + ...)))), evaluated bottom-up.
  let frac = ax;
  for (let k = Math.ceil(400 / (ax * ax)) + 20; k >= 1; k--) frac = ax + k / 2 / frac;
  const erfc = Math.exp(-ax * ax) / 1.7724538509055159 / frac;
  return Math.sign(x) * (1 - erfc);
}

/** e^x. @example sl.exp(sl.tensor([0, 1])); */
export function exp(x: Tensor): Tensor {
  return unary("exp", x, "Math.exp(x)");
}
/** Natural log (log of a negative is NaN, of 0 is -Infinity). @example sl.log(sl.tensor([1, Math.E])); */
export function log(x: Tensor): Tensor {
  return unary("log", x, "Math.log(x)");
}
/** tanh. @example sl.tanh(sl.randn([4])); */
export function tanh(x: Tensor): Tensor {
  return unary("tanh", x, "Math.tanh(x)");
}
/** 1 / (1 + e^-x), stable for large |x|. @example sl.sigmoid(sl.randn([4])); */
export function sigmoid(x: Tensor): Tensor {
  return unary("sigmoid", x, "x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))");
}
/** max(x, 0) (NaN stays NaN; integer tensors stay i32). @example sl.relu(sl.randn([4])); */
export function relu(x: Tensor): Tensor {
  return unary("relu", x, "x > 0 ? x : x !== x ? NaN : 0", true);
}
/**
 * GELU: x * Phi(x) with the exact erf form (PyTorch's default), or the tanh approximation
 * with `{ approximate: "tanh" }`.
 * @example
 * sl.gelu(sl.randn([4]));
 */
export function gelu(x: Tensor, opts: { approximate?: "none" | "tanh" } = {}): Tensor {
  const approx = opts.approximate ?? "none";
  if (approx !== "none" && approx !== "tanh") argError("gelu", "approximate", `"none" or "tanh"`, String(approx));
  if (approx === "tanh") return unary("gelu", x, "0.5 * x * (1 + Math.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))");
  return unary("gelu", x, "0.5 * x * (1 + erf(x * Math.SQRT1_2))");
}
/** x * sigmoid(x) (SiLU / swish). @example sl.silu(sl.randn([4])); */
export function silu(x: Tensor): Tensor {
  return unary("silu", x, "x >= 0 ? x / (1 + Math.exp(-x)) : (x * Math.exp(x)) / (1 + Math.exp(x))");
}
/** -x. @example sl.neg(sl.arange(3)); */
export function neg(x: Tensor): Tensor {
  return unary("neg", x, "-x", true);
}
/** |x|. @example sl.abs(sl.tensor([-1, 2])); */
export function abs(x: Tensor): Tensor {
  return unary("abs", x, "Math.abs(x)", true);
}
/** Square root (NaN for negatives). @example sl.sqrt(sl.tensor([4, 9])); */
export function sqrt(x: Tensor): Tensor {
  return unary("sqrt", x, "Math.sqrt(x)");
}
/**
 * Clamps into [min, max] (either bound may be omitted; NaN stays NaN).
 * @example
 * sl.clamp(sl.randn([8]), { min: -1, max: 1 });
 */
export function clamp(x: Tensor, bounds: { min?: number; max?: number }): Tensor {
  const lo = bounds.min ?? -Infinity;
  const hi = bounds.max ?? Infinity;
  if (typeof lo !== "number" || typeof hi !== "number" || lo > hi) argError("clamp", "bounds", "numbers with min <= max", `min ${lo}, max ${hi}`);
  return unary("clamp", x, "x < p0 ? p0 : x > p1 ? p1 : x", (Number.isInteger(lo) || lo === -Infinity) && (Number.isInteger(hi) || hi === Infinity), lo, hi);
}

/**
 * Picks a where cond is true (non-zero), else b; all three broadcast together.
 * @example
 * const x = sl.randn([4]);
 * sl.where(sl.gt(x, 0), x, 0);   // relu
 */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  const c = requireHost("where", cond, "cond");
  const A = operand("where", a, "a");
  const B = operand("where", b, "b");
  const ab = broadcastShapes("where", A.shape, B.shape);
  let shape: number[];
  try {
    shape = broadcastShapes("where", c.shape, ab, ["cond", "a/b"]);
  } catch {
    return argError("where", "cond", `a shape broadcastable with a/b ${fmtShape(ab)}`, fmtShape(c.shape));
  }
  const dtype = A.dtype === "number" && B.dtype === "number" ? (A.int && B.int ? "i32" : "f32") : resultDtype(A.dtype, A.int, B.dtype, B.int, "arith");
  const n = numel(shape);
  const out = allocFor(dtype, n);
  const cv = values(c), av = A.vals, bv = B.vals;
  const sc = broadcastStrides(c.shape, shape), sa = broadcastStrides(A.shape, shape), sb = broadcastStrides(B.shape, shape);
  const nd = shape.length;
  const idx = new Array<number>(nd).fill(0);
  let pc = 0, pa = 0, pb = 0;
  for (let o = 0; o < n; o++) {
    out[o] = cv[pc] ? av[pa] : bv[pb];
    for (let d = nd - 1; d >= 0; d--) {
      idx[d]++;
      pc += sc[d]; pa += sa[d]; pb += sb[d];
      if (idx[d] < shape[d]) break;
      pc -= sc[d] * shape[d]; pa -= sa[d] * shape[d]; pb -= sb[d] * shape[d];
      idx[d] = 0;
    }
  }
  return store(shape, dtype, out);
}
