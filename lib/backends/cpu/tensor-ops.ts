import { argError } from "../../errors.js";
import { Tensor } from "../../tensor/tensor.js";
import { allocStorage, type DType } from "../../tensor/dtype.js";
import type { BlockPoolImpl, GroupedGemmImpl, MatmulImpl, SoftmaxImpl, TopkImpl } from "../ops.js";
import { resolveOp } from "../registry.js";
import { DTYPE_CODE, loadAddon, runNative } from "./addon.js";

/**
 * The cpu backend's tensor primitives: matmul/bmm (packed, register-blocked SGEMM), grouped
 * GEMM over row runs, softmax, top-k and block pooling. Float inputs (f32, f16, bf16) run
 * natively; other dtypes go to the JS reference (they are rare and not speed-critical).
 */
const isFloat = (d: DType): boolean => d === "f32" || d === "f16" || d === "bf16";
const host = (...ts: Tensor[]): boolean => ts.every((t) => t.device === "cpu");
const js = <F extends (...a: any[]) => any>(op: string): F => resolveOp<F>(op, { backend: "js" }).impl;
type Out = Float32Array | Uint16Array;

function broadcast(op: string, a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) argError(op, "b", `batch dims broadcastable with [${a.join(", ")}]`, `[${b.join(", ")}]`);
    out.push(Math.max(x, y));
  }
  return out;
}

