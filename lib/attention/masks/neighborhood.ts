import { argError } from "../../errors.js";
import { KV, Q, add, and, eq, floordiv, ge, idx, le, lt, mod, mul, num, sub } from "./support/ir.js";
import { checkInt, describe, makeMask } from "./support/make-mask.js";
import type { MaskExpr } from "../mask-ir.js";
import type { Mask } from "../types.js";

export interface NeighborhoodOptions {
  /** Grid shape, one entry per axis; tokens are laid out row-major (the last axis fastest). */
  shape: readonly number[];
  /** Kernel size per axis (odd for non-causal axes, as NATTEN requires); a number applies to all. */
  kernel: number | readonly number[];
  /** Dilation per axis. Default 1. kernel * dilation must not exceed the axis length. */
  dilation?: number | readonly number[];
  /** Causal per axis (e.g. time in video). Default false. */
  causal?: boolean | readonly boolean[];
  /**
   * Token layout in tiles: with `tile: [8, 16]` tokens are ordered tile by tile (tiles row-major
   * over the grid) and row-major inside each tile, so a 128-token block is one compact 8 x 16
   * patch instead of a thin strip of a row: far fewer partial blocks (what NATTEN's fused
   * kernels do by permuting tokens). Each entry must divide the axis length. Default: plain
   * row-major order.
   */
  tile?: readonly number[];
}

/**
 * Neighborhood attention (NATTEN's rule) on a 1-D, 2-D or 3-D grid. Per axis, a query at
 * coordinate x sees the `kernel` keys of its dilation group (coordinates = x mod dilation) whose
 * window is centred on x and shifted inward at the edges, so every query sees exactly
 * kernel^d keys. A causal axis sees the `kernel` group members ending at x (fewer near the
 * start). The mask is the AND over axes. Positions >= prod(shape) are outside the grid: false.
 * Per-axis window starts are tables the IR indexes.
 * @example
 * const m = sl.masks.neighborhood2d({ shape: [32, 32], kernel: 7 });
 * sl.createBlockMask(m, { qLen: 1024, kvLen: 1024, blockSize: 64 }).toString();
 */
