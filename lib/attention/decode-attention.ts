import { argError, fmtShape } from "../errors.js";
import type { Tensor } from "../tensor/tensor.js";
import { resolveOp, type BackendName } from "../backends/registry.js";
import type { DecodeAttentionImpl } from "../backends/ops.js";
import { ready } from "../backends/load.js";
import { effectiveSignal, throwIfCancelled } from "../cancel.js";
import { DeviceBlockMask, type BlockMaskFields } from "./block-mask.js";
import { checkBlockMask, checkOptions, checkQkv, checkScale, describe, shapeResult, type AttentionWithLse } from "./attention.js";

/** Options of {@link decodeAttention}. Give `indices` or `blockMask` (or neither: dense over the cache). */
export interface DecodeAttentionOptions {
  /**
   * i32 [B, Hkv, n]: cache positions each KV head attends (its query group shares them), e.g.
   * from `sl.dynamic.quest`. Entries must be distinct within a row; -1 is padding (skipped),
   * so rows may select different numbers of tokens.
   */
  indices?: Tensor<"i32">;
  /** A block mask over [Sq, Skv] (e.g. pages of the cache); same semantics as in attention(). */
  blockMask?: BlockMaskFields;
  /** Default 1 / sqrt(D). */
  scale?: number;
  /** Also return lse f32 [B, Hq, Sq]. */
  returnLse?: boolean;
  backend?: BackendName;
  signal?: AbortSignal;
}

/**
 * Attention for a decode step: a few queries q [B, Hq, Sq, D] (Sq is usually 1) against a KV
 * cache kCache [B, Hkv, Skv, D], vCache [B, Hkv, Skv, Dv], restricted to selected tokens
 * (`indices`) or tiles (`blockMask`). GQA as in {@link attention}. A query that selects no
 * token gives output 0 and lse -Infinity.
 *
 * @example
 * const q = sl.randn([1, 8, 1, 64], { seed: 1 });
 * const kCache = sl.randn([1, 8, 4096, 64], { seed: 2 });
 * const vCache = sl.randn([1, 8, 4096, 64], { seed: 3 });
 * // attend the first 4 tokens and the last 252 (StreamingLLM-style), per KV head
 * const keep = [0, 1, 2, 3, ...Array.from({ length: 252 }, (_, i) => 4096 - 252 + i)];
 * const indices = sl.tensor(Array.from({ length: 8 }, () => keep).flat(), { dtype: "i32", shape: [1, 8, 256] });
 * const out = await sl.decodeAttention(q, kCache, vCache, { indices });
 */
export async function decodeAttention(q: Tensor, kCache: Tensor, vCache: Tensor, opts: DecodeAttentionOptions & { returnLse: true }): Promise<AttentionWithLse>;
export async function decodeAttention(q: Tensor, kCache: Tensor, vCache: Tensor, opts?: DecodeAttentionOptions & { returnLse?: false }): Promise<Tensor>;
export async function decodeAttention(q: Tensor, kCache: Tensor, vCache: Tensor, opts?: DecodeAttentionOptions): Promise<Tensor | AttentionWithLse>;
export async function decodeAttention(q: Tensor, kCache: Tensor, vCache: Tensor, opts: DecodeAttentionOptions = {}): Promise<Tensor | AttentionWithLse> {
  const op = "decodeAttention";
  checkOptions(op, opts, ["indices", "blockMask", "scale", "returnLse", "backend", "signal"]);
  const dims = checkQkv(op, q, kCache, vCache, ["q", "kCache", "vCache"]);
  const scale = checkScale(op, opts.scale, dims.D);
  if (opts.indices !== undefined && opts.blockMask !== undefined)
    argError(op, "opts", "either indices or blockMask, not both", "both");
  if (opts.indices !== undefined) checkIndices(op, opts.indices, dims.B, dims.Hkv, dims.Skv);
  if (opts.blockMask !== undefined) checkBlockMask(op, opts.blockMask, dims.B, dims.Hq, dims.Sq, dims.Skv);
  if (opts.returnLse !== undefined && typeof opts.returnLse !== "boolean")
    argError(op, "opts.returnLse", "a boolean", String(opts.returnLse));
  const signal = effectiveSignal(opts.signal);
  throwIfCancelled(op, signal);
  await ready();
  const { impl } = resolveOp<DecodeAttentionImpl>(op, { backend: opts.backend, device: q.device });
  const res = await impl({
    q,
    kCache,
    vCache,
    indices: opts.indices,
    // The decode kernels read the mask's token lists on the host: a GPU-built mask gives its host view.
    blockMask: opts.blockMask instanceof DeviceBlockMask ? opts.blockMask.host() : opts.blockMask,
    scale,
    returnLse: opts.returnLse === true,
    signal,
  });
  return shapeResult(res, opts.returnLse === true);
}

/** i32 [B, Hkv, n], entries in [0, Skv) or -1, distinct within a row. */
function checkIndices(op: string, idx: Tensor, B: number, Hkv: number, Skv: number): void {
  const arg = "opts.indices";
  if (idx === null || typeof idx !== "object" || !Array.isArray(idx.shape)) argError(op, arg, "an i32 Tensor [B, Hkv, n]", describe(idx));
  if (idx.dtype !== "i32") argError(op, arg, "an i32 Tensor [B, Hkv, n]", `dtype ${idx.dtype}`);
  if (idx.shape.length !== 3 || idx.shape[0] !== B || idx.shape[1] !== Hkv)
    argError(op, arg, `shape [${B}, ${Hkv}, n] (batch, KV heads, selected tokens)`, `shape ${fmtShape(idx.shape)}`);
  if (idx.device !== "cpu") return; // a device backend validates its own copy
  const data = idx.data as Int32Array;
  const n = idx.shape[2];
  const stamp = new Int32Array(Skv).fill(-1);
  for (let row = 0; row < B * Hkv; row++) {
    for (let j = 0; j < n; j++) {
      const t = data[row * n + j];
      if (t === -1) continue;
      if (!(t >= 0 && t < Skv))
        argError(op, arg, `cache positions in [0, ${Skv}) or -1 (padding)`, `${t} at [${Math.floor(row / Hkv)}, ${row % Hkv}, ${j}]`);
      if (stamp[t] === row) argError(op, arg, "distinct positions within each [b, h] row", `${t} twice at [${Math.floor(row / Hkv)}, ${row % Hkv}]`);
      stamp[t] = row;
    }
  }
}
