import type { Tensor } from "../tensor.js";
import type { Storage } from "../dtype.js";

/** Little-endian byte views of tensor storage (both file formats are little-endian). */

const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The raw storage of a tensor, reading device tensors back. */
export async function rawStorage(t: Tensor): Promise<Storage> {
  if (t.device === "cpu") return t.data;
  return t.buffer!.read();
}

/** Storage as little-endian bytes (a view when the host is little-endian). */
export function storageBytes(s: Storage): Uint8Array {
  const bytes = new Uint8Array(s.buffer, s.byteOffset, s.byteLength);
  if (LITTLE || s.BYTES_PER_ELEMENT === 1) return bytes;
  const out = new Uint8Array(bytes.length);
  const w = s.BYTES_PER_ELEMENT;
  for (let i = 0; i < bytes.length; i += w) for (let j = 0; j < w; j++) out[i + j] = bytes[i + w - 1 - j];
  return out;
}

/** Copies little-endian bytes into a fresh typed array of element size `w` (aligned, own buffer). */
export function bytesToStorage<T extends Storage>(bytes: Uint8Array, make: (n: number) => T): T {
  const w = make(0).BYTES_PER_ELEMENT;
  const out = make(bytes.length / w);
  const ob = new Uint8Array(out.buffer);
  if (LITTLE || w === 1) ob.set(bytes);
  else for (let i = 0; i < bytes.length; i += w) for (let j = 0; j < w; j++) ob[i + j] = bytes[i + w - 1 - j];
  return out;
}

/**
 * A typed array over `bytes` without copying when the host is little-endian and the bytes sit
 * at a multiple of the element size; otherwise a copy. The result aliases `bytes` when viewed.
 */
export function viewOrCopy<T extends Storage>(bytes: Uint8Array, ctor: { new (b: ArrayBufferLike, off: number, n: number): T; new (n: number): T; BYTES_PER_ELEMENT: number }): T {
  const w = ctor.BYTES_PER_ELEMENT;
  if ((LITTLE || w === 1) && bytes.byteOffset % w === 0) return new ctor(bytes.buffer, bytes.byteOffset, bytes.length / w);
  return bytesToStorage(bytes, (n) => new ctor(n));
}
