import { AsyncLocalStorage } from "node:async_hooks";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync, renameSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { SparselabError } from "../../errors.js";
import { tensorMapArgs, tmaElementBytes, type TensorMapOptions, type TmaDType, type TmaSwizzle } from "./tensor-map.js";

/**
 * The CUDA runtime: the native shim (driver API + NVRTC, opened at run time), the on-disk
 * kernel cache, compiled-function lookup and a caching allocator. One instance per process.
 *
 * Environment: SPARSELAB_CACHE_DIR (default ~/.cache/sparselab) holds cubins by hash of source,
 * options and architecture; SPARSELAB_DEBUG=1 prints each compiled source's name and resource
 * use, =2 also the generated source and PTX; SPARSELAB_CUDA_ADDON points at a prebuilt
 * sparselab_cuda.node (used on machines where the package was built elsewhere).
 */
export interface DeviceInfo {
  name: string;
  major: number;
  minor: number;
  multiprocessors: number;
  sharedMemOptin: number;
  totalMem: number;
  driverVersion: number;
  nvrtcVersion: string;
  /** Whether the driver has cuTensorMapEncodeTiled (CUDA 12+), i.e. whether `tensorMap()` works. */
  tensorMaps: boolean;
}

/** A kernel argument: a number for the scalar kinds (p i u f l), a 128-byte buffer for `m`. */
export type LaunchArg = number | Uint8Array;

interface Binding {
  init(): DeviceInfo;
  compile(src: string, name: string, opts: string[], wantPtx?: boolean): { cubin: Buffer; log: string; ptx?: string };
  moduleLoad(cubin: Buffer): number;
  getFunction(mod: number, name: string, smem: number): { id: number; regs: number; localBytes: number };
  launch(fn: number, grid: number[], block: number[], smem: number, spec: string, args: LaunchArg[], stream?: number): void;
  malloc(bytes: number): number;
  free(ptr: number): void;
  memset(ptr: number, byte: number, bytes: number): void;
  htod(ptr: number, data: ArrayBufferView): void;
  dtoh(ptr: number, bytes: number): ArrayBuffer;
  dtod(dst: number, src: number, bytes: number): void;
  sync(): void;
  memInfo(): { free: number; total: number };
  eventCreate(timing?: boolean): number;
  eventRecord(e: number, stream?: number): void;
  eventElapsed(a: number, b: number): number;
  eventQuery(e: number): boolean;
  eventSynchronize(e: number): void;
  eventWait(e: number): Promise<void>;
  syncAsync(): Promise<void>;
  readAsync(e: number, staging: ArrayBufferView): Promise<ArrayBuffer>;
  eventDestroy(e: number): void;
  streamCreate(): number;
  streamSynchronize(s: number): void;
  streamQuery(s: number): boolean;
  streamWaitEvent(s: number, e: number): void;
  streamDestroy(s: number): void;
  hostAlloc(bytes: number): ArrayBuffer;
  htodAsync(ptr: number, data: ArrayBufferView, stream?: number): void;
  dtohAsync(dst: ArrayBufferView, ptr: number, stream?: number): void;
  memsetAsync(ptr: number, byte: number, bytes: number, stream?: number): void;
  tensorMap(
    dataType: number, addr: number, dims: number[], strides: number[], box: number[], elementStrides: number[],
    interleave: number, swizzle: number, l2: number, oob: number,
  ): Buffer;
}

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "lib"))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

export interface CompiledFunction {
  id: number;
  name: string;
  regs: number;
  localBytes: number;
  smem: number;
}

const debugLevel = Number(process.env.SPARSELAB_DEBUG ?? 0) || 0;

/** The stream launches, allocations and copies go on inside `CudaRuntime.withStream` (async-aware). */
const streamScope = new AsyncLocalStorage<number>();

/** A cached device block: the stream it was last used on and, for user streams, an event after that use. */
interface PoolBlock {
  ptr: number;
  stream: number;
  /** Event recorded on `stream` when the block was freed, or -1 (legacy-stream blocks need none). */
  event: number;
}

/** Pinned staging kept for reuse is capped; larger transfers get a buffer the GC frees afterwards. */
const STAGING_CAP = 256 * 2 ** 20;

