import { argError, fmtShape } from "../errors.js";
import { allocStorage, isDType, type DType } from "./dtype.js";
import { fromFloat32, Tensor, toFloat32 } from "./tensor.js";
import { normAxis, numel, sameShape, stridesOf } from "./shape-util.js";
import { stridedCopy } from "./strided.js";
import { requireHost as host } from "./check.js";

/*
 * Shape ops. Each returns a new contiguous tensor (a copy): tensors here own their storage, so
 * dispose() and memory statistics stay exact and no view can outlive its base.
 */

/**
 * The same elements in a new shape (one dimension may be -1, inferred).
 * @example
 * sl.reshape(sl.arange(6), [2, -1]);   // [2, 3]
 */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  host("reshape", x);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= -1))
    argError("reshape", "shape", "an array of non-negative integers (one may be -1)", String(shape));
  const out = [...shape];
  const free = out.filter((d) => d === -1).length;
  if (free > 1) argError("reshape", "shape", "at most one -1", fmtShape(shape));
  if (free === 1) {
    const known = out.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    if (known === 0 || x.size % known !== 0) argError("reshape", "shape", `a shape compatible with ${x.size} elements (input ${fmtShape(x.shape)})`, fmtShape(shape));
    out[out.indexOf(-1)] = x.size / known;
  }
  if (numel(out) !== x.size) argError("reshape", "shape", `${x.size} elements (input ${fmtShape(x.shape)})`, `${fmtShape(out)} (${numel(out)} elements)`);
  return new Tensor(out, x.dtype, x.data.slice());
}

/**
 * Reorders dimensions: output dim i is input dim `dims[i]`.
 * @example
 * sl.permute(sl.zeros([2, 3, 4]), [2, 0, 1]).shape;   // [4, 2, 3]
 */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  host("permute", x);
  if (!Array.isArray(dims) || dims.length !== x.ndim) argError("permute", "dims", `a permutation of ${x.ndim} axes`, String(dims));
  const ax = dims.map((d) => normAxis("permute", d, x.ndim, "dims"));
  if (new Set(ax).size !== ax.length) argError("permute", "dims", "each axis exactly once", fmtShape(dims));
  const st = stridesOf(x.shape);
  const shape = ax.map((a) => x.shape[a]);
  const out = allocStorage(x.dtype, x.size);
  stridedCopy(x.data, 0, ax.map((a) => st[a]), shape, out);
  return new Tensor(shape, x.dtype, out);
}

/**
 * Swaps two dimensions (default the last two).
 * @example
 * sl.transpose(sl.zeros([2, 3])).shape;   // [3, 2]
 */
export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  host("transpose", x);
  if (x.ndim < 2 && dim0 === -2 && dim1 === -1) argError("transpose", "x", "a tensor of at least 2 dimensions", fmtShape(x.shape));
  const a = normAxis("transpose", dim0, x.ndim, "dim0");
  const b = normAxis("transpose", dim1, x.ndim, "dim1");
  const dims = x.shape.map((_, i) => i);
  dims[a] = b;
  dims[b] = a;
  return permute(x, dims);
}

/**
 * One entry per dimension: `null`/undefined keeps it whole, a number picks one index and drops
 * the dimension, `[start, end]` or `[start, end, step]` takes a range (negative counts from the
 * end, end exclusive and clamped like Python; `end` may be null).
 */
export type SliceSpec = null | undefined | number | readonly [number | null, (number | null)?, number?];

/**
 * Takes a sub-block, numpy/PyTorch style; missing trailing entries keep whole dimensions.
 * @example
 * const x = sl.arange(12).reshape([3, 4]);
 * sl.slice(x, [[0, 2], [1, null, 2]]);     // rows 0-1, columns 1 and 3
 * sl.slice(x, [1]);                         // row 1, shape [4]
 */
