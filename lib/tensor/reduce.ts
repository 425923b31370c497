import { argError, fmtShape } from "../errors.js";
import { allocStorage, isFloat } from "./dtype.js";
import { Tensor, toFloat32 } from "./tensor.js";
import { requireHost } from "./check.js";
import { normAxis, numel, stridesOf } from "./shape-util.js";
import { stridedCopy } from "./strided.js";

/*
 * Reductions along one axis, or over all elements when `axis` is omitted. They accumulate in
 * float64 (JS numbers) so they double as references for the native kernels. Results: f32 for
 * float inputs; sum over integers is i32 (exact, error on overflow), max/min keep i32 for
 * integers; argmax/argmin are i32 (first index on ties). NaN propagates: max/min return NaN and
 * argmax/argmin the first NaN's index, like numpy.
 */

export interface ReduceOptions {
  /**
   * The axis to reduce (negative counts from the end), or several axes (not for argmax /
   * argmin); omitted = all elements.
   */
  axis?: number | readonly number[];
  /** Keep the reduced axes as size 1. Default false. */
  keepdim?: boolean;
}

/** The reduction seen as [outer, n, inner] over `v`, reducing the middle axis. */
interface Plan {
  outer: number;
  n: number;
  inner: number;
  shape: number[];
  v: ArrayLike<number>;
}

function vals(x: Tensor): ArrayLike<number> {
  return x.dtype === "f16" || x.dtype === "bf16" ? x.floatData() : (x.data as ArrayLike<number>);
}

function plan(op: string, x: Tensor, opts: ReduceOptions, multi = true): Plan {
  if (opts === null || typeof opts !== "object") argError(op, "opts", "an options object { axis?, keepdim? }", String(opts));
  const { axis, keepdim } = opts;
  if (axis === undefined) return { outer: 1, n: x.size, inner: 1, shape: keepdim ? x.shape.map(() => 1) : [], v: vals(x) };
  if (typeof axis === "number") {
    const ax = normAxis(op, axis, x.ndim);
    const shape = [...x.shape];
    if (keepdim) shape[ax] = 1;
    else shape.splice(ax, 1);
    return { outer: numel(x.shape.slice(0, ax)), n: x.shape[ax], inner: numel(x.shape.slice(ax + 1)), shape, v: vals(x) };
  }
  if (!multi) argError(op, "axis", "a single axis (an integer)", `[${String(axis)}]`);
  if (!Array.isArray(axis) || axis.length === 0) argError(op, "axis", "an integer or a non-empty array of integers", String(axis));
  const axes = [...new Set(axis.map((a) => normAxis(op, a, x.ndim)))].sort((a, b) => a - b);
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const shape = keepdim ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : kept.map((i) => x.shape[i]);
  // Gather the reduced axes last so each output cell reads one contiguous run.
  const st = stridesOf(x.shape);
  const order = [...kept, ...axes];
  const v = allocStorage(x.dtype, x.size);
  stridedCopy(x.data, 0, order.map((a) => st[a]), order.map((a) => x.shape[a]), v);
  const wide = x.dtype === "f16" || x.dtype === "bf16" ? toFloat32(v, x.dtype) : (v as ArrayLike<number>);
  return { outer: numel(kept.map((i) => x.shape[i])), n: numel(axes.map((i) => x.shape[i])), inner: 1, shape, v: wide };
}

function toF32(shape: number[], r: Float64Array): Tensor<"f32"> {
  return new Tensor(shape, "f32", Float32Array.from(r));
}

/**
 * Sum along an axis or over everything (float64 accumulation).
 * @example
 * sl.sum(sl.ones([2, 3]), { axis: 1 });   // [3, 3]
 * sl.sum(sl.ones([2, 3]));                // 6 (0-D)
 */
export function sum(x: Tensor, opts: ReduceOptions = {}): Tensor {
  requireHost("sum", x);
  const p = plan("sum", x, opts);
  const r = sumRaw(p);
  if (isFloat(x.dtype)) return toF32(p.shape, r);
  for (let i = 0; i < r.length; i++)
    if (r[i] > 2147483647 || r[i] < -2147483648) argError("sum", "x", "integer sums that fit in i32 (cast to f32 first)", `a sum of ${r[i]}`);
  return new Tensor(p.shape, "i32", Int32Array.from(r));
}

