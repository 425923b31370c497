// bench/gpu/moe: our grouped GEMMs on the moe-catalog anchor shape beside torch._grouped_mm measured
// in the same device call (peer JSON lines in the file named by argv[2]): equal groups and a
// ragged split both scripts derive the same way; the wgmma kernel at each N tile and the mma.sync
// kernel; the GPU permutation and top-k routing; the SwiGLU MoE layer end to end.
import { readFileSync, existsSync } from "node:fs";
import { Tensor } from "../../lib/tensor/tensor.js";
import { fromFloat32 } from "../../lib/tensor/tensor.js";
import { toDevice } from "../../lib/backends/cuda/device-tensor.js";
import { groupedGemm, groupedGemmKernel, moeForward, permuteByExpert, routeSoftmaxTopk, wgmmaTileN } from "../../lib/backends/cuda/moe.js";
import { requireCuda } from "../../lib/backends/cuda/runtime.js";

const rt = requireCuda("bench");
const T = 16384, k = 6, E = 64, d = 2048, f = 1408, rows = T * k;
function rand(n: number, seed: number, dtype: "bf16" | "f32"): Float32Array | Uint16Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  return dtype === "f32" ? a : (fromFloat32(a, "bf16") as Uint16Array);
}
const x = toDevice(new Tensor([rows, d], "bf16", rand(rows * d, 1, "bf16")));
const w = toDevice(new Tensor([E, d, f], "bf16", rand(E * d * f, 2, "bf16")));
const equal = new Int32Array(E + 1);
for (let e = 0; e <= E; e++) equal[e] = (e * rows) / E;
// Ragged split (same integers as peer_moe.py): weights 32 + (37 e mod 64), sizes multiples of 8.
const ragged = new Int32Array(E + 1);
{
  const wt = Array.from({ length: E }, (_, e) => 32 + ((e * 37) % 64));
  const W = wt.reduce((a, b) => a + b, 0);
  for (let e = 0; e < E; e++) ragged[e + 1] = ragged[e] + (e === E - 1 ? rows - ragged[e] : 8 * Math.floor(((rows / 8) * wt[e]) / W));
}
const flops = 2 * rows * d * f;
// Device offsets, as moeForward passes them: the timing holds the kernel alone.
const dEqual = toDevice(new Tensor([E + 1], "i32", equal)), dRagged = toDevice(new Tensor([E + 1], "i32", ragged));
function timeGemm(off: Tensor<"i32">, env: Record<string, string | undefined> = {}) {
  const saved = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]));
  for (const [key, v] of Object.entries(env)) if (v === undefined) delete process.env[key]; else process.env[key] = v;
  try {
    // Disposed as soon as queued: the next launch reuses the block in stream order.
    return rt.time(() => groupedGemm(x, w, off).dispose(), 30, 5).median;
  } finally {
    for (const [key, v] of Object.entries(saved)) if (v === undefined) delete process.env[key]; else process.env[key] = v;
  }
}
const kind = groupedGemmKernel(rt);
const lines: [string, number][] = [];
const main = timeGemm(dEqual);
lines.push([`ours (${kind}${kind !== "mma" ? `, BN ${wgmmaTileN(f)}` : ""}), equal`, main]);
const rag = timeGemm(dRagged);
lines.push([`ours (${kind}), ragged`, rag]);
if (kind === "wgmma-tma") {
  for (const bn of ["256", "192", "128"]) lines.push([`ours wgmma TMA BN ${bn}, equal`, timeGemm(dEqual, { SPARSELAB_CUDA_GEMM_BN: bn })]);
  lines.push([`ours wgmma TMA BN 256, static sched`, timeGemm(dEqual, { SPARSELAB_CUDA_GEMM_BN: "256", SPARSELAB_CUDA_GEMM_SCHED: "static" })]);
  lines.push([`ours wgmma TMA BN 256, again`, timeGemm(dEqual, { SPARSELAB_CUDA_GEMM_BN: "256" })]);
  lines.push([`ours wgmma TMA BN 256, register epi`, timeGemm(dEqual, { SPARSELAB_CUDA_GEMM_BN: "256", SPARSELAB_CUDA_GEMM_EPI: "regs" })]);
  lines.push([`ours wgmma TMA BN 256, register epi, ragged`, timeGemm(dRagged, { SPARSELAB_CUDA_GEMM_BN: "256", SPARSELAB_CUDA_GEMM_EPI: "regs" })]);
  lines.push([`ours wgmma TMA BN 128, register epi`, timeGemm(dEqual, { SPARSELAB_CUDA_GEMM_BN: "128", SPARSELAB_CUDA_GEMM_EPI: "regs" })]);
  lines.push([`ours wgmma TMA BN 256, static, ragged`, timeGemm(dRagged, { SPARSELAB_CUDA_GEMM_BN: "256", SPARSELAB_CUDA_GEMM_SCHED: "static" })]);
  for (const bn of ["256", "128"]) lines.push([`ours wgmma TMA 2-CTA BN ${bn}, equal`, timeGemm(dEqual, { SPARSELAB_CUDA_GEMM_BN: bn, SPARSELAB_CUDA_GEMM_CLUSTER: "2" })]);
  // Whether the 2-CTA slowdown is clusters that are not co-resident (a second wave): fewer clusters.
  for (const n of ["60", "48", "33"]) lines.push([`ours wgmma TMA 2-CTA BN 256, ${n} clusters`, timeGemm(dEqual, { SPARSELAB_CUDA_GEMM_BN: "256", SPARSELAB_CUDA_GEMM_CLUSTER: "2", SPARSELAB_CUDA_GEMM_GRID: n })]);
  lines.push([`ours wgmma TMA 1-CTA BN 256, 120 blocks`, timeGemm(dEqual, { SPARSELAB_CUDA_GEMM_BN: "256", SPARSELAB_CUDA_GEMM_GRID: "120" })]);
}
if (kind !== "mma") for (const bn of ["256", "128"]) lines.push([`ours wgmma cp.async BN ${bn}, equal`, timeGemm(dEqual, { SPARSELAB_CUDA_GEMM: "cp.async", SPARSELAB_CUDA_GEMM_BN: bn })]);
lines.push([`ours mma.sync, equal`, timeGemm(dEqual, { SPARSELAB_CUDA_GEMM: "mma" })]);

