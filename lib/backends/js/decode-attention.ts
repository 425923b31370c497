/**
 * The JS reference for "decodeAttention": a few queries against a long KV cache, restricted
 * to selected tokens.
 *
 * - `indices` i32 [B, Hkv, n]: the cache positions each KV head attends (shared by the query
 *   heads of its GQA group). -1 entries are padding and skipped, so rows may select different
 *   numbers of tokens. Every query of the step attends the same set (no causal rule inside a
 *   decode step: select per step if you need one).
 * - `blockMask` over [Sq, Skv]: exactly attention() with that block mask.
 * - neither: dense over the whole cache.
 *
 * The selected scores are materialised (n per row, small), then softmaxed with the max
 * subtracted, accumulating in float64. A row with no selected token outputs 0 and lse -Infinity.
 */
import { registerOp } from "../registry.js";
import type { AttentionResult, DecodeAttentionArgs } from "../ops.js";
import { throwIfCancelled } from "../../cancel.js";
import { Tensor, fromFloat32 } from "../../tensor/tensor.js";
import { runOnHost } from "./attention.js";

const YIELD_MS = 10;
const now = (): number => (typeof performance !== "undefined" ? performance.now() : Date.now());

/** The registered "decodeAttention" implementation for backend "js". */
export async function jsDecodeAttention(args: DecodeAttentionArgs): Promise<AttentionResult> {
  const { q: qT, kCache, vCache, indices, scale, returnLse, signal } = args;
  if (!indices) return runOnHost("decodeAttention", qT, kCache, vCache, args);

  const [B, Hq, Sq, D] = qT.shape;
  const [, Hkv, Skv] = kCache.shape;
  const Dv = vCache.shape[3];
  const n = indices.shape[2];
  const group = Hq / Hkv;
  const q = await hostFloat(qT);
  const k = await hostFloat(kCache);
  const v = await hostFloat(vCache);
  const idx = (indices.device === "cpu" ? indices.data : await indices.toTypedArray()) as Int32Array;
  const out = new Float32Array(B * Hq * Sq * Dv);
  const lse = new Float32Array(B * Hq * Sq);
  const s = new Float64Array(n);
  const acc = new Float64Array(Dv);

  let lastYield = now();
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hq; h++) {
      throwIfCancelled("decodeAttention", signal);
      if (now() - lastYield > YIELD_MS) {
        await new Promise((r) => setImmediate(r));
        throwIfCancelled("decodeAttention", signal);
        lastYield = now();
      }
      const hk = Math.floor(h / group);
      const iOff = (b * Hkv + hk) * n;
      const kvBase = (b * Hkv + hk) * Skv;
      for (let i = 0; i < Sq; i++) {
        const row = (b * Hq + h) * Sq + i;
        const qOff = row * D;
        let mx = -Infinity;
        for (let j = 0; j < n; j++) {
          const t = idx[iOff + j];
          if (t < 0) {
            s[j] = -Infinity;
            continue;
          }
          const kOff = (kvBase + t) * D;
          let dot = 0;
          for (let d = 0; d < D; d++) dot += q[qOff + d] * k[kOff + d];
          s[j] = dot * scale;
          if (s[j] > mx) mx = s[j];
        }
        if (mx === -Infinity) {
          lse[row] = -Infinity; // nothing selected: output stays 0
          continue;
        }
        acc.fill(0);
        let sum = 0;
        for (let j = 0; j < n; j++) {
          if (s[j] === -Infinity) continue;
          const p = Math.exp(s[j] - mx);
          sum += p;
          const vOff = (kvBase + idx[iOff + j]) * Dv;
          for (let d = 0; d < Dv; d++) acc[d] += p * v[vOff + d];
        }
        const inv = 1 / sum;
        for (let d = 0; d < Dv; d++) out[row * Dv + d] = acc[d] * inv;
        lse[row] = mx + Math.log(sum);
      }
    }
  }
  const output = new Tensor([B, Hq, Sq, Dv], qT.dtype, qT.dtype === "f32" ? out : fromFloat32(out, qT.dtype));
  const res: AttentionResult = { output };
  if (returnLse) res.lse = new Tensor([B, Hq, Sq], "f32", lse);
  return res;
}

async function hostFloat(t: Tensor): Promise<Float32Array> {
  if (t.device === "cpu") return t.floatData();
  return t.toTypedArray() as Promise<Float32Array>;
}

registerOp("js", "decodeAttention", jsDecodeAttention);
