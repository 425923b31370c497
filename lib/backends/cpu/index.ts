/**
 * The native CPU backend: a C++17 addon (lib/backends/cpu/native, built by node-gyp from
 * `npm install`) with AVX-512 / AVX2+FMA / portable kernels chosen once at load and a thread
 * pool sized to the cores. lib/backends/load.ts imports this module and calls `load()`; when
 * the addon is missing or fails to load, the backend is marked not loaded with the reason and
 * the JS reference runs (`sl.backends()` says why).
 *
 * Environment:
 * | variable            | effect                                                        |
 * |---------------------|---------------------------------------------------------------|
 * | SPARSELAB_THREADS   | threads of the pool (default: the cores)                      |
 * | SPARSELAB_ISA       | force a kernel set: avx512, avx2 or generic (if the CPU has it)|
 * | SPARSELAB_CPU_ADDON | path of an out-of-tree sparselab_cpu.node                     |
 * | SPARSELAB_TUNE_QTILE, SPARSELAB_TUNE_KVCHUNK | dense attention tile sizes (64 x 128; tuning runs only) |
 * | SPARSELAB_SPIN      | pauses a pool thread spins before sleeping (default 2048)     |
 * | SPARSELAB_PIN=0     | do not pin pool threads to CPUs (pinned by default when the pool has at most as many threads as the process may use CPUs) |
 * | SPARSELAB_OUTPUT_POOL_MB | free output memory kept for reuse (default 256)          |
 * | SPARSELAB_TUNE_PACK_KB | packed K/V per batch of heads (default 4096; tuning runs only) |
 * | SPARSELAB_TUNE_MAX_BITMAP_BYTES | largest IR-mask bitmaps built (default 256 MiB; 0: evaluate per row) |
 * | SPARSELAB_SKIP_NATIVE=1 | (install time) skip building the addon                    |
 */
import { registerOp, setBackendStatus } from "../registry.js";
import { loadAddon } from "./addon.js";
import { cpuAttention } from "./attention.js";
import { cpuDecodeAttention } from "./decode-attention.js";
import { cpuAntidiagScores, cpuColDiagSums } from "./estimator-ops.js";
import { cpuBlockPool, cpuGroupedGemm, cpuMatmul, cpuSoftmax, cpuTopk } from "./tensor-ops.js";

// The `*Into` variants write into caller-owned storage (tests poison it first; benchmarks
// reuse it); the registered ops above allocate their outputs.
export { attentionInto, maskBitmaps, outputStorage } from "./attention.js";
export { decodeAttentionInto } from "./decode-attention.js";
export { antidiagScoresInto, colDiagSumsInto } from "./estimator-ops.js";
export { blockPoolInto, groupedGemmInto, matmulInto, softmaxInto, topkInto } from "./tensor-ops.js";
export { loadAddon, addonPath } from "./addon.js";

/** The ops this backend registers, by registry name. */
export const CPU_OPS = {
  attention: cpuAttention,
  decodeAttention: cpuDecodeAttention,
  matmul: cpuMatmul,
  groupedGemm: cpuGroupedGemm,
  softmax: cpuSoftmax,
  topk: cpuTopk,
  blockPool: cpuBlockPool,
  antidiagScores: cpuAntidiagScores,
  colDiagSums: cpuColDiagSums,
} as const;

let loaded = false;

/**
 * Loads the addon and registers the cpu ops; safe to call twice. Never throws: a failure is
 * recorded as the backend's status.
 * @example
 * await sl.ready();
 * sl.backends().find((b) => b.name === "cpu");  // { loaded: true, detail: "AVX-512, 2 threads", ops: [...] }
 */
export function load(): void {
  if (loaded) return;
  let info: { isa: string; threads: number };
  try {
    info = loadAddon().info();
  } catch (e) {
    setBackendStatus({ name: "cpu", loaded: false, reason: (e as Error).message });
    return;
  }
  setBackendStatus({ name: "cpu", loaded: true, detail: `${info.isa}, ${info.threads} thread${info.threads === 1 ? "" : "s"}` });
  for (const [op, impl] of Object.entries(CPU_OPS)) registerOp("cpu", op, impl);
  loaded = true;
}
