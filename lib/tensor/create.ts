import { argError, fmtShape } from "../errors.js";
import { allocStorage, isDType, isFloat, type DType, type Storage } from "./dtype.js";
import { fromFloat32, Tensor } from "./tensor.js";
import { checkShape, numel } from "./shape-util.js";

/** Nested arrays of numbers or booleans, any depth (a scalar is depth 0). */
export type NestedArray = number | boolean | readonly NestedArray[];

export interface TensorOptions {
  /** Element type. Default: the typed array's own (Float32Array f32, Int32Array i32, Uint8Array u8), else f32 (bool for boolean arrays). */
  dtype?: DType;
  /** Shape for flat data (typed arrays or a flat array); must hold exactly as many elements. */
  shape?: readonly number[];
}

const ARRAY_TYPES = new Map<Function, DType>([
  [Float32Array, "f32"],
  [Float64Array, "f32"],
  [Int32Array, "i32"],
  [Int16Array, "i32"],
  [Int8Array, "i32"],
  [Uint16Array, "i32"],
  [Uint8Array, "u8"],
  [Uint8ClampedArray, "u8"],
]);

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let cur: NestedArray = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0];
  }
  return shape;
}

/** Flattens nested arrays in row-major order, checking every row has the inferred length. */
function flatten(data: NestedArray, shape: number[]): { values: Float64Array; allBool: boolean } {
  const values = new Float64Array(numel(shape));
  let k = 0;
  let allBool = true;
  // One shared index path, mutated in place: only an error message ever reads it.
  const path: number[] = [];
  const walk = (x: NestedArray, dim: number): void => {
    if (dim === shape.length) {
      if (typeof x === "boolean") values[k++] = x ? 1 : 0;
      else if (typeof x === "number") {
        allBool = false;
        values[k++] = x;
      } else argError("tensor", "data", `a number or boolean at index [${path.join(", ")}]`, Array.isArray(x) ? "an array (ragged nesting)" : typeof x);
      return;
    }
    if (!Array.isArray(x) || x.length !== shape[dim])
      argError("tensor", "data", `rectangular nested arrays of shape ${fmtShape(shape)}; the row at [${path.join(", ")}] should have ${shape[dim]} elements`, Array.isArray(x) ? `${x.length}` : typeof x);
    if (dim === shape.length - 1) {
      // Innermost row: read numbers directly, no recursion per element.
      for (let i = 0; i < x.length; i++) {
        const e = x[i];
        if (typeof e === "number") {
          allBool = false;
          values[k++] = e;
        } else if (typeof e === "boolean") values[k++] = e ? 1 : 0;
        else {
          path.push(i);
          walk(e, dim + 1);
        }
      }
      return;
    }
    for (let i = 0; i < x.length; i++) {
      path.push(i);
      walk(x[i], dim + 1);
      path.pop();
    }
  };
  walk(data, 0);
  return { values, allBool: allBool && values.length > 0 };
}

/** Converts plain numbers into storage of `dtype`, rejecting values the dtype cannot hold. */
export function numbersToStorage(op: string, values: ArrayLike<number>, dtype: DType): Storage {
  if (isFloat(dtype)) return fromFloat32(values, dtype);
  const out = allocStorage(dtype, values.length);
  const [lo, hi] = dtype === "i32" ? [-(2 ** 31), 2 ** 31 - 1] : dtype === "u8" ? [0, 255] : [0, 1];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (dtype === "bool") {
      out[i] = v ? 1 : 0;
      continue;
    }
    if (!Number.isInteger(v) || v < lo || v > hi) argError(op, "data", `integers in [${lo}, ${hi}] for dtype ${dtype}`, `${v} at flat index ${i}`);
    out[i] = v;
  }
  return out;
}

/**
 * Makes a tensor from nested arrays, a scalar, or a typed array (copied). Float16/bfloat16
 * words: pass a Uint16Array with `dtype: "f16" | "bf16"` and they are taken as raw bits.
 *
 * @example
 * const a = sl.tensor([[1, 2, 3], [4, 5, 6]]);                       // f32 [2, 3]
 * const b = sl.tensor(new Float32Array(12), { shape: [3, 4] });
 * const c = sl.tensor([0, 1, 2], { dtype: "i32" });
 * const m = sl.tensor([[true, false]]);                               // bool [1, 2]
 */
