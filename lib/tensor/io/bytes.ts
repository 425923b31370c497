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
