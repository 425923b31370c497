import { argError } from "../errors.js";
import type { BlockMask } from "../attention/block-mask.js";
import { axisKeys, baseLayout, gridLayout, pct, TILE_COLOURS, type Figure } from "./figure.js";

export interface BlockMaskViewOptions {
  /** Batch index (default 0). */
  b?: number;
  /** Head index (default 0); ignored when `heads` is given. */
  h?: number;
  /** Several heads side by side (small multiples). */
  heads?: number[];
  /** Grids larger than this many tiles per side are pooled (a cell shows its busiest tile). Default 256. */
  maxCells?: number;
  title?: string;
}

const CLASS_NAMES = ["empty", "partial", "full"];

/** Tile classes of one (b, h) as rows, pooled to at most maxCells per side by taking the max class. */
function classGrid(bm: BlockMask, b: number, h: number, maxCells: number): { z: number[][]; pool: number } {
  const dense = bm.toDense();
  const [B, H, nq, nk] = dense.shape;
  const cls = dense.data as Uint8Array;
  const bb = B === 1 ? 0 : b, hh = H === 1 ? 0 : h;
  const pool = Math.max(1, Math.ceil(Math.max(nq, nk) / maxCells));
  const rq = Math.ceil(nq / pool), rk = Math.ceil(nk / pool);
  const z: number[][] = Array.from({ length: rq }, () => new Array<number>(rk).fill(0));
  const base = (bb * H + hh) * nq * nk;
  for (let i = 0; i < nq; i++)
    for (let j = 0; j < nk; j++) {
      const c = cls[base + i * nk + j];
      const row = z[Math.floor(i / pool)];
      const col = Math.floor(j / pool);
      if (c > row[col]) row[col] = c;
    }
  return { z, pool };
}

function heatmapTrace(bm: BlockMask, z: number[][], pool: number, axes?: { x: string; y: string }): Record<string, unknown> {
  const qbs = bm.qBlockSize * pool, kvbs = bm.kvBlockSize * pool;
  const text = z.map((row, i) => row.map((c, j) => `q ${i * qbs}–${Math.min(bm.qLen, (i + 1) * qbs) - 1}<br>kv ${j * kvbs}–${Math.min(bm.kvLen, (j + 1) * kvbs) - 1}<br>${CLASS_NAMES[c]}`));
  return {
    type: "heatmap",
    z,
    // Cell edges in tokens (n + 1 of them), so each cell spans exactly its tiles' positions.
    x: [...(z[0]?.map((_, j) => j * kvbs) ?? []), Math.min(bm.kvLen, (z[0]?.length ?? 0) * kvbs)],
    y: [...z.map((_, i) => i * qbs), Math.min(bm.qLen, z.length * qbs)],
    text,
    hoverinfo: "text",
    zmin: 0,
    zmax: 2,
    // Three flat bands so each class keeps its own colour.
    colorscale: [
      [0, TILE_COLOURS.empty], [0.333, TILE_COLOURS.empty],
      [0.333, TILE_COLOURS.partial], [0.667, TILE_COLOURS.partial],
      [0.667, TILE_COLOURS.full], [1, TILE_COLOURS.full],
    ],
    // One legend for all panels: zmin/zmax fix the bands, so every panel reads the same.
    ...(!axes || axes.x === "x" ? { colorbar: { tickvals: [0.33, 1, 1.67], ticktext: ["empty", "partial", "full"], title: { text: "tile" } } } : { showscale: false }),
    xgap: pool === 1 && z[0] && z[0].length <= 64 ? 1 : 0,
    ygap: pool === 1 && z.length <= 64 ? 1 : 0,
    ...(axes ? { xaxis: axes.x, yaxis: axes.y } : {}),
  };
}

/**
 * The block mask as a grid of tiles: full (blue), partial (orange, the mask is evaluated inside),
 * empty (grey, skipped). The title gives the block density with its definition.
 * @example
 * const bm = sl.createBlockMask(sl.masks.slidingWindow(256), { qLen: 4096, kvLen: 4096 });
 * sl.viz.blockMaskView(bm)
 */
export function blockMaskView(bm: BlockMask, opts: BlockMaskViewOptions = {}): Figure {
  const op = "viz.blockMaskView";
  if (!bm || typeof (bm as BlockMask).toDense !== "function") argError(op, "bm", "a BlockMask", typeof bm);
  const maxCells = opts.maxCells ?? 256;
  const b = opts.b ?? 0;
  const name = bm.mask?.name ?? "block mask";
  const dFull = bm.density({ level: "block", denominator: "full" });
  const dens = `block density ${pct(dFull)} (computed tiles / all tiles)`;
  const sizes = `${bm.qLen}×${bm.kvLen}, blocks ${bm.qBlockSize}×${bm.kvBlockSize}`;
  if (!Number.isInteger(b) || b < 0 || (b >= bm.B && bm.B !== 1)) argError(op, "b", `a batch index in [0, ${bm.B})`, String(b));
  const heads = opts.heads;
  for (const h of heads ?? [opts.h ?? 0])
    if (!Number.isInteger(h) || h < 0 || (h >= bm.H && bm.H !== 1)) argError(op, "h", `a head index in [0, ${bm.H})${bm.H === 1 ? " (or any head: H = 1 broadcasts)" : ""}`, String(h));
  if (!Number.isInteger(maxCells) || maxCells < 1) argError(op, "maxCells", "a positive integer", String(opts.maxCells));
  if (heads && heads.length > 1) {
    const titles = heads.map((h) => `head ${h}`);
    const layout = gridLayout({ title: opts.title ?? `${name}: ${dens}<br><sub>${sizes}</sub>`, xTitle: "kv position", yTitle: "q position", n: heads.length, titles, reversedY: true });
    const data = heads.map((h, i) => {
      const { z, pool } = classGrid(bm, b, h, maxCells);
      return heatmapTrace(bm, z, pool, axisKeys(i));
    });
    return { data, layout, config: { responsive: true } };
  }
  const h = heads?.[0] ?? opts.h ?? 0;
  const { z, pool } = classGrid(bm, b, h, maxCells);
  const pooled = pool > 1 ? `, pooled ${pool}×${pool} tiles per cell (max class)` : "";
  const layout = baseLayout({
    title: opts.title ?? `${name} (b ${b}, h ${h}): ${dens}<br><sub>${sizes}${pooled}</sub>`,
    xTitle: "kv position (tokens)",
    yTitle: "q position (tokens)",
    reversedY: true,
    width: 620,
    height: 560,
  });
  return { data: [heatmapTrace(bm, z, pool)], layout, config: { responsive: true } };
}
