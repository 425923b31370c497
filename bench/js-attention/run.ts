/**
 * Times the JS reference attention at a few sizes, for context (the native backends are
 * benchmarked in bench/cpu-attention). The peer, measured in the same run, is the textbook
 * float64 attention that materialises each score row (no tiles, no online softmax): the ratio
 * says what the flash-style structure costs or saves in plain JS.
 *
 *   npx tsc -p . && node dist/bench/js-attention/run.js [--quick]
 *
 * Prints one line per case: median ms of 3 runs after a warm-up, GFLOP/s (4·B·H·D·keptPairs), ratio vs the peer.
 */
import * as sl from "../../lib/index.js";

const quick = process.argv.includes("--quick");
const RUNS = 3;

/** The peer: textbook attention, one full score row at a time, float64. */
function textbook(q: Float32Array, k: Float32Array, v: Float32Array, H: number, S: number, D: number, allowed?: (q: number, kv: number) => boolean): Float32Array {
  const out = new Float32Array(H * S * D);
  const s = new Float64Array(S);
  const acc = new Float64Array(D);
  const scale = 1 / Math.sqrt(D);
  for (let h = 0; h < H; h++)
    for (let i = 0; i < S; i++) {
      const qo = (h * S + i) * D;
      let mx = -Infinity;
      for (let j = 0; j < S; j++) {
        if (allowed && !allowed(i, j)) {
          s[j] = -Infinity;
          continue;
        }
        let dot = 0;
        const ko = (h * S + j) * D;
        for (let d = 0; d < D; d++) dot += q[qo + d] * k[ko + d];
        s[j] = dot * scale;
        if (s[j] > mx) mx = s[j];
      }
      let z = 0;
      acc.fill(0);
      for (let j = 0; j < S; j++) {
        if (s[j] === -Infinity) continue;
        const p = Math.exp(s[j] - mx);
        z += p;
        const vo = (h * S + j) * D;
        for (let d = 0; d < D; d++) acc[d] += p * v[vo + d];
      }
      for (let d = 0; d < D; d++) out[qo + d] = acc[d] / z;
    }
  return out;
}

async function median(f: () => Promise<unknown> | unknown): Promise<number> {
  const ts: number[] = [];
  await f(); // warm-up: lets V8 optimise the loops before timing
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await f();
    ts.push(performance.now() - t0);
  }
  return ts.sort((a, b) => a - b)[Math.floor(RUNS / 2)];
}

interface Case {
  name: string;
  H: number;
  S: number;
  D: number;
  window?: number;
}

const cases: Case[] = quick
  ? [{ name: "dense", H: 2, S: 256, D: 64 }, { name: "causal", H: 2, S: 256, D: 64, window: 256 }]
  : [
      { name: "dense", H: 4, S: 512, D: 64 },
      { name: "dense", H: 4, S: 1024, D: 64 },
      { name: "dense", H: 4, S: 1024, D: 128 },
      { name: "causal", H: 4, S: 1024, D: 64, window: 1024 },
      { name: "sliding window 128", H: 4, S: 2048, D: 64, window: 128 },
    ];

await sl.ready();
const cpu = sl.backends().find((b) => b.name === "cpu");
console.log(`JS reference attention, f32, B=1, block 64 for masks; ${RUNS} runs, median. node ${process.version}; cpu backend ${cpu?.loaded ? "loaded" : "not loaded"}`);
console.log("| case | H | S | D | block density | ms (js) | GFLOP/s | textbook f64 ms | js / textbook | ms (cpu) |");
console.log("|---|---|---|---|---|---|---|---|---|---|");
for (const c of cases) {
  const q = sl.randn([1, c.H, c.S, c.D], { seed: 1 });
  const k = sl.randn([1, c.H, c.S, c.D], { seed: 2 });
  const v = sl.randn([1, c.H, c.S, c.D], { seed: 3 });
  const mask = c.window === undefined ? undefined : c.window >= c.S ? sl.masks.causal() : sl.masks.slidingWindow(c.window);
  const bm = mask ? sl.createBlockMask(mask, { qLen: c.S, kvLen: c.S, blockSize: 64 }) : undefined;
  const f = bm ? sl.metrics.flops({ blockMask: bm, D: c.D, H: c.H }) : sl.metrics.flops({ keptPairs: c.S * c.S, D: c.D, H: c.H, qLen: c.S, kvLen: c.S });
  const dens = bm ? sl.metrics.density(bm).value : 1;
  const js = await median(() => sl.attention(q, k, v, { blockMask: bm, backend: "js" }));
  const allowed = mask ? (i: number, j: number) => mask.at(0, 0, i, j) : undefined;
  const tb = await median(() => textbook(q.data as Float32Array, k.data as Float32Array, v.data as Float32Array, c.H, c.S, c.D, allowed));
  const cpuMs = cpu?.loaded && cpu.ops.includes("attention") ? (await median(() => sl.attention(q, k, v, { blockMask: bm, backend: "cpu" }))).toFixed(1) : "—";
  console.log(
    `| ${c.name} | ${c.H} | ${c.S} | ${c.D} | ${(dens * 100).toFixed(1)}% | ${js.toFixed(1)} | ${(f.value / js / 1e6).toFixed(2)} | ${tb.toFixed(1)} | ${(js / tb).toFixed(2)} | ${cpuMs} |`,
  );
}

// Responsiveness: how long the event loop waits while one long JS attention runs (the kernel
// answers interrupts and widget messages between the reference's yields).
{
  const { monitorEventLoopDelay } = await import("node:perf_hooks");
  const S = quick ? 512 : 2048;
  const q = sl.randn([1, 4, S, 64], { seed: 4 });
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const t0 = performance.now();
  await sl.attention(q, q, q, { backend: "js" });
  const ms = performance.now() - t0;
  h.disable();
  console.log(
    `\nevent loop during one ${ms.toFixed(0)} ms JS attention (H4 S${S} D64): delay p50 ${(h.percentile(50) / 1e6).toFixed(1)} ms, p99 ${(h.percentile(99) / 1e6).toFixed(1)} ms, max ${(h.max / 1e6).toFixed(1)} ms`,
  );
}
