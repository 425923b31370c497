import { registerOp, setBackendStatus } from "../registry.js";
import { setDeviceMover } from "../../tensor/tensor.js";
import { toDevice as moveToDevice } from "./device-tensor.js";
import { cudaAttention } from "./attention.js";
import { cudaGroupedGemm } from "./moe.js";
import { cudaAntidiagScores, cudaBlockPool, cudaDecodeAttention } from "./sparse.js";
import { cudaFailure, cudaRuntime } from "./runtime.js";

export { toDevice, toHost, emptyCuda } from "./device-tensor.js";
export { cudaRuntime } from "./runtime.js";
export { routeSoftmaxTopk, permutation, gatherRows, combineRows, swiglu, moeForward, type CudaMoeWeights } from "./moe.js";
export { castCuda, cudaCreateBlockMask as createBlockMask } from "./sparse.js";

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
  setDeviceMover((t) => moveToDevice(t));
  registerOp("cuda", "attention", cudaAttention);
  registerOp("cuda", "groupedGemm", cudaGroupedGemm);
  registerOp("cuda", "decodeAttention", cudaDecodeAttention);
  registerOp("cuda", "blockPool", cudaBlockPool);
  registerOp("cuda", "antidiagScores", cudaAntidiagScores);
  return true;
}