export function slice(x: Tensor, spec: readonly SliceSpec[]): Tensor {
  host("slice", x);
  if (!Array.isArray(spec) || spec.length > x.ndim) argError("slice", "spec", `at most ${x.ndim} entries (one per dimension of ${fmtShape(x.shape)})`, Array.isArray(spec) ? `${spec.length} entries` : String(spec));
  const st = stridesOf(x.shape);
  let offset = 0;
  const shape: number[] = [];
  const strides: number[] = [];
  for (let d = 0; d < x.ndim; d++) {
    const s = spec[d];
    const n = x.shape[d];
    if (s === null || s === undefined) {
      shape.push(n);
      strides.push(st[d]);
    } else if (typeof s === "number") {
      if (!Number.isInteger(s) || s < -n || s >= n) argError("slice", `spec[${d}]`, `an index in [${-n}, ${n - 1}] (dimension ${d} has size ${n})`, String(s));
      offset += (s < 0 ? s + n : s) * st[d];
    } else if (Array.isArray(s)) {
      const step = s[2] ?? 1;
      if (!Number.isInteger(step) || step === 0) argError("slice", `spec[${d}]`, "a non-zero integer step", String(step));
      const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
      let start: number, end: number;
      if (step > 0) {
        start = s[0] === null ? 0 : s[0] < 0 ? clamp(s[0] + n, 0, n) : clamp(s[0], 0, n);
        end = s[1] === null || s[1] === undefined ? n : s[1] < 0 ? clamp(s[1] + n, 0, n) : clamp(s[1], 0, n);
      } else {
        start = s[0] === null ? n - 1 : s[0] < 0 ? clamp(s[0] + n, -1, n - 1) : clamp(s[0], -1, n - 1);
        end = s[1] === null || s[1] === undefined ? -1 : s[1] < 0 ? clamp(s[1] + n, -1, n - 1) : clamp(s[1], -1, n - 1);
      }
      for (const v of [s[0], s[1]]) if (v !== null && v !== undefined && !Number.isInteger(v)) argError("slice", `spec[${d}]`, "integer bounds", String(v));
      const len = Math.max(0, Math.ceil((end - start) / step));
      if (len > 0) offset += start * st[d];
      shape.push(len);
      strides.push(st[d] * step);
    } else argError("slice", `spec[${d}]`, "null, an index, or [start, end, step?]", typeof s);
  }
  const out = allocStorage(x.dtype, numel(shape));
  stridedCopy(x.data, offset, strides, shape, out);
  return new Tensor(shape, x.dtype, out);
}

/**
 * A contiguous copy of `x` (device tensors are not copied here).
 * @example
 * const y = sl.contiguous(sl.arange(4));   // an independent copy
 */
export function contiguous(x: Tensor): Tensor {
  host("contiguous", x);
  return new Tensor(x.shape, x.dtype, x.data.slice());
}

function checkList(op: string, ts: unknown): Tensor[] {
  if (!Array.isArray(ts) || ts.length === 0) argError(op, "tensors", "a non-empty array of tensors", Array.isArray(ts) ? "[]" : typeof ts);
  ts.forEach((t, i) => host(op, t, `tensors[${i}]`));
  const dt = ts[0].dtype;
  ts.forEach((t: Tensor, i) => {
    if (t.dtype !== dt) argError(op, `tensors[${i}]`, `dtype ${dt} like tensors[0]`, t.dtype);
  });
  return ts;
}

/**
 * Joins tensors along an existing axis; other dimensions must match.
 * @example
 * sl.cat([sl.zeros([2, 3]), sl.ones([1, 3])], 0).shape;   // [3, 3]
 */
export function cat(tensors: readonly Tensor[], axis = 0): Tensor {
  const ts = checkList("cat", tensors);
  const ref = ts[0];
  if (ref.ndim === 0) argError("cat", "tensors[0]", "tensors of at least 1 dimension (use stack for scalars)", "a 0-D tensor");
  const ax = normAxis("cat", axis, ref.ndim);
  ts.forEach((t, i) => {
    if (t.ndim !== ref.ndim || t.shape.some((d, k) => k !== ax && d !== ref.shape[k]))
      argError("cat", `tensors[${i}]`, `shape ${fmtShape(ref.shape.map((d, k) => (k === ax ? -1 : d)))} (any size on axis ${ax})`, fmtShape(t.shape));
  });
  const outer = numel(ref.shape.slice(0, ax));
  const inner = numel(ref.shape.slice(ax + 1));
  const total = ts.reduce((a, t) => a + t.shape[ax], 0);
  const shape = [...ref.shape];
  shape[ax] = total;
  const out = allocStorage(ref.dtype, numel(shape));
  const rowOut = total * inner;
  let col = 0;
  for (const t of ts) {
    const w = t.shape[ax] * inner;
    const src = t.data;
    for (let o = 0; o < outer; o++) out.set(src.subarray(o * w, o * w + w) as any, o * rowOut + col);
    col += w;
  }
  return new Tensor(shape, ref.dtype, out);
}

