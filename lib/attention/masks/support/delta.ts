/**
 * Tile bounds for masks that depend only on d = q - kv. Over a tile q in [q0, q1), kv in
 * [kv0, kv1) every integer d in [q0 - kv1 + 1, q1 - 1 - kv0] occurs, so for these masks the
 * classification is exact: knowing which d values pass decides empty / full / partial.
 */
import { TILE_EMPTY, TILE_FULL, TILE_PARTIAL, type TileClass } from "../../types.js";

export function dMin(q0: number, kv1: number): number {
  return q0 - kv1 + 1;
}
export function dMax(q1: number, kv0: number): number {
  return q1 - 1 - kv0;
}

/** Class of the band lo <= d <= hi over d in [a, b]. */
export function bandClass(a: number, b: number, lo: number, hi: number): TileClass {
  if (b < lo || a > hi) return TILE_EMPTY;
  if (a >= lo && b <= hi) return TILE_FULL;
  return TILE_PARTIAL;
}

/** Whether [a, b] contains a multiple of m (m >= 1). */
export function hasMultiple(a: number, b: number, m: number): boolean {
  if (a > b) return false;
  return Math.ceil(a / m) * m <= b;
}

/** Whether [a, b] contains an integer that is not a multiple of m (m >= 1). */
export function hasNonMultiple(a: number, b: number, m: number): boolean {
  if (a > b || m === 1) return false;
  return b > a || ((a % m) + m) % m !== 0;
}

/** TileClass from "some element true" / "some element false". */
export function fromExists(someTrue: boolean, someFalse: boolean): TileClass {
  return someTrue ? (someFalse ? TILE_PARTIAL : TILE_FULL) : TILE_EMPTY;
}
