import { argError } from "../../errors.js";
import { Tensor } from "../../tensor/tensor.js";
import type { AntidiagScoresImpl, ColDiagSumsImpl } from "../ops.js";
import { DTYPE_CODE, loadAddon, runNative } from "./addon.js";

/**
 * The primitives the content-based sparse-attention estimators need: XAttention's strided
 * antidiagonal scores (one GEMM per head over reshaped rows) and the column / diagonal sums of
 * the softmaxed scores of a few queries (MInference's vertical-slash).
 */
type Arr = Float32Array | Uint16Array;

function floatHost(op: string, name: string, t: Tensor): void {
  if (t.device !== "cpu") argError(op, name, "a host tensor", `a tensor on ${t.device}`);
  if (t.dtype !== "f32" && t.dtype !== "f16" && t.dtype !== "bf16") argError(op, name, "f32, f16 or bf16", t.dtype);
  if (t.ndim !== 4) argError(op, name, "a 4-D tensor [B, H, S, D]", `${t.ndim}-D`);
}

export async function antidiagScoresInto(q: Tensor, k: Tensor, stride: number, scale: number, opts: { signal?: AbortSignal }, out?: Float32Array): Promise<Tensor<"f32">> {
  const op = "antidiagScores";
  floatHost(op, "q", q);
  floatHost(op, "k", k);
  const [B, H, Sq, D] = q.shape;
  const Skv = k.shape[2];
  if (k.shape[0] !== B || k.shape[1] !== H || k.shape[3] !== D) argError(op, "k", `[${B}, ${H}, Skv, ${D}]`, `[${k.shape.join(", ")}]`);
  if (q.dtype !== k.dtype) argError(op, "k", `dtype ${q.dtype} (as q)`, k.dtype);
  if (!Number.isInteger(stride) || stride < 1) argError(op, "stride", "a positive integer", String(stride));
  const nI = Math.ceil(Sq / stride);
  const nJ = Math.ceil(Skv / stride);
  const o = out ?? new Float32Array(B * H * nI * nJ);
  const addon = loadAddon();
  await runNative(op, opts.signal, (cancel) =>
    addon.antidiagScores({ q: q.data as Arr, k: k.data as Arr, dtype: DTYPE_CODE[q.dtype]!, B, H, Sq, Skv, D, stride, scale, out: o, cancel }),
  );
  return new Tensor([B, H, nI, nJ], "f32", o);
}

export const cpuAntidiagScores: AntidiagScoresImpl = (q, k, stride, scale, opts) => antidiagScoresInto(q, k, stride, scale, opts);

export async function colDiagSumsInto(
  q: Tensor,
  k: Tensor,
  opts: { scale: number; qOffset: number; causal: boolean; signal?: AbortSignal },
  out?: { cols: Float32Array; diags: Float32Array },
): Promise<{ cols: Tensor<"f32">; diags: Tensor<"f32"> }> {
  const op = "colDiagSums";
  floatHost(op, "q", q);
  floatHost(op, "k", k);
  const [B, Hq, Sq, D] = q.shape;
  const [, Hkv, Skv] = k.shape;
  if (k.shape[0] !== B || k.shape[3] !== D || Hq % Hkv !== 0) argError(op, "k", `[${B}, Hkv dividing ${Hq}, Skv, ${D}]`, `[${k.shape.join(", ")}]`);
  if (q.dtype !== k.dtype) argError(op, "k", `dtype ${q.dtype} (as q)`, k.dtype);
  if (!Number.isInteger(opts.qOffset)) argError(op, "qOffset", "an integer", String(opts.qOffset));
  const cols = out?.cols ?? new Float32Array(B * Hq * Skv);
  const diags = out?.diags ?? new Float32Array(B * Hq * Skv);
  const addon = loadAddon();
  await runNative(op, opts.signal, (cancel) =>
    addon.colDiagSums({
      q: q.data as Arr, k: k.data as Arr, dtype: DTYPE_CODE[q.dtype]!, B, Hq, Hkv, Sq, Skv, D,
      scale: opts.scale, qOffset: opts.qOffset, causal: opts.causal, cols, diags, cancel,
    }),
  );
  return { cols: new Tensor([B, Hq, Skv], "f32", cols), diags: new Tensor([B, Hq, Skv], "f32", diags) };
}

export const cpuColDiagSums: ColDiagSumsImpl = (q, k, opts) => colDiagSumsInto(q, k, opts);
