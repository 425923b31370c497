/** Turns user input (number[], Int32Array, i32/u8 Tensor) into an owned Int32Array table. */
import { argError } from "../../../errors.js";
import { Tensor } from "../../../tensor/tensor.js";
import { describe } from "./make-mask.js";

export type IntArrayLike = readonly number[] | Int32Array | Tensor;

export function toIntTable(op: string, arg: string, x: unknown): Int32Array {
  let src: ArrayLike<number>;
  if (x instanceof Tensor) {
    if (x.dtype !== "i32" && x.dtype !== "u8" && x.dtype !== "bool") argError(op, arg, "an i32 tensor", `a ${x.dtype} tensor`);
    if (x.ndim !== 1) argError(op, arg, "a 1-D tensor", `shape [${x.shape.join(", ")}]`);
    src = x.data as ArrayLike<number>;
  } else if (Array.isArray(x) || x instanceof Int32Array) {
    src = x as ArrayLike<number>;
  } else {
    return argError(op, arg, "a number[], Int32Array or 1-D i32 Tensor", describe(x));
  }
  const out = new Int32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647) argError(op, `${arg}[${i}]`, "an int32", String(v));
    out[i] = v;
  }
  return out;
}
