/**
 * A static, offline HTML page of an executed notebook: markdown rendered, code shown, outputs
 * by richest MIME type; plotly figures drawn from their JSON with plotly.js inlined once.
 */
import { escapeHtml, renderMarkdown } from "./markdown.js";
import { cellSource, type Notebook, type NbOutput } from "./notebook.js";
import { plotlyFigureHtml, plotlySource, scriptSafe, type PlotlyFigure } from "../display/plotly-html.js";

const ANSI = /\u001b\[[0-9;]*m/g;

function text(v: unknown): string {
  return Array.isArray(v) ? v.join("") : String(v ?? "");
}

function outputHtml(o: NbOutput, widgetState: Record<string, any>): string {
  if (o.output_type === "stream") return `<pre class="stream ${o.name}">${escapeHtml(text(o.text))}</pre>`;
  if (o.output_type === "error") return `<pre class="error">${escapeHtml(text(o.traceback?.join("\n") ?? `${o.ename}: ${o.evalue}`).replace(ANSI, ""))}</pre>`;
  const d = o.data ?? {};
  if (d["application/vnd.plotly.v1+json"]) return plotlyFigureHtml(d["application/vnd.plotly.v1+json"] as PlotlyFigure, false);
  if (d["application/vnd.jupyter.widget-view+json"]) {
    const id = d["application/vnd.jupyter.widget-view+json"].model_id;
    const st = widgetState[id]?.state ?? {};
    const desc = st.description ? `${escapeHtml(String(st.description))} ` : "";
    const value = "value" in st ? escapeHtml(JSON.stringify(st.value)) : "";
    return `<div class="widget">[widget ${escapeHtml(String(widgetState[id]?.model_name ?? ""))}] ${desc}${value}</div>`;
  }
  if (d["text/html"]) return `<div class="html">${text(d["text/html"])}</div>`;
  if (d["image/svg+xml"]) return `<div class="svg">${text(d["image/svg+xml"])}</div>`;
  if (d["image/png"]) return `<img src="data:image/png;base64,${text(d["image/png"]).trim()}">`;
  if (d["image/jpeg"]) return `<img src="data:image/jpeg;base64,${text(d["image/jpeg"]).trim()}">`;
  if (d["text/markdown"]) return `<div class="md">${renderMarkdown(text(d["text/markdown"]))}</div>`;
  if (d["application/json"]) return `<pre class="json">${escapeHtml(JSON.stringify(d["application/json"], null, 2))}</pre>`;
  if (d["text/plain"] !== undefined) return `<pre class="text">${escapeHtml(text(d["text/plain"]))}</pre>`;
  return "";
}

const STYLE = `body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
.cell{margin:1.2em 0}.code pre{background:#f5f7fa;border-left:3px solid #3178c6;padding:.6em;overflow:auto}
.prompt{color:#888;font:12px monospace}.outputs pre{margin:.3em 0;padding:.4em;overflow:auto}
pre.error{background:#fdecea;color:#a00}pre.stderr{background:#fff6e5}table{border-collapse:collapse}
td,th{border:1px solid #ddd;padding:2px 6px}.widget{border:1px dashed #aaa;padding:.4em;color:#555}`;

/** The page for an executed notebook. */
export function notebookHtml(nb: Notebook, title: string): string {
  const widgetState = (nb.metadata.widgets?.["application/vnd.jupyter.widget-state+json"]?.state ?? {}) as Record<string, any>;
  const body: string[] = [];
  let needsPlotly = false;
  for (const cell of nb.cells) {
    const src = cellSource(cell);
    if (cell.cell_type === "markdown") body.push(`<div class="cell md">${renderMarkdown(src)}</div>`);
    else if (cell.cell_type === "code") {
      const outs = (cell.outputs ?? []).map((o) => {
        if (o.data?.["application/vnd.plotly.v1+json"]) needsPlotly = true;
        return outputHtml(o, widgetState);
      });
      body.push(
        `<div class="cell code"><div class="prompt">[${cell.execution_count ?? " "}]:</div><pre><code>${escapeHtml(src)}</code></pre><div class="outputs">${outs.join("\n")}</div></div>`,
      );
    }
  }
  const lib = needsPlotly ? `<script type="text/javascript">${scriptSafe(plotlySource())}</script>` : "";
  return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${STYLE}</style>${lib}</head>\n<body>\n${body.join("\n")}\n</body></html>\n`;
}
