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
import { devicePtr, emptyCuda, toDevice, toHost } from "../../lib/backends/cuda/device-tensor.js";
import { gpuSkipReason } from "./gpu-helpers.js";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

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
    // Inner (column) offsets stay multiples of 16 bytes: TMA faults (illegal instruction) on a box
    // whose first element is not 16-byte aligned. Rows may start anywhere, inside or outside.
    { dtype: "bf16" as const, bytes: 2, rows: 333, cols: 200, boxRows: 64, boxCols: 64, swz: 128 as const, r0: -5, c0: 8 },
    { dtype: "bf16" as const, bytes: 2, rows: 100, cols: 72, boxRows: 32, boxCols: 32, swz: 64 as const, r0: 3, c0: -8 },
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
    rt.launch(f, [gx, gy, 1], [128, 1, 1], "mpiiiii", [desc, devicePtr(out), c.boxCols, c.boxRows, c.r0, c.c0, swizzleBits]);
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

// ---- streams, events, async copies, the allocator across streams ----

const TEST_KERNELS = `
extern "C" __global__ void spin_fill(float* out, unsigned long long n, float value, unsigned long long ns) {
  if (ns) {
    unsigned long long t0, t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
    do { asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t)); } while (t - t0 < ns);
  }
  for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n; i += (unsigned long long)gridDim.x * blockDim.x) out[i] = value;
}
extern "C" __global__ void copy_add(const float* in, float* out, unsigned long long n, float add) {
  for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n; i += (unsigned long long)gridDim.x * blockDim.x) out[i] = in[i] + add;
}`;

async function streamKit() {
  const rt = cudaRuntime()!;
  const { Stream, Event } = await import("../../lib/backends/cuda/stream.js");
  const spin = rt.fn("runtime_test_kernels", TEST_KERNELS, "spin_fill", 0);
  const add = rt.fn("runtime_test_kernels", TEST_KERNELS, "copy_add", 0);
  /** Fills t with v after spinning ms milliseconds (one block when `oneBlock`, so two can overlap). */
  const fill = (t: Tensor, v: number, ms: number, stream: number, oneBlock = false) =>
    rt.launch(spin, oneBlock ? [1, 1, 1] : [Math.min(1024, Math.ceil(t.size / 256)), 1, 1], [256, 1, 1], "plfl", [devicePtr(t), t.size, v, Math.round(ms * 1e6)], stream);
  const copyAdd = (src: Tensor, dst: Tensor, a: number, stream: number) =>
    rt.launch(add, [Math.min(1024, Math.ceil(src.size / 256)), 1, 1], [256, 1, 1], "pplf", [devicePtr(src), devicePtr(dst), src.size, a], stream);
  return { rt, Stream, Event, fill, copyAdd };
}

const allEqual = (a: ArrayLike<number>, v: number) => {
  for (let i = 0; i < a.length; i++) if (a[i] !== v) return `element ${i} is ${a[i]}, expected ${v}`;
  return "";
};

test("a stream orders its work, and awaiting a read leaves the JS thread free", { skip }, async () => {
  const { rt, Stream, fill } = await streamKit();
  const s = new Stream();
  const x = toDevice(new Tensor([1 << 20], "f32", new Float32Array(1 << 20)), { stream: s });
  fill(x, 7, 150, s.id);
  assert.equal(s.query(), false, "the stream should still be busy with a 150 ms kernel");
  let ticks = 0, done = false;
  const tick = () => { if (!done) { ticks++; setTimeout(tick, 1); } };
  setTimeout(tick, 1);
  const host = await toHost(x); // on x's stream: after the fill
  done = true;
  assert.equal(allEqual(host.data as Float32Array, 7), "");
  assert.ok(ticks >= 5, `the event loop ran only ${ticks} timer ticks while a 150 ms kernel was awaited`);
  assert.equal(s.query(), true);
  x.dispose();
  s.dispose();
  assert.equal(rt.isDeadStream(s.id), true);
});

test("events order two streams and time work", { skip }, async () => {
  const { rt, Stream, Event, fill, copyAdd } = await streamKit();
  const s1 = new Stream(), s2 = new Stream();
  const n = 300_001;
  const src = emptyCuda([n], "f32", rt, s1.id);
  fill(src, 1, 0, s1.id);
  fill(src, 5, 80, s1.id); // the value s2 must see
  const e = s1.record();
  s2.waitEvent(e);
  const dst = s2.run(() => emptyCuda([n], "f32", rt));
  copyAdd(src, dst, 1, s2.id);
  recordStreamOf(src, s2.id);
  const got = await toHost(dst); // reads on s2
  assert.equal(allEqual(got.data as Float32Array, 6), "", "s2 ran before the event it waited for");
  const start = new Event(), end = new Event();
  start.record(s1);
  fill(src, 2, 40, s1.id, true);
  end.record(s1);
  await end.wait();
  const ms = start.elapsed(end);
  assert.ok(ms > 35 && ms < 1000, `a 40 ms kernel timed ${ms} ms`);
  assert.throws(() => new Event({ timing: false }).elapsed(end), /cuda\.Event\.elapsed: both events need timing/);
  for (const x of [src, dst]) x.dispose();
  for (const x of [start, end, e]) x.dispose();
  s1.dispose();
  s2.dispose();
});