export function tensor(data: NestedArray | ArrayLike<number> | ArrayBufferView, opts: TensorOptions = {}): Tensor {
  if (opts.dtype !== undefined && !isDType(opts.dtype)) argError("tensor", "dtype", "one of f32, f16, bf16, i32, u8, bool", String(opts.dtype));
  if (opts.shape !== undefined) checkShape("tensor", opts.shape);
  let shape: number[];
  let dtype: DType;
  let storage: Storage;
  if (ArrayBuffer.isView(data)) {
    if (data instanceof DataView || typeof (data as any).length !== "number")
      argError("tensor", "data", "a typed array (Float32Array, Int32Array, Uint8Array, Uint16Array...)", data.constructor.name);
    const arr = data as unknown as ArrayLike<number> & ArrayBufferView;
    const n = arr.length;
    shape = opts.shape ? [...opts.shape] : [n];
    if (numel(shape) !== n) argError("tensor", "shape", `a shape of ${n} elements (the data's length)`, fmtShape(shape));
    const own = ARRAY_TYPES.get(arr.constructor);
    if (!own && !(arr instanceof BigInt64Array)) argError("tensor", "data", "a supported typed array", arr.constructor.name);
    if (arr instanceof BigInt64Array || arr instanceof BigUint64Array) argError("tensor", "data", "a non-BigInt typed array (convert to Int32Array)", arr.constructor.name);
    dtype = opts.dtype ?? own!;
    if (arr instanceof Uint16Array && (dtype === "f16" || dtype === "bf16")) storage = arr.slice();
    else if (arr instanceof Float32Array && dtype === "f32") storage = arr.slice();
    else if (arr instanceof Int32Array && dtype === "i32") storage = arr.slice();
    else if (arr instanceof Uint8Array && dtype === "u8") storage = arr.slice();
    else storage = numbersToStorage("tensor", arr, dtype);
    return new Tensor(shape, dtype, storage);
  }
  if (typeof data === "number" || typeof data === "boolean" || Array.isArray(data)) {
    const inferred = inferShape(data as NestedArray);
    const { values, allBool } = flatten(data as NestedArray, inferred);
    shape = opts.shape ? [...opts.shape] : inferred;
    if (numel(shape) !== values.length) argError("tensor", "shape", `a shape of ${values.length} elements (the data's count)`, fmtShape(shape));
    dtype = opts.dtype ?? (allBool ? "bool" : "f32");
    return new Tensor(shape, dtype, numbersToStorage("tensor", values, dtype));
  }
  return argError("tensor", "data", "nested arrays of numbers/booleans, a number, or a typed array", data === null ? "null" : typeof data);
}

/**
 * A tensor of `shape` filled with `value` (f32 unless `dtype` says otherwise).
 * @example
 * const bias = sl.full([4, 4], -Infinity);
 */
export function full(shape: readonly number[], value: number, opts: { dtype?: DType } = {}): Tensor {
  checkShape("full", shape);
  const dtype = opts.dtype ?? "f32";
  if (!isDType(dtype)) argError("full", "dtype", "one of f32, f16, bf16, i32, u8, bool", String(dtype));
  const one = numbersToStorage("full", [value], dtype);
  const st = allocStorage(dtype, numel(shape));
  if (one[0] !== 0) st.fill(one[0]);
  return new Tensor(shape, dtype, st);
}

/**
 * Zeros of `shape`.
 * @example
 * const z = sl.zeros([2, 3], { dtype: "i32" });
 */
export function zeros(shape: readonly number[], opts: { dtype?: DType } = {}): Tensor {
  return full(shape, 0, opts);
}

/**
 * Ones of `shape`.
 * @example
 * const o = sl.ones([3]);
 */
export function ones(shape: readonly number[], opts: { dtype?: DType } = {}): Tensor {
  return full(shape, 1, opts);
}

/**
 * Values start, start + step, ... below `stop` (like numpy.arange). With one argument,
 * 0..n-1. The dtype is i32 when start and step are integers, else f32 (or `dtype`).
 * @example
 * sl.arange(5);            // i32 [0, 1, 2, 3, 4]
 * sl.arange(0, 1, 0.25);   // f32 [0, 0.25, 0.5, 0.75]
 */
export function arange(start: number, stop?: number, step = 1, opts: { dtype?: DType } = {}): Tensor {
  if (stop === undefined) {
    stop = start;
    start = 0;
  }
  for (const [k, v] of [["start", start], ["stop", stop], ["step", step]] as const)
    if (!Number.isFinite(v)) argError("arange", k, "a finite number", String(v));
  if (step === 0) argError("arange", "step", "a non-zero number", "0");
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const dtype = opts.dtype ?? (Number.isInteger(start) && Number.isInteger(step) ? "i32" : "f32");
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = start + i * step;
  return new Tensor([n], dtype, numbersToStorage("arange", v, dtype));
}

/**
 * `num` evenly spaced values from start to stop inclusive (f32 unless `dtype`).
 * @example
 * sl.linspace(0, 1, 5);    // [0, 0.25, 0.5, 0.75, 1]
 */
export function linspace(start: number, stop: number, num: number, opts: { dtype?: DType } = {}): Tensor {
  if (!Number.isFinite(start)) argError("linspace", "start", "a finite number", String(start));
  if (!Number.isFinite(stop)) argError("linspace", "stop", "a finite number", String(stop));
  if (!Number.isInteger(num) || num < 0) argError("linspace", "num", "a non-negative integer", String(num));
  const dtype = opts.dtype ?? "f32";
  const v = new Float64Array(num);
  const step = num > 1 ? (stop - start) / (num - 1) : 0;
  for (let i = 0; i < num; i++) v[i] = i === num - 1 && num > 1 ? stop : start + i * step;
  return new Tensor([num], dtype, numbersToStorage("linspace", v, dtype));
}

/**
 * Zeros with the shape and dtype of `t` (or `dtype`).
 * @example
 * const g = sl.zerosLike(sl.randn([2, 2]));
 */
export function zerosLike(t: Tensor, opts: { dtype?: DType } = {}): Tensor {
  return zeros(t.shape, { dtype: opts.dtype ?? t.dtype });
}

/**
 * Ones with the shape and dtype of `t` (or `dtype`).
 * @example
 * const o = sl.onesLike(sl.zeros([3]));
 */
export function onesLike(t: Tensor, opts: { dtype?: DType } = {}): Tensor {
  return ones(t.shape, { dtype: opts.dtype ?? t.dtype });
}
