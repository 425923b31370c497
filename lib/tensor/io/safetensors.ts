import { readFile, writeFile } from "node:fs/promises";
import { argError, fmtShape, SparselabError } from "../../errors.js";
import type { DType } from "../dtype.js";
import { Tensor } from "../tensor.js";
import { requireTensor } from "../check.js";
import { numel } from "../shape-util.js";
import { bytesToStorage, rawStorage, storageBytes, viewOrCopy } from "./bytes.js";

/*
 * safetensors (huggingface/safetensors): 8 bytes N (u64 little-endian), N bytes of UTF-8 JSON
 * header {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}},
 * then the byte buffer; offsets are relative to the buffer's start, row-major, little-endian.
 * Writing follows the reference implementation: tensors ordered by alignment (descending) then
 * name, the header padded with spaces so the buffer starts at a multiple of 8. Reading checks
 * what the reference checks: a header within the file, known dtypes, each tensor's byte length
 * equal to numel * element size, and the ranges tiling the buffer with no gap or overlap.
 */

const ST_DTYPE: Record<DType, string> = { f32: "F32", f16: "F16", bf16: "BF16", i32: "I32", u8: "U8", bool: "BOOL" };
const FROM_ST: Record<string, DType> = { F32: "f32", F16: "f16", BF16: "bf16", I32: "i32", U8: "u8", BOOL: "bool" };
/** Read-only conversions for types PyTorch commonly writes that sparselab stores narrower. */
const CONVERTED: Record<string, { size: number; dtype: DType }> = { F64: { size: 8, dtype: "f32" }, I64: { size: 8, dtype: "i32" } };
const SIZE: Record<DType, number> = { f32: 4, i32: 4, f16: 2, bf16: 2, u8: 1, bool: 1 };
const MAX_HEADER = 100 * 1024 * 1024;

export interface SafetensorsContents {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

function checkInputs(op: string, tensors: unknown, metadata: unknown): [string, Tensor][] {
  if (tensors === null || typeof tensors !== "object" || tensors instanceof Tensor || Array.isArray(tensors))
    argError(op, "tensors", "an object { name: Tensor }", tensors instanceof Tensor ? "a single Tensor (wrap it: { name: t })" : String(tensors));
  const entries = Object.entries(tensors as Record<string, unknown>);
  for (const [k, t] of entries) {
    if (k === "__metadata__") argError(op, "tensors", "names other than __metadata__ (reserved by the format)", k);
    requireTensor(op, t, `tensors.${k}`);
  }
  if (metadata !== undefined) {
    if (metadata === null || typeof metadata !== "object" || Array.isArray(metadata)) argError(op, "metadata", "an object of string values", String(metadata));
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== "string") argError(op, "metadata", "string values only (the format's __metadata__ is str -> str)", `${k}: ${typeof v}`);
  }
  return entries as [string, Tensor][];
}

/**
 * Serialises named tensors (and optional string metadata) to safetensors bytes.
 * @example
 * const bytes = await sl.encodeSafetensors({ w: sl.randn([4, 4]) }, { format: "pt" });
 */
export async function encodeSafetensors(tensors: Record<string, Tensor>, metadata?: Record<string, string>): Promise<Uint8Array> {
  const entries = checkInputs("encodeSafetensors", tensors, metadata);
  entries.sort(([na, a], [nb, b]) => SIZE[b.dtype] - SIZE[a.dtype] || (na < nb ? -1 : na > nb ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    const bytes = storageBytes(await rawStorage(t));
    header[name] = { dtype: ST_DTYPE[t.dtype], shape: [...t.shape], data_offsets: [offset, offset + bytes.length] };
    parts.push(bytes);
    offset += bytes.length;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.length % 8)) % 8;
  const headerBytes = new Uint8Array(json.length + pad).fill(0x20);
  headerBytes.set(json);
  json = headerBytes;
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let p = 8 + json.length;
  for (const b of parts) {
    out.set(b, p);
    p += b.length;
  }
  return out;
}

function bad(what: string): never {
  throw new SparselabError("decodeSafetensors", `not a valid safetensors file: ${what}`);
}

/**
 * Parses safetensors bytes into tensors (copied out of `bytes`) and the `__metadata__` map.
 * F64 and I64 tensors are converted to f32 and i32 (I64 values must fit in i32).
 * @example
 * const bytes = await sl.encodeSafetensors({ w: sl.randn([4, 4]) }, { format: "pt" });
 * const { tensors, metadata } = sl.decodeSafetensors(bytes);   // tensors.w, { format: "pt" }
 */
export function decodeSafetensors(bytes: Uint8Array): SafetensorsContents {
  return decode(bytes, true);
}

