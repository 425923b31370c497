import { argError } from "../errors.js";
import { isFloat } from "./dtype.js";
import { Tensor } from "./tensor.js";

/** Validation shared by the tensor ops: every message names the op and the argument. */

/** A live tensor, on any device. */
export function requireTensor(op: string, t: unknown, arg = "x"): Tensor {
  if (!(t instanceof Tensor)) argError(op, arg, "a Tensor", t === null ? "null" : Array.isArray(t) ? "an array (wrap it with sl.tensor)" : typeof t);
  if (t.disposed) argError(op, arg, "a live tensor", "a disposed tensor");
  return t;
}

/** A live host tensor (the sync ops read `data` directly). */
export function requireHost(op: string, t: unknown, arg = "x"): Tensor {
  const x = requireTensor(op, t, arg);
  if (x.device !== "cpu") argError(op, arg, "a host tensor (device cpu)", `a ${x.device} tensor; read it back to the host first`);
  return x;
}

/** A live tensor of a float dtype. */
export function requireFloat(op: string, t: unknown, arg = "x"): Tensor {
  const x = requireTensor(op, t, arg);
  if (!isFloat(x.dtype)) argError(op, arg, "a float tensor (f32, f16, bf16)", `dtype ${x.dtype}`);
  return x;
}
