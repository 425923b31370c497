/**
 * The JS reference for "antidiagScores" (XAttention's strided estimate, lib/backends/ops.ts):
 * cell (i, j) = scale · Σ_{t < s} q[i·s + t] · k[j·s + (s − 1 − t)], positions past the end of
 * q or k skipped (ragged last cells). q [B, Hq, Sq, D], k [B, Hkv, Skv, D] with Hkv | Hq (query
 * head h reads KV head floor(h / (Hq / Hkv)); Hkv = Hq is the plain case). Float64 sums.
 */
import { registerOp } from "../registry.js";
import type { AntidiagScoresImpl } from "../ops.js";
import { throwIfCancelled } from "../../cancel.js";
import { Tensor } from "../../tensor/tensor.js";

export const jsAntidiagScores: AntidiagScoresImpl = async (qT, kT, stride, scale, opts) => {
  const [B, Hq, Sq, D] = qT.shape;
  const [, Hkv, Skv] = kT.shape;
  const q = qT.device === "cpu" ? qT.floatData() : ((await qT.toTypedArray()) as Float32Array);
  const k = kT.device === "cpu" ? kT.floatData() : ((await kT.toTypedArray()) as Float32Array);
  const nI = Math.ceil(Sq / stride);
  const nJ = Math.ceil(Skv / stride);
  const out = new Float32Array(B * Hq * nI * nJ);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      throwIfCancelled("antidiagScores", opts.signal);
      const hk = Math.floor(h / (Hq / Hkv));
      const qBase = (b * Hq + h) * Sq;
      const kBase = (b * Hkv + hk) * Skv;
      for (let i = 0; i < nI; i++)
        for (let j = 0; j < nJ; j++) {
          let acc = 0;
          for (let t = 0; t < stride; t++) {
            const qi = i * stride + t;
            const kj = j * stride + (stride - 1 - t);
            if (qi >= Sq || kj >= Skv) continue;
            const qo = (qBase + qi) * D;
            const ko = (kBase + kj) * D;
            for (let d = 0; d < D; d++) acc += q[qo + d] * k[ko + d];
          }
          out[((b * Hq + h) * nI + i) * nJ + j] = acc * scale;
        }
    }
  return new Tensor([B, Hq, nI, nJ], "f32", out);
};

registerOp("js", "antidiagScores", jsAntidiagScores);
