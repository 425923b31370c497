// The CUDA runtime below the kernels: TMA descriptors (tensorMap + the by-value launch kind),
// streams, events, async copies through pinned staging, and the caching allocator across
// streams. The option checks of tensorMap run everywhere (pure TypeScript); the rest needs a GPU
// and skips with the reason elsewhere.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../lib/tensor/tensor.js";
import { SparselabError } from "../../lib/errors.js";
import { tensorMapArgs, type TensorMapOptions } from "../../lib/backends/cuda/tensor-map.js";
import { cudaRuntime } from "../../lib/backends/cuda/runtime.js";
import { devicePtr, emptyCuda, toDevice } from "../../lib/backends/cuda/device-tensor.js";
import { gpuSkipReason } from "./gpu-helpers.js";

const skip = gpuSkipReason();
if (skip) console.log(`# skipping CUDA runtime device tests: ${skip}`);
const fresh = () => (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0;

const base: TensorMapOptions = { dtype: "bf16", globalAddress: 0x7f0000000000, globalDims: [128, 1000], globalStridesBytes: [256], boxDims: [64, 64] };

test("tensorMapArgs maps names to the driver's enums", () => {
  const a = tensorMapArgs("t", { ...base, swizzle: 128, l2Promotion: 256, oobFill: "nan" });
  assert.deepEqual(
    [a.dataType, a.swizzle, a.l2Promotion, a.oobFill, a.interleave, a.elementStrides],
    [9, 3, 3, 1, 0, [1, 1]],
  );
  const f = tensorMapArgs("t", { ...base, dtype: "f32", globalStridesBytes: [512], boxDims: [8, 16], swizzle: 32 });
  assert.deepEqual([f.dataType, f.swizzle, f.l2Promotion, f.oobFill], [7, 1, 2, 0]);
});

test("tensorMapArgs names the argument that breaks a driver limit", () => {
  const bad: [Partial<TensorMapOptions>, RegExp][] = [
    [{ globalAddress: 0x7f0000000008 }, /'globalAddress' must be a 16-byte aligned/],
    [{ globalStridesBytes: [250] }, /'globalStridesBytes\[0\]' must be a multiple of 16/],
    [{ globalStridesBytes: [128] }, /'globalStridesBytes\[0\]' must be at least 256/],
    [{ globalStridesBytes: [] }, /'globalStridesBytes' must be 1 byte strides/],
    [{ boxDims: [64, 300] }, /'boxDims\[1\]' must be an integer in 1..256/],
    [{ boxDims: [4, 64] }, /'boxDims\[0\]' must be a size whose bytes are a multiple of 16/],
    [{ boxDims: [128, 64], swizzle: 128 }, /'boxDims\[0\]' must be at most 64 bf16 elements \(128 bytes\)/],
    [{ swizzle: 16 as never }, /'swizzle' must be 0, 32, 64 or 128/],
    [{ dtype: "i32", globalStridesBytes: [512], oobFill: "nan" }, /'oobFill' must be "zero" for the integer dtype i32/],
    [{ globalDims: [1, 2, 3, 4, 5, 6] }, /'globalDims' must be 1 to 5 sizes/],
    [{ dtype: "bool" as never }, /'dtype' must be one of/],
  ];
  for (const [patch, re] of bad)
    assert.throws(() => tensorMapArgs("cuda.tensorMap", { ...base, ...patch }), (e: unknown) => e instanceof SparselabError && /cuda\.tensorMap/.test(e.message) && re.test(e.message), JSON.stringify(patch));
});

/** Host reference of tma_copy_2d: each box read from the matrix, zero outside it. */
function refBoxes(src: Uint16Array | Uint32Array, rows: number, cols: number, boxRows: number, boxCols: number, gx: number, gy: number, r0: number, c0: number) {
  const out = new (src.constructor as typeof Uint32Array)(gx * gy * boxRows * boxCols);
  for (let ty = 0; ty < gy; ty++)
    for (let tx = 0; tx < gx; tx++)
      for (let r = 0; r < boxRows; r++)
        for (let c = 0; c < boxCols; c++) {
          const y = ty * boxRows + r + r0, x = tx * boxCols + c + c0;
          out[((ty * gx + tx) * boxRows + r) * boxCols + c] = y >= 0 && y < rows && x >= 0 && x < cols ? src[y * cols + x] : 0;
        }
  return out;
}

test("TMA loads boxes into shared memory on an mbarrier (swizzles, ragged edges, zero fill)", { skip }, async () => {
  const rt = cudaRuntime()!;
  if (rt.info.major < 9 || !rt.info.tensorMaps) {
    console.log(`# TMA needs sm_90 and CUDA 12+: ${rt.info.name} ${rt.arch}, driver ${rt.info.driverVersion}; skipping`);
    return;
  }
  const seed = fresh();
  const cases = [
    { dtype: "bf16" as const, bytes: 2, rows: 333, cols: 200, boxRows: 64, boxCols: 64, swz: 128 as const, r0: -5, c0: 3 },
    { dtype: "bf16" as const, bytes: 2, rows: 100, cols: 72, boxRows: 32, boxCols: 32, swz: 64 as const, r0: 0, c0: 0 },
    { dtype: "f32" as const, bytes: 4, rows: 77, cols: 52, boxRows: 16, boxCols: 8, swz: 32 as const, r0: 7, c0: -4 },
    { dtype: "f32" as const, bytes: 4, rows: 50, cols: 36, boxRows: 8, boxCols: 12, swz: 0 as const, r0: 0, c0: 0 },
  ];
  for (const c of cases) {
    const n = c.rows * c.cols;
    const src = c.bytes === 2 ? new Uint16Array(n) : new Uint32Array(n);
    let s = (seed ^ c.rows) >>> 0 || 1;
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      src[i] = (s >>> 8) % (c.bytes === 2 ? 0xfff0 : 0x3fffffff) + 1; // never 0, so the zero fill shows
    }
    const host = c.bytes === 2 ? new Tensor([c.rows, c.cols], "bf16", src as Uint16Array) : new Tensor([c.rows, c.cols], "i32", new Int32Array(src.buffer));
    const dev = toDevice(host);
    const desc = rt.tensorMap({ dtype: c.dtype, globalAddress: devicePtr(dev), globalDims: [c.cols, c.rows], globalStridesBytes: [c.cols * c.bytes], boxDims: [c.boxCols, c.boxRows], swizzle: c.swz });
    assert.equal(desc.length, 128);
    const gx = Math.ceil((c.cols - c.c0) / c.boxCols) + 1, gy = Math.ceil((c.rows - c.r0) / c.boxRows) + 1; // one box wholly outside
    const out = emptyCuda([gx * gy * c.boxRows * c.boxCols], c.bytes === 2 ? "bf16" : "i32", rt);
    rt.b.memset(devicePtr(out), 0xab, out.size * c.bytes);
    const f = rt.fn(`tma_copy_${c.bytes}`, `#define ELEM_BYTES ${c.bytes}\n${rt.kernelSource("tma_copy.cu")}`, "tma_copy_2d", c.boxRows * c.boxCols * c.bytes + 1024);
    const swizzleBits = { 0: 0, 32: 1, 64: 2, 128: 3 }[c.swz];
    rt.launch(f, [gx, gy, 1], [128, 1, 1], "miiiii", [desc, c.boxCols, c.boxRows, c.r0, c.c0, swizzleBits]);
    // Raw bits back (a bf16 readback would widen, and NaN payloads need not survive that).
    const raw = rt.b.dtoh(devicePtr(out), out.size * c.bytes);
    const gotBits = c.bytes === 2 ? new Uint16Array(raw) : new Uint32Array(raw);
    const ref = refBoxes(src, c.rows, c.cols, c.boxRows, c.boxCols, gx, gy, c.r0, c.c0);
    let bad = -1;
    for (let i = 0; i < ref.length; i++) if (gotBits[i] !== ref[i]) { bad = i; break; }
    assert.equal(bad, -1, `seed ${seed}: ${JSON.stringify(c)}: first mismatch at ${bad}: got ${gotBits[bad]} want ${ref[bad]}`);
    dev.dispose();
    out.dispose();
  }
});