/** Element offsets of each batch matrix of `dims` broadcast to `batch` (matrix size `mat`). */
function batchOffsets(dims: readonly number[], batch: readonly number[], mat: number): Float64Array {
  const n = batch.reduce((x, y) => x * y, 1);
  const out = new Float64Array(n);
  const pad = batch.length - dims.length;
  const strides = new Array<number>(batch.length).fill(0);
  let acc = mat;
  for (let i = batch.length - 1; i >= pad; i--) {
    const d = dims[i - pad];
    strides[i] = d === 1 ? 0 : acc;
    acc *= d;
  }
  const idx = new Array<number>(batch.length).fill(0);
  for (let t = 0; t < n; t++) {
    let o = 0;
    for (let d = 0; d < batch.length; d++) o += idx[d] * strides[d];
    out[t] = o;
    for (let d = batch.length - 1; d >= 0; d--) {
      if (++idx[d] < batch[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

/** Native matmul into caller storage (tests poison it); returns the output shape and dtype. */
export async function matmulInto(a: Tensor, b: Tensor, opts: { transB?: boolean; signal?: AbortSignal }, out?: Out): Promise<Tensor> {
  const addon = loadAddon();
  const transB = opts.transB ?? false;
  const [M, K] = a.shape.slice(-2);
  const N = transB ? b.shape[b.ndim - 2] : b.shape[b.ndim - 1];
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const batch = broadcast("matmul", aBatch, bBatch);
  const dtype: DType = a.dtype === b.dtype ? a.dtype : "f32";
  const nb = batch.reduce((x, y) => x * y, 1);
  const o = out ?? (allocStorage(dtype, nb * M * N) as Out);
  await runNative("matmul", opts.signal, (cancel) =>
    addon.matmul({
      a: a.data as Out, adtype: DTYPE_CODE[a.dtype]!, b: b.data as Out, bdtype: DTYPE_CODE[b.dtype]!,
      aOffsets: batchOffsets(aBatch, batch, M * K), bOffsets: batchOffsets(bBatch, batch, K * N),
      M, N, K, transB, out: o, outDtype: DTYPE_CODE[dtype]!, cancel,
    }),
  );
  return new Tensor([...batch, M, N], dtype, o);
}

export const cpuMatmul: MatmulImpl = (a, b, opts) => {
  if (!host(a, b) || !isFloat(a.dtype) || !isFloat(b.dtype)) return js<MatmulImpl>("matmul")(a, b, opts);
  return matmulInto(a, b, opts);
};

export async function groupedGemmInto(x: Tensor, w: Tensor, offsets: Tensor<"i32">, opts: { signal?: AbortSignal }, out?: Out): Promise<Tensor> {
  const addon = loadAddon();
  const [T, K] = x.shape;
  const [G, , N] = w.shape;
  const off = offsets.data as Int32Array;
  if (off.length !== G + 1) argError("groupedGemm", "offsets", `${G + 1} entries`, `${off.length}`);
  for (let g = 0; g < G; g++)
    if (off[g] < 0 || off[g + 1] < off[g] || off[g + 1] > T) argError("groupedGemm", "offsets", `non-decreasing values in [0, ${T}]`, `[${Array.from(off).join(", ")}]`);
  const dtype: DType = x.dtype === w.dtype ? x.dtype : "f32";
  const o = out ?? (allocStorage(dtype, T * N) as Out);
  // Rows outside every group stay as the reference leaves them: zero.
  if (!out) o.fill(0);
  else {
    o.fill(0, 0, off[0] * N);
    o.fill(0, off[G] * N);
  }
  await runNative("groupedGemm", opts.signal, (cancel) =>
    addon.groupedGemm({ x: x.data as Out, xdtype: DTYPE_CODE[x.dtype]!, w: w.data as Out, wdtype: DTYPE_CODE[w.dtype]!, offsets: off, K, N, out: o, outDtype: DTYPE_CODE[dtype]!, cancel }),
  );
  return new Tensor([T, N], dtype, o);
}

export const cpuGroupedGemm: GroupedGemmImpl = (x, w, offsets, opts) => {
  if (!host(x, w, offsets) || !isFloat(x.dtype) || !isFloat(w.dtype)) return js<GroupedGemmImpl>("groupedGemm")(x, w, offsets, opts);
  return groupedGemmInto(x, w, offsets, opts);
};

const rowsOf = (x: Tensor): { rows: number; n: number } => {
  const n = x.ndim === 0 ? 1 : x.shape[x.ndim - 1];
  return { rows: n === 0 ? 0 : x.size / n, n };
};

export async function softmaxInto(x: Tensor, opts: { signal?: AbortSignal }, out?: Float32Array): Promise<Tensor<"f32">> {
  const addon = loadAddon();
  const { rows, n } = rowsOf(x);
  const o = out ?? new Float32Array(x.size);
  await runNative("softmax", opts.signal, (cancel) => addon.softmax({ x: x.data as Out, dtype: DTYPE_CODE[x.dtype]!, rows, n, out: o, cancel }));
  return new Tensor(x.shape, "f32", o);
}

export const cpuSoftmax: SoftmaxImpl = (x, opts) => {
  if (!host(x) || DTYPE_CODE[x.dtype] === undefined || x.size === 0) return js<SoftmaxImpl>("softmax")(x, opts);
  return softmaxInto(x, opts);
};

export async function topkInto(x: Tensor, k: number, opts: { signal?: AbortSignal }, out?: { values: Float32Array; indices: Int32Array }): Promise<{ values: Tensor<"f32">; indices: Tensor<"i32"> }> {
  const addon = loadAddon();
  const { rows, n } = rowsOf(x);
  if (!Number.isInteger(k) || k < 0 || k > n) argError("topk", "k", `an integer in [0, ${n}]`, String(k));
  const values = out?.values ?? new Float32Array(rows * k);
  const indices = out?.indices ?? new Int32Array(rows * k);
  await runNative("topk", opts.signal, (cancel) => addon.topk({ x: x.data as Out, dtype: DTYPE_CODE[x.dtype]!, rows, n, k, values, indices, cancel }));
  const shape = [...x.shape.slice(0, -1), k];
  return { values: new Tensor(shape, "f32", values), indices: new Tensor(shape, "i32", indices) };
}

export const cpuTopk: TopkImpl = (x, k, opts) => {
  if (!host(x) || DTYPE_CODE[x.dtype] === undefined || x.ndim === 0) return js<TopkImpl>("topk")(x, k, opts);
  return topkInto(x, k, opts);
};

const REDUCE = { mean: 0, max: 1, min: 2 } as const;

export async function blockPoolInto(x: Tensor, block: number, reduce: "mean" | "max" | "min", opts: { signal?: AbortSignal }, out?: Float32Array): Promise<Tensor<"f32">> {
  const addon = loadAddon();
  const [B, H, S, D] = x.shape;
  const nb = Math.ceil(S / block);
  const o = out ?? new Float32Array(B * H * nb * D);
  await runNative("blockPool", opts.signal, (cancel) =>
    addon.blockPool({ x: x.data as Out, dtype: DTYPE_CODE[x.dtype]!, BH: B * H, S, D, block, reduce: REDUCE[reduce], out: o, cancel }),
  );
  return new Tensor([B, H, nb, D], "f32", o);
}

export const cpuBlockPool: BlockPoolImpl = (x, block, reduce, opts) => {
  if (!host(x) || !isFloat(x.dtype) || x.ndim !== 4 || x.shape[2] === 0) return js<BlockPoolImpl>("blockPool")(x, block, reduce, opts);
  return blockPoolInto(x, block, reduce, opts);
};