export class CudaRuntime {
  readonly info: DeviceInfo;
  readonly arch: string;
  readonly root: string;
  private readonly fns = new Map<string, CompiledFunction>();
  private readonly pool = new Map<number, PoolBlock[]>();
  private readonly eventPool: number[] = [];
  private readonly deadStreams = new Set<number>();
  private readonly staging = new Map<number, ArrayBuffer[]>();
  private readonly stagingBusy: { buf: ArrayBuffer; event: number }[] = [];
  private stagingBytes = 0;
  private pinnedFailure: string | undefined;
  private pooledBytes = 0;
  private liveBytes = 0;
  private peakBytes = 0;

  private constructor(readonly b: Binding, info: DeviceInfo, root: string) {
    this.info = info;
    this.root = root;
    // sm_90a unlocks Hopper-only instructions (wgmma, setmaxnreg); other chips use their own sm.
    this.arch = `sm_${info.major}${info.minor}${info.major === 9 && info.minor === 0 ? "a" : ""}`;
  }

  /** Loads the shim and initialises device 0; throws an Error saying why when it cannot. */
  static open(): CudaRuntime {
    const root = packageRoot();
    const candidates = [
      process.env.SPARSELAB_CUDA_ADDON,
      join(root, "build", "Release", "sparselab_cuda.node"),
      join(root, ".gpu", "sparselab_cuda.node"),
    ].filter((p): p is string => !!p);
    const path = candidates.find((p) => existsSync(p));
    if (!path) throw new Error(`the CUDA shim is not built (looked for ${candidates.join(", ")})`);
    const req = createRequire(import.meta.url);
    const binding = req(path) as Binding;
    const info = binding.init();
    return new CudaRuntime(binding, info, root);
  }

  private cacheDir(): string {
    const base = process.env.SPARSELAB_CACHE_DIR ?? join(homedir(), ".cache", "sparselab");
    return join(base, "cuda");
  }

  /**
   * Compiles `source` with NVRTC for this GPU (or takes the cubin from the disk cache) and
   * returns the kernel `entry`. `smem` is its dynamic shared memory, raised past 48 KB if needed.
   */
  fn(name: string, source: string, entry: string, smem: number): CompiledFunction {
    const opts = [`--gpu-architecture=${this.arch}`, "-std=c++17", "--use_fast_math", "-default-device"];
    const key = createHash("sha256")
      .update(source)
      .update("\0" + opts.join(" ") + "\0" + this.info.nvrtcVersion + "\0" + entry)
      .digest("hex")
      .slice(0, 32);
    const memo = this.fns.get(key + ":" + smem);
    if (memo) return memo;
    const dir = this.cacheDir();
    const file = join(dir, `${name}-${key}.cubin`);
    let cubin: Buffer;
    if (existsSync(file)) {
      cubin = readFileSync(file);
    } else {
      if (debugLevel >= 2) process.stderr.write(`[sparselab cuda] source of ${name}:\n${source}\n`);
      const t0 = performance.now();
      const out = this.b.compile(source, `${name}.cu`, opts, debugLevel >= 2);
      cubin = out.cubin;
      if (debugLevel >= 1)
        process.stderr.write(`[sparselab cuda] compiled ${name} for ${this.arch} in ${(performance.now() - t0).toFixed(0)} ms${out.log ? "\n" + out.log : ""}\n`);
      if (debugLevel >= 2 && out.ptx) process.stderr.write(`[sparselab cuda] PTX of ${name}:\n${out.ptx}\n`);
      try {
        mkdirSync(dir, { recursive: true });
        const tmp = `${file}.${process.pid}.tmp`;
        writeFileSync(tmp, cubin);
        renameSync(tmp, file); // atomic, so two kernels compiling at once never see half a file
      } catch {
        /* a read-only cache only costs a recompile */
      }
    }
    const mod = this.b.moduleLoad(cubin);
    const f = this.b.getFunction(mod, entry, smem);
    const cf: CompiledFunction = { id: f.id, name, regs: f.regs, localBytes: f.localBytes, smem };
    if (debugLevel >= 1)
      process.stderr.write(`[sparselab cuda] ${name}: ${f.regs} registers, ${f.localBytes} bytes local, ${smem} bytes shared\n`);
    this.fns.set(key + ":" + smem, cf);
    return cf;
  }

