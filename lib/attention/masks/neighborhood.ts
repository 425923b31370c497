import { argError } from "../../errors.js";
import { KV, Q, add, and, eq, floordiv, ge, idx, le, lt, mod, num, sub } from "./support/ir.js";
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
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const N = shape.reduce((a, b) => a * b, 1);
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
    for (let i = 0; i < nd; i++) {
      const qx = Math.floor(q / strides[i]) % shape[i], kx = Math.floor(kv / strides[i]) % shape[i];
      if (!axisOk(i, qx, kx)) return false;
    }
    return true;
  };
  const coord = (p: MaskExpr, i: number): MaskExpr => {
    const s = strides[i] === 1 ? p : floordiv(p, num(strides[i]));
    return i === 0 ? s : mod(s, num(shape[i]));
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
    name: `neighborhood${nd}d_${tag(shape)}_k${tag(kernel)}${dilation.some((d) => d > 1) ? `_d${tag(dilation)}` : ""}${causal.some((c) => c) ? `_c${tag(causal)}` : ""}`,
    params: { shape, kernel, dilation, causal },
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
