import { argError } from "../../errors.js";
import type { DType } from "../../tensor/dtype.js";

/**
 * Hopper TMA descriptors (CUtensorMap) from TypeScript: the options of cuTensorMapEncodeTiled
 * with names instead of enums, checked against the driver's documented limits before the call so
 * a bad box or stride fails with a message naming the argument, not CUDA_ERROR_INVALID_VALUE.
 *
 * Dimensions are listed innermost first, as the driver and PTX's `cp.async.bulk.tensor`
 * coordinates do: for a row-major [rows, cols] matrix, `globalDims = [cols, rows]`.
 */
export type TmaSwizzle = 0 | 32 | 64 | 128;

/** Element types a tensor map can describe (a subset of CUtensorMapDataType). */
export type TmaDType = Exclude<DType, "bool"> | "u16" | "u32" | "i64" | "f64" | "tf32";

export interface TensorMapOptions {
  /** Element type of the global tensor. */
  dtype: TmaDType;
  /** Device address of element 0 (16-byte aligned): `devicePtr(t)` or `rt.alloc(...).ptr`. */
  globalAddress: number;
  /** Sizes in elements, innermost first (1 to 5 of them). */
  globalDims: readonly number[];
  /** Byte strides of dims 1.. (rank - 1 entries, each a multiple of 16 and below 2^40). */
  globalStridesBytes: readonly number[];
  /** The box one TMA copy moves, in elements per dim, innermost first (each 1..256). */
  boxDims: readonly number[];
  /** Traversal step per dim (1..8), default all 1; the innermost one is ignored by the hardware. */
  elementStrides?: readonly number[];
  /** Shared-memory swizzle span in bytes: 0 (none), 32, 64 or 128. The box's inner row must fit in it. */
  swizzle?: TmaSwizzle;
  /** L2 sector promotion in bytes: 0 (none), 64, 128 or 256. Default 128, what CUTLASS uses. */
  l2Promotion?: 0 | 64 | 128 | 256;
  /** Out-of-bounds elements read as zero (default) or as NaN that requests a zero FMA ("nan"). */
  oobFill?: "zero" | "nan";
}

const DATA_TYPE: Record<TmaDType, { code: number; bytes: number; float: boolean }> = {
  u8: { code: 0, bytes: 1, float: false },
  u16: { code: 1, bytes: 2, float: false },
  u32: { code: 2, bytes: 4, float: false },
  i32: { code: 3, bytes: 4, float: false },
  i64: { code: 5, bytes: 8, float: false },
  f16: { code: 6, bytes: 2, float: true },
  f32: { code: 7, bytes: 4, float: true },
  f64: { code: 8, bytes: 8, float: true },
  bf16: { code: 9, bytes: 2, float: true },
  tf32: { code: 11, bytes: 4, float: true },
};
const SWIZZLE: Record<number, number> = { 0: 0, 32: 1, 64: 2, 128: 3 };
const L2: Record<number, number> = { 0: 0, 64: 1, 128: 2, 256: 3 };

/** The driver's arguments for cuTensorMapEncodeTiled, enums resolved and limits checked. */
export interface EncodedTensorMapArgs {
  dataType: number;
  globalAddress: number;
  globalDims: number[];
  globalStrides: number[];
  boxDims: number[];
  elementStrides: number[];
  interleave: number;
  swizzle: number;
  l2Promotion: number;
  oobFill: number;
}

const isInt = (x: unknown): x is number => typeof x === "number" && Number.isInteger(x);
const list = (a: readonly number[]) => `[${a.join(", ")}]`;

/**
 * Checks a tensor map's options against cuTensorMapEncodeTiled's documented requirements and
 * turns names into the driver's enum values. Throws a SparselabError naming `op` and the argument.
 */
