/**
 * The JS reference for "colDiagSums" (MInference vertical-slash estimation, lib/backends/ops.ts):
 * with P = softmax(scale · q kᵀ) per query row (causal at absolute position qOffset + i when
 * `causal`: keys kv > qOffset + i get no mass), cols[b, h, j] = Σ_i P[i, j] and
 * diags[b, h, o] = Σ P[i, j] over (qOffset + i) − j = o, for o in [0, Skv) (mass above the
 * diagonal, o < 0, is in no diagonal). A row with no key contributes nothing. GQA: query head h
 * reads KV head floor(h / (Hq / Hkv)). Float64 sums, one score row at a time.
 */
import { registerOp } from "../registry.js";
import type { ColDiagSumsImpl } from "../ops.js";
import { throwIfCancelled } from "../../cancel.js";
import { Tensor } from "../../tensor/tensor.js";

export const jsColDiagSums: ColDiagSumsImpl = async (qT, kT, opts) => {
  const [B, Hq, Sq, D] = qT.shape;
  const [, Hkv, Skv] = kT.shape;
  const q = qT.device === "cpu" ? qT.floatData() : ((await qT.toTypedArray()) as Float32Array);
  const k = kT.device === "cpu" ? kT.floatData() : ((await kT.toTypedArray()) as Float32Array);
  const { scale, qOffset, causal } = opts;
  const cols = new Float32Array(B * Hq * Skv);
  const diags = new Float32Array(B * Hq * Skv);
  const s = new Float64Array(Skv);
  const colAcc = new Float64Array(Skv);
  const diagAcc = new Float64Array(Skv);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      throwIfCancelled("colDiagSums", opts.signal);
      const hk = Math.floor(h / (Hq / Hkv));
      colAcc.fill(0);
      diagAcc.fill(0);
      for (let i = 0; i < Sq; i++) {
        const pos = qOffset + i;
        const end = causal ? Math.min(Skv, pos + 1) : Skv; // keys [0, end) are visible
        if (end <= 0) continue;
        const qo = ((b * Hq + h) * Sq + i) * D;
        let mx = -Infinity;
        for (let j = 0; j < end; j++) {
          const ko = ((b * Hkv + hk) * Skv + j) * D;
          let dot = 0;
          for (let d = 0; d < D; d++) dot += q[qo + d] * k[ko + d];
          s[j] = dot * scale;
          if (s[j] > mx) mx = s[j];
        }
        let z = 0;
        for (let j = 0; j < end; j++) z += Math.exp(s[j] - mx);
        for (let j = 0; j < end; j++) {
          const p = Math.exp(s[j] - mx) / z;
          colAcc[j] += p;
          const o = pos - j;
          if (o >= 0 && o < Skv) diagAcc[o] += p;
        }
      }
      const base = (b * Hq + h) * Skv;
      for (let j = 0; j < Skv; j++) {
        cols[base + j] = colAcc[j];
        diags[base + j] = diagAcc[j];
      }
    }
  return { cols: new Tensor([B, Hq, Skv], "f32", cols), diags: new Tensor([B, Hq, Skv], "f32", diags) };
};

registerOp("js", "colDiagSums", jsColDiagSums);