  /**
   * Launches `f`. `spec` has one letter per argument: p device pointer, i int32, u uint32,
   * f float32, l int64, m a CUtensorMap from `tensorMap()` passed by value (for a
   * `const __grid_constant__ CUtensorMap` parameter). Work goes on `stream` (a stream id),
   * default the current stream (see `sl.cuda.Stream.run`), else the legacy default stream.
   */
  launch(f: CompiledFunction, grid: [number, number, number], block: [number, number, number], spec: string, args: LaunchArg[], stream?: number): void {
    if (grid.some((g) => g <= 0)) return; // nothing to do (an empty dimension)
    this.b.launch(f.id, grid, block, f.smem, spec, args, stream ?? this.currentStream());
  }

  /**
   * Fills `bytes` bytes at `ptr` with `byte`, queued on `stream` (default the current stream),
   * so a fill inside `Stream#run` stays on that stream (`b.memset` goes to the legacy stream).
   */
  memset(ptr: number, byte: number, bytes: number, stream = this.currentStream()): void {
    if (bytes > 0) this.b.memsetAsync(ptr, byte, bytes, stream);
  }

  /** The stream id launches and copies go on right now: 0 (the legacy default) unless inside `withStream`. */
  currentStream(): number {
    return streamScope.getStore() ?? 0;
  }

  /**
   * Encodes a TMA descriptor (CUtensorMap, 128 bytes) for `cp.async.bulk.tensor`: pass it to a
   * kernel with the `m` launch kind. Dims are innermost first, as in PTX coordinates. Throws a
   * SparselabError naming the argument when an option breaks the driver's documented limits, and
   * says so when the driver predates TMA (CUDA < 12). In the kernel, the innermost coordinate of
   * a box times the element size must be a multiple of 16 bytes: an unaligned box start faults
   * with CUDA_ERROR_ILLEGAL_INSTRUCTION (rows and outer coordinates may be anything, negative
   * and past the end included; those parts read as the fill).
   * @example
   * const rt = sl.cuda.runtime();
   * const x = sl.randn([8, 1000, 320], { seed: 1 }).astype("bf16").to("cuda");
   * const desc = rt.tensorMap({ dtype: "bf16", globalAddress: sl.cuda.devicePtr(x), globalDims: [320, 1000, 8],
   *   globalStridesBytes: [640, 640 * 1000], boxDims: [64, 128, 1], swizzle: 128 });
   */
  tensorMap(o: TensorMapOptions): Buffer {
    const op = "cuda.tensorMap";
    const a = tensorMapArgs(op, o);
    if (!this.info.tensorMaps)
      throw new SparselabError(op, `the CUDA driver (version ${this.info.driverVersion}) has no cuTensorMapEncodeTiled: TMA needs CUDA 12+ and an sm_90 GPU`);
    return this.b.tensorMap(a.dataType, a.globalAddress, a.globalDims, a.globalStrides, a.boxDims, a.elementStrides, a.interleave, a.swizzle, a.l2Promotion, a.oobFill);
  }

  /**
   * A TMA descriptor for a row-major matrix [rows, cols] at `ptr` with `rowStrideBytes` between
   * rows (a multiple of 16), moving boxes of [boxRows, boxCols]. The usual Hopper case: a
   * K-major operand tile with a 128-byte swizzle (boxCols * element bytes <= 128).
   * @example
   * const rt = sl.cuda.runtime();
   * const k = sl.randn([4096, 128], { seed: 2 }).astype("bf16").to("cuda");
   * const desc = rt.tensorMap2d(sl.cuda.devicePtr(k), "bf16", 4096, 128, 256, 64, 64, 128);
   */
  tensorMap2d(
    ptr: number, dtype: TmaDType, rows: number, cols: number, rowStrideBytes: number, boxRows: number, boxCols: number,
    swizzle: TmaSwizzle = 0, opts: Pick<TensorMapOptions, "l2Promotion" | "oobFill"> = {},
  ): Buffer {
    return this.tensorMap({ dtype, globalAddress: ptr, globalDims: [cols, rows], globalStridesBytes: [rowStrideBytes], boxDims: [boxCols, boxRows], swizzle, ...opts });
  }

  /** Bytes per element of a tensor-map dtype (for stride arithmetic). */
  static tmaElementBytes(dtype: TmaDType): number {
    return tmaElementBytes(dtype);
  }

  /** Rounds allocations up so the pool can reuse them across slightly different sizes. */
  private static bucket(bytes: number): number {
    if (bytes <= 4096) return 4096;
    const p = 2 ** Math.ceil(Math.log2(bytes));
    // Above 1 MiB round to 1/8 steps of the power of two to bound waste to 12.5%.
    if (bytes <= 1 << 20) return p;
    const step = p / 8;
    return Math.ceil(bytes / step) * step;
  }

