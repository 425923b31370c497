/**
 * Tensor-op benchmarks. Each case is timed beside a peer measured in the same run, and the
 * line reports the ratio (peer time / our time), because this machine is shared and absolute
 * times drift with its load:
 *  - matmul (JS packed 4x4 kernel) vs the textbook i-k-j loop over Float32Array, and vs the
 *    native "cpu" matmul when that backend loaded;
 *  - softmax / topk / blockPool (JS) vs the native "cpu" versions when loaded;
 *  - elementwise add (broadcast) and a reduction vs a hand-written Float32Array loop;
 *  - safetensors encode + decode throughput vs a plain Buffer copy of the same bytes.
 *
 *   npx tsc -p . && node dist/bench/tensor/run.js [--quick]
 */
import * as sl from "../../lib/index.js";
import { hasOp } from "../../lib/backends/registry.js";

const quick = process.argv.includes("--quick");
const RUNS = quick ? 3 : 5;

async function median(fn: () => unknown): Promise<number> {
  await fn(); // warm up (JIT, caches)
  const ts: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    await fn();
    ts.push(performance.now() - t0);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)];
}

function ikj(A: Float32Array, B: Float32Array, M: number, K: number, N: number): Float32Array {
  const C = new Float32Array(M * N);
  for (let i = 0; i < M; i++)
    for (let k = 0; k < K; k++) {
      const a = A[i * K + k];
      const b = k * N, c = i * N;
      for (let j = 0; j < N; j++) C[c + j] += a * B[b + j];
    }
  return C;
}

const line = (name: string, ms: number, extra: string) => console.log(`${name.padEnd(40)} ${ms.toFixed(2).padStart(9)} ms  ${extra}`);

await sl.ready();
const cpu = (op: string) => hasOp("cpu", op);
console.log(`# node ${process.version}, ${quick ? "quick" : "full"}, median of ${RUNS}; cpu backend: ${sl.backends().find((b) => b.name === "cpu")?.loaded ? "loaded" : "not loaded"}`);

for (const [M, K, N] of quick ? [[128, 256, 256]] : [[128, 256, 256], [512, 512, 512], [64, 1024, 4096]]) {
  const a = sl.randn([M, K], { seed: 1 }), b = sl.randn([K, N], { seed: 2 });
  const flop = 2 * M * K * N;
  const js = await median(() => sl.matmul(a, b, { backend: "js" }));
  const peer = await median(() => ikj(a.data as Float32Array, b.data as Float32Array, M, K, N));
  let extra = `${(flop / js / 1e6).toFixed(2)} GFLOP/s; i-k-j loop ${peer.toFixed(1)} ms -> x${(peer / js).toFixed(2)}`;
  if (cpu("matmul")) {
    const nat = await median(() => sl.matmul(a, b, { backend: "cpu" }));
    extra += `; native cpu ${nat.toFixed(2)} ms (${(flop / nat / 1e6).toFixed(1)} GFLOP/s) = js x${(js / nat).toFixed(1)} slower`;
  }
  line(`matmul js [${M},${K}]x[${K},${N}]`, js, extra);
}

{
  // MoE-shaped grouped GEMM: 8 experts, 2048 routed rows, d 256 -> 512.
  const [T, K, N, G] = quick ? [512, 128, 256, 8] : [2048, 256, 512, 8];
  const x = sl.randn([T, K], { seed: 3 }), w = sl.randn([G, K, N], { seed: 4 });
  const off = sl.tensor(Array.from({ length: G + 1 }, (_, g) => Math.round((g * T) / G)), { dtype: "i32" });
  const js = await median(() => sl.groupedGemm(x, w, off, { backend: "js" }));
  let extra = `${((2 * T * K * N) / js / 1e6).toFixed(2)} GFLOP/s`;
  if (cpu("groupedGemm")) {
    const nat = await median(() => sl.groupedGemm(x, w, off, { backend: "cpu" }));
    extra += `; native cpu ${nat.toFixed(2)} ms = js x${(js / nat).toFixed(1)} slower`;
  }
  line(`groupedGemm js T${T} K${K} N${N} G${G}`, js, extra);
}

{
  const rows = quick ? 1024 : 4096, n = 1024;
  const x = sl.randn([rows, n], { seed: 5 });
  for (const [name, run] of [
    ["softmax", (b: sl.BackendName) => sl.softmax(x, { backend: b })],
    ["topk k=8", (b: sl.BackendName) => sl.topk(x, 8, { backend: b })],
  ] as const) {
    const js = await median(() => run("js"));
    const op = name.startsWith("softmax") ? "softmax" : "topk";
    const extra = cpu(op) ? (async () => { const nat = await median(() => run("cpu")); return `native cpu ${nat.toFixed(2)} ms = js x${(js / nat).toFixed(1)} slower`; })() : Promise.resolve("no native peer loaded");
    line(`${name} js [${rows},${n}]`, js, await extra);
  }
  const k = sl.randn([1, 8, quick ? 2048 : 8192, 128], { seed: 6 });
  const js = await median(() => sl.blockPool(k, 64, "mean", { backend: "js" }));
  const extra = cpu("blockPool") ? `native cpu ${(await median(() => sl.blockPool(k, 64, "mean", { backend: "cpu" }))).toFixed(2)} ms` : "no native peer loaded";
  line(`blockPool js [${k.shape}] /64 mean`, js, extra);
}

{
  const n = quick ? 1 << 18 : 1 << 21;
  const x = sl.randn([n / 1024, 1024], { seed: 7 }), row = sl.randn([1024], { seed: 8 });
  const ours = await median(() => sl.add(x, row));
  const peer = await median(() => {
    const X = x.data as Float32Array, R = row.data as Float32Array, out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = X[i] + R[i & 1023];
    return out;
  });
  line(`add broadcast [${n / 1024},1024]+[1024]`, ours, `hand loop ${peer.toFixed(2)} ms -> x${(peer / ours).toFixed(2)}`);
  const s = await median(() => sl.sum(x, { axis: 1 }));
  const sp = await median(() => {
    const X = x.data as Float32Array, out = new Float32Array(n / 1024);
    for (let r = 0; r < n / 1024; r++) { let acc = 0; for (let j = 0; j < 1024; j++) acc += X[r * 1024 + j]; out[r] = acc; }
    return out;
  });
  line(`sum axis=1 [${n / 1024},1024]`, s, `hand loop ${sp.toFixed(2)} ms -> x${(sp / s).toFixed(2)}`);
}

{
  const t = { a: sl.randn([quick ? 256 : 1024, 1024], { seed: 9 }), b: sl.randn([512, 512], { seed: 10, dtype: "bf16" }) };
  const bytes = await sl.encodeSafetensors(t);
  const enc = await median(() => sl.encodeSafetensors(t));
  const dec = await median(() => sl.decodeSafetensors(bytes));
  const copy = await median(() => Buffer.from(bytes));
  const mb = bytes.length / 1e6;
  line(`safetensors encode ${mb.toFixed(1)} MB`, enc, `${(mb / enc * 1e3).toFixed(0)} MB/s; Buffer copy ${copy.toFixed(2)} ms`);
  line(`safetensors decode ${mb.toFixed(1)} MB`, dec, `${(mb / dec * 1e3).toFixed(0)} MB/s; Buffer copy ${copy.toFixed(2)} ms`);
}
