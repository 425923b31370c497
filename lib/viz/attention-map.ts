import { argError, fmtShape } from "../errors.js";
import type { Mask } from "../attention/types.js";
import { Tensor } from "../tensor/tensor.js";
import { matmul } from "../tensor/ops/matmul.js";
import { axisKeys, baseLayout, gridLayout, SEQUENTIAL, type Figure } from "./figure.js";

export interface AttentionMapOptions {
  b?: number;
  /** Head (default 0); ignored when `heads` is given. */
  h?: number;
  /** Several heads as small multiples. */
  heads?: number[];
  /** Cells are masked out where the mask is false (drawn blank). */
  mask?: Mask;
  /** Default 1/sqrt(D). */
  scale?: number;
  /** "probs" (softmax over each row, after the mask; default) or "scores" (scaled q·k). */
  kind?: "probs" | "scores";
  /** How maps larger than maxCells per side are reduced (default "max"; said in the title). */
  pool?: "max" | "mean";
  /** Most cells drawn per side (default 256). */
  maxCells?: number;
  /** Colour by log10 of the value (probabilities only). */
  logScale?: boolean;
  title?: string;
}

interface Pooled {
  z: (number | null)[][];
  poolQ: number;
  poolK: number;
}

/** Computes one head's map in row chunks (never the whole S×S) and pools it on the fly. */
async function headMap(q: Tensor, k: Tensor, b: number, h: number, o: Required<Pick<AttentionMapOptions, "kind" | "pool" | "maxCells">> & { scale: number; mask?: Mask }): Promise<Pooled> {
  const [, Hq, Sq, D] = q.shape;
  const [, Hkv, Skv] = k.shape;
  const hk = Math.floor(h / (Hq / Hkv));
  const qf = q.floatData(), kf = k.floatData();
  const qh = new Tensor([Sq, D], "f32", qf.slice(((b * Hq + h) * Sq) * D, ((b * Hq + h) * Sq + Sq) * D));
  const kh = new Tensor([Skv, D], "f32", kf.slice(((b * Hkv + hk) * Skv) * D, ((b * Hkv + hk) * Skv + Skv) * D));
  const poolQ = Math.max(1, Math.ceil(Sq / o.maxCells)), poolK = Math.max(1, Math.ceil(Skv / o.maxCells));
  const rq = Math.ceil(Sq / poolQ), rk = Math.ceil(Skv / poolK);
  const acc = new Float64Array(rq * rk).fill(o.pool === "max" ? -Infinity : 0);
  const cnt = new Float64Array(rq * rk);
  const CH = 256;
  // Column -> pooled cell, and the row's kept keys (mask evaluated once per element).
  const colCell = new Int32Array(Skv);
  for (let j = 0; j < Skv; j++) colCell[j] = Math.floor(j / poolK);
  const keep = o.mask ? new Uint8Array(Skv) : undefined;
  const isMax = o.pool === "max", probs = o.kind === "probs";
  for (let r0 = 0; r0 < Sq; r0 += CH) {
    const n = Math.min(CH, Sq - r0);
    const chunk = new Tensor([n, D], "f32", (qh.data as Float32Array).slice(r0 * D, (r0 + n) * D));
    const st = await matmul(chunk, kh, { transB: true });
    const s = st.floatData();
    chunk.dispose();
    for (let i = 0; i < n; i++) {
      const row = s.subarray(i * Skv, (i + 1) * Skv);
      const qi = r0 + i;
      let m = -Infinity, kept = 0;
      for (let j = 0; j < Skv; j++) {
        if (keep) {
          keep[j] = o.mask!.at(b, h, qi, j) ? 1 : 0;
          if (!keep[j]) continue;
        }
        kept++;
        const v = (row[j] *= o.scale);
        if (v > m) m = v;
      }
      if (kept === 0) continue; // every key masked: the row leaves its cells blank
      let inv = 1;
      if (probs) {
        // exp once per element, stored in place; normalised while pooling
        let z = 0;
        for (let j = 0; j < Skv; j++) {
          if (keep && !keep[j]) continue;
          z += row[j] = Math.exp(row[j] - m);
        }
        inv = 1 / z;
      }
      const base = Math.floor(qi / poolQ) * rk;
      for (let j = 0; j < Skv; j++) {
        if (keep && !keep[j]) continue; // masked: contributes nothing; an all-masked cell stays blank
        const v = row[j] * inv;
        const c = base + colCell[j];
        if (isMax) {
          if (v > acc[c]) acc[c] = v;
        } else acc[c] += v;
        cnt[c]++;
      }
    }
    st.dispose();
  }
  qh.dispose();
  kh.dispose();
  const z: (number | null)[][] = [];
  for (let i = 0; i < rq; i++) {
    const row: (number | null)[] = [];
    for (let j = 0; j < rk; j++) {
      const c = i * rk + j;
      row.push(cnt[c] === 0 ? null : o.pool === "max" ? acc[c] : acc[c] / cnt[c]);
    }
    z.push(row);
  }
  return { z, poolQ, poolK };
}

