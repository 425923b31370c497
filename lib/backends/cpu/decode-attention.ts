import { argError } from "../../errors.js";
import { Tensor } from "../../tensor/tensor.js";
import { allocStorage } from "../../tensor/dtype.js";
import type { AttentionResult, DecodeAttentionArgs, DecodeAttentionImpl } from "../ops.js";
import { resolveOp } from "../registry.js";
import { DTYPE_CODE, loadAddon, runNative } from "./addon.js";
import { attentionInto, nativeAttentionUnsupported } from "./attention.js";

type Out = Float32Array | Uint16Array;

/**
 * Native decode attention into caller storage. With `indices` (i32 [B, Hkv, n], -1 = padding)
 * the query heads of each KV head gather the selected tokens and the list is split across
 * threads (flash decoding); with a block mask, or neither, it is the attention kernel.
 */
export async function decodeAttentionInto(args: DecodeAttentionArgs, out: Out, lse?: Float32Array): Promise<void> {
  const { q, kCache, vCache, indices, blockMask, scale, signal } = args;
  if (!indices) {
    await attentionInto({ q, k: kCache, v: vCache, blockMask, scale, returnLse: lse !== undefined, signal }, out, lse);
    return;
  }
  const addon = loadAddon();
  const [B, Hq, Sq, D] = q.shape;
  const [, Hkv, Skv] = kCache.shape;
  const Dv = vCache.shape[3];
  if (indices.dtype !== "i32" || indices.ndim !== 3 || indices.shape[0] !== B || indices.shape[1] !== Hkv)
    argError("decodeAttention", "indices", `i32 [${B}, ${Hkv}, n]`, `${indices.dtype} [${indices.shape.join(", ")}]`);
  const n = indices.shape[2];
  await runNative("decodeAttention", signal, (cancel) =>
    addon.decodeAttention({
      q: q.data as Out, k: kCache.data as Out, v: vCache.data as Out, dtype: DTYPE_CODE[q.dtype]!,
      B, Hq, Hkv, Sq, Skv, D, Dv, n, indices: indices.data as Int32Array, scale, out, lse, cancel,
    }),
  );
}

/** The registered "decodeAttention" implementation for backend "cpu". */
export const cpuDecodeAttention: DecodeAttentionImpl = async (args) => {
  const { q, kCache, vCache, returnLse } = args;
  if (nativeAttentionUnsupported(q, kCache, vCache, undefined, false) || (args.indices && args.indices.device !== "cpu"))
    return resolveOp<DecodeAttentionImpl>("decodeAttention", { backend: "js" }).impl(args);
  const [B, Hq, Sq] = q.shape;
  const Dv = vCache.shape[3];
  const out = allocStorage(q.dtype, B * Hq * Sq * Dv) as Out;
  const lse = returnLse ? new Float32Array(B * Hq * Sq) : undefined;
  await decodeAttentionInto(args, out, lse);
  const res: AttentionResult = { output: new Tensor([B, Hq, Sq, Dv], q.dtype, out) };
  if (lse) res.lse = new Tensor([B, Hq, Sq], "f32", lse);
  return res;
};
