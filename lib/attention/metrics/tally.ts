import type { BlockMaskFields } from "../block-mask.js";

/** What a block mask keeps, counted over its own [B, H] rows (before any broadcast). */
export interface BlockMaskTally {
  /** Tiles computed (partial + full), wherever they are. */
  tiles: number;
  /** All tiles; with `causal`, the tiles that touch the lower triangle. */
  totalTiles: number;
  /** Attended (q, kv) pairs: full tiles whole, partial tiles where the mask says yes. NaN when not counted. */
  elements: number;
  /** Elements inside computed tiles (what a tile kernel does work for). */
  computedElements: number;
  /** B·H·qLen·kvLen, or with `causal` the pairs with q >= kv. */
  totalElements: number;
}

/**
 * Counts tiles and (optionally, exactly, by evaluating the mask inside partial tiles) elements
 * of a block mask. `causal` changes only the totals (the denominators), as BlockMask.density
 * does: the numerators count everything the mask keeps, so a non-causal mask can exceed 1.
 * "Causal" means top-left aligned, q >= kv with both counted from 0, as FlexAttention's causal
 * mask.
 * @example
 * const bm = sl.createBlockMask(sl.masks.causal(), { qLen: 1000, kvLen: 1000 });
 * sl.metrics.tallyBlockMask(bm, { causal: true, elements: true });  // { tiles: 36, totalTiles: 36, elements: 500500, ... }
 */
export function tallyBlockMask(bm: BlockMaskFields, opts: { causal: boolean; elements: boolean }): BlockMaskTally {
  const { B, H, qLen, kvLen, qBlockSize: qbs, kvBlockSize: kbs } = bm;
  const qBlocks = Math.ceil(qLen / qbs);
  const kvBlocks = Math.ceil(kvLen / kbs);
  const num = bm.kvNumBlocks.data as Int32Array;
  const idx = bm.kvIndices.data as Int32Array;
  const fnum = bm.fullKvNumBlocks.data as Int32Array;
  const fidx = bm.fullKvIndices.data as Int32Array;
  const causal = opts.causal;

  // Pairs with q >= kv inside the tile [q0, q1) x [kv0, kv1).
  const causalArea = (q0: number, q1: number, kv0: number, kv1: number): number => {
    let n = 0;
    for (let q = q0; q < q1; q++) n += Math.max(0, Math.min(kv1, q + 1) - kv0);
    return n;
  };
  const touchesCausal = (q1: number, kv0: number): boolean => kv0 <= q1 - 1;

  let totalTilesPerRow = 0;
  let totalElementsPerHead = 0;
  for (let qb = 0; qb < qBlocks; qb++) {
    const q1 = Math.min(qLen, (qb + 1) * qbs);
    for (let kb = 0; kb < kvBlocks; kb++) if (!causal || touchesCausal(q1, kb * kbs)) totalTilesPerRow++;
  }
  totalElementsPerHead = causal ? causalArea(0, qLen, 0, kvLen) : qLen * kvLen;

  let tiles = 0;
  let elements = 0;
  let computed = 0;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let qb = 0; qb < qBlocks; qb++) {
        const row = (b * H + h) * qBlocks + qb;
        const q0 = qb * qbs;
        const q1 = Math.min(qLen, q0 + qbs);
        const np = num[row];
        const nf = fnum[row];
        for (let j = 0; j < np + nf; j++) {
          const isPartial = j < np;
          const kb = isPartial ? idx[row * kvBlocks + j] : fidx[row * kvBlocks + (j - np)];
          const kv0 = kb * kbs;
          const kv1 = Math.min(kvLen, kv0 + kbs);
          tiles++;
          const area = (q1 - q0) * (kv1 - kv0);
          computed += area;
          if (!opts.elements) continue;
          if (!isPartial) {
            elements += area;
            continue;
          }
          const mask = bm.mask!;
          for (let q = q0; q < q1; q++) for (let kv = kv0; kv < kv1; kv++) if (mask.at(b, h, q, kv)) elements++;
        }
      }
    }
  }
  return {
    tiles,
    totalTiles: totalTilesPerRow * B * H,
    elements: opts.elements ? elements : NaN,
    computedElements: computed,
    totalElements: totalElementsPerHead * B * H,
  };
}
