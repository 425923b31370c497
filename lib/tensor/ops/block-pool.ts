import { registerOp, resolveOp, type BackendName } from "../../backends/registry.js";
import type { BlockPoolImpl } from "../../backends/ops.js";
import { effectiveSignal } from "../../cancel.js";
import { ready } from "../../backends/load.js";
import { argError, fmtShape } from "../../errors.js";
import { Tensor } from "../tensor.js";
import { requireHost, requireTensor } from "../check.js";
import { Yielder } from "./common.js";

/**
 * The JS reference "blockPool": x [B, H, S, D] -> [B, H, ceil(S / block), D], each output row
 * the mean / max / min of its block of rows (the last block may be shorter; its mean divides
 * by its own length). float64 sums, f32 out, NaN propagates through max/min.
 */
export const jsBlockPool: BlockPoolImpl = async (x, block, reduce, opts) => {
  requireHost("blockPool", x);
  const y = new Yielder("blockPool", opts.signal);
  const [B, H, S, D] = x.shape;
  const nb = Math.ceil(S / block);
  const v = x.dtype === "f32" ? (x.data as Float32Array) : x.floatData();
  const out = new Float32Array(B * H * nb * D);
  const acc = new Float64Array(D);
  for (let bh = 0; bh < B * H; bh++) {
    for (let q = 0; q < nb; q++) {
      const s0 = q * block;
      const s1 = Math.min(S, s0 + block);
      acc.fill(reduce === "mean" ? 0 : reduce === "max" ? -Infinity : Infinity);
      for (let s = s0; s < s1; s++) {
        const row = (bh * S + s) * D;
        if (reduce === "mean") for (let d = 0; d < D; d++) acc[d] += v[row + d];
        else if (reduce === "max") for (let d = 0; d < D; d++) { const e = v[row + d]; if (e > acc[d] || e !== e) acc[d] = acc[d] !== acc[d] ? acc[d] : e; }
        else for (let d = 0; d < D; d++) { const e = v[row + d]; if (e < acc[d] || e !== e) acc[d] = acc[d] !== acc[d] ? acc[d] : e; }
      }
      const o = (bh * nb + q) * D;
      const scale = reduce === "mean" ? 1 / (s1 - s0) : 1;
      for (let d = 0; d < D; d++) out[o + d] = acc[d] * scale;
    }
    await y.tick();
  }
  return new Tensor([B, H, nb, D], "f32", out);
};

registerOp("js", "blockPool", jsBlockPool);

/**
 * Pools blocks of `block` consecutive rows: x [B, H, S, D] -> f32 [B, H, ceil(S / block), D]
 * with reduce "mean" (default), "max" or "min". The last block may be ragged.
 * @example
 * const k = sl.randn([1, 8, 4096, 64]);
 * const kBlocks = await sl.blockPool(k, 64, "mean");   // [1, 8, 64, 64]
 */
export async function blockPool(x: Tensor, block: number, reduce: "mean" | "max" | "min" = "mean", opts: { backend?: BackendName; signal?: AbortSignal } = {}): Promise<Tensor<"f32">> {
  requireTensor("blockPool", x);
  if (x.ndim !== 4) argError("blockPool", "x", "a 4-D tensor [B, H, S, D]", fmtShape(x.shape));
  if (x.dtype !== "f32" && x.dtype !== "f16" && x.dtype !== "bf16") argError("blockPool", "x", "a float tensor (f32, f16, bf16)", `dtype ${x.dtype}`);
  if (!Number.isInteger(block) || block <= 0) argError("blockPool", "block", "a positive integer", String(block));
  if (reduce !== "mean" && reduce !== "max" && reduce !== "min") argError("blockPool", "reduce", `"mean", "max" or "min"`, String(reduce));
  // Native backends register as they finish loading; wait so the first call can use them.
  await ready();
  const { impl } = resolveOp<BlockPoolImpl>("blockPool", { backend: opts.backend, device: x.device });
  return impl(x, block, reduce, { signal: effectiveSignal(opts.signal) });
}
