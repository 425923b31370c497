/**
 * Looking inside a tile when bounds do not decide it. Both helpers split the tile into quarters
 * and ask the mask's bounds again (a band's edge crosses few sub-tiles, so most quarters are
 * decided), and only evaluate elements in small leaves. Plain functions, which have no bounds,
 * are evaluated element by element.
 */
import { TILE_EMPTY, TILE_FULL, TILE_PARTIAL, type Mask, type TileClass } from "../../types.js";

/** Leaves at or below this many elements are evaluated directly. */
const LEAF = 256;

/** Exact class of the tile q in [q0, q1), kv in [kv0, kv1). */
export function classifyByElements(m: Mask, b: number, h: number, q0: number, q1: number, kv0: number, kv1: number): TileClass {
  const seen = { t: false, f: false };
  scan(m, b, h, q0, q1, kv0, kv1, seen, true);
  return seen.t ? (seen.f ? TILE_PARTIAL : TILE_FULL) : TILE_EMPTY;
}

/** Records in `seen` whether some element is true / false; stops as soon as both are. */
function scan(m: Mask, b: number, h: number, q0: number, q1: number, kv0: number, kv1: number, seen: { t: boolean; f: boolean }, top: boolean): void {
  if (seen.t && seen.f) return;
  const hasBounds = typeof m.classifyTile === "function";
  if (hasBounds && !top) {
    const c = m.classifyTile!(b, h, q0, q1, kv0, kv1);
    if (c === TILE_EMPTY) {
      seen.f = true;
      return;
    }
    if (c === TILE_FULL) {
      seen.t = true;
      return;
    }
    if (c === TILE_PARTIAL) {
      seen.t = seen.f = true;
      return;
    }
  }
  const n = (q1 - q0) * (kv1 - kv0);
  if (!hasBounds || n <= LEAF) {
    for (let q = q0; q < q1; q++)
      for (let kv = kv0; kv < kv1; kv++) {
        if (m.at(b, h, q, kv)) seen.t = true;
        else seen.f = true;
        if (seen.t && seen.f) return;
      }
    return;
  }
  const [a, c] = split(q0, q1, kv0, kv1);
  scan(m, b, h, a[0], a[1], a[2], a[3], seen, false);
  scan(m, b, h, c[0], c[1], c[2], c[3], seen, false);
}

/** Splits the longer side in two. */
function split(q0: number, q1: number, kv0: number, kv1: number): [number[], number[]] {
  if (q1 - q0 >= kv1 - kv0) {
    const m = (q0 + q1) >> 1;
    return [
      [q0, m, kv0, kv1],
      [m, q1, kv0, kv1],
    ];
  }
  const m = (kv0 + kv1) >> 1;
  return [
    [q0, q1, kv0, m],
    [q0, q1, m, kv1],
  ];
}

/** Number of true elements in the tile, using bounds to count whole sub-tiles at once. */
export function countTrue(m: Mask, b: number, h: number, q0: number, q1: number, kv0: number, kv1: number): number {
  const n = (q1 - q0) * (kv1 - kv0);
  if (n === 0) return 0;
  const hasBounds = typeof m.classifyTile === "function";
  if (hasBounds) {
    const c = m.classifyTile!(b, h, q0, q1, kv0, kv1);
    if (c === TILE_EMPTY) return 0;
    if (c === TILE_FULL) return n;
  }
  if (!hasBounds || n <= LEAF) {
    let k = 0;
    for (let q = q0; q < q1; q++) for (let kv = kv0; kv < kv1; kv++) if (m.at(b, h, q, kv)) k++;
    return k;
  }
  const [a, c] = split(q0, q1, kv0, kv1);
  return countTrue(m, b, h, a[0], a[1], a[2], a[3]) + countTrue(m, b, h, c[0], c[1], c[2], c[3]);
}

/**
 * Classes of every tile of one (b, h): Uint8Array [qBlocks * kvBlocks] (0 empty, 1 partial,
 * 2 full). Ranges of tiles are classified together first (a quadtree over the tile grid), so a
 * sliding window at 131072 tokens costs a few thousand bound checks, not a million.
 */
export function classifyGrid(
  m: Mask,
  b: number,
  h: number,
  qLen: number,
  kvLen: number,
  qbs: number,
  kvbs: number,
): Uint8Array {
  const nq = Math.ceil(qLen / qbs), nk = Math.ceil(kvLen / kvbs);
  const out = new Uint8Array(nq * nk);
  const bounds = typeof m.classifyTile === "function";
  const tile = (i: number, j: number): TileClass => {
    const q0 = i * qbs, q1 = Math.min(q0 + qbs, qLen), kv0 = j * kvbs, kv1 = Math.min(kv0 + kvbs, kvLen);
    const c = bounds ? m.classifyTile!(b, h, q0, q1, kv0, kv1) : undefined;
    return c ?? classifyByElements(m, b, h, q0, q1, kv0, kv1);
  };
  if (!bounds) {
    for (let i = 0; i < nq; i++) for (let j = 0; j < nk; j++) out[i * nk + j] = tile(i, j);
    return out;
  }
  const rec = (i0: number, i1: number, j0: number, j1: number): void => {
    if (i1 - i0 === 1 && j1 - j0 === 1) {
      out[i0 * nk + j0] = tile(i0, j0);
      return;
    }
    const c = m.classifyTile!(b, h, i0 * qbs, Math.min(i1 * qbs, qLen), j0 * kvbs, Math.min(j1 * kvbs, kvLen));
    if (c === TILE_EMPTY) return; // already 0
    if (c === TILE_FULL) {
      for (let i = i0; i < i1; i++) out.fill(TILE_FULL, i * nk + j0, i * nk + j1);
      return;
    }
    if (i1 - i0 >= j1 - j0) {
      const mid = (i0 + i1) >> 1;
      rec(i0, mid, j0, j1);
      rec(mid, i1, j0, j1);
    } else {
      const mid = (j0 + j1) >> 1;
      rec(i0, i1, j0, mid);
      rec(i0, i1, mid, j1);
    }
  };
  rec(0, nq, 0, nk);
  return out;
}
