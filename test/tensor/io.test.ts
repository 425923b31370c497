import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as sl from "../../lib/index.js";
import { expectError, freshSeed } from "./helpers.js";

function allDtypes(seed: number): Record<string, sl.Tensor> {
  return {
    w_f32: sl.tensor([1.5, -2, NaN, Infinity, -0], { shape: [5] }),
    w_f16: sl.randn([3, 4], { seed, dtype: "f16" }),
    w_bf16: sl.randn([2, 3, 2], { seed: seed + 1, dtype: "bf16" }),
    ids_i32: sl.randint(-1000, 1000, [7], { seed }),
    bytes_u8: sl.tensor([0, 7, 255], { dtype: "u8" }),
    mask_bool: sl.tensor([[true, false, true]]),
    scalar: sl.tensor(3.25),
    empty: sl.zeros([0, 4]),
  };
}

function sameTensor(a: sl.Tensor, b: sl.Tensor, ctx: string): void {
  assert.equal(a.dtype, b.dtype, ctx);
  assert.deepEqual(a.shape, b.shape, ctx);
  // Compare raw storage bits so NaN payloads and -0 count too.
  assert.deepEqual(new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength), new Uint8Array(b.data.buffer, b.data.byteOffset, b.data.byteLength), ctx);
}

test("safetensors round trip for every dtype, through bytes and files", async () => {
  const seed = freshSeed();
  const ts = allDtypes(seed);
  const bytes = await sl.encodeSafetensors(ts, { format: "pt", note: "ünïcode" });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + n) % 8, 0, "data starts 8-aligned");
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  assert.deepEqual(header.w_bf16, { dtype: "BF16", shape: [2, 3, 2], data_offsets: header.w_bf16.data_offsets });
  assert.deepEqual(header.__metadata__, { format: "pt", note: "ünïcode" });
  for (const [name, info] of Object.entries<any>(header)) {
    if (name === "__metadata__") continue;
    const size = { F32: 4, I32: 4, F16: 2, BF16: 2, U8: 1, BOOL: 1 }[info.dtype as string]!;
    assert.equal(info.data_offsets[0] % size, 0, `${name} aligned`);
  }
  const back = sl.decodeSafetensors(bytes);
  assert.deepEqual(back.metadata, { format: "pt", note: "ünïcode" });
  assert.deepEqual(Object.keys(back.tensors).sort(), Object.keys(ts).sort());
  for (const k of Object.keys(ts)) sameTensor(back.tensors[k], ts[k], `${k} seed ${seed}`);
  const dir = mkdtempSync(join(tmpdir(), "sl-st-"));
  try {
    const p = join(dir, "t.safetensors");
    await sl.saveSafetensors(p, ts);
    const f = await sl.loadSafetensors(p);
    assert.deepEqual(f.metadata, {});
    for (const k of Object.keys(ts)) sameTensor(f.tensors[k], ts[k], k);
    // Loaded from a file, aligned tensors view the file's one buffer instead of copying it.
    assert.equal(f.tensors.w_f32.data.buffer, f.tensors.w_bf16.data.buffer);
    // Decoded from caller-owned bytes, they are copies.
    const own = sl.decodeSafetensors(await sl.encodeSafetensors(ts)).tensors;
    assert.notEqual(own.w_f32.data.buffer, own.w_bf16.data.buffer);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test("safetensors: a file written byte by byte from the spec is read", async () => {
  // Header JSON, then the buffer: "a" F32 [2] = 1.0, -2.0 at [0, 8); "b" BF16 [2] = 1.0, inf at
  // [8, 12); "c" BOOL [3] at [12, 15); "d" I32 [] = -7 at [16, 20)... no: the buffer must have no
  // holes, so d sits at [15, 19) unaligned, which the format allows.
  const json = '{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
    '"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]},"c":{"dtype":"BOOL","shape":[3],"data_offsets":[12,15]},' +
    '"d":{"dtype":"I32","shape":[],"data_offsets":[15,19]},"e":{"dtype":"F16","shape":[1,1],"data_offsets":[19,21]}}';
  const hb = Array.from(new TextEncoder().encode(json));
  const len = hb.length;
  const file = [
    len & 0xff, (len >> 8) & 0xff, 0, 0, 0, 0, 0, 0,
    ...hb,
    0x00, 0x00, 0x80, 0x3f, /* 1.0f */ 0x00, 0x00, 0x00, 0xc0, /* -2.0f */
    0x80, 0x3f, /* bf16 1.0 */ 0x80, 0x7f, /* bf16 inf */
    0x01, 0x00, 0x01,
    0xf9, 0xff, 0xff, 0xff, /* -7 */
    0x01, 0x00, /* f16 smallest subnormal 2^-24 */
  ];
  const dir = mkdtempSync(join(tmpdir(), "sl-st-"));
  try {
    const p = join(dir, "hand.safetensors");
    writeFileSync(p, Uint8Array.from(file));
    const { tensors, metadata } = await sl.loadSafetensors(p);
    assert.deepEqual(metadata, { k: "v" });
    assert.deepEqual(await tensors.a.toArray(), [1, -2]);
    assert.deepEqual(await tensors.b.toArray(), [1, Infinity]);
    assert.equal(tensors.c.dtype, "bool");
    assert.deepEqual(await tensors.c.toArray(), [1, 0, 1]);
    assert.deepEqual([tensors.d.shape, tensors.d.item()], [[], -7]);
    assert.deepEqual(await tensors.e.toArray(), [[2 ** -24]]);
    // F64 and I64, as PyTorch writes for float64/int64, are read narrowed.
    const j2 = '{"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"y":{"dtype":"I64","shape":[1],"data_offsets":[8,16]}}';
    const h2 = new TextEncoder().encode(j2);
    const buf = new Uint8Array(8 + h2.length + 16);
    const dv = new DataView(buf.buffer);
    dv.setBigUint64(0, BigInt(h2.length), true);
    buf.set(h2, 8);
    dv.setFloat64(8 + h2.length, 0.1, true);
    dv.setBigInt64(16 + h2.length, -5n, true);
    const r = sl.decodeSafetensors(buf);
    assert.deepEqual([r.tensors.x.dtype, r.tensors.x.item(), r.tensors.y.dtype, r.tensors.y.item()], ["f32", Math.fround(0.1), "i32", -5]);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test("safetensors: malformed files and bad inputs are clear errors", async () => {
  const enc = (json: string, data: number[]) => {
    const h = new TextEncoder().encode(json);
    const b = new Uint8Array(8 + h.length + data.length);
    new DataView(b.buffer).setBigUint64(0, BigInt(h.length), true);
    b.set(h, 8);
    b.set(data, 8 + h.length);
    return b;
  };
  expectError(() => sl.decodeSafetensors(new Uint8Array(4)), "decodeSafetensors", "8-byte");
  expectError(() => sl.decodeSafetensors(enc("{oops", [])), "decodeSafetensors", "JSON");
  expectError(() => sl.decodeSafetensors(enc('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', [0, 0, 0, 0])), "'a'", "needs 8 bytes");
  expectError(() => sl.decodeSafetensors(enc('{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', [0, 0])), "'a'", "starts at 1, expected 0");
  expectError(() => sl.decodeSafetensors(enc('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', [0, 0])), "cover 1 bytes of a 2-byte");
  expectError(() => sl.decodeSafetensors(enc('{"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}', [0, 0, 0, 0, 0, 0, 0, 0])), "'a'", "C64");
  const huge = new Uint8Array(16);
  new DataView(huge.buffer).setBigUint64(0, 1000n, true);
  expectError(() => sl.decodeSafetensors(huge), "header length 1000");
  await assert.rejects(() => sl.encodeSafetensors({ __metadata__: sl.zeros([1]) } as any), /reserved/);
  await assert.rejects(() => sl.encodeSafetensors({ a: sl.zeros([1]) }, { n: 1 as any }), /metadata.*string values/);
  await assert.rejects(() => sl.encodeSafetensors(sl.zeros([1]) as any), /wrap it/);
});

test("npy round trip for numpy dtypes; bf16 refused", async () => {
  const seed = freshSeed();
  const ts = allDtypes(seed);
  for (const [k, t] of Object.entries(ts)) {
    if (t.dtype === "bf16") {
      await assert.rejects(() => sl.encodeNpy(t), /bf16/);
      continue;
    }
    const b = await sl.encodeNpy(t);
    const hlen = b[8] | (b[9] << 8);
    assert.equal((10 + hlen) % 64, 0, `${k}: data 64-aligned`);
    assert.equal(b[10 + hlen - 1], 0x0a, `${k}: header ends with newline`);
    sameTensor(sl.decodeNpy(b), t, `${k} seed ${seed}`);
  }
  const dir = mkdtempSync(join(tmpdir(), "sl-npy-"));
  try {
    const p = join(dir, "x.npy");
    await sl.saveNpy(p, ts.w_f16);
    sameTensor(await sl.loadNpy(p), ts.w_f16, "file");
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test("npy: hand-written v1.0 and v2.0 headers are read; Fortran order rejected", () => {
  const make = (major: number, dict: string, data: number[]) => {
    const pre = major === 1 ? 10 : 12;
    let text = dict;
    while ((pre + text.length + 1) % 64 !== 0) text += " ";
    text += "\n";
    const out = [0x93, ...Array.from("NUMPY", (c) => c.charCodeAt(0)), major, 0];
    if (major === 1) out.push(text.length & 0xff, text.length >> 8);
    else out.push(text.length & 0xff, (text.length >> 8) & 0xff, 0, 0);
    return Uint8Array.from([...out, ...Array.from(text, (c) => c.charCodeAt(0)), ...data]);
  };
  const v1 = sl.decodeNpy(make(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 1), }", [1, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff]));
  assert.deepEqual([v1.dtype, v1.shape, Array.from(v1.data)], ["i32", [2, 1], [1, -2]]);
  const v2 = sl.decodeNpy(make(2, "{'descr': '<f2', 'fortran_order': False, 'shape': (3,), }", [0x00, 0x3c, 0x00, 0x7c, 0x01, 0x00]));
  assert.deepEqual(Array.from(v2.floatData()), [1, Infinity, 2 ** -24]);
  const sc = sl.decodeNpy(make(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (), }", [1]));
  assert.deepEqual([sc.dtype, sc.shape, sc.item()], ["bool", [], 1]);
  const f8 = sl.decodeNpy(make(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", Array.from(new Uint8Array(new Float64Array([0.5]).buffer))));
  assert.deepEqual([f8.dtype, f8.item()], ["f32", 0.5]);
  expectError(() => sl.decodeNpy(make(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", new Array(16).fill(0))), "decodeNpy", "Fortran");
  expectError(() => sl.decodeNpy(make(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", [0, 0, 0, 0])), "decodeNpy", ">f4");
  expectError(() => sl.decodeNpy(make(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", [0, 0, 0, 0])), "needs 16 data bytes");
  expectError(() => sl.decodeNpy(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])), "decodeNpy", "magic");
});
