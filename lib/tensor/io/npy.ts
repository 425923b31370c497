import { readFile, writeFile } from "node:fs/promises";
import { argError, fmtShape, SparselabError } from "../../errors.js";
import type { DType } from "../dtype.js";
import { Tensor } from "../tensor.js";
import { requireTensor } from "../check.js";
import { numel } from "../shape-util.js";
import { bytesToStorage, rawStorage, storageBytes } from "./bytes.js";

/*
 * NumPy .npy (format versions 1.0, 2.0, 3.0): the magic "\x93NUMPY", major and minor version
 * bytes, the header length (u16 LE in 1.0, u32 LE in 2.0/3.0), then an ASCII (3.0: UTF-8)
 * Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with
 * spaces and a final newline so the data starts at a multiple of 64 bytes. bf16 has no numpy
 * type: convert with astype("f32") first.
 */

const DESCR: Partial<Record<DType, string>> = { f32: "<f4", f16: "<f2", i32: "<i4", u8: "|u1", bool: "|b1" };
const FROM_DESCR: Record<string, DType> = { "<f4": "f32", "<f2": "f16", "<i4": "i32", "|u1": "u8", "<u1": "u8", "|b1": "bool", "<b1": "bool" };
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

/**
 * Serialises a tensor to .npy bytes (version 1.0, or 2.0 if the header needs it).
 * @example
 * const bytes = await sl.encodeNpy(sl.arange(6).reshape([2, 3]));
 */
export async function encodeNpy(t: Tensor): Promise<Uint8Array> {
  requireTensor("encodeNpy", t, "t");
  const descr = DESCR[t.dtype];
  if (!descr) argError("encodeNpy", "t", "a tensor numpy can hold (f32, f16, i32, u8, bool; convert bf16 with astype('f32'))", `dtype ${t.dtype}`);
  const shape = t.shape.length === 1 ? `(${t.shape[0]},)` : `(${t.shape.join(", ")})`;
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  let version = 1;
  let pre = 10;
  let total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  if (total - pre > 0xffff) {
    version = 2;
    pre = 12;
    total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  }
  const hlen = total - pre;
  const data = storageBytes(await rawStorage(t));
  const out = new Uint8Array(total + data.length);
  out.set(MAGIC);
  out[6] = version;
  out[7] = 0;
  const dv = new DataView(out.buffer);
  if (version === 1) dv.setUint16(8, hlen, true);
  else dv.setUint32(8, hlen, true);
  const text = dict.padEnd(hlen - 1, " ") + "\n";
  for (let i = 0; i < text.length; i++) out[pre + i] = text.charCodeAt(i);
  out.set(data, total);
  return out;
}

function bad(what: string): never {
  throw new SparselabError("decodeNpy", `not a readable .npy file: ${what}`);
}

/** Parses the header dict with a small grammar instead of eval: only the three keys numpy writes. */
function parseHeader(text: string): { descr: string; fortran: boolean; shape: number[] } {
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]+)['"]/.exec(text);
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text);
  const shape = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text);
  if (!descr || !fortran || !shape) bad(`header dict ${JSON.stringify(text.trim())} lacks descr, fortran_order or shape`);
  const dims = shape[1].split(",").map((s) => s.trim()).filter((s) => s.length > 0).map((s) => Number(s.replace(/L$/, "")));
  if (!dims.every((d) => Number.isInteger(d) && d >= 0)) bad(`shape (${shape[1]})`);
  return { descr: descr[1], fortran: fortran[1] === "True", shape: dims };
}

/**
 * Parses .npy bytes into a tensor. Reads '<f4', '<f2', '<i4', '|u1', '|b1' (and '<f8', '<i8',
 * converted to f32 and i32) in C order; Fortran-order arrays are rejected.
 * @example
 * const bytes = await sl.encodeNpy(sl.arange(6));
 * const t = sl.decodeNpy(bytes);   // i32 [6]
 */
