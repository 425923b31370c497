/**
 * MoE layer forward, f32, T = 4096, d_model 1024, d_ff 2816 (SwiGLU), for E = 8, k = 2 and
 * E = 64, k = 6: routing time (gate matmul + router), dispatch time, expert grouped-GEMM
 * GFLOP/s, and the ratio to ONE dense matmul with the same FLOPs on the same backend, measured
 * in the same run ([T·k, d] × [d, 3·d_ff]: the three projections' FLOPs in a single product).
 *
 *   npx tsc -p . && node dist/bench/moe/layer.js [--quick] [--runs N] [--backend cpu|js]
 *
 * Prints one block per case: median of N forwards (default 3, after one warm-up), each
 * followed by one run of the dense peer.
 * --quick shrinks T to 512 (a smoke run, not a figure).
 */
import * as sl from "../../lib/index.js";
import { resolveOp, type BackendName } from "../../lib/backends/registry.js";
import type { MatmulImpl } from "../../lib/backends/ops.js";
import { Tensor } from "../../lib/tensor/tensor.js";

const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const runsArg = argv.indexOf("--runs");
const RUNS = runsArg >= 0 ? Number(argv[runsArg + 1]) : 3;
const bArg = argv.indexOf("--backend");
const backendWanted = bArg >= 0 ? (argv[bArg + 1] as BackendName) : undefined;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function randn(rows: number, cols: number, seed: number): Tensor<"f32"> {
  // A cheap LCG: benchmark inputs only need to be non-trivial, not well distributed.
  const d = new Float32Array(rows * cols);
  let s = seed >>> 0;
  for (let i = 0; i < d.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    d[i] = s / 2 ** 32 - 0.5;
  }
  return new Tensor([rows, cols], "f32", d);
}

async function runCase(T: number, d: number, f: number, E: number, k: number): Promise<void> {
  const tInit = performance.now();
  const moe = sl.moe.layer({ dModel: d, dFf: f, experts: E, k, router: "softmax-topk", normalize: true, activation: "swiglu", seed: 1, backend: backendWanted });
  const x = randn(T, d, 7);
  const initMs = performance.now() - tInit;
  // The dense peer: one product of the same FLOPs on the same backend.
  const warm = await moe.forward(x); // warm-up: page in the weights, spin up the thread pool
  const backend = warm.backend;
  const rows = warm.routing.assignments;
  const a = randn(rows, d, 11);
  const w = randn(d, 3 * f, 13);
  const { impl } = resolveOp<MatmulImpl>("matmul", { backend });
  (await impl(a, w, {})).dispose();
  // Alternate layer and peer so that both see the same share of a busy machine.
  const fwd: sl.moe.MoeForward[] = [];
  const denseTimes: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    fwd.push(await moe.forward(x));
    const t0 = performance.now();
    const y = await impl(a, w, {});
    denseTimes.push(performance.now() - t0);
    y.dispose();
  }
  const pick = (key: keyof sl.moe.MoeTimings) => median(fwd.map((r) => r.timings[key]));
  const flops = fwd[0].expertFlops;
  const gemmMs = pick("expertGemmMs");
  const denseMs = median(denseTimes);
  const denseFlops = 2 * rows * d * 3 * f;
  const gf = (fl: number, ms: number) => fl / ms / 1e6;
  console.log(`T ${T}, d_model ${d}, d_ff ${f}, E ${E}, k ${k}, swiglu f32, backend ${backend}, median of ${RUNS} (init ${(initMs / 1000).toFixed(1)} s)`);
  console.log(`  routing   ${(pick("gateMs") + pick("routeMs")).toFixed(1)} ms  (gate matmul ${pick("gateMs").toFixed(1)}, router+capacity+losses ${pick("routeMs").toFixed(1)})`);
  console.log(`  dispatch  ${pick("dispatchMs").toFixed(1)} ms   combine ${pick("combineMs").toFixed(1)} ms   activation ${pick("activationMs").toFixed(1)} ms`);
  console.log(`  expert grouped GEMMs ${gemmMs.toFixed(1)} ms = ${gf(flops, gemmMs).toFixed(1)} GFLOP/s (${(flops / 1e9).toFixed(1)} GFLOP over ${rows} rows)`);
  console.log(`  dense matmul [${rows}, ${d}] x [${d}, ${3 * f}] ${denseMs.toFixed(1)} ms = ${gf(denseFlops, denseMs).toFixed(1)} GFLOP/s`);
  const pairRatios = fwd.map((r, i) => gf(flops, r.timings.expertGemmMs) / gf(denseFlops, denseTimes[i]));
  console.log(`  ratio grouped/dense throughput ${(gf(flops, gemmMs) / gf(denseFlops, denseMs)).toFixed(3)} of medians, ${median(pairRatios).toFixed(3)} median of back-to-back pairs [${pairRatios.map((r) => r.toFixed(2)).join(", ")}] (goal >= 0.8)`);
  console.log(`  forward total ${pick("totalMs").toFixed(0)} ms`);
}

await sl.ready();
const cpu = sl.backends().find((b) => b.name === "cpu");
console.log(`backends: cpu ${cpu?.loaded ? `loaded (${cpu.detail})` : `not loaded (${cpu?.reason})`}`);
const T = quick ? 512 : 4096;
await runCase(T, 1024, 2816, 8, 2);
await runCase(T, 1024, 2816, 64, 6);
