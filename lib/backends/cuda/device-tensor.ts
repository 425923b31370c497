import { SparselabError, fmtShape } from "../../errors.js";
import { allocStorage, bytesPerElement, type DType, type Storage } from "../../tensor/dtype.js";
import { Tensor, type DeviceBuffer } from "../../tensor/tensor.js";
import { requireCuda, type CudaRuntime } from "./runtime.js";

/** A CUDA allocation from the runtime's caching allocator, backing one Tensor. */
export class CudaBuffer implements DeviceBuffer {
  readonly device = "cuda" as const;
  #freed = false;
  constructor(
    readonly rt: CudaRuntime,
    readonly ptr: number,
    readonly size: number,
    readonly bytes: number,
    readonly dtype: DType,
  ) {}

  async read(): Promise<Storage> {
    if (this.#freed) throw new SparselabError("Tensor.toTypedArray", "device tensor was disposed");
    const ab = this.rt.b.dtoh(this.ptr, this.bytes);
    const n = this.bytes / bytesPerElement(this.dtype);
    const out = allocStorage(this.dtype, 0).constructor as new (b: ArrayBuffer, o: number, n: number) => Storage;
    return new out(ab, 0, n);
  }

  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    this.rt.release(this.ptr, this.size);
  }
}

/** A new uninitialised device tensor. */
export function emptyCuda<D extends DType>(shape: readonly number[], dtype: D, rt = requireCuda("cuda.empty")): Tensor<D> {
  let n = 1;
  for (const d of shape) n *= d;
  const bytes = n * bytesPerElement(dtype);
  const { ptr, size } = rt.alloc(bytes);
  return new Tensor(shape, dtype, new CudaBuffer(rt, ptr, size, bytes, dtype));
}

/**
 * Copies a host tensor to the GPU (a device tensor is returned as is).
 * @example
 * const qd = sl.cuda.toDevice(sl.randn([1, 16, 4096, 128], { dtype: "bf16", seed: 1 }));
 */
export function toDevice<D extends DType>(t: Tensor<D>): Tensor<D> {
  if (t.device === "cuda") return t;
  const rt = requireCuda("toDevice");
  const out = emptyCuda(t.shape, t.dtype, rt);
  if (t.size > 0) rt.b.htod(devicePtr(out), t.data);
  return out;
}

/** Copies a device tensor back to host memory (a host tensor is returned as is). */
export async function toHost<D extends DType>(t: Tensor<D>): Promise<Tensor<D>> {
  if (t.device !== "cuda") return t;
  const buf = t.buffer as CudaBuffer;
  return new Tensor(t.shape, t.dtype, await buf.read());
}

/** The device address of a CUDA tensor, for kernel launches. */
export function devicePtr(t: Tensor): number {
  const buf = t.buffer;
  if (!(buf instanceof CudaBuffer))
    throw new SparselabError("cuda", `expected a CUDA tensor, got ${t.dtype} ${fmtShape(t.shape)} on ${t.device}`);
  return buf.ptr;
}
