/**
 * Element types. f16 and bf16 are stored as raw 16-bit words (Uint16Array) and widened to f32
 * for arithmetic; bool is stored as bytes 0/1 like u8.
 */
export type DType = "f32" | "f16" | "bf16" | "i32" | "u8" | "bool";

/** The host array that backs each dtype. */
export type StorageFor<D extends DType> = D extends "f32"
  ? Float32Array
  : D extends "f16" | "bf16"
    ? Uint16Array
    : D extends "i32"
      ? Int32Array
      : Uint8Array;

export type Storage = Float32Array | Uint16Array | Int32Array | Uint8Array;

/** What `toTypedArray()` returns: floats widen to Float32Array. */
export type ReadbackFor<D extends DType> = D extends "f32" | "f16" | "bf16"
  ? Float32Array
  : D extends "i32"
    ? Int32Array
    : Uint8Array;

/**
 * Every dtype name.
 * @example
 * sl.DTYPES;   // ["f32", "f16", "bf16", "i32", "u8", "bool"]
 */
export const DTYPES: readonly DType[] = ["f32", "f16", "bf16", "i32", "u8", "bool"];

export function isDType(x: unknown): x is DType {
  return typeof x === "string" && (DTYPES as readonly string[]).includes(x);
}

/**
 * True for f32, f16 and bf16.
 * @example
 * sl.isFloat("bf16");   // true
 */
export function isFloat(d: DType): boolean {
  return d === "f32" || d === "f16" || d === "bf16";
}

export function bytesPerElement(d: DType): number {
  return d === "f32" || d === "i32" ? 4 : d === "f16" || d === "bf16" ? 2 : 1;
}

export function allocStorage(d: DType, n: number): Storage {
  switch (d) {
    case "f32":
      return new Float32Array(n);
    case "f16":
    case "bf16":
      return new Uint16Array(n);
    case "i32":
      return new Int32Array(n);
    default:
      return new Uint8Array(n);
  }
}

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

/**
 * f32 -> bf16 bits, round to nearest even; NaN stays a quiet NaN, Inf stays Inf.
 * @example
 * sl.f32ToBf16(1).toString(16);   // "3f80"
 */
export function f32ToBf16(x: number): number {
  f32buf[0] = x;
  const u = u32buf[0];
  if ((u & 0x7f800000) === 0x7f800000 && (u & 0x007fffff) !== 0) return ((u >>> 16) | 0x0040) & 0xffff;
  const rounding = 0x7fff + ((u >>> 16) & 1);
  return ((u + rounding) >>> 16) & 0xffff;
}

/**
 * bf16 bits -> the number they hold (exact).
 * @example
 * sl.bf16ToF32(0x3f80);   // 1
 */
export function bf16ToF32(h: number): number {
  u32buf[0] = (h & 0xffff) << 16;
  return f32buf[0];
}

/**
 * f32 -> IEEE half bits, round to nearest even, with subnormals, overflow to Inf, NaN kept.
 * @example
 * sl.f32ToF16(65504).toString(16);   // "7bff" (the largest half)
 */
export function f32ToF16(x: number): number {
  f32buf[0] = x;
  const u = u32buf[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++; // may carry into the exponent: correct
  return sign | h;
}

/**
 * IEEE half bits -> the number they hold (exact).
 * @example
 * sl.f16ToF32(0x0001);   // 2^-24, the smallest subnormal
 */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