function recordStreamOf(t: Tensor, stream: number) {
  (t.buffer as unknown as { recordStream(s: number): void }).recordStream(stream);
}

test("kernels on two streams overlap; on the legacy stream they serialise", { skip }, async () => {
  const { rt, Stream, fill } = await streamKit();
  const s1 = new Stream(), s2 = new Stream();
  const a = emptyCuda([256], "f32", rt), b = emptyCuda([256], "f32", rt);
  const wall = async (sa: number, sb: number) => {
    rt.sync();
    const t0 = performance.now();
    fill(a, 1, 100, sa, true);
    fill(b, 2, 100, sb, true);
    await rt.b.syncAsync();
    return performance.now() - t0;
  };
  const serial = await wall(0, 0);
  const overlapped = await wall(s1.id, s2.id);
  assert.ok(serial > 190, `two 100 ms kernels on one stream took ${serial} ms`);
  assert.ok(overlapped < 0.75 * serial, `two streams took ${overlapped} ms against ${serial} ms on one`);
  a.dispose();
  b.dispose();
  s1.dispose();
  s2.dispose();
});

test("the caching allocator reuses a block on another stream only after its event", { skip }, async () => {
  const { rt, Stream, fill } = await streamKit();
  rt.emptyCache();
  const s1 = new Stream(), s2 = new Stream();
  const n = (5.5 * 2 ** 20) / 4; // a bucket no other test uses
  const a = emptyCuda([n], "f32", rt, s1.id);
  const pa = devicePtr(a);
  fill(a, 1, 120, s1.id); // still writing when freed
  a.dispose();
  const b = emptyCuda([n], "f32", rt, s2.id);
  assert.notEqual(devicePtr(b), pa, "a block still in use on s1 was handed to s2");
  fill(b, 2, 0, s2.id);
  const c = emptyCuda([n], "f32", rt, s1.id);
  assert.equal(devicePtr(c), pa, "a block freed on s1 should be reused on s1 at once");
  c.dispose();
  await s1.synchronized();
  const d = emptyCuda([n], "f32", rt, s2.id);
  assert.equal(devicePtr(d), pa, "once s1's event completed the block should serve s2");
  await rt.b.syncAsync();
  assert.equal(allEqual((await toHost(b)).data as Float32Array, 2), "");
  for (const x of [b, d]) x.dispose();
  s1.dispose();
  s2.dispose();
});

test("recordStream: a block used on a second stream is not overwritten by the next owner", { skip }, async () => {
  const { rt, Stream, fill } = await streamKit();
  const { recordStream } = await import("../../lib/backends/cuda/device-tensor.js");
  const s1 = new Stream(), s2 = new Stream();
  const n = (3.5 * 2 ** 20) / 4;
  const x = emptyCuda([n], "f32", rt, 0);
  fill(x, 1, 100, s2.id); // a late write from s2
  recordStream(x, s2);
  x.dispose();
  const y = emptyCuda([n], "f32", rt, s1.id);
  fill(y, 2, 0, s1.id);
  await rt.b.syncAsync(); // everything done: a wrongly shared block would now hold 1s
  assert.equal(allEqual((await toHost(y)).data as Float32Array, 2), "");
  y.dispose();
  s1.dispose();
  s2.dispose();
});

