import { registerOp, setBackendStatus } from "../registry.js";
import { setDeviceMover } from "../../tensor/tensor.js";
import { toDevice as moveToDevice, type CopyOptions } from "./device-tensor.js";
import { cudaAttention } from "./attention.js";
import { cudaGroupedGemm } from "./moe.js";
import { cudaAntidiagScores, cudaBlockPool, cudaDecodeAttention } from "./sparse.js";
import { cudaFailure, cudaRuntime, requireCuda, type CudaRuntime } from "./runtime.js";

/**
 * The process's CUDA runtime (compile and launch kernels, allocate, encode TMA descriptors);
 * throws, saying why, where CUDA is not available.
 * @example
 * const rt = sl.cuda.runtime();
 * console.log(rt.info.name, rt.arch, rt.memory());
 */
export function runtime(): CudaRuntime {
  return requireCuda("cuda.runtime");
}

/**
 * Waits for all GPU work on every stream, on a worker thread (the JS thread stays free).
 * @example
 * await sl.cuda.synchronize();
 */
export async function synchronize(): Promise<void> {
  await requireCuda("cuda.synchronize").b.syncAsync();
}

export { toDevice, toHost, emptyCuda, devicePtr, recordStream, type CopyOptions, type StreamLike } from "./device-tensor.js";
export { Stream, Event, DEFAULT_STREAM as defaultStream } from "./stream.js";
export { cudaRuntime, type CudaRuntime, type LaunchArg } from "./runtime.js";
export type { TensorMapOptions, TmaDType, TmaSwizzle } from "./tensor-map.js";
export { routeSoftmaxTopk, permutation, permuteByExpert, gatherRows, combineRows, swiglu, moeForward, groupedGemm, groupedGemmKernel, wgmmaTileN, type CudaMoeWeights, type GroupedGemmKernel } from "./moe.js";
export { castCuda, cudaCreateBlockMask as createBlockMask, cudaBlockMaskOnDevice as blockMaskOnDevice, type DeviceBlockMask, type CudaBlockMaskOptions } from "./sparse.js";

/**
 * Tries to bring up CUDA: opens the driver and NVRTC through the native shim and registers the
 * CUDA ops. Without a GPU (or a built shim) the backend reports why in `sl.backends()` and
 * everything runs on cpu/js.
 */
export function load(): boolean {
  const rt = cudaRuntime();
  if (!rt) {
    setBackendStatus({ name: "cuda", loaded: false, reason: cudaFailure() });
    setDeviceMover(undefined, `the CUDA backend did not load: ${cudaFailure()}`);
    return false;
  }
  const i = rt.info;
  setBackendStatus({
    name: "cuda",
    loaded: true,
    detail: `${i.name}, ${rt.arch}, ${i.multiprocessors} SMs, ${(i.totalMem / 2 ** 30).toFixed(0)} GiB, NVRTC ${i.nvrtcVersion}`,
  });
  // The optional third argument is `t.to("cuda", { stream })`'s options once Tensor.to forwards them.
  setDeviceMover((t, _device, opts) => moveToDevice(t, opts as CopyOptions | undefined));
  registerOp("cuda", "attention", cudaAttention);
  registerOp("cuda", "groupedGemm", cudaGroupedGemm);
  registerOp("cuda", "decodeAttention", cudaDecodeAttention);
  registerOp("cuda", "blockPool", cudaBlockPool);
  registerOp("cuda", "antidiagScores", cudaAntidiagScores);
  return true;
}