export function tensorMapArgs(op: string, o: TensorMapOptions): EncodedTensorMapArgs {
  const dt = DATA_TYPE[o.dtype as TmaDType];
  if (!dt) argError(op, "dtype", `one of ${Object.keys(DATA_TYPE).join(", ")}`, String(o.dtype));
  if (!isInt(o.globalAddress) || o.globalAddress <= 0 || o.globalAddress % 16 !== 0)
    argError(op, "globalAddress", "a 16-byte aligned device address", String(o.globalAddress));
  const dims = o.globalDims;
  const rank = dims?.length ?? 0;
  if (rank < 1 || rank > 5) argError(op, "globalDims", "1 to 5 sizes, innermost first", dims ? list(dims) : String(dims));
  dims.forEach((d, i) => {
    if (!isInt(d) || d < 1 || d > 2 ** 32) argError(op, `globalDims[${i}]`, "an integer in 1..2^32", String(d));
  });
  const strides = o.globalStridesBytes ?? [];
  if (strides.length !== rank - 1)
    argError(op, "globalStridesBytes", `${rank - 1} byte strides (one per dim after the innermost)`, list(strides));
  let span = dims[0] * dt.bytes;
  strides.forEach((s, i) => {
    if (!isInt(s) || s % 16 !== 0 || s >= 2 ** 40) argError(op, `globalStridesBytes[${i}]`, "a multiple of 16 below 2^40", String(s));
    // A stride smaller than the extent it steps over would alias rows: the driver refuses it too.
    if (s < span) argError(op, `globalStridesBytes[${i}]`, `at least ${span} (the bytes of the dims inside it)`, String(s));
    span = s * dims[i + 1];
  });
  const box = o.boxDims;
  if (!box || box.length !== rank) argError(op, "boxDims", `${rank} sizes (one per dim)`, box ? list(box) : String(box));
  box.forEach((b, i) => {
    if (!isInt(b) || b < 1 || b > 256) argError(op, `boxDims[${i}]`, "an integer in 1..256", String(b));
  });
  const innerBytes = box[0] * dt.bytes;
  if (innerBytes % 16 !== 0) argError(op, "boxDims[0]", `a size whose bytes are a multiple of 16 (${dt.bytes}-byte ${o.dtype})`, `${box[0]} (${innerBytes} bytes)`);
  const es = o.elementStrides ?? dims.map(() => 1);
  if (es.length !== rank) argError(op, "elementStrides", `${rank} steps`, list(es));
  es.forEach((e, i) => {
    if (!isInt(e) || e < 1 || e > 8) argError(op, `elementStrides[${i}]`, "an integer in 1..8", String(e));
  });
  const sw = o.swizzle ?? 0;
  if (!(sw in SWIZZLE)) argError(op, "swizzle", "0, 32, 64 or 128 (bytes)", String(sw));
  if (sw !== 0 && innerBytes > sw)
    argError(op, "boxDims[0]", `at most ${sw / dt.bytes} ${o.dtype} elements (${sw} bytes) with a ${sw}-byte swizzle`, `${box[0]} (${innerBytes} bytes)`);
  const l2 = o.l2Promotion ?? 128;
  if (!(l2 in L2)) argError(op, "l2Promotion", "0, 64, 128 or 256 (bytes)", String(l2));
  const oob = o.oobFill ?? "zero";
  if (oob !== "zero" && oob !== "nan") argError(op, "oobFill", '"zero" or "nan"', String(oob));
  if (oob === "nan" && !dt.float) argError(op, "oobFill", `"zero" for the integer dtype ${o.dtype}`, '"nan"');
  return {
    dataType: dt.code,
    globalAddress: o.globalAddress,
    globalDims: [...dims],
    globalStrides: [...strides],
    boxDims: [...box],
    elementStrides: [...es],
    interleave: 0,
    swizzle: SWIZZLE[sw],
    l2Promotion: L2[l2],
    oobFill: oob === "nan" ? 1 : 0,
  };
}

/** Bytes per element of a tensor-map dtype. */
export function tmaElementBytes(dtype: TmaDType): number {
  return DATA_TYPE[dtype].bytes;
}
