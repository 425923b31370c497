/** Text and HTML pictures of a tile grid: '█' full, '░' partial, '·' empty. */
import { TILE_EMPTY, TILE_FULL } from "../../types.js";

export interface GridPicture {
  lines: string[];
  /** Tiles per character along each side (1 = one character per tile). */
  group: number;
}

/**
 * Draws classes [nq * nk] as text. Grids wider than `maxCols` or taller than `maxRows` are drawn
 * coarser: one character per group x group tiles, '█' if all full, '·' if all empty, else '░'.
 */
export function drawGrid(classes: Uint8Array, nq: number, nk: number, maxCols = 64, maxRows = 48): GridPicture {
  const group = Math.max(1, Math.ceil(nk / maxCols), Math.ceil(nq / maxRows));
  const lines: string[] = [];
  for (let gi = 0; gi < nq; gi += group) {
    let line = "";
    for (let gj = 0; gj < nk; gj += group) {
      let full = true, empty = true;
      for (let i = gi; i < Math.min(gi + group, nq); i++)
        for (let j = gj; j < Math.min(gj + group, nk); j++) {
          const c = classes[i * nk + j];
          if (c !== TILE_FULL) full = false;
          if (c !== TILE_EMPTY) empty = false;
        }
      line += full ? "█" : empty ? "·" : "░";
    }
    lines.push(line);
  }
  return { lines, group };
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
