import { registerOp, resolveOp, type BackendName } from "../../backends/registry.js";
import type { SoftmaxImpl } from "../../backends/ops.js";
import { effectiveSignal } from "../../cancel.js";
import { ready } from "../../backends/load.js";
import { argError, fmtShape } from "../../errors.js";
import { Tensor } from "../tensor.js";
import { requireHost, requireTensor } from "../check.js";
import { normAxis } from "../shape-util.js";
import { transpose } from "../shape.js";
import { Yielder } from "./common.js";

/**
 * The JS reference "softmax" over the last axis: max subtracted first, float64 sums, f32 out.
 * A row of all -Infinity gives NaN (as in PyTorch): there is no distribution to return.
 */
export const jsSoftmax: SoftmaxImpl = async (x, opts) => {
  requireHost("softmax", x);
  const y = new Yielder("softmax", opts.signal);
  const n = x.ndim === 0 ? 1 : x.shape[x.ndim - 1];
  const v = x.dtype === "f32" ? (x.data as Float32Array) : x.dtype === "f16" || x.dtype === "bf16" ? x.floatData() : (x.data as ArrayLike<number>);
  const out = new Float32Array(x.size);
  const rows = n === 0 ? 0 : x.size / n;
  const e = new Float64Array(n);
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    let m = -Infinity;
    for (let j = 0; j < n; j++) {
      const t = v[base + j];
      if (t > m || t !== t) m = t;
      if (m !== m) break;
    }
    let s = 0;
    for (let j = 0; j < n; j++) {
      const t = Math.exp(v[base + j] - m);
      e[j] = t;
      s += t;
    }
    const inv = 1 / s;
    for (let j = 0; j < n; j++) out[base + j] = e[j] * inv;
    if ((r & 1023) === 1023) await y.tick();
  }
  return new Tensor(x.shape, "f32", out);
};

registerOp("js", "softmax", jsSoftmax);

/**
 * Softmax along `axis` (default the last; f32 result; rows of all -Infinity give NaN, as in
 * PyTorch). Other axes run the last-axis kernel on a transposed host copy.
 * @example
 * const p = await sl.softmax(sl.tensor([[1, 2, 3], [1000, 1000, 1000]]));   // rows sum to 1
 * const cols = await sl.softmax(sl.randn([4, 3]), { axis: 0 });               // columns sum to 1
 */
export async function softmax(x: Tensor, opts: { axis?: number; backend?: BackendName; signal?: AbortSignal } = {}): Promise<Tensor<"f32">> {
  requireTensor("softmax", x);
  if (x.ndim === 0) argError("softmax", "x", "a tensor of at least 1 dimension", fmtShape(x.shape));
  if (x.dtype === "bool") argError("softmax", "x", "a numeric tensor (f32, f16, bf16, i32, u8)", "dtype bool");
  const axis = normAxis("softmax", opts.axis ?? -1, x.ndim);
  // Native backends register as they finish loading; wait so the first call can use them.
  await ready();
  const { impl } = resolveOp<SoftmaxImpl>("softmax", { backend: opts.backend, device: x.device });
  const signal = effectiveSignal(opts.signal);
  if (axis === x.ndim - 1) return impl(x, { signal });
  if (x.device !== "cpu") argError("softmax", "axis", `the last axis (${x.ndim - 1}) for ${x.device} tensors`, String(opts.axis));
  const moved = transpose(x, axis, -1);
  try {
    const p = await impl(moved, { signal });
    const back = transpose(p, axis, -1) as Tensor<"f32">;
    p.dispose();
    return back;
  } finally {
    moved.dispose();
  }
}