export function neighborhood(opts: NeighborhoodOptions, op = "neighborhood"): Mask {
  if (typeof opts !== "object" || opts === null || !Array.isArray(opts.shape)) argError(op, "opts.shape", "an array of axis lengths", describe(opts?.shape));
  const nd = opts.shape.length;
  if (nd < 1 || nd > 3) argError(op, "opts.shape", "1 to 3 axes", `${nd} axes`);
  const shape = opts.shape.map((n, i) => checkInt(op, `shape[${i}]`, n, 1));
  const perAxis = <T>(v: T | readonly T[] | undefined, dflt: T, name: string): T[] => {
    if (v === undefined) return shape.map(() => dflt);
    if (Array.isArray(v)) {
      if (v.length !== nd) argError(op, name, `${nd} entries (one per axis)`, `${v.length}`);
      return [...v];
    }
    return shape.map(() => v as T);
  };
  const kernel = perAxis(opts.kernel, 0, "kernel").map((k, i) => checkInt(op, `kernel[${i}]`, k, 1));
  const dilation = perAxis(opts.dilation, 1, "dilation").map((d, i) => checkInt(op, `dilation[${i}]`, d, 1));
  const causal = perAxis(opts.causal, false, "causal").map((c) => !!c);
  for (let i = 0; i < nd; i++) {
    if (kernel[i] * dilation[i] > shape[i])
      argError(op, `kernel[${i}] * dilation[${i}]`, `<= shape[${i}] = ${shape[i]}`, `${kernel[i]} * ${dilation[i]}`);
    if (!causal[i] && kernel[i] % 2 === 0) argError(op, `kernel[${i}]`, "odd (a window centred on the query)", String(kernel[i]));
  }
  const N = shape.reduce((a, b) => a * b, 1);
  const tile = opts.tile === undefined ? shape.map(() => 1) : perAxis<number>(opts.tile, 1, "tile").map((t, i) => checkInt(op, `tile[${i}]`, t, 1, shape[i]));
  tile.forEach((t, i) => {
    if (shape[i] % t !== 0) argError(op, `tile[${i}]`, `a divisor of shape[${i}] = ${shape[i]}`, String(t));
  });
  const tiled = tile.some((t) => t > 1);
  const rowMajor = (dims: readonly number[]) => dims.map((_, i) => dims.slice(i + 1).reduce((a, b) => a * b, 1));
  const counts = shape.map((n, i) => n / tile[i]); // tiles per axis
  const tileVol = tile.reduce((a, b) => a * b, 1);
  const cStrides = rowMajor(counts), wStrides = rowMajor(tile);
  // coordinate of token p on axis i: tile coordinate * tile extent + coordinate inside the tile
  const coordOf = (p: number, i: number) => {
    const T = Math.floor(p / tileVol), w = p - T * tileVol;
    return (Math.floor(T / cStrides[i]) % counts[i]) * tile[i] + (Math.floor(w / wStrides[i]) % tile[i]);
  };
  // start[x]: first coordinate of x's window on an axis (see windowStart).
  const starts = shape.map((n, i) => {
    const t = new Int32Array(n);
    for (let x = 0; x < n; x++) t[x] = windowStart(x, n, kernel[i], dilation[i], causal[i]);
    return t;
  });
  const axisOk = (i: number, qx: number, kx: number) => {
    const d = dilation[i], s = starts[i][qx];
    if (causal[i]) return kx <= qx && kx >= s && (qx - kx) % d === 0;
    return kx >= s && kx <= s + (kernel[i] - 1) * d && (kx - s) % d === 0;
  };
  const at = (_b: number, _h: number, q: number, kv: number) => {
    if (q >= N || kv >= N) return false;
    for (let i = 0; i < nd; i++) if (!axisOk(i, coordOf(q, i), coordOf(kv, i))) return false;
    return true;
  };
  // row-major digit i of x over dims: floor(x / stride) mod dims[i] (no mod on the leading digit)
  const digit = (x: MaskExpr, i: number, strides: number[], dims: readonly number[]): MaskExpr => {
    const s = strides[i] === 1 ? x : floordiv(x, num(strides[i]));
    return i === 0 ? s : mod(s, num(dims[i]));
  };
  const coord = (p: MaskExpr, i: number): MaskExpr => {
    if (!tiled) return digit(p, i, cStrides, shape);
    const T = floordiv(p, num(tileVol)), w = mod(p, num(tileVol));
    return add(mul(digit(T, i, cStrides, counts), num(tile[i])), tile[i] === 1 ? num(0) : tile[i] === tileVol ? w : digit(w, i, wStrides, tile));
  };
  const conds: MaskExpr[] = [lt(Q, num(N)), lt(KV, num(N))];
  for (let i = 0; i < nd; i++) {
    const qx = coord(Q, i), kx = coord(KV, i), s = idx(i, qx), d = dilation[i];
    if (causal[i]) {
      conds.push(le(kx, qx), ge(kx, s));
      if (d > 1) conds.push(eq(mod(sub(qx, kx), num(d)), num(0)));
    } else {
      conds.push(ge(kx, s), le(kx, add(s, num((kernel[i] - 1) * d))));
      if (d > 1) conds.push(eq(mod(sub(kx, s), num(d)), num(0)));
    }
  }
  const tag = (xs: readonly (number | boolean)[]) => xs.map(Number).join("x");
  return makeMask({
    kind: `neighborhood${nd}d`,
    name: `neighborhood${nd}d_${tag(shape)}_k${tag(kernel)}${dilation.some((d) => d > 1) ? `_d${tag(dilation)}` : ""}${causal.some((c) => c) ? `_c${tag(causal)}` : ""}${tiled ? `_t${tag(tile)}` : ""}`,
    params: { shape, kernel, dilation, causal, tile },
    at,
    program: { expr: and(...conds), tables: starts },
    // classifyTile: generic interval bounds over the program (coordinates, start-table min/max)
  });
}

/**
 * NATTEN's window start on one axis. The axis splits into `dilation` groups (coordinates with
 * the same remainder); inside its group a query's window of `kernel` members is centred on it
 * and shifted inward at the group's edges. Causal: the `kernel` members ending at the query.
 */
export function windowStart(x: number, n: number, kernel: number, dilation: number, causal: boolean): number {
  const r = x % dilation;
  const gi = Math.floor(x / dilation); // index inside the group
  if (causal) return r + Math.max(gi - kernel + 1, 0) * dilation;
  const gLen = Math.ceil((n - r) / dilation); // members of this group
  const half = kernel >> 1;
  const s = Math.min(Math.max(gi - half, 0), gLen - kernel);
  return r + s * dilation;
}

/** 1-D neighborhood attention. @example sl.masks.neighborhood1d({ shape: [4096], kernel: 129 }) */
export function neighborhood1d(opts: NeighborhoodOptions): Mask {
  if (opts?.shape?.length !== 1) argError("neighborhood1d", "opts.shape", "1 axis, e.g. [4096]", describe(opts?.shape));
  return neighborhood(opts, "neighborhood1d");
}
/** 2-D neighborhood attention (images). @example sl.masks.neighborhood2d({ shape: [32, 32], kernel: 7, dilation: 2 }) */
export function neighborhood2d(opts: NeighborhoodOptions): Mask {
  if (opts?.shape?.length !== 2) argError("neighborhood2d", "opts.shape", "2 axes, e.g. [32, 32]", describe(opts?.shape));
  return neighborhood(opts, "neighborhood2d");
}
/** 3-D neighborhood attention (video: [T, H, W]). @example sl.masks.neighborhood3d({ shape: [8, 16, 16], kernel: [3, 5, 5], causal: [true, false, false] }) */
export function neighborhood3d(opts: NeighborhoodOptions): Mask {
  if (opts?.shape?.length !== 3) argError("neighborhood3d", "opts.shape", "3 axes, e.g. [8, 16, 16]", describe(opts?.shape));
  return neighborhood(opts, "neighborhood3d");
}
