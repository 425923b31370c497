import type { Storage } from "./dtype.js";

/**
 * Copies a strided view of `src` into contiguous `dst` (same element type), in row-major order
 * of `shape`: dst[i0, i1, ...] = src[offset + sum(ik * strides[k])]. Strides may be zero
 * (broadcast) or negative. The innermost dimension runs as a tight loop; the outer ones walk an
 * odometer so no index arrays are allocated per element.
 */
export function stridedCopy(src: Storage, offset: number, strides: readonly number[], shape: readonly number[], dst: Storage, dstOffset = 0): void {
  const nd = shape.length;
  let n = 1;
  for (const d of shape) n *= d;
  if (n === 0) return;
  if (nd === 0) {
    dst[dstOffset] = src[offset];
    return;
  }
  const inner = shape[nd - 1];
  const is = strides[nd - 1];
  const idx = new Array<number>(nd - 1).fill(0);
  let base = offset;
  let o = dstOffset;
  const rows = n / inner;
  for (let r = 0; r < rows; r++) {
    if (is === 1) {
      for (let j = 0; j < inner; j++) dst[o + j] = src[base + j];
    } else {
      for (let j = 0, s = base; j < inner; j++, s += is) dst[o + j] = src[s];
    }
    o += inner;
    // odometer over dims nd-2 .. 0
    for (let d = nd - 2; d >= 0; d--) {
      idx[d]++;
      base += strides[d];
      if (idx[d] < shape[d]) break;
      base -= strides[d] * shape[d];
      idx[d] = 0;
    }
  }
}
