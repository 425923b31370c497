/**
 * Value -> MIME bundle, by an ordered list of duck-typed formatters (Deno's kernel does the
 * same): the Jupyter.display symbol first, then arquero tables, plotly figure specs, and
 * util.inspect text for everything.
 */
import { inspect } from "node:util";
import { DISPLAY, isDisplayable, type MimeBundle } from "../../lib/display.js";
import { plotlyFigureHtml, type PlotlyFigure } from "./plotly-html.js";

/** text/plain longer than this is cut, with a notice. */
export const MAX_TEXT_CHARS = 100_000;

/** Rows of an arquero table shown per page of the HTML output. */
export const TABLE_PAGE_ROWS = 100;

export function truncateText(s: string, max = MAX_TEXT_CHARS): string {
  return s.length <= max ? s : `${s.slice(0, max)}\n[sparselab: output truncated: ${s.length} characters, showing the first ${max}]`;
}

/** Text without ANSI colour codes (text/plain must carry none). */
export function inspectPlain(x: unknown): string {
  return truncateText(inspect(x, { colors: false, depth: 4, maxArrayLength: 100, maxStringLength: 10_000, breakLength: 100 }));
}

/** A plotly figure spec: {data: [trace objects...], layout?}. */
export function isPlotlyFigure(x: unknown): x is PlotlyFigure {
  if (typeof x !== "object" || x === null) return false;
  const f = x as Record<string, unknown>;
  if (!Array.isArray(f.data) || (f.layout !== undefined && (typeof f.layout !== "object" || f.layout === null))) return false;
  if (f.data.length === 0) return f.layout !== undefined;
  return f.data.every((t) => typeof t === "object" && t !== null && !Array.isArray(t) && ["type", "x", "y", "z", "values"].some((k) => k in t));
}

interface ArqueroLike {
  numRows(): number;
  numCols(): number;
  columnNames(): string[];
  toHTML(opts?: { limit?: number }): string;
  toMarkdown?(opts?: { limit?: number }): string;
}

export function isArqueroTable(x: unknown): x is ArqueroLike {
  const t = x as ArqueroLike;
  return typeof x === "object" && x !== null && typeof t.numRows === "function" && typeof t.columnNames === "function" && typeof t.toHTML === "function";
}

/** Per-session state the formatters need: whether plotly.js was already sent to this page. */
export class FormatState {
  plotlyInlined = false;
}

/** Bundle for an arquero table: the first page as HTML, and a markdown text fallback. */
export function tableBundle(t: ArqueroLike): MimeBundle {
  const n = t.numRows();
  const shown = Math.min(n, TABLE_PAGE_ROWS);
  const note = n > shown ? `<p style="font-size:smaller">rows 1–${shown} of ${n} (${t.numCols()} columns)</p>` : `<p style="font-size:smaller">${n} rows × ${t.numCols()} columns</p>`;
  const text = (t.toMarkdown ? t.toMarkdown({ limit: 20 }) : t.columnNames().join(" | ")) + (n > 20 ? `\n(${n} rows; first 20 shown)` : "");
  return { "text/html": t.toHTML({ limit: TABLE_PAGE_ROWS }) + note, "text/plain": truncateText(text) };
}

/** Bundle for a plotly figure: plotly JSON, offline HTML (plotly.js inlined once), text. */
export function plotlyBundle(fig: PlotlyFigure, state: FormatState): MimeBundle {
  const html = plotlyFigureHtml(fig, !state.plotlyInlined);
  state.plotlyInlined = true;
  const kinds = [...new Set(fig.data.map((t) => String((t as { type?: string }).type ?? "scatter")))].join(", ");
  const title = (fig.layout as { title?: unknown } | undefined)?.title;
  const titleText = typeof title === "string" ? title : typeof (title as { text?: unknown })?.text === "string" ? (title as { text: string }).text : "";
  return {
    "application/vnd.plotly.v1+json": { data: fig.data, layout: fig.layout ?? {}, ...(fig.config ? { config: fig.config } : {}) },
    "text/html": html,
    "text/plain": `Plotly figure${titleText ? ` "${titleText}"` : ""}: ${fig.data.length} trace(s) (${kinds || "none"})`,
  };
}

/**
 * The MIME bundle a value displays as: synchronously when its display method is synchronous
 * (the common case: no reordering of output), else a Promise.
 */
export function formatNow(x: unknown, state: FormatState): MimeBundle | Promise<MimeBundle> {
  if (isDisplayable(x)) {
    const finish = (raw: MimeBundle): MimeBundle => {
      const b: MimeBundle = { ...raw };
      if (isPlotlyFigure(b["application/vnd.plotly.v1+json"]) && !("text/html" in b)) Object.assign(b, { ...plotlyBundle(b["application/vnd.plotly.v1+json"] as PlotlyFigure, state), ...b });
      if (!("text/plain" in b)) b["text/plain"] = inspectPlain(x);
      return b;
    };
    const r = x[DISPLAY]() as MimeBundle | Promise<MimeBundle>;
    return r && typeof (r as Promise<MimeBundle>).then === "function" ? (r as Promise<MimeBundle>).then(finish) : finish(r as MimeBundle);
  }
  if (isArqueroTable(x)) return tableBundle(x);
  if (isPlotlyFigure(x)) return plotlyBundle(x, state);
  return { "text/plain": inspectPlain(x) };
}

/** The MIME bundle a value displays as. */
export async function formatValue(x: unknown, state: FormatState): Promise<MimeBundle> {
  return formatNow(x, state);
}
