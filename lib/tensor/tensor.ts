import { argError, fmtShape, SparselabError } from "../errors.js";
import {
  allocStorage,
  bf16ToF32,
  bytesPerElement,
  f16ToF32,
  f32ToBf16,
  f32ToF16,
  isDType,
  type DType,
  type ReadbackFor,
  type Storage,
} from "./dtype.js";
import { DISPLAY, type MimeBundle } from "../display.js";
import { tensorBundle } from "./format.js";
import { astype as astypeOp, reshape as reshapeOp } from "./shape.js";

/** Where a tensor's elements live. "cpu" is host memory (used by the js and cpu backends). */
export type Device = "cpu" | "cuda";

/**
 * Memory a backend owns outside the JS heap (a CUDA allocation). The backend that made it
 * knows how to read it back and free it.
 */
/** Options of copies between host and device (`t.to("cuda", opts)`, `t.cpu(opts)`). */
export interface DeviceCopyOptions {
  /** The stream the copy goes on (a `sl.cuda.Stream`); default the current stream (`Stream#run`). */
  stream?: unknown;
}

export interface DeviceBuffer {
  readonly device: Device;
  readonly bytes: number;
  /** Copies the contents into host storage of the tensor's dtype. */
  read(opts?: DeviceCopyOptions): Promise<Storage>;
  free(): void;
}

const live = { tensors: 0, hostBytes: 0, deviceBytes: 0, peakHostBytes: 0 };

const registry =
  typeof FinalizationRegistry !== "undefined"
    ? new FinalizationRegistry<DeviceBuffer>((buf) => {
        // Safety net only: users and ops call dispose(); this keeps a forgotten GPU tensor
        // from leaking forever.
        try {
          buf.free();
        } catch {
          /* the context may already be gone */
        }
      })
    : undefined;

/**
 * An n-dimensional array: shape, dtype, device, contiguous row-major storage.
 *
 * Host tensors keep their elements in `data` (Float32Array for f32, Uint16Array words for
 * f16/bf16, Int32Array for i32, Uint8Array for u8/bool). Device tensors keep a DeviceBuffer.
 *
 * @example
 * const t = sl.tensor([[1, 2], [3, 4]]);           // f32 [2, 2]
 * const h = sl.tensor([1, 2, 3], { dtype: "bf16" });
 * await t.toArray();                                 // [[1, 2], [3, 4]]
 */
export class Tensor<D extends DType = DType> {
  readonly shape: readonly number[];
  readonly dtype: D;
  readonly device: Device;
  /** Number of elements. */
  readonly size: number;
  #data: Storage | null;
  #buffer: DeviceBuffer | null;
  #disposed = false;