test("async copies round-trip through pinned staging (sizes, dtypes, concurrent reads)", { skip }, async () => {
  const { rt, Stream } = await streamKit();
  const { load } = await import("../../lib/backends/cuda/index.js");
  load(); // installs t.to("cuda") (sl.ready() does this in a notebook)
  const seed = fresh();
  const s = new Stream();
  let st = seed;
  const rnd = () => ((st = (Math.imul(st, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const hosts: Tensor[] = [];
  for (const n of [0, 1, 13, 4096, (1 << 20) + 7, 3 << 20]) {
    hosts.push(new Tensor([n], "f32", Float32Array.from({ length: n }, () => rnd() * 2 - 1)));
    hosts.push(new Tensor([n], "u8", Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256))));
  }
  const devs = hosts.map((h, i) => (i % 2 ? toDevice(h, { stream: s }) : h.to("cuda")));
  const backs = await Promise.all(devs.map((d, i) => (i % 3 === 0 ? toHost(d, { stream: s }) : d.cpu())));
  backs.forEach((b, i) => assert.deepEqual(b.data, hosts[i].data, `seed ${seed}: tensor ${i} (${hosts[i].dtype} ${hosts[i].size})`));
  assert.ok(rt.memory().pinnedStagingBytes >= 0);
  for (const d of devs) d.dispose();
  s.dispose();
  assert.throws(() => s.run(() => 0), /cuda\.Stream\.run: stream \d+ was disposed/);
  assert.throws(() => toDevice(hosts[2], { stream: s }), /'stream' must be a live stream/);
});

test("without CUDA, streams and events fail saying why", { skip: skip ? undefined : "CUDA is present here" }, async () => {
  const { Stream, Event } = await import("../../lib/backends/cuda/stream.js");
  assert.throws(() => new Stream(), /cuda\.Stream: CUDA is not available/);
  assert.throws(() => new Event(), /cuda\.Event: CUDA is not available/);
});

// ---- CI: this area's kernels compile with nvcc for sm_80 and sm_90a (no GPU needed) ----
// The product compiles through NVRTC at run time; CI has nvcc, so the same sources (same
// definitions, same generated mask code) are compiled here: a broken runtime-side kernel fails CI.

const nvcc = ["nvcc", "/usr/local/cuda/bin/nvcc"].find((p) => spawnSync(p, ["--version"], { stdio: "ignore" }).status === 0);
const nvccSkip = nvcc ? undefined : "nvcc not found (CUDA toolkit not installed here); CI and the device machine have it";
if (nvccSkip && process.env.CI) throw new Error(`CI must compile the CUDA kernels but ${nvccSkip}`);

test("nvcc compiles tma_copy and the GPU createBlockMask variants for sm_80 and sm_90a", { skip: nvccSkip, timeout: 300_000 }, async () => {
  const sl = await import("../../lib/index.js");
  const { blockMaskDefines } = await import("../../lib/backends/cuda/sparse.js");
  const { CODEGEN_PRELUDE } = await import("../../lib/backends/cuda/codegen.js");
  const { readKernelSource } = await import("../../lib/backends/cuda/runtime.js");
  // The kernel folder: up from this file (dist/test/gpu, or a bundle's folder), else from the cwd.
  let dirK = join(process.cwd(), "lib", "backends", "cuda", "kernels");
  for (let d = new URL(".", import.meta.url).pathname, i = 0; i < 6; i++, d = join(d, "..")) {
    if (existsSync(join(d, "lib", "backends", "cuda", "kernels", "sparse_ops.cu"))) {
      dirK = join(d, "lib", "backends", "cuda", "kernels");
      break;
    }
  }
  const variants: [string, string][] = [2, 4].map((b) => [`tma_copy ELEM_BYTES ${b}`, `#define ELEM_BYTES ${b}\n${readKernelSource(dirK, "tma_copy.cu")}`]);
  const masks = [
    sl.masks.slidingWindow(256), sl.masks.document(new Int32Array(512).map((_, i) => i >> 7)),
    sl.mask("floor(q / 64) == floor(kv / 64) or kv < 4"), sl.mask("w[kv % 4] > 0.5 and q >= kv", { w: [0.1, 0.9, 0.2, 0.7] }),
  ];
  for (const m of masks) variants.push([`block_mask_rows ${m.name}`, `${blockMaskDefines(m.program!).defs.join("\n")}\n${CODEGEN_PRELUDE}\n${readKernelSource(dirK, "sparse_ops.cu")}`]);
  const dir = mkdtempSync(join(tmpdir(), "sl-nvcc-rt-"));
  try {
    const failures: string[] = [];
    const jobs = variants.flatMap(([name, src], i) => ["sm_80", "sm_90a"].map((arch) => ({ name, src, arch, i })));
    let next = 0;
    const worker = async () => {
      while (next < jobs.length) {
        const j = jobs[next++];
        const file = join(dir, `k${j.i}_${j.arch}.cu`);
        writeFileSync(file, j.src);
        const r = await new Promise<{ code: number | null; log: string }>((resolve) => {
          const p = spawn(nvcc!, ["-cubin", `-gencode=arch=compute_${j.arch.slice(3)},code=${j.arch}`, "-std=c++17", "--use_fast_math", "-o", file.replace(/\.cu$/, ".cubin"), file]);
          let log = "";
          p.stderr.on("data", (d) => (log += d));
          p.stdout.on("data", (d) => (log += d));
          p.on("close", (code) => resolve({ code, log }));
        });
        if (r.code !== 0) failures.push(`${j.name} (${j.arch}):\n${r.log.slice(0, 2000)}`);
      }
    };
    await Promise.all([worker(), worker()]);
    assert.equal(failures.length, 0, failures.join("\n\n"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
