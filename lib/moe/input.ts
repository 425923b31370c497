import { argError, fmtShape } from "../errors.js";
import { Tensor } from "../tensor/tensor.js";

/** A 2-D float input: a Tensor [rows, cols] (f32/f16/bf16 on the host) or nested number arrays. */
export type MatrixLike = Tensor | ArrayLike<ArrayLike<number>>;

/** A row-major f32 matrix the JS code works on. */
export interface Matrix {
  rows: number;
  cols: number;
  data: Float32Array;
}

/**
 * Reads a 2-D float input into a Matrix (no copy for an f32 host Tensor). Errors name the op,
 * the argument, the shape given and the shape wanted; NaN or ±∞ entries are rejected unless
 * `allowInf` (routers take −∞ logits as "never pick").
 */
export function readMatrix(op: string, arg: string, x: MatrixLike, opts: { cols?: number; rows?: number; allowInf?: boolean } = {}): Matrix {
  let m: Matrix;
  if (x instanceof Tensor) {
    if (x.ndim !== 2) argError(op, arg, "a 2-D tensor", `shape ${fmtShape(x.shape)}`);
    if (x.dtype === "i32" || x.dtype === "u8" || x.dtype === "bool") argError(op, arg, "a float tensor (f32, f16, bf16)", `dtype ${x.dtype}`);
    if (x.device !== "cpu") argError(op, arg, "a host tensor (call await t.to(\"cpu\") first)", `a ${x.device} tensor`);
    m = { rows: x.shape[0], cols: x.shape[1], data: x.floatData() };
  } else if (x && typeof (x as ArrayLike<unknown>).length === "number") {
    const rows = x.length;
    const cols = rows > 0 ? x[0].length : 0;
    const data = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      const row = x[r];
      if (!row || row.length !== cols) argError(op, arg, `rows of equal length ${cols}`, `row ${r} of length ${row?.length}`);
      for (let c = 0; c < cols; c++) data[r * cols + c] = row[c];
    }
    m = { rows, cols, data };
  } else {
    return argError(op, arg, "a Tensor or a nested number array", typeof x);
  }
  if (opts.cols !== undefined && m.cols !== opts.cols) argError(op, arg, `${opts.cols} columns`, `shape [${m.rows}, ${m.cols}]`);
  if (opts.rows !== undefined && m.rows !== opts.rows) argError(op, arg, `${opts.rows} rows`, `shape [${m.rows}, ${m.cols}]`);
  for (let i = 0; i < m.data.length; i++) {
    const v = m.data[i];
    if (Number.isNaN(v) || (!opts.allowInf && !Number.isFinite(v)) || v === Infinity)
      argError(op, arg, opts.allowInf ? "no NaN or +∞ entries" : "finite entries", `${v} at [${Math.floor(i / m.cols)}, ${i % m.cols}]`);
  }
  return m;
}

/** Reads a 1-D numeric vector (Tensor, typed array or number[]) of length n. */
export function readVector(op: string, arg: string, x: Tensor | ArrayLike<number>, n?: number): Float64Array {
  let src: ArrayLike<number>;
  if (x instanceof Tensor) {
    if (x.ndim !== 1) argError(op, arg, "a 1-D tensor", `shape ${fmtShape(x.shape)}`);
    src = x.dtype === "f32" || x.dtype === "f16" || x.dtype === "bf16" ? x.floatData() : (x.data as ArrayLike<number>);
  } else if (x && typeof x.length === "number") src = x;
  else return argError(op, arg, "a vector (Tensor, typed array or number[])", typeof x);
  if (n !== undefined && src.length !== n) argError(op, arg, `length ${n}`, `length ${src.length}`);
  const out = Float64Array.from(src);
  for (let i = 0; i < out.length; i++) if (!Number.isFinite(out[i])) argError(op, arg, "finite entries", `${out[i]} at ${i}`);
  return out;
}

export function checkInt(op: string, arg: string, v: unknown, min: number, max = Infinity): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
    argError(op, arg, `an integer in [${min}, ${max === Infinity ? "∞" : max}]`, String(v));
  return v;
}

export function checkNumber(op: string, arg: string, v: unknown, min: number, max = Infinity, exclusiveMin = false): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || (exclusiveMin && v === min) || v > max)
    argError(op, arg, `a number in ${exclusiveMin ? "(" : "["}${min}, ${max === Infinity ? "∞)" : max + "]"}`, String(v));
  return v;
}

export function matrixTensor(m: Matrix): Tensor<"f32"> {
  return new Tensor([m.rows, m.cols], "f32", m.data);
}