  /**
   * A device block of at least `bytes`, for use on `stream` (default: the current stream). A cached
   * block freed on the same stream is reused at once (stream order protects it); one freed on the
   * legacy default stream too (our streams are blocking: they wait for earlier legacy work); one
   * freed on another user stream only once the event recorded at its free has completed.
   */
  alloc(bytes: number, stream = this.currentStream()): { ptr: number; size: number } {
    const size = CudaRuntime.bucket(Math.max(1, bytes));
    const list = this.pool.get(size);
    let ptr: number | undefined;
    if (list?.length) {
      let at = -1;
      for (let i = list.length - 1; i >= 0 && at < 0; i--) if (list[i].stream === stream) at = i;
      for (let i = list.length - 1; i >= 0 && at < 0; i--) {
        const blk = list[i];
        if (blk.stream === 0 || this.deadStreams.has(blk.stream) || (blk.event >= 0 && this.b.eventQuery(blk.event))) at = i;
      }
      if (at >= 0) {
        const [blk] = list.splice(at, 1);
        if (blk.event >= 0) this.eventPool.push(blk.event);
        ptr = blk.ptr;
        this.pooledBytes -= size;
      }
    }
    if (ptr === undefined) {
      try {
        ptr = this.b.malloc(size);
      } catch (e) {
        // Out of memory: wait for the device, give the pool back to the driver and try once more.
        this.emptyCache();
        ptr = this.b.malloc(size);
      }
    }
    this.liveBytes += size;
    this.peakBytes = Math.max(this.peakBytes, this.liveBytes);
    return { ptr, size };
  }

  /**
   * Returns a block to the cache. `streams` lists the streams that used it (the first is its
   * home); work on the others is joined into the home stream, and on a user stream an event
   * marks when the block is free for other streams.
   */
  release(ptr: number, size: number, streams: readonly number[] = [0]): void {
    this.liveBytes -= size;
    const live = streams.filter((s) => !this.deadStreams.has(s));
    const home = live[0] ?? 0;
    let event = -1;
    try {
      for (const other of live.slice(1)) {
        if (other === home) continue;
        const e = this.acquireEvent();
        this.b.eventRecord(e, other);
        this.b.streamWaitEvent(home, e);
        this.eventPool.push(e); // recording again later is fine: the wait already captured this one
      }
      if (home !== 0) {
        event = this.acquireEvent();
        this.b.eventRecord(event, home);
      }
    } catch {
      // A dead context (sticky error): the block is never reused anyway.
      return;
    }
    let list = this.pool.get(size);
    if (!list) this.pool.set(size, (list = []));
    list.push({ ptr, stream: home, event });
    this.pooledBytes += size;
  }

  /** A timing-free event from the runtime's pool (for ordering and allocator bookkeeping). */
  acquireEvent(): number {
    return this.eventPool.pop() ?? this.b.eventCreate(false);
  }

  /** Gives an event from `acquireEvent` back to the pool. */
  recycleEvent(e: number): void {
    this.eventPool.push(e);
  }

  /** Runs `fn` with `stream` as the current stream (launches, allocations and copies inside use it, across awaits). */
  withStream<T>(stream: number, fn: () => T): T {
    return streamScope.run(stream, fn);
  }

  /** Marks a stream as destroyed (after it was synchronised): its blocks are free for any stream. */
  streamDestroyed(stream: number): void {
    this.deadStreams.add(stream);
  }

  /** Whether a stream id was destroyed (blocks used on it need no ordering any more). */
  isDeadStream(stream: number): boolean {
    return this.deadStreams.has(stream);
  }

  /**
   * A page-locked host buffer of at least `bytes` for an async copy; give it back with
   * `releaseStaging(buf, event)` once the copy is enqueued, `event` recorded after the copy. Falls
   * back to ordinary memory (copies then block the host while they run) when pinning fails.
   */
  acquireStaging(bytes: number): ArrayBuffer {
    this.sweepStaging();
    const size = CudaRuntime.bucket(Math.max(1, bytes));
    const ready = this.staging.get(size);
    const got = ready?.pop();
    if (got) {
      this.stagingBytes -= size;
      return got;
    }
    if (!this.pinnedFailure) {
      try {
        return this.b.hostAlloc(size);
      } catch (e) {
        // e.g. a locked-memory limit: stop trying (copies still work); memory() says why.
        this.pinnedFailure = (e as Error).message;
      }
    }
    return new ArrayBuffer(size);
  }

