import { argError, fmtShape } from "../../errors.js";
import { registerOp, resolveOp, type BackendName } from "../../backends/registry.js";
import type { MatmulImpl } from "../../backends/ops.js";
import { effectiveSignal } from "../../cancel.js";
import { ready } from "../../backends/load.js";
import { fromFloat32, Tensor } from "../tensor.js";
import { requireFloat, requireHost } from "../check.js";
import { broadcastShapes, broadcastStrides, numel } from "../shape-util.js";
import { productDtype, Yielder } from "./common.js";
import { gemm } from "./gemm.js";

/** Rows per unit of work between event-loop turns. */
const STRIP = 64;

/** The JS reference "matmul": batch dims broadcast, optional transB (read through strides), at least f32 accumulation. */
export const jsMatmul: MatmulImpl = async (a, b, opts) => {
  requireHost("matmul", a, "a");
  requireHost("matmul", b, "b");
  const y = new Yielder("matmul", opts.signal);
  const [M, K] = a.shape.slice(-2);
  const N = opts.transB ? b.shape[b.ndim - 2] : b.shape[b.ndim - 1];
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const batch = broadcastShapes("matmul", aBatch, bBatch);
  const A = a.floatData();
  const B = b.floatData();
  const [bK, bN] = opts.transB ? [1, K] : [N, 1];
  const nb = numel(batch);
  const C = new Float32Array(nb * M * N);
  const sa = broadcastStrides(aBatch, batch);
  const sb = broadcastStrides(bBatch, batch);
  const idx = new Array<number>(batch.length).fill(0);
  for (let t = 0; t < nb; t++) {
    let pa = 0, pb = 0;
    for (let d = 0; d < batch.length; d++) {
      pa += idx[d] * sa[d];
      pb += idx[d] * sb[d];
    }
    // Split big matrices into row strips so the event loop gets a turn between them.
    for (let i0 = 0; i0 < M; i0 += STRIP) {
      const rows = Math.min(STRIP, M - i0);
      gemm(A, (pa * M + i0) * K, B, pb * K * N, bK, bN, C, (t * M + i0) * N, rows, K, N);
      await y.tick();
    }
    for (let d = batch.length - 1; d >= 0; d--) {
      if (++idx[d] < batch[d]) break;
      idx[d] = 0;
    }
  }
  const shape = [...batch, M, N];
  const dtype = productDtype(a.dtype, b.dtype);
  return dtype === "f32" ? new Tensor(shape, "f32", C) : new Tensor(shape, dtype, fromFloat32(C, dtype));
};

registerOp("js", "matmul", jsMatmul);

export interface MatmulOptions {
  /** b is given as [..., N, K] (PyTorch's `a @ b.T` without a copy on native backends). */
  transB?: boolean;
  /** Which backend runs it ("js", "cpu", "cuda"); default: the fastest loaded for the tensors' device. */
  backend?: BackendName;
  signal?: AbortSignal;
}

/**
 * Matrix product a @ b with batch broadcasting: a [..., M, K], b [..., K, N] (or [..., N, K]
 * with `transB`) gives [...batch, M, N]. A 1-D a is a row vector and a 1-D b a column vector,
 * their dimension dropped from the result, like numpy. Float inputs; f32 accumulation; the
 * result has the inputs' dtype when they agree, else f32.
 *
 * @example
 * const a = sl.randn([2, 3, 4], { seed: 1 });
 * const b = sl.randn([4, 5], { seed: 2 });
 * const c = await sl.matmul(a, b);              // [2, 3, 5]
 * const s = await sl.matmul(a, a, { transB: true });   // [2, 3, 3]
 */
export async function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Promise<Tensor> {
  requireFloat("matmul", a, "a");
  requireFloat("matmul", b, "b");
  if (a.device !== b.device) argError("matmul", "b", `a tensor on ${a.device} like a`, `a tensor on ${b.device}`);
  if (a.ndim === 0) argError("matmul", "a", "a tensor of at least 1 dimension", "a 0-D tensor");
  if (b.ndim === 0) argError("matmul", "b", "a tensor of at least 1 dimension", "a 0-D tensor");
  const transB = opts.transB ?? false;
  let aa = a, bb = b;
  const aVec = a.ndim === 1, bVec = b.ndim === 1;
  if (aVec) aa = view(a, [1, a.shape[0]]);
  if (bVec) bb = view(b, transB ? [1, b.shape[0]] : [b.shape[0], 1]);
  const K = aa.shape[aa.ndim - 1];
  const bK = transB ? bb.shape[bb.ndim - 1] : bb.shape[bb.ndim - 2];
  if (bK !== K)
    argError("matmul", "b", transB ? `[..., N, ${K}] (transB; K = ${K} from a ${fmtShape(a.shape)})` : `[..., ${K}, N] (K = ${K} from a ${fmtShape(a.shape)})`, `${fmtShape(b.shape)} (${a.dtype} x ${b.dtype})`);
  try {
    broadcastShapes("matmul", aa.shape.slice(0, -2), bb.shape.slice(0, -2));
  } catch {
    argError("matmul", "b", `batch dims broadcastable with a's ${fmtShape(a.shape.slice(0, -2))}`, fmtShape(b.shape));
  }
  // Native backends register as they finish loading; wait so the first call can use them.
  await ready();
  const { impl } = resolveOp<MatmulImpl>("matmul", { backend: opts.backend, device: a.device });
  let out: Tensor;
  try {
    out = await impl(aa, bb, { transB, signal: effectiveSignal(opts.signal) });
  } finally {
    if (aVec) aa.dispose();
    if (bVec) bb.dispose();
  }
  if (aVec || bVec) {
    const shape = out.shape.filter((_, i) => !((aVec && i === out.ndim - 2) || (bVec && i === out.ndim - 1)));
    const v = view(out, shape);
    out.dispose();
    out = v;
  }
  return out;
}

/**
 * Batched matrix product of two 3-D tensors with the same batch: a [B, M, K], b [B, K, N].
 * @example
 * const c = await sl.bmm(sl.randn([8, 16, 32]), sl.randn([8, 32, 4]));   // [8, 16, 4]
 */
export async function bmm(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Promise<Tensor> {
  requireFloat("bmm", a, "a");
  requireFloat("bmm", b, "b");
  if (a.ndim !== 3) argError("bmm", "a", "a 3-D tensor [B, M, K]", fmtShape(a.shape));
  if (b.ndim !== 3) argError("bmm", "b", "a 3-D tensor [B, K, N]", fmtShape(b.shape));
  if (a.shape[0] !== b.shape[0]) argError("bmm", "b", `batch ${a.shape[0]} like a ${fmtShape(a.shape)}`, fmtShape(b.shape));
  return matmul(a, b, opts);
}

/** Same storage, new shape: a temporary alias that the caller disposes (which frees nothing shared). */
function view(t: Tensor, shape: number[]): Tensor {
  if (t.device !== "cpu") argError("matmul", "a", "2-D or higher tensors on device tensors (1-D is host only)", fmtShape(t.shape));
  return new Tensor(shape, t.dtype, t.data);
}
