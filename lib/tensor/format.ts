import type { MimeBundle } from "../display.js";
import type { DType, Storage } from "./dtype.js";
import { toFloat32 } from "./tensor.js";

/*
 * Text and HTML renderings of a tensor for notebooks: numpy-like nested brackets with the
 * middle of long axes elided, and a small table for 1-D/2-D.
 */

/** Axes longer than 2 * EDGE + 1 show their first and last EDGE entries around "...". */
const EDGE = 3;
/** Tables show at most this many rows and columns (the middle elided). */
const TABLE_MAX = 12;

type Fmt = (v: number) => string;

function special(v: number): string | null {
  if (v !== v) return "nan";
  if (v === Infinity) return "inf";
  if (v === -Infinity) return "-inf";
  return null;
}

/**
 * Picks one notation for all shown values, as numpy does: integers as "3.", moderate
 * magnitudes with 4 decimals, otherwise scientific with 4 digits.
 */
function chooseFmt(shown: number[], isInt: boolean): Fmt {
  if (isInt) return (v) => String(v);
  const finite = shown.filter((v) => Number.isFinite(v));
  const maxAbs = finite.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const minAbs = finite.reduce((m, v) => (v !== 0 ? Math.min(m, Math.abs(v)) : m), Infinity);
  if (finite.every((v) => Number.isInteger(v)) && maxAbs < 1e16) return (v) => special(v) ?? `${Object.is(v, -0) ? "-0" : v}.`;
  if (maxAbs < 1e5 && (minAbs >= 1e-4 || minAbs === Infinity)) return (v) => special(v) ?? v.toFixed(4);
  return (v) => special(v) ?? v.toExponential(4);
}

function wide(data: Storage, dtype: DType): ArrayLike<number> {
  return dtype === "f16" || dtype === "bf16" ? toFloat32(data, dtype) : data;
}

/** Indices shown along an axis of length n: all, or the edges with -1 marking the gap. */
function shownIndices(n: number, edge: number): number[] {
  if (n <= 2 * edge + 1) return Array.from({ length: n }, (_, i) => i);
  return [...Array.from({ length: edge }, (_, i) => i), -1, ...Array.from({ length: edge }, (_, i) => n - edge + i)];
}

/** numpy-style nested text of the values, long axes elided. */
export function formatValues(shape: readonly number[], dtype: DType, data: Storage): string {
  const v = wide(data, dtype);
  const isInt = dtype === "i32" || dtype === "u8" || dtype === "bool";
  if (shape.length === 0) return chooseFmt([v[0]], isInt)(v[0]);
  const strides: number[] = [];
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = acc;
    acc *= shape[i];
  }
  // One notation and one width for every shown number, so columns line up.
  const shown: number[] = [];
  const collect = (dim: number, off: number): void => {
    for (const i of shownIndices(shape[dim], EDGE)) {
      if (i < 0) continue;
      if (dim === shape.length - 1) shown.push(v[off + i]);
      else collect(dim + 1, off + i * strides[dim]);
    }
  };
  collect(0, 0);
  const fmtNum = chooseFmt(shown, isInt);
  const width = shown.reduce((w, x) => Math.max(w, fmtNum(x).length), 1);
  const render = (dim: number, off: number, indent: string): string => {
    const idx = shownIndices(shape[dim], EDGE);
    if (dim === shape.length - 1) return "[" + idx.map((i) => (i < 0 ? "..." : fmtNum(v[off + i]).padStart(width))).join(", ") + "]";
    const sep = ",\n" + "\n".repeat(shape.length - dim - 2) + indent + " ";
    return "[" + idx.map((i) => (i < 0 ? "..." : render(dim + 1, off + i * strides[dim], indent + " "))).join(sep) + "]";
  };
  return render(0, 0, "");
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A small HTML table for 1-D (one row) and 2-D tensors, middle rows/columns elided. */
export function formatHtml(header: string, shape: readonly number[], dtype: DType, data: Storage): string {
  const v = wide(data, dtype);
  const isInt = dtype === "i32" || dtype === "u8" || dtype === "bool";
  const [rows, cols] = shape.length === 1 ? [1, shape[0]] : [shape[0], shape[1]];
  const half = TABLE_MAX / 2;
  const ri = shownIndices(rows, half);
  const ci = shownIndices(cols, half);
  const shown: number[] = [];
  for (const r of ri) for (const c of ci) if (r >= 0 && c >= 0) shown.push(v[r * cols + c]);
  const fmtNum = chooseFmt(shown, isInt);
  const th = "padding:2px 6px;text-align:right;color:#888;font-weight:normal";
  const td = "padding:2px 6px;text-align:right;font-family:monospace";
  let h = `<div class="sparselab-tensor"><div style="font-family:monospace">${esc(header)}</div><table style="border-collapse:collapse">`;
  h += `<tr><th style="${th}"></th>` + ci.map((c) => `<th style="${th}">${c < 0 ? "…" : c}</th>`).join("") + "</tr>";
  for (const r of ri) {
    h += `<tr><th style="${th}">${r < 0 ? "⋮" : shape.length === 1 ? "" : r}</th>`;
    h += ci.map((c) => `<td style="${td}">${r < 0 || c < 0 ? "…" : esc(fmtNum(v[r * cols + c]))}</td>`).join("") + "</tr>";
  }
  return h + "</table></div>";
}

/** The MIME bundle a tensor displays as: text/plain always, text/html for 1-D and 2-D. */
export function tensorBundle(header: string, shape: readonly number[], dtype: DType, data: Storage): MimeBundle {
  const text = `${header}\n${formatValues(shape, dtype, data)}`;
  const bundle: MimeBundle = { "text/plain": text };
  if ((shape.length === 1 || shape.length === 2) && shape.every((d) => d > 0)) bundle["text/html"] = formatHtml(header, shape, dtype, data);
  return bundle;
}