const logits = toDevice(new Tensor([T, E], "f32", rand(T * E, 3, "f32") as Float32Array));
const r = rt.time(() => { void routeSoftmaxTopk(logits, k, true).then((o) => { o.indices.dispose(); o.weights.dispose(); }); }, 30, 5);
const route = await routeSoftmaxTopk(logits, k, true);
const perm = rt.time(() => { const p = permuteByExpert(route.indices, E); p.src.dispose(); p.pos.dispose(); p.offsets.dispose(); }, 30, 5);

const peers: { peer: string; ms: number; tflops: number }[] = [];
if (process.argv[2] && existsSync(process.argv[2]))
  for (const line of readFileSync(process.argv[2], "utf8").split("\n")) if (line.startsWith("{")) peers.push(JSON.parse(line));
const gm = peers.find((p) => p.peer === "torch._grouped_mm");
const gmr = peers.find((p) => p.peer === "torch._grouped_mm ragged");
const dense = peers.find((p) => p.peer === "dense torch.mm");
console.log(`\n${rt.info.name}: MoE grouped GEMM [${rows}, ${d}] x [${E}, ${d}, ${f}] bf16 (device offsets)`);
for (const [name, ms] of lines) console.log(`${name.padEnd(40)} ${ms.toFixed(3)} ms  ${(flops / ms / 1e9).toFixed(0)} TFLOP/s`);
for (const p of peers) console.log(`${p.peer.padEnd(40)} ${p.ms.toFixed(3)} ms  ${p.tflops.toFixed(0)} TFLOP/s`);
if (gm) console.log(`ours / torch._grouped_mm throughput ratio, equal:  ${(gm.ms / main).toFixed(2)} (goal >= 0.8)`);
if (gmr) console.log(`ours / torch._grouped_mm throughput ratio, ragged: ${(gmr.ms / rag).toFixed(2)}`);
if (dense) console.log(`ours / dense torch.mm (same FLOPs):               ${(dense.ms / main).toFixed(2)}`);
console.log(`top-6 of 64 routing (softmax + top-k), T=${T}: ${(r.median * 1000).toFixed(1)} us`);
console.log(`permutation by expert on the GPU (rank, scan, scatter), T=${T} k=${k} E=${E}: ${(perm.median * 1000).toFixed(1)} us`);

// The issue's MoE layer shapes (T=4096, d_model 1024, d_ff 2816), whole SwiGLU layer on the GPU.
for (const [E2, k2] of [[8, 2], [64, 6]]) {
  const T2 = 4096, d2 = 1024, f2 = 2816;
  const xx = toDevice(new Tensor([T2, d2], "bf16", rand(T2 * d2, 11, "bf16")));
  const mk = (shape: number[], seed: number) => toDevice(new Tensor(shape, "bf16", rand(shape.reduce((a, b) => a * b, 1), seed, "bf16")));
  const wts = { router: mk([1, d2, E2], 12), gate: mk([E2, d2, f2], 13), up: mk([E2, d2, f2], 14), down: mk([E2, f2, d2], 15) };
  for (let i = 0; i < 3; i++) (await moeForward(xx, wts, { k: k2 })).output.dispose();
  rt.sync();
  // The whole layer, host clock from a synced start to a synced end (moeForward awaits inside, so
  // events around its synchronous part would miss work).
  const wholeRuns: number[] = [];
  for (let i = 0; i < 10; i++) {
    rt.sync();
    const t0 = performance.now();
    const o = await moeForward(xx, wts, { k: k2 });
    rt.sync();
    wholeRuns.push(performance.now() - t0);
    o.output.dispose();
  }
  const whole = wholeRuns.sort((a, b) => a - b)[5];
  const runs: Record<string, number>[] = [];
  for (let i = 0; i < 10; i++) {
    const r2 = await moeForward(xx, wts, { k: k2, timings: true });
    r2.output.dispose();
    runs.push(r2.ms);
  }
  const med = (key: string) => runs.map((r2) => r2[key]).sort((a, b) => a - b)[5];
  const expFlops = 3 * 2 * T2 * k2 * d2 * f2;
  console.log(`MoE layer T=${T2} d=${d2} f=${f2} E=${E2} k=${k2} (bf16, GPU): whole layer ${whole.toFixed(3)} ms (no host sync inside); staged: routing ${med("routing").toFixed(3)} ms, dispatch ${med("dispatch").toFixed(3)} ms, experts ${med("experts").toFixed(3)} ms (${(expFlops / med("experts") / 1e9).toFixed(0)} TFLOP/s), combine ${med("combine").toFixed(3)} ms`);
}