  /** Returns a staging buffer; it is reused only after `event` (recorded after its copy) completes. */
  releaseStaging(buf: ArrayBuffer, event: number): void {
    this.stagingBusy.push({ buf, event });
  }

  private sweepStaging(): void {
    for (let i = 0; i < this.stagingBusy.length; ) {
      const { buf, event } = this.stagingBusy[i];
      if (!this.b.eventQuery(event)) {
        i++;
        continue;
      }
      this.stagingBusy.splice(i, 1);
      this.eventPool.push(event);
      if (this.stagingBytes + buf.byteLength > STAGING_CAP) continue; // left to the GC
      let list = this.staging.get(buf.byteLength);
      if (!list) this.staging.set(buf.byteLength, (list = []));
      list.push(buf);
      this.stagingBytes += buf.byteLength;
    }
  }

  /** Frees every cached (unused) allocation back to the driver, after the device finishes its work. */
  emptyCache(): void {
    this.b.sync();
    for (const [, list] of this.pool)
      for (const blk of list) {
        this.b.free(blk.ptr);
        if (blk.event >= 0) this.eventPool.push(blk.event);
      }
    this.pool.clear();
    this.pooledBytes = 0;
    this.staging.clear();
    this.stagingBytes = 0;
  }

  /**
   * Allocator figures: bytes live in tensors, cached for reuse, the peak, pinned staging kept for
   * async copies (and why staging is not pinned, when pinning failed), and the device's own view.
   */
  memory(): { liveBytes: number; pooledBytes: number; peakBytes: number; pinnedStagingBytes: number; pinnedFailure?: string; deviceFree: number; deviceTotal: number } {
    const m = this.b.memInfo();
    return {
      liveBytes: this.liveBytes, pooledBytes: this.pooledBytes, peakBytes: this.peakBytes, pinnedStagingBytes: this.stagingBytes,
      ...(this.pinnedFailure ? { pinnedFailure: this.pinnedFailure } : {}), deviceFree: m.free, deviceTotal: m.total,
    };
  }

  sync(): void {
    this.b.sync();
  }

  /** Times `fn` with CUDA events: median of `iters` runs after `warmup`, in milliseconds. */
  time(fn: () => void, iters = 20, warmup = 3): { median: number; min: number; all: number[] } {
    for (let i = 0; i < warmup; i++) fn();
    this.b.sync();
    const all: number[] = [];
    const a = this.b.eventCreate();
    const z = this.b.eventCreate();
    for (let i = 0; i < iters; i++) {
      this.b.eventRecord(a);
      fn();
      this.b.eventRecord(z);
      all.push(this.b.eventElapsed(a, z));
    }
    this.b.eventDestroy(a);
    this.b.eventDestroy(z);
    const s = [...all].sort((x, y) => x - y);
    return { median: s[Math.floor(s.length / 2)], min: s[0], all };
  }

  kernelSource(file: string): string {
    return readKernelSource(join(this.root, "lib", "backends", "cuda", "kernels"), file);
  }
}

/**
 * A kernel's source with its `#include "x.cuh"` lines replaced by those files (from the same
 * folder, once each): NVRTC gets one self-contained string, and nvcc in CI gets the same text.
 */
export function readKernelSource(dir: string, file: string, seen = new Set<string>()): string {
  const p = join(dir, file);
  if (!existsSync(p)) throw new SparselabError("cuda", `kernel source ${p} is missing`);
  seen.add(file);
  return readFileSync(p, "utf8").replace(/^#include "([\w.]+\.cuh)"$/gm, (_, inc: string) =>
    seen.has(inc) ? "" : readKernelSource(dir, inc, seen),
  );
}

let runtime: CudaRuntime | undefined;
let failure: string | undefined;

/** The process's CUDA runtime, or undefined with `cudaFailure()` saying why. */
export function cudaRuntime(): CudaRuntime | undefined {
  if (runtime || failure) return runtime;
  try {
    runtime = CudaRuntime.open();
  } catch (e) {
    failure = (e as Error).message.replace(/^\[sparselab cuda\] /, "");
  }
  return runtime;
}

export function cudaFailure(): string | undefined {
  cudaRuntime();
  return failure;
}

export function requireCuda(op: string): CudaRuntime {
  const rt = cudaRuntime();
  if (!rt) throw new SparselabError(op, `CUDA is not available: ${failure}`);
  return rt;
}
