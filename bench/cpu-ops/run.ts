/**
 * bench/cpu-ops: the native CPU primitives, in one run.
 *
 *   npx tsc -p . && node dist/bench/cpu-ops/run.js
 *
 * - matmul f32 (M = K = N = 1024 and 2048): ours (sl.matmul, backend "cpu") against
 *   onnxruntime-node's MatMul (same threads; installed for the attention benchmark, see
 *   bench/cpu-attention/README.md), GFLOP/s and the fraction of the FMA probe.
 * - grouped GEMM (MoE experts: T 4096 rows over 8 groups, K 1024, N 1024).
 * - softmax and top-k along rows of [4096, 4096], block pooling of [1, 8, 8192, 128].
 * Medians of 5; the JS reference timed once on the smallest case for scale.
 */
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import * as sl from "../../lib/index.js";
import { loadAddon } from "../../lib/backends/cpu/index.js";
import { matmulModel } from "../cpu-attention/onnx-mha.js";

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function time(fn: () => Promise<unknown>, reps = 5): Promise<number> {
  await fn();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  return median(t);
}

interface OrtLike {
  InferenceSession: { create(model: Uint8Array, opts: object): Promise<{ run(feeds: object): Promise<unknown> }> };
  Tensor: new (type: string, data: Float32Array, dims: number[]) => object;
}

async function main(): Promise<void> {
  await sl.ready();
  const addon = loadAddon();
  const threads = addon.info().threads;
  const probe = addon.probeFma(300);
  console.log(`${addon.info().isa}, ${threads} threads, FMA probe ${probe.toFixed(0)} GFLOP/s, load ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  const peers = fileURLToPath(new URL("../../../bench/cpu-attention/.peers/package.json", import.meta.url));
  const ort = existsSync(peers) ? (createRequire(peers)("onnxruntime-node") as OrtLike) : undefined;
  for (const n of [1024, 2048]) {
    const a = sl.randn([n, n], { seed: 1 });
    const b = sl.randn([n, n], { seed: 2 });
    const t = await time(() => sl.matmul(a, b, { backend: "cpu" }));
    const flops = 2 * n * n * n;
    let peer = "";
    if (ort) {
      const s = await ort.InferenceSession.create(matmulModel(n, n, n), { intraOpNumThreads: threads, interOpNumThreads: 1 });
      const feeds = { a: new ort.Tensor("float32", a.data as Float32Array, [n, n]), b: new ort.Tensor("float32", b.data as Float32Array, [n, n]) };
      const tp = await time(() => s.run(feeds));
      peer = `; onnxruntime MatMul ${tp.toFixed(1)} ms (${(flops / tp / 1e6).toFixed(0)} GFLOP/s); ours is ${(tp / t).toFixed(2)}x`;
    }
    console.log(`matmul ${n}^3: ours ${t.toFixed(1)} ms (${(flops / t / 1e6).toFixed(0)} GFLOP/s, ${((100 * flops) / t / 1e6 / probe).toFixed(0)}% of probe)${peer}`);
  }
  {
    const [T, K, N, G] = [4096, 1024, 1024, 8];
    const x = sl.randn([T, K], { seed: 3 });
    const w = sl.randn([G, K, N], { seed: 4 });
    const off = new Int32Array(G + 1).map((_, g) => Math.round((g * T) / G) + (g > 0 && g < G ? (g % 2 ? 37 : -37) : 0));
    const offsets = new sl.Tensor([G + 1], "i32", off);
    const t = await time(() => sl.groupedGemm(x, w, offsets, { backend: "cpu" }));
    console.log(`groupedGemm T${T} K${K} N${N} G${G}: ${t.toFixed(1)} ms (${((2 * T * K * N) / t / 1e6).toFixed(0)} GFLOP/s)`);
  }
  {
    const x = sl.randn([4096, 4096], { seed: 5 });
    const ts = await time(() => sl.softmax(x, { backend: "cpu" }));
    const tj = await time(() => sl.softmax(x, { backend: "js" }), 1);
    console.log(`softmax [4096, 4096]: ${ts.toFixed(1)} ms (${((4096 * 4096 * 4) / ts / 1e6).toFixed(1)} GB/s read); JS reference ${tj.toFixed(0)} ms`);
    const tk = await time(() => sl.topk(x, 64, { backend: "cpu" }));
    const tkj = await time(() => sl.topk(x, 64, { backend: "js" }), 1);
    console.log(`topk k=64 of [4096, 4096]: ${tk.toFixed(1)} ms; JS reference ${tkj.toFixed(0)} ms`);
  }
  {
    const x = sl.randn([1, 8, 8192, 128], { seed: 6 });
    const t = await time(() => sl.blockPool(x, 128, "mean", { backend: "cpu" }));
    const tj = await time(() => sl.blockPool(x, 128, "mean", { backend: "js" }), 1);
    console.log(`blockPool mean [1, 8, 8192, 128] / 128: ${t.toFixed(2)} ms; JS reference ${tj.toFixed(0)} ms`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
