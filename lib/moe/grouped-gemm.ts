import { argError, fmtShape } from "../errors.js";
import { hasOp, registerOp, resolveOp, type BackendName } from "../backends/registry.js";
import type { GroupedGemmImpl } from "../backends/ops.js";
import { effectiveSignal, throwIfCancelled } from "../cancel.js";
import { Tensor } from "../tensor/tensor.js";

const OP = "groupedGemm";
// Row strip x k-panel: a 128-row panel of one expert's weight (128 × N f32) is reused by a
// 32-row strip of x before moving on, so it stays in L2 for the saxpy inner loop.
const BR = 32;
const BK = 128;

/**
 * The JS reference "groupedGemm" (op contract in lib/backends/ops.ts): for each group g,
 * out[offsets[g]..offsets[g+1]) = x[those rows] @ w[g], x [R, K], w [G, K, N], f32 out.
 * i-k-j order in f32, rows of zeros (padding) skipped.
 */
export const jsGroupedGemm: GroupedGemmImpl = async (x, w, offsets, opts) => {
  const signal = effectiveSignal(opts.signal);
  const [R, K] = x.shape;
  const [G, , N] = w.shape;
  const X = x.floatData();
  const W = w.floatData();
  const off = offsets.data as Int32Array;
  const out = new Float32Array(R * N);
  let sinceYield = 0;
  for (let g = 0; g < G; g++) {
    const r0 = off[g];
    const r1 = off[g + 1];
    const wg = g * K * N;
    for (let i0 = r0; i0 < r1; i0 += BR) {
      const i1 = Math.min(r1, i0 + BR);
      for (let k0 = 0; k0 < K; k0 += BK) {
        const k1 = Math.min(K, k0 + BK);
        for (let i = i0; i < i1; i++) {
          const xo = i * K;
          const oo = i * N;
          for (let k = k0; k < k1; k++) {
            const a = X[xo + k];
            if (a === 0) continue;
            const wo = wg + k * N;
            for (let j = 0; j < N; j++) out[oo + j] += a * W[wo + j];
          }
        }
      }
      // Let the kernel answer interrupts and widget messages during long products.
      sinceYield += (i1 - i0) * K * N;
      if (sinceYield > 2e8) {
        sinceYield = 0;
        throwIfCancelled(OP, signal);
        await new Promise((r) => setImmediate(r));
      }
    }
  }
  throwIfCancelled(OP, signal);
  return new Tensor([R, N], "f32", out);
};

// The tensor engineer may register a JS groupedGemm too; keep theirs when it is there first.
if (!hasOp("js", OP)) registerOp("js", OP, jsGroupedGemm);

/**
 * Grouped GEMM over expert runs on the best backend that has it (cpu when the native backend
 * loaded, else js): out[rows of g] = x[rows of g] @ w[g].
 * @example
 * const y = await sl.moe.groupedGemm(xPermuted, wUp, plan.offsets);   // [rows, dFf]
 */
export async function groupedGemm(
  x: Tensor,
  w: Tensor,
  offsets: Tensor<"i32"> | Int32Array,
  opts: { backend?: BackendName; signal?: AbortSignal } = {},
): Promise<Tensor> {
  const off = offsets instanceof Tensor ? offsets : new Tensor([offsets.length], "i32", offsets);
  if (x.ndim !== 2) argError(OP, "x", "a 2-D tensor [rows, K]", fmtShape(x.shape));
  if (w.ndim !== 3 || w.shape[1] !== x.shape[1]) argError(OP, "w", `a 3-D tensor [G, ${x.shape[1]}, N]`, fmtShape(w.shape));
  if (off.dtype !== "i32" || off.ndim !== 1 || off.shape[0] !== w.shape[0] + 1) argError(OP, "offsets", `i32 [${w.shape[0] + 1}]`, `${off.dtype} ${fmtShape(off.shape)}`);
  const o = off.data as Int32Array;
  if (o[0] !== 0 || o[o.length - 1] !== x.shape[0]) argError(OP, "offsets", `to start at 0 and end at ${x.shape[0]}`, `${o[0]} .. ${o[o.length - 1]}`);
  for (let g = 0; g + 1 < o.length; g++) if (o[g + 1] < o[g]) argError(OP, "offsets", "non-decreasing", `offsets[${g + 1}] = ${o[g + 1]} < ${o[g]}`);
  const { impl } = resolveOp<GroupedGemmImpl>(OP, { backend: opts.backend, device: x.device });
  return impl(x, w, off, { signal: opts.signal });
}

/** The backend groupedGemm would run on now (for benchmarks and the layer's report). */
export function groupedGemmBackend(backend?: BackendName): BackendName {
  return resolveOp(OP, { backend }).backend;
}
