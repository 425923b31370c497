import { registerOp, resolveOp, type BackendName } from "../../backends/registry.js";
import type { GroupedGemmImpl } from "../../backends/ops.js";
import { effectiveSignal } from "../../cancel.js";
import { ready } from "../../backends/load.js";
import { argError, fmtShape } from "../../errors.js";
import { fromFloat32, Tensor } from "../tensor.js";
import { requireFloat, requireHost, requireTensor } from "../check.js";
import { gemm } from "./gemm.js";
import { productDtype, Yielder } from "./common.js";

/**
 * The JS reference "groupedGemm": for each group g, out[offsets[g]..offsets[g+1]) =
 * x[those rows] @ w[g]. Rows outside [offsets[0], offsets[G]) are left 0. f32 accumulation.
 */
export const jsGroupedGemm: GroupedGemmImpl = async (x, w, offsets, opts) => {
  requireHost("groupedGemm", x, "x");
  requireHost("groupedGemm", w, "w");
  const off = requireHost("groupedGemm", offsets, "offsets").data as Int32Array;
  const y = new Yielder("groupedGemm", opts.signal);
  const [T, K] = x.shape;
  const [G, , N] = w.shape;
  const X = x.floatData();
  const W = w.floatData();
  const out = new Float32Array(T * N);
  for (let g = 0; g < G; g++) {
    const r0 = off[g];
    const rows = off[g + 1] - r0;
    if (rows > 0) gemm(X, r0 * K, W, g * K * N, N, 1, out, r0 * N, rows, K, N);
    await y.tick();
  }
  const dtype = productDtype(x.dtype, w.dtype);
  return dtype === "f32" ? new Tensor([T, N], "f32", out) : new Tensor([T, N], dtype, fromFloat32(out, dtype));
};

registerOp("js", "groupedGemm", jsGroupedGemm);

/**
 * Grouped matrix product for Mixture-of-Experts: x [T, K] holds rows sorted by group, group g
 * owning rows offsets[g] .. offsets[g+1]-1; out [T, N] = those rows @ w[g] with w [G, K, N].
 * offsets is i32 [G + 1], non-decreasing, within [0, T]; rows outside every group are 0.
 * The result has the inputs' dtype when they agree, else f32.
 * @example
 * const x = sl.randn([6, 4]);                               // 6 tokens, sorted by expert
 * const w = sl.randn([2, 4, 8]);                            // 2 experts
 * const offsets = sl.tensor([0, 4, 6], { dtype: "i32" });   // expert 0: rows 0-3, expert 1: rows 4-5
 * const y = await sl.groupedGemm(x, w, offsets);            // [6, 8]
 */
export async function groupedGemm(x: Tensor, w: Tensor, offsets: Tensor, opts: { backend?: BackendName; signal?: AbortSignal } = {}): Promise<Tensor> {
  requireFloat("groupedGemm", x, "x");
  requireFloat("groupedGemm", w, "w");
  requireTensor("groupedGemm", offsets, "offsets");
  if (x.ndim !== 2) argError("groupedGemm", "x", "a 2-D tensor [T, K]", fmtShape(x.shape));
  if (w.ndim !== 3) argError("groupedGemm", "w", "a 3-D tensor [G, K, N]", fmtShape(w.shape));
  const [T, K] = x.shape;
  const G = w.shape[0];
  if (w.shape[1] !== K) argError("groupedGemm", "w", `[G, ${K}, N] (K = ${K} from x ${fmtShape(x.shape)})`, `${fmtShape(w.shape)} (${x.dtype} x ${w.dtype})`);
  if (x.device !== w.device) argError("groupedGemm", "w", `a tensor on ${x.device} like x`, `a tensor on ${w.device}`);
  if (offsets.dtype !== "i32") argError("groupedGemm", "offsets", "an i32 tensor", `dtype ${offsets.dtype}`);
  if (offsets.ndim !== 1 || offsets.shape[0] !== G + 1) argError("groupedGemm", "offsets", `shape [${G + 1}] (G + 1 for w ${fmtShape(w.shape)})`, fmtShape(offsets.shape));
  if (offsets.device === "cpu") {
    const o = offsets.data as Int32Array;
    for (let g = 0; g <= G; g++) {
      if (o[g] < 0 || o[g] > T || (g > 0 && o[g] < o[g - 1]))
        argError("groupedGemm", "offsets", `non-decreasing values in [0, ${T}]`, `[${Array.from(o).join(", ")}] (bad at position ${g})`);
    }
  }
  // Native backends register as they finish loading; wait so the first call can use them.
  await ready();
  const { impl } = resolveOp<GroupedGemmImpl>("groupedGemm", { backend: opts.backend, device: x.device });
  return impl(x, w, offsets as Tensor<"i32">, { signal: effectiveSignal(opts.signal) });
}
