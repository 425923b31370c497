/**
 * Offline HTML for plotly figures: plotly.js (from plotly.js-dist-min) is inlined the first
 * time a page needs it, later figures reuse window.Plotly.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { randomUUID } from "node:crypto";

let source: string | undefined;

/** The minified plotly.js source, read once. */
export function plotlySource(): string {
  if (source === undefined) {
    const req = createRequire(import.meta.url);
    source = readFileSync(req.resolve("plotly.js-dist-min"), "utf8");
  }
  return source;
}

/** Script text safe to inline inside <script> (no early "</script"). */
export function scriptSafe(js: string): string {
  return js.replace(/<\/script/gi, "<\\/script");
}

export interface PlotlyFigure {
  data: unknown[];
  layout?: Record<string, unknown>;
  config?: Record<string, unknown>;
}

/**
 * A div and a script that draws `fig`; with `inlineLibrary` the script tag carrying plotly.js
 * comes first.
 */
export function plotlyFigureHtml(fig: PlotlyFigure, inlineLibrary: boolean): string {
  const id = `sl-plot-${randomUUID()}`;
  const json = scriptSafe(JSON.stringify({ data: fig.data, layout: fig.layout ?? {}, config: { responsive: true, ...(fig.config ?? {}) } }));
  const lib = inlineLibrary ? `<script type="text/javascript">${scriptSafe(plotlySource())}</script>\n` : "";
  return (
    lib +
    `<div id="${id}" class="sparselab-plotly" style="width:100%;min-height:360px"></div>\n` +
    `<script type="text/javascript">(function(){var f=${json};` +
    `function draw(){window.Plotly.newPlot(${JSON.stringify(id)},f.data,f.layout,f.config);}` +
    `if(window.Plotly)draw();else{var n=0,t=setInterval(function(){if(window.Plotly){clearInterval(t);draw();}else if(++n>200){clearInterval(t);` +
    `document.getElementById(${JSON.stringify(id)}).textContent="plotly.js is not loaded: re-run the first cell that drew a figure";}},50);}})();</script>`
  );
}