/**
 * Attention scores or probabilities of one head (or several as small multiples), with the mask
 * applied (masked cells blank). Maps larger than `maxCells` per side are pooled by max or mean,
 * and the title says so. Computed in row chunks through sl.matmul (the fastest backend).
 * @example
 * const { q, k } = sl.workloads.llmLike({ S: 1024, H: 2, D: 64, seed: 1 });
 * await sl.viz.attentionMap(q, k, { h: 0, mask: sl.masks.causal() })
 */
export async function attentionMap(q: Tensor, k: Tensor, opts: AttentionMapOptions = {}): Promise<Figure> {
  const op = "viz.attentionMap";
  if (!(q instanceof Tensor) || q.ndim !== 4) argError(op, "q", "a 4-D tensor [B, H, S, D]", q instanceof Tensor ? fmtShape(q.shape) : typeof q);
  if (!(k instanceof Tensor) || k.ndim !== 4 || k.shape[3] !== q.shape[3] || q.shape[1] % k.shape[1] !== 0)
    argError(op, "k", `a 4-D tensor [B, Hkv, S, ${q.shape[3]}] with Hkv dividing ${q.shape[1]}`, k instanceof Tensor ? fmtShape(k.shape) : typeof k);
  const kind = opts.kind ?? "probs", pool = opts.pool ?? "max", maxCells = opts.maxCells ?? 256;
  if (!Number.isInteger(maxCells) || maxCells < 2) argError(op, "maxCells", "an integer >= 2", String(opts.maxCells));
  const b = opts.b ?? 0;
  if (b < 0 || b >= q.shape[0]) argError(op, "b", `a batch index in [0, ${q.shape[0]})`, String(b));
  const scale = opts.scale ?? 1 / Math.sqrt(q.shape[3]);
  const heads = opts.heads ?? [opts.h ?? 0];
  for (const h of heads) if (!Number.isInteger(h) || h < 0 || h >= q.shape[1]) argError(op, "h", `a head index in [0, ${q.shape[1]})`, String(h));
  const maps = [];
  for (const h of heads) maps.push(await headMap(q, k, b, h, { kind, pool, maxCells, scale, mask: opts.mask }));
  const { poolQ, poolK } = maps[0];
  const what = kind === "probs" ? "attention probabilities" : "scaled scores q·k";
  const pooled = poolQ > 1 || poolK > 1 ? `, ${pool}-pooled over ${poolQ}×${poolK} cells` : "";
  const masked = opts.mask ? `, mask ${opts.mask.name} (blank = masked)` : "";
  const log = opts.logScale && kind === "probs";
  const unit = log ? "log10 p" : kind === "probs" ? "p" : "score";
  const colour = { colorscale: SEQUENTIAL, colorbar: { title: { text: unit } } };
  // Small multiples share one colour axis, so a colour means the same value in every panel.
  const [, , Sq, ] = q.shape, Skv = k.shape[2];
  // Pooled cells hover with the exact token ranges they cover and what was taken over them.
  const ranges = (m: Pooled) =>
    m.z.map((r, i) => r.map((_, j) => `q ${i * m.poolQ}–${Math.min(Sq, (i + 1) * m.poolQ) - 1}<br>kv ${j * m.poolK}–${Math.min(Skv, (j + 1) * m.poolK) - 1}`));
  const trace = (m: Pooled, axes?: { x: string; y: string }) => ({
    type: "heatmap",
    z: log ? m.z.map((r) => r.map((v) => (v === null || v <= 0 ? null : Math.log10(v)))) : m.z,
    x: m.z[0]?.map((_, j) => j * m.poolK) ?? [],
    y: m.z.map((_, i) => i * m.poolQ),
    ...(axes ? { coloraxis: "coloraxis", xaxis: axes.x, yaxis: axes.y } : colour),
    ...(m.poolQ > 1 || m.poolK > 1
      ? { text: ranges(m), hovertemplate: `%{text}<br>${pool} ${unit} %{z:.4g}<extra></extra>` }
      : { hovertemplate: `q %{y}<br>kv %{x}<br>${unit} %{z:.4g}<extra></extra>` }),
  });
  if (heads.length > 1) {
    const layout = gridLayout({ title: opts.title ?? `${what}${pooled}${masked}`, xTitle: "kv position", yTitle: "q position", n: heads.length, titles: heads.map((h) => `head ${h}`), reversedY: true });
    layout.coloraxis = colour;
    return { data: maps.map((m, i) => trace(m, axisKeys(i))), layout, config: { responsive: true } };
  }
  const layout = baseLayout({ title: opts.title ?? `${what} (b ${b}, h ${heads[0]})${pooled}${masked}`, xTitle: "kv position (tokens)", yTitle: "q position (tokens)", reversedY: true, width: 620, height: 560 });
  return { data: [trace(maps[0])], layout, config: { responsive: true } };
}
