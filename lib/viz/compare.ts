import { argError } from "../errors.js";
import { baseLayout, OKABE_ITO, type Figure } from "./figure.js";

type Row = Record<string, unknown>;

function rowsOf(op: string, t: unknown): Row[] {
  if (Array.isArray(t)) return t as Row[];
  const x = t as { objects?: () => Row[] };
  if (x && typeof x.objects === "function") return x.objects();
  return argError(op, "table", "an arquero table (from sl.compare) or an array of row objects", typeof t);
}

/**
 * Recall (attention mass kept) against density for each method of a `sl.compare` table.
 * Uses the table's element-density column (its name says the denominator).
 * @example
 * const w = sl.workloads.llmLike({ S: 2048, H: 2, D: 64, seed: 1 });
 * const t = await sl.compare({ moba: (q, k) => sl.dynamic.moba(q, k), aShape: (q, k) => sl.dynamic.aShape(q, k) }, w.q, w.k, w.v);
 * sl.viz.recallVsDensity(t)
 */
export function recallVsDensity(table: unknown, opts: { densityColumn?: string; title?: string } = {}): Figure {
  const op = "viz.recallVsDensity";
  const rows = rowsOf(op, table);
  if (rows.length === 0) argError(op, "table", "at least one row", "none");
  const col = opts.densityColumn ?? Object.keys(rows[0]).find((c) => c.startsWith("density_element_")) ?? Object.keys(rows[0]).find((c) => c.startsWith("density"));
  if (!col) argError(op, "densityColumn", "a density column in the table", Object.keys(rows[0]).join(", "));
  const data = rows.map((r, i) => ({
    type: "scatter",
    mode: "markers+text",
    name: String(r.method ?? `row ${i}`),
    x: [Number(r[col])],
    y: [Number(r.recall)],
    text: [String(r.method ?? "")],
    textposition: "top center",
    marker: { size: 11, color: OKABE_ITO[i % OKABE_ITO.length] },
    hovertemplate: `${String(r.method ?? "")}<br>${col} %{x:.4f}<br>recall %{y:.4f}<extra></extra>`,
  }));
  const layout = baseLayout({ title: opts.title ?? `Recall against density (${col.replace(/_/g, " ")})`, xTitle: `density (${col.replace("density_", "").replace("_", ", ")})`, yTitle: "recall (attention mass kept)" });
  (layout.yaxis as Record<string, unknown>).range = [0, 1.05];
  return { data, layout, config: { responsive: true } };
}

/** One benchmark point: a series label, the block density and the time; `peer` marks a peer's series. */
export interface TimeRow {
  label: string;
  density: number;
  ms: number;
  /** A peer (another library measured in the same run): drawn dashed with open markers. */
  peer?: boolean;
}

/**
 * Time against density, one series per label (ours solid, peers dashed), for benchmark results.
 * @example
 * sl.viz.timeVsDensity([{ label: "cpu", density: 0.05, ms: 3.1 }, { label: "cpu", density: 0.5, ms: 25 }, { label: "torch flex", density: 0.5, ms: 31, peer: true }])
 */
export function timeVsDensity(rows: TimeRow[], opts: { title?: string; logY?: boolean } = {}): Figure {
  const op = "viz.timeVsDensity";
  if (!Array.isArray(rows) || rows.length === 0) argError(op, "rows", "a non-empty array of { label, density, ms }", String(rows));
  rows.forEach((r, i) => {
    if (!r || typeof r.label !== "string" || !Number.isFinite(r.density) || !Number.isFinite(r.ms))
      argError(op, `rows[${i}]`, "{ label: string, density: number, ms: number, peer?: boolean }", JSON.stringify(r));
  });
  const labels = [...new Set(rows.map((r) => r.label))];
  const data = labels.map((l, i) => {
    const rs = rows.filter((r) => r.label === l).sort((a, b) => a.density - b.density);
    const peer = rs.some((r) => r.peer);
    const colour = OKABE_ITO[i % OKABE_ITO.length];
    return {
      type: "scatter",
      mode: "lines+markers",
      name: peer ? `${l} (peer)` : l,
      x: rs.map((r) => r.density),
      y: rs.map((r) => r.ms),
      marker: { color: colour, symbol: peer ? "circle-open" : "circle", size: 8 },
      line: { color: colour, dash: peer ? "dash" : "solid" },
      hovertemplate: `${l}${peer ? " (peer)" : ""}<br>density %{x:.4f}<br>%{y:.3f} ms<extra></extra>`,
    };
  });
  const layout = baseLayout({ title: opts.title ?? "Attention time against block density", xTitle: "block density (computed tiles / all tiles)", yTitle: "time (ms)" });
  if (opts.logY) (layout.yaxis as Record<string, unknown>).type = "log";
  return { data, layout, config: { responsive: true } };
}