function sumRaw(p: Plan): Float64Array {
  const v = p.v;
  if (p.inner === 1) {
    const out = new Float64Array(p.outer);
    for (let o = 0; o < p.outer; o++) {
      let acc = 0;
      const base = o * p.n;
      for (let k = 0; k < p.n; k++) acc += v[base + k];
      out[o] = acc;
    }
    return out;
  }
  // Accumulate whole rows so the inner loop reads memory in order.
  const out = new Float64Array(p.outer * p.inner);
  for (let o = 0; o < p.outer; o++) {
    const ob = o * p.inner;
    for (let k = 0; k < p.n; k++) {
      const base = (o * p.n + k) * p.inner;
      for (let i = 0; i < p.inner; i++) out[ob + i] += v[base + i];
    }
  }
  return out;
}

/**
 * Mean along an axis or over everything (f32; NaN for an empty reduction).
 * @example
 * sl.mean(sl.arange(4), {});   // 1.5
 */
export function mean(x: Tensor, opts: ReduceOptions = {}): Tensor<"f32"> {
  requireHost("mean", x);
  const p = plan("mean", x, opts);
  const r = sumRaw(p);
  for (let i = 0; i < r.length; i++) r[i] /= p.n;
  return toF32(p.shape, r);
}

function extreme(op: string, x: Tensor, opts: ReduceOptions, sign: 1 | -1): Tensor {
  requireHost(op, x);
  const p = plan(op, x, opts);
  if (p.n === 0) argError(op, "x", "a non-empty reduction", `an empty axis in shape ${fmtShape(x.shape)}`);
  const { outer, n, inner, v } = p;
  const r = new Float64Array(outer * inner);
  // Flip the sign once so one max loop serves both; NaN stays NaN through the flip.
  if (inner > 1) {
    // Reducing a leading axis: sweep whole rows so memory is read in order.
    r.fill(-Infinity);
    for (let o = 0; o < outer; o++) {
      const ob = o * inner;
      for (let k = 0; k < n; k++) {
        const base = (o * n + k) * inner;
        for (let i = 0; i < inner; i++) {
          const e = sign * v[base + i];
          const acc = r[ob + i];
          if (e > acc || e !== e) r[ob + i] = acc !== acc ? acc : e;
        }
      }
    }
    for (let i = 0; i < r.length; i++) r[i] *= sign;
  } else for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      let acc = -Infinity;
      for (let k = 0, s = o * n * inner + i; k < n; k++, s += inner) {
        const e = sign * v[s];
        if (e > acc) acc = e;
        else if (e !== e) {
          acc = NaN;
          break;
        }
      }
      r[o * inner + i] = sign * acc;
    }
  if (isFloat(x.dtype)) return toF32(p.shape, r);
  return new Tensor(p.shape, "i32", Int32Array.from(r));
}

/**
 * Maximum along an axis or over everything (NaN propagates).
 * @example
 * sl.max(sl.tensor([[1, 5], [7, 2]]), { axis: 1 });   // [5, 7]
 */
export function max(x: Tensor, opts: ReduceOptions = {}): Tensor {
  return extreme("max", x, opts, 1);
}
/**
 * Minimum along an axis or over everything (NaN propagates).
 * @example
 * sl.min(sl.tensor([[1, 5], [7, 2]]), { axis: 1 });   // [1, 2]
 */
export function min(x: Tensor, opts: ReduceOptions = {}): Tensor {
  return extreme("min", x, opts, -1);
}

function argExtreme(op: string, x: Tensor, opts: ReduceOptions, sign: 1 | -1): Tensor<"i32"> {
  requireHost(op, x);
  const p = plan(op, x, opts, false);
  if (p.n === 0) argError(op, "x", "a non-empty reduction", `an empty axis in shape ${fmtShape(x.shape)}`);
  const v = p.v;
  const out = new Int32Array(p.outer * p.inner);
  for (let o = 0; o < p.outer; o++) {
    for (let i = 0; i < p.inner; i++) {
      let best = v[o * p.n * p.inner + i];
      let bi = 0;
      if (best === best) {
        let s = o * p.n * p.inner + i + p.inner;
        for (let k = 1; k < p.n; k++, s += p.inner) {
          const e = v[s];
          if (e !== e) {
            bi = k;
            break;
          }
          if (sign > 0 ? e > best : e < best) {
            best = e;
            bi = k;
          }
        }
      }
      out[o * p.inner + i] = bi;
    }
  }
  return new Tensor(p.shape, "i32", out);
}

