import { argError, fmtShape } from "../../errors.js";
import { isFloat } from "../../tensor/dtype.js";
import type { Tensor } from "../../tensor/tensor.js";
import { withDisplay } from "./show.js";

/** How far an output is from a reference. */
export interface OutputError {
  /** Σ|out − ref| / Σ|ref| (0 when both are all zero, Infinity when only ref is). */
  relL1: number;
  /** Σ out·ref / (‖out‖ ‖ref‖); 1 when both are all zero, 0 when only one is. */
  cosine: number;
  /** sqrt(mean (out − ref)²). */
  rmse: number;
  /** max |out − ref|. */
  maxAbs: number;
  /** Relative L2: ‖out − ref‖ / ‖ref‖ (the figure anchors.md tolerances use). */
  relL2: number;
  /** Elements compared. A NaN anywhere in out or ref makes every figure NaN. */
  count: number;
}

/**
 * Compares an attention output with a reference (usually dense attention): relative L1,
 * cosine similarity, RMSE and max abs error, accumulated in float64. NaN never passes: one NaN
 * makes every figure NaN.
 *
 * @example
 * const dense = await sl.attention(q, k, v);
 * const sparse = await sl.attention(q, k, v, { blockMask: bm });
 * const err = await sl.metrics.outputError(sparse, dense);   // { relL1, cosine, rmse, maxAbs, ... }
 */
export async function outputError(out: Tensor, ref: Tensor): Promise<OutputError> {
  const op = "metrics.outputError";
  for (const [name, t] of [["out", out], ["ref", ref]] as const) {
    if (t === null || typeof t !== "object" || !Array.isArray(t.shape)) argError(op, name, "a Tensor", String(t));
    if (!isFloat(t.dtype)) argError(op, name, "a float tensor (f32, f16 or bf16)", `dtype ${t.dtype}`);
  }
  if (out.shape.length !== ref.shape.length || out.shape.some((d, i) => d !== ref.shape[i]))
    argError(op, "out", `the shape of ref ${fmtShape(ref.shape)}`, `shape ${fmtShape(out.shape)}`);
  const a = await out.toTypedArray();
  const r = await ref.toTypedArray();
  return compareArrays(a, r);
}

/**
 * The same figures for two equally long arrays (already on the host).
 * @example
 * sl.metrics.compareArrays([1, 2, 3], [1, 2, 4]).relL1;   // 1 / 7
 */
export function compareArrays(a: ArrayLike<number>, r: ArrayLike<number>): OutputError {
  if (a.length !== r.length) argError("metrics.compareArrays", "a", `the length of r (${r.length})`, `length ${a.length}`);
  let l1 = 0;
  let refL1 = 0;
  let dot = 0;
  let na = 0;
  let nr = 0;
  let sq = 0;
  let maxAbs = 0;
  let nan = false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = r[i];
    if (Number.isNaN(x) || Number.isNaN(y)) nan = true;
    const d = x - y;
    const ad = Math.abs(d);
    l1 += ad;
    refL1 += Math.abs(y);
    dot += x * y;
    na += x * x;
    nr += y * y;
    sq += d * d;
    if (ad > maxAbs) maxAbs = ad;
  }
  const n = a.length;
  if (nan) return shown({ relL1: NaN, cosine: NaN, rmse: NaN, maxAbs: NaN, relL2: NaN, count: n });
  const relL1 = refL1 === 0 ? (l1 === 0 ? 0 : Infinity) : l1 / refL1;
  const relL2 = nr === 0 ? (sq === 0 ? 0 : Infinity) : Math.sqrt(sq / nr);
  const cosine = na === 0 && nr === 0 ? 1 : na === 0 || nr === 0 ? 0 : dot / Math.sqrt(na * nr);
  return shown({ relL1, cosine, rmse: n ? Math.sqrt(sq / n) : 0, maxAbs, relL2, count: n });
}

function shown(e: OutputError): OutputError {
  const f = (x: number) => x.toExponential(3);
  return withDisplay(
    e,
    () => [["relative L1", f(e.relL1)], ["cosine", e.cosine.toFixed(6)], ["RMSE", f(e.rmse)], ["max |diff|", f(e.maxAbs)], ["relative L2", f(e.relL2)]],
    "relL1 = Σ|out − ref| / Σ|ref|; cosine = Σ out·ref / (‖out‖ ‖ref‖); RMSE = sqrt(mean (out − ref)²); float64 sums",
  );
}
