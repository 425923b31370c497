import { argError } from "../errors.js";
import { Tensor, toFloat32 } from "../tensor/tensor.js";
import type { DType } from "../tensor/dtype.js";

/**
 * A minimal safetensors reader for expert weights (8-byte little-endian header length, a
 * JSON header of name -> { dtype, shape, data_offsets }, then the raw bytes). F32, F16 and
 * BF16 tensors are read (widened to f32); other dtypes are listed in the error if asked for.
 * It exists so lib/moe can load checkpoints on its own; lib/tensor/io is the general reader.
 */
export function readSafetensors(bytes: Uint8Array, op = "moe.readSafetensors"): Map<string, Tensor<"f32">> {
  if (bytes.length < 8) argError(op, "bytes", "a safetensors file (at least 8 bytes)", `${bytes.length} bytes`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (8 + n > bytes.length) argError(op, "bytes", "a header that fits in the file", `header length ${n} for ${bytes.length} bytes`);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const base = 8 + n;
  const out = new Map<string, Tensor<"f32">>();
  const map: Record<string, { dt: DType; size: number }> = { F32: { dt: "f32", size: 4 }, F16: { dt: "f16", size: 2 }, BF16: { dt: "bf16", size: 2 } };
  for (const [name, h] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const m = map[h.dtype];
    if (!m) continue;
    const [a, b] = h.data_offsets;
    const count = h.shape.reduce((p, q) => p * q, 1);
    if (b - a !== count * m.size) argError(op, name, `${count * m.size} bytes for shape [${h.shape}] ${h.dtype}`, `${b - a}`);
    const raw = bytes.slice(base + a, base + b);
    const data = m.dt === "f32" ? new Float32Array(raw.buffer, 0, count) : toFloat32(new Uint16Array(raw.buffer, 0, count), m.dt);
    out.set(name, new Tensor(h.shape, "f32", data));
  }
  return out;
}

/** Writes f32 tensors as a safetensors file (tests and examples use it to round-trip weights). */
export function writeSafetensors(tensors: Record<string, Tensor>): Uint8Array {
  const header: Record<string, unknown> = {};
  let off = 0;
  const parts: Uint8Array[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    const f = t.floatData();
    const bytes = new Uint8Array(f.buffer.slice(f.byteOffset, f.byteOffset + f.byteLength));
    header[name] = { dtype: "F32", shape: [...t.shape], data_offsets: [off, off + bytes.length] };
    off += bytes.length;
    parts.push(bytes);
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8) json += " ";
  const hb = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hb.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  let p = 8 + hb.length;
  for (const b of parts) {
    out.set(b, p);
    p += b.length;
  }
  return out;
}