/**
 * Stacks same-shaped tensors along a new axis.
 * @example
 * sl.stack([sl.zeros([3]), sl.ones([3])]).shape;   // [2, 3]
 */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  const ts = checkList("stack", tensors);
  const ref = ts[0];
  ts.forEach((t, i) => {
    if (!sameShape(t.shape, ref.shape)) argError("stack", `tensors[${i}]`, `shape ${fmtShape(ref.shape)} like tensors[0]`, fmtShape(t.shape));
  });
  const ax = normAxis("stack", axis, ref.ndim + 1);
  const shape = [...ref.shape];
  shape.splice(ax, 0, ts.length);
  // out viewed as [outer, count, inner]: tensor i fills slot i of every outer row.
  const outer = numel(ref.shape.slice(0, ax));
  const inner = numel(ref.shape.slice(ax));
  const out = allocStorage(ref.dtype, numel(shape));
  ts.forEach((t, i) => {
    const src = t.data;
    for (let o = 0; o < outer; o++) out.set(src.subarray(o * inner, o * inner + inner) as any, (o * ts.length + i) * inner);
  });
  return new Tensor(shape, ref.dtype, out);
}

/**
 * Removes size-1 dimensions (all of them, or the one at `axis`).
 * @example
 * sl.squeeze(sl.zeros([1, 3, 1])).shape;   // [3]
 */
export function squeeze(x: Tensor, axis?: number): Tensor {
  host("squeeze", x);
  let shape: number[];
  if (axis === undefined) shape = x.shape.filter((d) => d !== 1);
  else {
    const a = normAxis("squeeze", axis, x.ndim);
    if (x.shape[a] !== 1) argError("squeeze", "axis", `an axis of size 1 in ${fmtShape(x.shape)}`, `${axis} (size ${x.shape[a]})`);
    shape = x.shape.filter((_, i) => i !== a);
  }
  return new Tensor(shape, x.dtype, x.data.slice());
}

/**
 * Inserts a size-1 dimension at `axis`.
 * @example
 * sl.unsqueeze(sl.zeros([3]), 0).shape;   // [1, 3]
 */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  host("unsqueeze", x);
  const a = normAxis("unsqueeze", axis, x.ndim + 1);
  const shape = [...x.shape];
  shape.splice(a, 0, 1);
  return new Tensor(shape, x.dtype, x.data.slice());
}

function indexValues(op: string, idx: Tensor | readonly number[], arg: string): { values: ArrayLike<number>; shape: readonly number[] } {
  if (idx instanceof Tensor) {
    host(op, idx, arg);
    if (idx.dtype !== "i32" && idx.dtype !== "u8") argError(op, arg, "an i32 (or u8) tensor of indices", `dtype ${idx.dtype}`);
    return { values: idx.data as Int32Array, shape: idx.shape };
  }
  if (!Array.isArray(idx)) argError(op, arg, "an i32 tensor or an array of integers", typeof idx);
  return { values: idx, shape: [idx.length] };
}

/**
 * Picks entries along `axis` by a 1-D list of indices (negative counts from the end).
 * @example
 * sl.indexSelect(sl.arange(10).reshape([5, 2]), 0, [4, 0]);   // rows 4 and 0
 */
