// bench/gpu/moe-diag: a first look at the Hopper grouped GEMM on a new machine or after a layout
// change: one small GEMM per shared-memory descriptor convention for B (the default first), each
// compared with a float64 reference, and the error pattern (which rows / column blocks are off).
// Run before the tests: a wrong descriptor shows here as one clean line per convention.
import { Tensor } from "../../lib/tensor/tensor.js";
import { toDevice, toHost, emptyCuda, devicePtr } from "../../lib/backends/cuda/device-tensor.js";
import { requireCuda } from "../../lib/backends/cuda/runtime.js";
import { randomTensor, widen } from "../../test/gpu/gpu-helpers.js";

const rt = requireCuda("moe-diag");
const T = 128, K = 64, N = 256;
const x = randomTensor([T, K], "bf16", 1), w = randomTensor([1, K, N], "bf16", 2);
const X = widen(x), Wt = widen(w);
const ref = new Float64Array(T * N);
for (let r = 0; r < T; r++) for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) ref[r * N + n] += X[r * K + k] * Wt[k * N + n];
const dx = toDevice(x), dw = toDevice(w);
const dOff = toDevice(new Tensor([2], "i32", Int32Array.from([0, T])));
for (const [lbo, sbo] of [[8192, 1024], [1024, 8192]]) {
  const defs = ["#define BN 256", "#define STAGES 4", `#define B_LBO ${lbo}`, `#define B_SBO ${sbo}`];
  const smem = 4 * (128 * 64 + 64 * 256) * 2 + 1024 + 16;
  const f = rt.fn(`diag_${lbo}_${sbo}`, `${defs.join("\n")}\n${rt.kernelSource("grouped_gemm_sm90.cu")}`, "grouped_gemm_sm90", smem);
  const out = emptyCuda([T, N], "bf16", rt);
  rt.b.memset(devicePtr(out), 0xff, T * N * 2);
  rt.launch(f, [1, 1, 1], [384, 1, 1], "ppppiiii", [devicePtr(dx), devicePtr(dw), devicePtr(out), devicePtr(dOff), 1, T, K, N]);
  const got = widen(await toHost(out));
  let num = 0, den = 0, nan = 0;
  const badRows = new Set<number>(), badColBlocks = new Set<number>();
  for (let i = 0; i < ref.length; i++) {
    if (Number.isNaN(got[i])) nan++;
    const d = got[i] - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
    if (!(Math.abs(d) < 0.05 * (Math.abs(ref[i]) + 0.5))) {
      badRows.add(Math.floor(i / N) >> 3);
      badColBlocks.add((i % N) >> 3);
    }
  }
  console.log(`B LBO ${lbo} SBO ${sbo}: rel err ${Math.sqrt(num / den).toExponential(2)}, NaN ${nan}, bad 8-row groups ${badRows.size}/16, bad 8-col groups ${badColBlocks.size}/32, regs ${f.regs}, local ${f.localBytes}`);
}
// The dispatcher's kernels on the same problem (TMA-fed wgmma, cp.async-fed wgmma, mma.sync).
const { cudaGroupedGemm } = await import("../../lib/backends/cuda/moe.js");
for (const kind of ["", "1-CTA", "static", "regs-epi", "cp.async", "mma"]) {
  // static: the fixed-stride walk; regs-epi: register stores instead of the TMA-store epilogue.
  if (kind === "static") process.env.SPARSELAB_CUDA_GEMM_SCHED = "static";
  else delete process.env.SPARSELAB_CUDA_GEMM_SCHED;
  if (kind === "regs-epi") process.env.SPARSELAB_CUDA_GEMM_EPI = "regs";
  else delete process.env.SPARSELAB_CUDA_GEMM_EPI;
  if (kind === "cp.async" || kind === "mma") process.env.SPARSELAB_CUDA_GEMM = kind;
  else delete process.env.SPARSELAB_CUDA_GEMM;
  if (kind === "1-CTA") process.env.SPARSELAB_CUDA_GEMM_CLUSTER = "1";
  else delete process.env.SPARSELAB_CUDA_GEMM_CLUSTER;
  const t0 = performance.now();
  const got = widen(await toHost(await cudaGroupedGemm(dx, dw, new Tensor([2], "i32", Int32Array.from([0, T])))));
  let num = 0, den = 0;
  for (let i = 0; i < ref.length; i++) {
    num += (got[i] - ref[i]) ** 2;
    den += ref[i] ** 2;
  }
  console.log(`groupedGemm ${kind || "default"}: rel err ${Math.sqrt(num / den).toExponential(2)} (${(performance.now() - t0).toFixed(0)} ms with compile)`);
}
delete process.env.SPARSELAB_CUDA_GEMM;
delete process.env.SPARSELAB_CUDA_GEMM_CLUSTER;
delete process.env.SPARSELAB_CUDA_GEMM_SCHED;
delete process.env.SPARSELAB_CUDA_GEMM_EPI;