export function decodeNpy(bytes: Uint8Array): Tensor {
  if (!(bytes instanceof Uint8Array)) argError("decodeNpy", "bytes", "a Uint8Array or Buffer", typeof bytes);
  if (bytes.length < 10 || MAGIC.some((m, i) => bytes[i] !== m)) bad("missing the \\x93NUMPY magic");
  const major = bytes[6];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let hlen: number, pre: number;
  if (major === 1) {
    hlen = dv.getUint16(8, true);
    pre = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) bad("truncated header");
    hlen = dv.getUint32(8, true);
    pre = 12;
  } else return bad(`format version ${major}.${bytes[7]} (known: 1.0, 2.0, 3.0)`);
  if (pre + hlen > bytes.length) bad(`header length ${hlen} exceeds the file`);
  const text = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(bytes.subarray(pre, pre + hlen));
  const h = parseHeader(text);
  if (h.fortran) throw new SparselabError("decodeNpy", "Fortran-order (column-major) arrays are not supported; save with np.ascontiguousarray(a) first");
  const n = numel(h.shape);
  const data = bytes.subarray(pre + hlen);
  const dtype = FROM_DESCR[h.descr];
  if (dtype) {
    const size = dtype === "f32" || dtype === "i32" ? 4 : dtype === "f16" ? 2 : 1;
    if (data.length < n * size) bad(`${fmtShape(h.shape)} ${h.descr} needs ${n * size} data bytes, the file has ${data.length}`);
    const raw = data.subarray(0, n * size);
    const st = bytesToStorage(raw, (k) => (dtype === "f32" ? new Float32Array(k) : dtype === "i32" ? new Int32Array(k) : dtype === "f16" ? new Uint16Array(k) : new Uint8Array(k)));
    if (dtype === "bool") for (let i = 0; i < st.length; i++) st[i] = st[i] ? 1 : 0;
    return new Tensor(h.shape, dtype, st);
  }
  if (h.descr === "<f8" || h.descr === "<i8") {
    if (data.length < n * 8) bad(`${fmtShape(h.shape)} ${h.descr} needs ${n * 8} data bytes, the file has ${data.length}`);
    const rdv = new DataView(data.buffer, data.byteOffset, n * 8);
    if (h.descr === "<f8") {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = rdv.getFloat64(i * 8, true);
      return new Tensor(h.shape, "f32", out);
    }
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const v = rdv.getBigInt64(i * 8, true);
      if (v > 2147483647n || v < -2147483648n) throw new SparselabError("decodeNpy", `'<i8' value ${v} at index ${i} does not fit in i32`);
      out[i] = Number(v);
    }
    return new Tensor(h.shape, "i32", out);
  }
  throw new SparselabError("decodeNpy", `dtype '${h.descr}' is not supported; sparselab reads '<f4', '<f2', '<i4', '|u1', '|b1' (and '<f8', '<i8' converted)`);
}

/**
 * Writes a tensor to a .npy file (`np.load` reads it).
 * @example
 * await sl.saveNpy("q.npy", sl.randn([2, 8, 128, 64]));
 */
export async function saveNpy(path: string, t: Tensor): Promise<void> {
  if (typeof path !== "string" || !path) argError("saveNpy", "path", "a file path", String(path));
  await writeFile(path, await encodeNpy(t));
}

/**
 * Reads a .npy file into a tensor.
 * @example
 * const q = await sl.loadNpy("q.npy");
 */
export async function loadNpy(path: string): Promise<Tensor> {
  if (typeof path !== "string" || !path) argError("loadNpy", "path", "a file path", String(path));
  const buf = await readFile(path);
  try {
    return decodeNpy(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
  } catch (e) {
    if (e instanceof SparselabError) throw new SparselabError("loadNpy", `${path}: ${e.message.replace(/^\[sparselab\] decodeNpy: /, "")}`);
    throw e;
  }
}