  constructor(shape: readonly number[], dtype: D, storage: Storage | DeviceBuffer) {
    if (!isDType(dtype)) argError("Tensor", "dtype", "one of f32, f16, bf16, i32, u8, bool", String(dtype));
    let n = 1;
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) argError("Tensor", "shape", "non-negative integers", fmtShape(shape));
      n *= d;
    }
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.size = n;
    if (ArrayBuffer.isView(storage)) {
      const expected = allocStorage(dtype, 0).constructor;
      if (storage.constructor !== expected)
        argError("Tensor", "storage", `a ${expected.name} for dtype ${dtype}`, storage.constructor.name);
      if (storage.length !== n)
        argError("Tensor", "storage", `${n} elements for shape ${fmtShape(shape)}`, `${storage.length}`);
      this.#data = storage;
      this.#buffer = null;
      this.device = "cpu";
      live.hostBytes += storage.byteLength;
      live.peakHostBytes = Math.max(live.peakHostBytes, live.hostBytes);
    } else {
      this.#data = null;
      this.#buffer = storage;
      this.device = storage.device;
      live.deviceBytes += storage.bytes;
      registry?.register(this, storage, this);
    }
    live.tensors++;
  }

  /** Number of dimensions. */
  get ndim(): number {
    return this.shape.length;
  }

  /** Row-major strides in elements. */
  get strides(): number[] {
    const s = new Array<number>(this.shape.length);
    let acc = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      s[i] = acc;
      acc *= this.shape[i];
    }
    return s;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * The host storage, for backends and readers that need it synchronously. Throws for device
   * tensors (use `await toTypedArray()` or `to("cpu")`) and for disposed ones.
   */
  get data(): Storage {
    this.#checkLive("data");
    if (!this.#data)
      throw new SparselabError("Tensor.data", `tensor is on ${this.device}; use await t.toTypedArray() or t.to("cpu")`);
    return this.#data;
  }

  /** The device allocation of a device tensor (null on the host). */
  get buffer(): DeviceBuffer | null {
    this.#checkLive("buffer");
    return this.#buffer;
  }

  /** Host elements widened to f32 (a view, not a copy, when the dtype is already f32). */
  floatData(): Float32Array {
    const d = this.data;
    if (this.dtype === "f32") return d as Float32Array;
    return toFloat32(d, this.dtype);
  }

  /** Reads the elements back: Float32Array for float dtypes, Int32Array for i32, Uint8Array otherwise. */
  async toTypedArray(): Promise<ReadbackFor<D>> {
    this.#checkLive("toTypedArray");
    const raw = this.#data ?? (await this.#buffer!.read());
    if (this.dtype === "f16" || this.dtype === "bf16") return toFloat32(raw, this.dtype) as ReadbackFor<D>;
    return raw.slice() as ReadbackFor<D>;
  }

  /** Reads the elements back as nested arrays (numbers; bool as 0/1). */
  async toArray(): Promise<unknown> {
    const flat = await this.toTypedArray();
    if (this.shape.length === 0) return flat[0];
    const build = (dim: number, offset: number): unknown[] => {
      const n = this.shape[dim];
      const out = new Array(n);
      if (dim === this.shape.length - 1) {
        for (let i = 0; i < n; i++) out[i] = flat[offset + i];
        return out;
      }
      const step = this.strides[dim];
      for (let i = 0; i < n; i++) out[i] = build(dim + 1, offset + i * step);
      return out;
    };
    return build(0, 0);
  }

  /** Frees the storage now. Further use throws. Safe to call twice. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    if (this.#data) live.hostBytes -= this.#data.byteLength;
    if (this.#buffer) {
      live.deviceBytes -= this.#buffer.bytes;
      registry?.unregister(this);
      this.#buffer.free();
    }
    live.tensors--;
    this.#data = null;
    this.#buffer = null;
  }

  /** Bytes of storage. */
  get nbytes(): number {
    return this.size * bytesPerElement(this.dtype);
  }

  toString(): string {
    return `Tensor(${this.dtype}, ${fmtShape(this.shape)}, ${this.device})`;
  }

  /**
   * The notebook rendering: text/plain (shape, dtype, device and numpy-style values with long
   * axes elided) and, for 1-D and 2-D tensors, a small text/html table. Device tensors are read
   * back first, so the bundle is a Promise for them.
   * @example
   * sl.randn([3, 4]);   // as a cell's last expression: shows the table
   */
  [DISPLAY](): MimeBundle | Promise<MimeBundle> {
    if (this.#disposed) return { "text/plain": `${this.toString()} (disposed)` };
    const header = `${this.toString()}`;
    if (this.#data) return tensorBundle(header, this.shape, this.dtype, this.#data);
    return this.#buffer!.read().then((raw) => tensorBundle(header, this.shape, this.dtype, raw));
  }

  /**
   * The single value of a one-element host tensor, as a number.
   * @example
   * sl.sum(sl.ones([3])).item();   // 3
   */
  item(): number {
    const d = this.data;
    if (this.size !== 1) throw new SparselabError("Tensor.item", `needs a tensor of one element, got shape ${fmtShape(this.shape)}`);
    return this.dtype === "f16" ? f16ToF32(d[0]) : this.dtype === "bf16" ? bf16ToF32(d[0]) : d[0];
  }

  /**
   * A copy with a new shape (one dimension may be -1): `sl.reshape(this, shape)`.
   * @example
   * sl.arange(6).reshape([2, 3]);
   */
  reshape(shape: readonly number[]): Tensor<D> {
    return reshapeOp(this, shape) as Tensor<D>;
  }

  /**
   * A copy converted to `dtype` (round to nearest even into f16/bf16): `sl.astype(this, dtype)`.
   * @example
   * sl.randn([4]).astype("bf16");
   */
  astype<T extends DType>(dtype: T): Tensor<T> {
    return astypeOp(this, dtype) as Tensor<T>;
  }

  /**
   * `to(dtype)` is `astype(dtype)`. `to("cuda")` copies a host tensor to the GPU (when the CUDA
   * backend loaded; `sl.backends()` says why not otherwise). `to("cpu")` on a host tensor is a
   * copy; reading a GPU tensor back is asynchronous: `await t.cpu()`. On a GPU machine:
   * `const qd = sl.randn([1, 16, 4096, 128], { seed: 1 }).astype("bf16").to("cuda")`.
   * `opts.stream` puts the copy on a `sl.cuda.Stream` (asynchronous with respect to other streams).
   * @example
   * sl.randn([4]).to("f16");
   */
  to<T extends DType>(target: T | "cpu" | "cuda", opts?: DeviceCopyOptions): Tensor<T> {
    if (target === "cuda") {
      if (this.device === "cuda") return this as unknown as Tensor<T>;
      if (!deviceMover) throw new SparselabError("Tensor.to", `CUDA is not available (${cudaUnavailable()}); see sl.backends()`);
      return deviceMover(this, "cuda", opts) as Tensor<T>;
    }
    if (target === "cpu") {
      if (this.device === "cpu") return astypeOp(this, this.dtype) as Tensor<T>;
      throw new SparselabError("Tensor.to", `reading a ${this.device} tensor back is asynchronous: use await t.cpu()`);
    }
    if (isDType(target)) return astypeOp(this, target) as Tensor<T>;
    return argError("Tensor.to", "target", "a dtype (f32, f16, bf16, i32, u8, bool), \"cpu\" or \"cuda\"", String(target));
  }

  /**
   * This tensor in host memory: itself when already there, else a copy read back from the device
   * (on a GPU machine: `const out = await (await sl.attention(qd, kd, vd)).cpu()`); the copy goes
   * on `opts.stream` if given, else the stream the tensor was made on, and the wait does not block
   * the JS thread.
   * @example
   * const t = await sl.randn([4]).cpu();   // a host tensor is returned as is
   */
  async cpu(opts?: DeviceCopyOptions): Promise<Tensor<D>> {
    if (this.device === "cpu") return this;
    return new Tensor(this.shape, this.dtype, await this.buffer!.read(opts));
  }

  #checkLive(what: string): void {
    if (this.#disposed) throw new SparselabError(`Tensor.${what}`, "tensor was disposed");
  }
}

/**
 * Moves host tensors to a device; the CUDA backend installs it when it loads, so this module
 * needs no CUDA code.
 */
let deviceMover: ((t: Tensor, device: Device, opts?: DeviceCopyOptions) => Tensor) | undefined;
let deviceMoverReason = "the CUDA backend has not loaded (await sl.ready())";

export function setDeviceMover(fn: ((t: Tensor, device: Device, opts?: DeviceCopyOptions) => Tensor) | undefined, reason?: string): void {
  deviceMover = fn;
  if (reason) deviceMoverReason = reason;
}

function cudaUnavailable(): string {
  return deviceMoverReason;
}

let f16Values: Float32Array | undefined;

/** All 65536 half values, built on first use (256 KiB): widening becomes one load per element. */
function f16Table(): Float32Array {
  if (!f16Values) {
    f16Values = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Values[h] = f16ToF32(h);
  }
  return f16Values;
}

/** Widens f16/bf16 words (or copies f32) into a new Float32Array. */
export function toFloat32(src: Storage, dtype: DType): Float32Array {
  const out = new Float32Array(src.length);
  if (dtype === "bf16") {
    const u32 = new Uint32Array(out.buffer);
    for (let i = 0; i < src.length; i++) u32[i] = src[i] << 16;
  } else if (dtype === "f16") {
    const table = f16Table();
    for (let i = 0; i < src.length; i++) out[i] = table[src[i]];
  } else {
    for (let i = 0; i < src.length; i++) out[i] = src[i];
  }
  return out;
}

/** Narrows f32 values into storage of `dtype` (rounding to nearest even for f16/bf16). */
export function fromFloat32(src: ArrayLike<number>, dtype: DType): Storage {
  const out = allocStorage(dtype, src.length);
  if (dtype === "bf16") for (let i = 0; i < src.length; i++) out[i] = f32ToBf16(src[i]);
  else if (dtype === "f16") for (let i = 0; i < src.length; i++) out[i] = f32ToF16(src[i]);
  else if (dtype === "bool") for (let i = 0; i < src.length; i++) out[i] = src[i] ? 1 : 0;
  else for (let i = 0; i < src.length; i++) out[i] = src[i];
  return out;
}

export { bf16ToF32 };

/**
 * Live tensor count and bytes held (host and device), and the host peak since start. "Live"
 * means not yet disposed: a tensor left to the garbage collector still counts.
 * @example
 * sl.memory();   // { tensors: 12, hostBytes: 49152, deviceBytes: 0, peakHostBytes: 65536 }
 */
export function memoryStats(): { tensors: number; hostBytes: number; deviceBytes: number; peakHostBytes: number } {
  return { ...live };
}

/** `memoryStats()` under a shorter public name. @example sl.memory().hostBytes */
export const memory = memoryStats;
