import { argError, fmtShape } from "../errors.js";

/** Internal shape helpers shared by the tensor ops. */

/** Throws unless `shape` is an array of non-negative integers. */
export function checkShape(op: string, shape: unknown, arg = "shape"): asserts shape is readonly number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
    argError(op, arg, "an array of non-negative integers", Array.isArray(shape) ? fmtShape(shape) : String(shape));
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides in elements. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Resolves a possibly negative axis against `ndim`, or throws naming the op. */
export function normAxis(op: string, axis: number, ndim: number, arg = "axis"): number {
  if (!Number.isInteger(axis) || axis < -ndim || axis >= ndim)
    argError(op, arg, `an integer in [${-ndim}, ${ndim - 1}] for a ${ndim}-D tensor`, String(axis));
  return axis < 0 ? axis + ndim : axis;
}

/** numpy broadcasting of two shapes, or an error naming both. */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[], names: [string, string] = ["a", "b"]): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1)
      argError(op, names[1], `a shape broadcastable with ${names[0]} ${fmtShape(a)}`, fmtShape(b));
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides to read a tensor of `shape` as if it had `outShape` (0 on broadcast dims). */
export function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const st = stridesOf(shape);
  const n = outShape.length;
  const out = new Array<number>(n).fill(0);
  for (let i = 0; i < shape.length; i++) {
    const o = n - shape.length + i;
    out[o] = shape[i] === 1 && outShape[o] !== 1 ? 0 : st[i];
  }
  return out;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
