import { SparselabError, argError, fmtShape } from "../../errors.js";
import { allocStorage, bytesPerElement, type DType, type Storage } from "../../tensor/dtype.js";
import { Tensor, type DeviceBuffer, type DeviceCopyOptions } from "../../tensor/tensor.js";
import { requireCuda, type CudaRuntime } from "./runtime.js";

/** A stream given to a copy: a `sl.cuda.Stream` (anything with a numeric `id`) or a raw stream id. */
export type StreamLike = number | { readonly id: number };

/** Options of the device copies. */
export interface CopyOptions {
  /** The stream the copy goes on; default the current stream (`Stream#run`) or the legacy default stream. */
  stream?: StreamLike;
}

export function streamId(op: string, s: StreamLike | undefined, rt: CudaRuntime): number {
  if (s === undefined) return rt.currentStream();
  const id = typeof s === "number" ? s : s?.id;
  if (!Number.isInteger(id) || id < 0) argError(op, "stream", "a sl.cuda.Stream or a stream id", String(s));
  if (rt.isDeadStream(id)) argError(op, "stream", "a live stream", `stream ${id}, which was disposed`);
  return id;
}

/** A CUDA allocation from the runtime's caching allocator, backing one Tensor. */
export class CudaBuffer implements DeviceBuffer {
  readonly device = "cuda" as const;
  #freed = false;
  /** Streams that used this block, its home (allocation) stream first. */
  readonly streams: number[];
  constructor(
    readonly rt: CudaRuntime,
    readonly ptr: number,
    readonly size: number,
    readonly bytes: number,
    readonly dtype: DType,
    stream = 0,
  ) {
    this.streams = [stream];
  }

  /** The stream the block was allocated on (where the work that fills it is expected to run). */
  get stream(): number {
    return this.streams[0];
  }

  /** Records that `stream` uses this block, so freeing it waits for that stream's work too. */
  recordStream(stream: number): void {
    if (!this.streams.includes(stream)) this.streams.push(stream);
  }

  /**
   * Reads the block back through a pinned staging buffer with an async copy on `stream` (default
   * the block's own stream); the wait and the copy out of staging happen on a worker thread, so
   * the JS thread stays free.
   */
  async read(on?: number | DeviceCopyOptions): Promise<Storage> {
    if (this.#freed) throw new SparselabError("Tensor.toTypedArray", "device tensor was disposed");
    const rt = this.rt;
    const stream =
      typeof on === "number" ? on
      : on?.stream !== undefined ? streamId("Tensor.cpu", on.stream as StreamLike, rt)
      : rt.isDeadStream(this.stream) ? 0
      : this.stream;
    const n = this.bytes / bytesPerElement(this.dtype);
    const ctor = allocStorage(this.dtype, 0).constructor as new (b: ArrayBuffer, o: number, n: number) => Storage;
    if (this.bytes === 0) return new ctor(new ArrayBuffer(0), 0, 0);
    const staging = rt.acquireStaging(this.bytes);
    const view = new Uint8Array(staging, 0, this.bytes);
    const event = rt.acquireEvent();
    let out: ArrayBuffer;
    try {
      rt.b.dtohAsync(view, this.ptr, stream);
      rt.b.eventRecord(event, stream);
      // The wait and the copy out of staging into the tensor's own memory run on a worker thread.
      out = await rt.b.readAsync(event, view);
    } catch (e) {
      rt.recycleEvent(event);
      throw e;
    }
    rt.releaseStaging(staging, event); // already complete: reusable at once
    return new ctor(out, 0, n);
  }

  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    this.rt.release(this.ptr, this.size, this.streams);
  }
}

/** A new uninitialised device tensor, allocated for use on `stream` (default: the current stream). */
export function emptyCuda<D extends DType>(shape: readonly number[], dtype: D, rt = requireCuda("cuda.empty"), stream = rt.currentStream()): Tensor<D> {
  let n = 1;
  for (const d of shape) n *= d;
  const bytes = n * bytesPerElement(dtype);
  const { ptr, size } = rt.alloc(bytes, stream);
  return new Tensor(shape, dtype, new CudaBuffer(rt, ptr, size, bytes, dtype, stream));
}

/**
 * Copies a host tensor to the GPU (a device tensor is returned as is). The copy is asynchronous
 * on `opts.stream` (default the current stream): the data is staged in pinned memory, so the
 * call returns at once and later work on the same stream sees the data.
 * @example
 * const s = new sl.cuda.Stream();
 * const qd = sl.cuda.toDevice(sl.randn([1, 16, 4096, 128], { seed: 1 }).astype("bf16"), { stream: s });
 */
export function toDevice<D extends DType>(t: Tensor<D>, opts: CopyOptions = {}): Tensor<D> {
  if (t.device === "cuda") return t;
  const op = "toDevice";
  const rt = requireCuda(op);
  const stream = streamId(op, opts.stream, rt);
  const out = emptyCuda(t.shape, t.dtype, rt, stream);
  const src = t.data;
  if (src.byteLength > 0) {
    const staging = rt.acquireStaging(src.byteLength);
    new Uint8Array(staging, 0, src.byteLength).set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength));
    rt.b.htodAsync(devicePtr(out), new Uint8Array(staging, 0, src.byteLength), stream);
    const event = rt.acquireEvent();
    rt.b.eventRecord(event, stream);
    rt.releaseStaging(staging, event);
  }
  return out;
}

/**
 * Copies a device tensor back to host memory (a host tensor is returned as is), with an async
 * copy on `opts.stream` (default the stream the tensor was allocated on); awaiting does not
 * block the JS thread.
 * @example
 * const host = await sl.cuda.toHost(sl.randn([4, 4]).to("cuda"));
 */
export async function toHost<D extends DType>(t: Tensor<D>, opts: CopyOptions = {}): Promise<Tensor<D>> {
  if (t.device !== "cuda") return t;
  const buf = t.buffer as CudaBuffer;
  const stream = opts.stream === undefined ? undefined : streamId("toHost", opts.stream, buf.rt);
  return new Tensor(t.shape, t.dtype, await buf.read(stream));
}

/**
 * Tells the allocator that `t` is used on `stream` besides the stream it was allocated on, so
 * its memory is not handed to other work until that stream's work on it is done (PyTorch's
 * `record_stream`).
 * @example
 * const s = new sl.cuda.Stream();
 * const x = sl.randn([1024]).to("cuda");
 * sl.cuda.recordStream(x, s);
 */
export function recordStream(t: Tensor, stream: StreamLike): void {
  const buf = t.buffer;
  if (!(buf instanceof CudaBuffer)) return argError("recordStream", "t", "a CUDA tensor", `a tensor on ${t.device}`);
  buf.recordStream(streamId("recordStream", stream, buf.rt));
}

/** The device address of a CUDA tensor, for kernel launches. */
export function devicePtr(t: Tensor): number {
  const buf = t.buffer;
  if (!(buf instanceof CudaBuffer))
    throw new SparselabError("cuda", `expected a CUDA tensor, got ${t.dtype} ${fmtShape(t.shape)} on ${t.device}`);
  return buf.ptr;
}