/**
 * Index of the maximum (first on ties; first NaN wins), i32.
 * @example
 * sl.argmax(sl.tensor([[1, 5], [7, 2]]), { axis: 1 });   // [1, 0]
 */
export function argmax(x: Tensor, opts: ReduceOptions = {}): Tensor<"i32"> {
  return argExtreme("argmax", x, opts, 1);
}
/**
 * Index of the minimum (first on ties; first NaN wins), i32.
 * @example
 * sl.argmin(sl.tensor([3, 1, 1]), {});   // 1
 */
export function argmin(x: Tensor, opts: ReduceOptions = {}): Tensor<"i32"> {
  return argExtreme("argmin", x, opts, -1);
}

/**
 * log(sum(exp(x))) computed stably (max subtracted first); -Infinity for an empty or
 * all -Infinity reduction, +Infinity if any element is +Infinity, NaN if any is NaN.
 * @example
 * sl.logsumexp(sl.tensor([[1000, 1000]]), { axis: 1 });   // [1000.6931]
 */
export function logsumexp(x: Tensor, opts: ReduceOptions = {}): Tensor<"f32"> {
  requireHost("logsumexp", x);
  const p = plan("logsumexp", x, opts);
  const v = p.v;
  const out = new Float64Array(p.outer * p.inner);
  for (let o = 0; o < p.outer; o++) {
    for (let i = 0; i < p.inner; i++) {
      const s0 = o * p.n * p.inner + i;
      let m = -Infinity;
      for (let k = 0, s = s0; k < p.n; k++, s += p.inner) {
        const e = v[s];
        if (e !== e) { m = NaN; break; }
        if (e > m) m = e;
      }
      if (m !== m || m === Infinity || m === -Infinity) {
        out[o * p.inner + i] = m;
        continue;
      }
      let acc = 0;
      for (let k = 0, s = s0; k < p.n; k++, s += p.inner) acc += Math.exp(v[s] - m);
      out[o * p.inner + i] = m + Math.log(acc);
    }
  }
  return toF32(p.shape, out);
}

/**
 * Vector p-norm along an axis or over everything: p = 2 (default), 1, or Infinity.
 * The 2-norm scales by the largest magnitude first so huge or tiny values do not overflow.
 * @example
 * sl.norm(sl.tensor([3, 4]));   // 5
 */
export function norm(x: Tensor, opts: ReduceOptions & { p?: number } = {}): Tensor<"f32"> {
  requireHost("norm", x);
  const ord = opts.p ?? 2;
  if (ord !== 1 && ord !== 2 && ord !== Infinity) argError("norm", "p", "1, 2 or Infinity", String(ord));
  const pl = plan("norm", x, opts);
  const { outer, n, inner, v } = pl;
  const out = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      const s0 = o * n * inner + i;
      // Largest magnitude first: the Infinity-norm is that, and the 2-norm divides by it so
      // squares neither overflow nor underflow.
      let big = 0;
      for (let k = 0, s = s0; k < n; k++, s += inner) {
        const a = Math.abs(v[s]);
        if (a > big) big = a;
        else if (a !== a) {
          big = NaN;
          break;
        }
      }
      let res = big;
      if (ord === 1 && big === big) {
        res = 0;
        for (let k = 0, s = s0; k < n; k++, s += inner) res += Math.abs(v[s]);
      } else if (ord === 2 && big > 0 && big !== Infinity) {
        let acc = 0;
        for (let k = 0, s = s0; k < n; k++, s += inner) {
          const e = v[s] / big;
          acc += e * e;
        }
        res = big * Math.sqrt(acc);
      }
      out[o * inner + i] = res;
    }
  return toF32(pl.shape, out);
}
