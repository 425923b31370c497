/**
 * Shared pieces of the figure functions: the plotly spec type, colour-blind-safe palettes and a
 * base layout. Every view in lib/viz is a pure function from data to a spec; the kernel shows a
 * spec as application/vnd.plotly.v1+json with an offline HTML fallback.
 */

/** A plotly figure spec. */
export interface Figure {
  data: Record<string, unknown>[];
  layout: Record<string, unknown>;
  config?: Record<string, unknown>;
}

/** Okabe-Ito: eight colours distinguishable under the common colour-vision deficiencies. */
export const OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"] as const;

/** Tile classes: empty light grey, partial orange, full blue (Okabe-Ito orange and blue). */
export const TILE_COLOURS = { empty: "#EDEDED", partial: "#E69F00", full: "#0072B2" } as const;

/** Continuous scales that stay readable for colour-blind readers and in greyscale. */
export const SEQUENTIAL = "Viridis";
export const SEQUENTIAL_ALT = "Cividis";

export interface LayoutOptions {
  title: string;
  xTitle?: string;
  yTitle?: string;
  width?: number;
  height?: number;
  /** Put y = 0 at the top (matrices: row 0 first). */
  reversedY?: boolean;
}

export function baseLayout(o: LayoutOptions): Record<string, unknown> {
  return {
    title: { text: o.title, font: { size: 14 } },
    width: o.width ?? 640,
    height: o.height ?? 480,
    // A two-line title (a <br><sub> line) needs more room above the plot.
    margin: { l: 70, r: 30, t: o.title.includes("<br>") ? 90 : 60, b: 60 },
    xaxis: { title: { text: o.xTitle ?? "" } },
    yaxis: { title: { text: o.yTitle ?? "" }, autorange: o.reversedY ? "reversed" : true },
    font: { family: "sans-serif", size: 12 },
  };
}

/** Axis keys of subplot i (0-based) in a grid: "x", "y" for the first, then "x2", "y2", ... */
export function axisKeys(i: number): { x: string; y: string; xa: string; ya: string } {
  const n = i === 0 ? "" : String(i + 1);
  return { x: `x${n}`, y: `y${n}`, xa: `xaxis${n}`, ya: `yaxis${n}` };
}

/** A rows x cols subplot grid layout (independent axes), `titles` over each panel. */
export function gridLayout(o: LayoutOptions & { n: number; cols?: number; titles: string[] }): Record<string, unknown> {
  const cols = Math.min(o.n, o.cols ?? Math.ceil(Math.sqrt(o.n)));
  const rows = Math.ceil(o.n / cols);
  const layout = baseLayout({ ...o, width: o.width ?? Math.min(1100, 280 * cols + 120), height: o.height ?? 260 * rows + 100 });
  layout.grid = { rows, columns: cols, pattern: "independent" };
  const annotations: Record<string, unknown>[] = [];
  for (let i = 0; i < o.n; i++) {
    const k = axisKeys(i);
    layout[k.xa] = { title: { text: i >= o.n - cols ? (o.xTitle ?? "") : "" } };
    layout[k.ya] = { title: { text: i % cols === 0 ? (o.yTitle ?? "") : "" }, autorange: o.reversedY ? "reversed" : true };
    annotations.push({ text: o.titles[i], xref: `${k.x} domain`, yref: `${k.y} domain`, x: 0.5, y: 1.08, showarrow: false, font: { size: 12 } });
  }
  layout.annotations = annotations;
  return layout;
}

/** Formats a fraction as a percentage with sensible precision. */
export function pct(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const p = x * 100;
  return `${p >= 10 ? p.toFixed(1) : p >= 1 ? p.toFixed(2) : p.toPrecision(2)}%`;
}