/** `copy: false` lets tensors view `bytes` where aligned (only for buffers nobody else holds). */
function decode(bytes: Uint8Array, copy: boolean): SafetensorsContents {
  if (!(bytes instanceof Uint8Array)) argError("decodeSafetensors", "bytes", "a Uint8Array or Buffer", typeof bytes);
  if (bytes.length < 8) bad(`${bytes.length} bytes, shorter than the 8-byte header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = dv.getBigUint64(0, true);
  if (n64 > BigInt(Math.min(MAX_HEADER, bytes.length - 8))) bad(`header length ${n64} exceeds the file (${bytes.length} bytes) or the 100 MB limit`);
  const n = Number(n64);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    bad(`header is not UTF-8 JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) bad("header is not a JSON object");
  const buffer = bytes.subarray(8 + n);
  const metadata: Record<string, string> = {};
  const tensors: Record<string, Tensor> = {};
  const ranges: [number, number, string][] = [];
  for (const [name, info] of Object.entries(header as Record<string, any>)) {
    if (name === "__metadata__") {
      if (info === null || typeof info !== "object" || Array.isArray(info)) bad("__metadata__ is not an object");
      for (const [k, v] of Object.entries(info)) {
        if (typeof v !== "string") bad(`__metadata__.${k} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    if (info === null || typeof info !== "object") bad(`entry '${name}' is not an object`);
    const { dtype: st, shape, data_offsets: offs } = info;
    if (!Array.isArray(shape) || !shape.every((d: unknown) => Number.isInteger(d) && (d as number) >= 0)) bad(`tensor '${name}' has shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d: unknown) => Number.isInteger(d) && (d as number) >= 0) || offs[1] < offs[0])
      bad(`tensor '${name}' has data_offsets ${JSON.stringify(offs)}`);
    const dtype = FROM_ST[st];
    const conv = CONVERTED[st];
    if (!dtype && !conv)
      throw new SparselabError("decodeSafetensors", `tensor '${name}' has dtype ${st}; sparselab reads F32, F16, BF16, I32, U8, BOOL (and F64, I64 converted)`);
    const size = dtype ? SIZE[dtype] : conv.size;
    const len = offs[1] - offs[0];
    if (len !== numel(shape) * size) bad(`tensor '${name}' ${st} ${fmtShape(shape)} needs ${numel(shape) * size} bytes, data_offsets give ${len}`);
    if (offs[1] > buffer.length) bad(`tensor '${name}' ends at ${offs[1]}, past the ${buffer.length}-byte buffer`);
    ranges.push([offs[0], offs[1], name]);
    const raw = buffer.subarray(offs[0], offs[1]);
    if (dtype) {
      const ctor = dtype === "f32" ? Float32Array : dtype === "i32" ? Int32Array : size === 2 ? Uint16Array : Uint8Array;
      const st2 = copy ? bytesToStorage(raw, (k) => new ctor(k)) : viewOrCopy(raw, ctor as any);
      tensors[name] = new Tensor(shape, dtype, st2);
    } else {
      const rdv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      const m = numel(shape);
      if (st === "F64") {
        const out = new Float32Array(m);
        for (let i = 0; i < m; i++) out[i] = rdv.getFloat64(i * 8, true);
        tensors[name] = new Tensor(shape, "f32", out);
      } else {
        const out = new Int32Array(m);
        for (let i = 0; i < m; i++) {
          const v = rdv.getBigInt64(i * 8, true);
          if (v > 2147483647n || v < -2147483648n) throw new SparselabError("decodeSafetensors", `tensor '${name}' (I64) holds ${v} at index ${i}, outside i32`);
          out[i] = Number(v);
        }
        tensors[name] = new Tensor(shape, "i32", out);
      }
    }
  }
  ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let end = 0;
  for (const [s, e, name] of ranges) {
    if (s !== end) bad(`tensor '${name}' starts at ${s}, expected ${end} (the buffer must be tiled with no gaps or overlaps)`);
    end = e;
  }
  if (end !== buffer.length) bad(`the tensors cover ${end} bytes of a ${buffer.length}-byte buffer`);
  return { tensors, metadata };
}

/**
 * Writes named tensors to a .safetensors file that PyTorch's `safetensors.torch.load_file` reads.
 * @example
 * await sl.saveSafetensors("weights.safetensors", { w: sl.randn([64, 64]) }, { note: "demo" });
 */
export async function saveSafetensors(path: string, tensors: Record<string, Tensor>, metadata?: Record<string, string>): Promise<void> {
  if (typeof path !== "string" || !path) argError("saveSafetensors", "path", "a file path", String(path));
  await writeFile(path, await encodeSafetensors(tensors, metadata));
}

/**
 * Reads a .safetensors file: `{ tensors: { name: Tensor }, metadata: { key: value } }`.
 * Tensors whose bytes are aligned in the file (all of them in files written by sparselab or
 * the safetensors library) share one buffer with no copy.
 * @example
 * const { tensors, metadata } = await sl.loadSafetensors("weights.safetensors");
 */
export async function loadSafetensors(path: string): Promise<SafetensorsContents> {
  if (typeof path !== "string" || !path) argError("loadSafetensors", "path", "a file path", String(path));
  const buf = await readFile(path);
  try {
    // The file's buffer is ours alone, so aligned tensors view it instead of copying: loading
    // a large checkpoint needs about its size in memory, not twice that.
    return decode(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), false);
  } catch (e) {
    if (e instanceof SparselabError) throw new SparselabError("loadSafetensors", `${path}: ${e.message.replace(/^\[sparselab\] decodeSafetensors: /, "")}`);
    throw e;
  }
}