export function indexSelect(x: Tensor, axis: number, indices: Tensor | readonly number[]): Tensor {
  host("indexSelect", x);
  const ax = normAxis("indexSelect", axis, x.ndim);
  const { values, shape: ishape } = indexValues("indexSelect", indices, "indices");
  if (ishape.length !== 1) argError("indexSelect", "indices", "a 1-D list of indices", fmtShape(ishape));
  const n = x.shape[ax];
  const outer = numel(x.shape.slice(0, ax));
  const inner = numel(x.shape.slice(ax + 1));
  const m = values.length;
  const shape = [...x.shape];
  shape[ax] = m;
  const out = allocStorage(x.dtype, numel(shape));
  const src = x.data;
  for (let k = 0; k < m; k++) {
    let i = values[k];
    if (!Number.isInteger(i) || i < -n || i >= n) argError("indexSelect", "indices", `integers in [${-n}, ${n - 1}] (axis ${ax} has size ${n})`, `${i} at position ${k}`);
    if (i < 0) i += n;
    for (let o = 0; o < outer; o++) {
      const s = (o * n + i) * inner;
      out.set(src.subarray(s, s + inner) as any, (o * m + k) * inner);
    }
  }
  return new Tensor(shape, x.dtype, out);
}

/**
 * PyTorch's gather: `index` has x's number of dimensions; along `axis`,
 * out[..., i, ...] = x[..., index[..., i, ...], ...]; other dims of index must not exceed x's.
 * @example
 * const x = sl.tensor([[10, 11, 12], [20, 21, 22]]);
 * sl.gather(x, 1, sl.tensor([[2, 0], [1, 1]], { dtype: "i32" }));   // [[12, 10], [21, 21]]
 */
export function gather(x: Tensor, axis: number, index: Tensor): Tensor {
  host("gather", x);
  const ax = normAxis("gather", axis, x.ndim);
  const { values } = indexValues("gather", index, "index");
  if (index.ndim !== x.ndim || index.shape.some((d, k) => k !== ax && d > x.shape[k]))
    argError("gather", "index", `a ${x.ndim}-D tensor no larger than ${fmtShape(x.shape)} off axis ${ax}`, fmtShape(index.shape));
  const xs = stridesOf(x.shape);
  const out = allocStorage(x.dtype, index.size);
  const src = x.data;
  const nd = x.ndim;
  const idx = new Array<number>(nd).fill(0);
  const n = x.shape[ax];
  for (let f = 0; f < index.size; f++) {
    let j = values[f];
    if (j < -n || j >= n) argError("gather", "index", `values in [${-n}, ${n - 1}] (axis ${ax} has size ${n})`, `${j} at flat index ${f}`);
    if (j < 0) j += n;
    let s = 0;
    for (let d = 0; d < nd; d++) s += (d === ax ? j : idx[d]) * xs[d];
    out[f] = src[s];
    for (let d = nd - 1; d >= 0; d--) {
      if (++idx[d] < index.shape[d]) break;
      idx[d] = 0;
    }
  }
  return new Tensor(index.shape, x.dtype, out);
}

/**
 * Converts to another dtype. Floats narrow to f16/bf16 by round-to-nearest-even with NaN and
 * Inf kept; floats to i32/u8 truncate toward zero (NaN -> 0, out of range saturates); bool is
 * x != 0. Returns a copy even when the dtype is unchanged.
 * @example
 * const h = sl.astype(sl.randn([4, 4]), "bf16");
 */
export function astype(x: Tensor, dtype: DType): Tensor {
  host("astype", x);
  if (!isDType(dtype)) argError("astype", "dtype", "one of f32, f16, bf16, i32, u8, bool", String(dtype));
  if (dtype === x.dtype) return contiguous(x);
  const src = x.data;
  const wide: ArrayLike<number> = x.dtype === "f16" || x.dtype === "bf16" ? toFloat32(src, x.dtype) : src;
  if (dtype === "f32" || dtype === "f16" || dtype === "bf16") return new Tensor(x.shape, dtype, fromFloat32(wide, dtype));
  const out = allocStorage(dtype, x.size);
  if (dtype === "bool") for (let i = 0; i < out.length; i++) out[i] = wide[i] !== 0 ? 1 : 0;
  else {
    const [lo, hi] = dtype === "i32" ? [-2147483648, 2147483647] : [0, 255];
    for (let i = 0; i < out.length; i++) {
      const v = wide[i];
      out[i] = Number.isNaN(v) ? 0 : Math.min(hi, Math.max(lo, Math.trunc(v)));
    }
  }
  return new Tensor(x.shape, dtype, out);
}

