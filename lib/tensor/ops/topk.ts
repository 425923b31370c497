import { registerOp, resolveOp, type BackendName } from "../../backends/registry.js";
import type { TopkImpl } from "../../backends/ops.js";
import { effectiveSignal } from "../../cancel.js";
import { ready } from "../../backends/load.js";
import { argError, fmtShape } from "../../errors.js";
import { Tensor } from "../tensor.js";
import { requireHost, requireTensor } from "../check.js";
import { Yielder } from "./common.js";

/** True when (va, ia) ranks before (vb, ib): larger value first, NaN largest, lower index on ties. */
function before(va: number, ia: number, vb: number, ib: number): boolean {
  if (va !== va) return vb === vb || ia < ib;
  if (vb !== vb) return false;
  return va > vb || (va === vb && ia < ib);
}

/**
 * The JS reference "topk" over the last axis: the k largest per row, sorted descending, ties
 * broken by the lower index, NaN counted as larger than everything (as in PyTorch).
 * Small k keeps a sorted insertion buffer (O(n k)); larger k sorts an index array.
 */
export const jsTopk: TopkImpl = async (x, k, opts) => {
  requireHost("topk", x);
  const y = new Yielder("topk", opts.signal);
  const n = x.shape[x.ndim - 1];
  const v = x.dtype === "f32" ? (x.data as Float32Array) : x.dtype === "f16" || x.dtype === "bf16" ? x.floatData() : (x.data as ArrayLike<number>);
  const rows = n === 0 ? x.size : x.size / n;
  const outShape = [...x.shape.slice(0, -1), k];
  const vals = new Float32Array(rows * k);
  const idx = new Int32Array(rows * k);
  const bv = new Float64Array(k);
  const bi = new Int32Array(k);
  const order = k > 32 ? new Int32Array(n) : null;
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    if (order) {
      for (let j = 0; j < n; j++) order[j] = j;
      order.sort((p, q) => (before(v[base + p], p, v[base + q], q) ? -1 : before(v[base + q], q, v[base + p], p) ? 1 : 0));
      for (let t = 0; t < k; t++) {
        idx[r * k + t] = order[t];
        vals[r * k + t] = v[base + order[t]];
      }
    } else {
      let filled = 0;
      for (let j = 0; j < n; j++) {
        const e = v[base + j];
        if (filled === k && !before(e, j, bv[k - 1], bi[k - 1])) continue;
        let p = filled < k ? filled++ : k - 1;
        while (p > 0 && before(e, j, bv[p - 1], bi[p - 1])) {
          bv[p] = bv[p - 1];
          bi[p] = bi[p - 1];
          p--;
        }
        bv[p] = e;
        bi[p] = j;
      }
      for (let t = 0; t < k; t++) {
        vals[r * k + t] = bv[t];
        idx[r * k + t] = bi[t];
      }
    }
    if ((r & 255) === 255) await y.tick();
  }
  return { values: new Tensor(outShape, "f32", vals), indices: new Tensor(outShape, "i32", idx) };
};

registerOp("js", "topk", jsTopk);

/**
 * The k largest entries along the last axis, sorted descending; ties go to the lower index and
 * NaN ranks above everything. Values come back as f32, indices as i32.
 * @example
 * const { values, indices } = await sl.topk(sl.tensor([[1, 3, 3, 2]]), 2);
 * // values [[3, 3]], indices [[1, 2]]
 */
export async function topk(x: Tensor, k: number, opts: { backend?: BackendName; signal?: AbortSignal } = {}): Promise<{ values: Tensor<"f32">; indices: Tensor<"i32"> }> {
  requireTensor("topk", x);
  if (x.ndim === 0) argError("topk", "x", "a tensor of at least 1 dimension", fmtShape(x.shape));
  if (x.dtype === "bool") argError("topk", "x", "a numeric tensor (f32, f16, bf16, i32, u8)", "dtype bool");
  const n = x.shape[x.ndim - 1];
  if (!Number.isInteger(k) || k < 0 || k > n) argError("topk", "k", `an integer in [0, ${n}] (last axis of ${fmtShape(x.shape)})`, String(k));
  // Native backends register as they finish loading; wait so the first call can use them.
  await ready();
  const { impl } = resolveOp<TopkImpl>("topk", { backend: opts.backend, device: x.device });
  return impl(x, k, { signal: effectiveSignal(opts.signal) });
}
