/**
 * Content-based sparse attention on the synthetic LLM-like workload (SYNTHETIC Q/K/V, see
 * lib/attention/workloads/synthetic.ts), CPU.
 *
 *   npx tsc -p . && node dist/bench/dynamic-attention/run.js [--S 16384] [--H 8] [--D 64] [--seed 1]
 *        [--decodeS 32768] [--only prefill|decode] [--methods xattention,moba,...]
 *
 * Prefill: every estimator at its paper defaults through sl.compare against dense causal
 * attention on the same backend: block density (computed tiles / tiles touching the causal
 * area), element density (attended pairs / causal pairs), recall (mean over queries of the
 * causal softmax mass kept), relL1 vs dense, estimator ms, attention ms, speed-up over dense
 * with the estimator's time included. Decode: one query per head against a `decodeS` cache:
 * recall (softmax mass kept), estimator ms, sparse decode ms, dense decode ms per step (medians of 7).
 * Prints markdown tables; the backend that ran each op is printed above them.
 */
import * as sl from "../../lib/index.js";

const argv = process.argv.slice(2);
const arg = (name: string, d: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : d;
};
const S = Number(arg("S", "16384"));
const H = Number(arg("H", "8"));
const Dh = Number(arg("D", "64"));
const seed = Number(arg("seed", "1"));
const decodeS = Number(arg("decodeS", "32768"));
const only = arg("only", "");
const pick = arg("methods", "");

const f = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : String(x));

async function prefill(): Promise<void> {
  const w = sl.workloads.llmLike({ S, H, D: Dh, seed });
  const dyn = sl.dynamic;
  const all: Record<string, (q: sl.Tensor, k: sl.Tensor) => Promise<any>> = {
    "verticalSlash (1000, 6096)": (q, k) => dyn.verticalSlash(q, k),
    "verticalSlash (100, 800)": (q, k) => dyn.verticalSlash(q, k, { verticalSize: 100, slashSize: 800 }),
    "verticalSlash (1000, 6096), tile cover": (q, k) => dyn.verticalSlash(q, k, { cover: "tiles" }),
    "minferenceBlockSparse (64, top 100)": (q, k) => dyn.minferenceBlockSparse(q, k),
    "aShape (128 + 3968)": (q, k) => dyn.aShape(q, k),
    "xattention (S 8, τ 0.9)": (q, k) => dyn.xattention(q, k),
    "flexPrefill (γ 0.9, τ 0.1)": (q, k) => dyn.flexPrefill(q, k),
    "moba (512, top 3)": (q, k) => dyn.moba(q, k),
    "seerAttention (64, p ≥ 1e-3)": (q, k) => dyn.seerAttention(q, k),
    "nsaSelection (64, top 16, win 512)": (q, k) => dyn.nsaSelection(q, k),
    "hip (budget 2048, sink 256, win 512)": (q, k) => dyn.hip(q, k),
    "routingTransformer (cluster 128, joint fit)": (q, k) => dyn.routingTransformer(q, k, { seed }),
    "routingTransformer (cluster 128, keys fit)": (q, k) => dyn.routingTransformer(q, k, { seed, fit: "keys" }),
    "biformer (region 64, top 4, causal)": (q, k) => dyn.biformer(q, k, { causal: true }),
  };
  const methods = pick ? Object.fromEntries(Object.entries(all).filter(([n]) => pick.split(",").some((p) => n.startsWith(p)))) : all;
  const used: Record<string, string> = {};
  const wrapped = Object.fromEntries(
    Object.entries(methods).map(([n, fn]) => [n, async (q: sl.Tensor, k: sl.Tensor) => {
      const bm = await fn(q, k);
      Object.assign(used, dyn.estimatorInfo(bm)?.backends ?? {});
      return bm;
    }]),
  );
  console.log(`\n### Prefill: ${w.description}`);
  console.log(`backends: ${sl.backends().filter((b) => b.loaded).map((b) => `${b.name} (${b.detail})`).join(", ")}; attention on ${sl.backends().find((b) => b.name === "cpu" && b.loaded) ? "cpu" : "js"}`);
  const t0 = performance.now();
  const table = await sl.compare(wrapped, w.q, w.k, w.v, {
    onProgress: (n, r) => console.error(`  ${n}: ${f(r.total_ms as number, 0)} ms (${f((performance.now() - t0) / 1000, 0)} s elapsed)`),
  });
  console.log(`estimator ops ran on: ${Object.entries(used).map(([o, b]) => `${o}=${b}`).join(", ")}`);
  console.log("\n| method | block density (causal) | element density (causal) | recall | relL1 | estimator GFLOP | estimator ms | attention ms | total ms | speed-up vs dense | estimator CPU ms | attention CPU ms | speed-up (CPU time) |");
  console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const r of table.objects() as Record<string, any>[])
    console.log(`| ${r.method} | ${f(r.density_block_causal)} | ${f(r.density_element_causal)} | ${f(r.recall, 4)} | ${f(r.rel_l1, 4)} | ${f(r.estimator_gflops, 2)} | ${f(r.estimator_ms, 0)} | ${f(r.attention_ms, 0)} | ${f(r.total_ms, 0)} | ${f(r.speedup, 2)} | ${f(r.estimator_cpu_ms, 0)} | ${f(r.attention_cpu_ms, 0)} | ${f(r.speedup_cpu, 2)} |`);
}

async function decode(): Promise<void> {
  const w = sl.workloads.llmLike({ S: decodeS + 1, H, D: Dh, seed: seed + 1 });
  // The last position is the decoding query; the cache is everything before it... and itself.
  const q = sl.contiguous(sl.slice(w.q, [null, null, [decodeS, decodeS + 1], null]));
  const k = w.k;
  const v = w.v;
  const dyn = sl.dynamic;
  // Median of 7 runs: single decode steps are short and the shared machine is noisy.
  const time = async <T>(fn: () => Promise<T>) => {
    const ms: number[] = [];
    let r!: T;
    for (let i = 0; i < 7; i++) {
      const t0 = performance.now();
      r = await fn();
      ms.push(performance.now() - t0);
    }
    ms.sort((a, b) => a - b);
    return { r, ms: ms[3] };
  };
  console.log(`\n### Decode: one query per head, cache ${decodeS + 1} tokens, ${w.description}`);
  const denseMs = (await time(() => sl.decodeAttention(q, k, v))).ms;
  const labels = await dyn.doubleSparsityCalibrate(sl.contiguous(sl.slice(k, [null, null, [0, 4096], null])), { queries: sl.contiguous(sl.slice(w.q, [null, null, [0, 4096], null])), channels: Math.max(1, Dh / 16) });
  // Quest keeps page min/max beside the cache (updated as pages fill): built once, not per step.
  const meta = await dyn.questMetadata(k, { pageSize: 16 });
  const labelCache = dyn.doubleSparsityLabelCache(k, labels);
  const methods: [string, () => Promise<sl.Tensor<"i32">>][] = [
    ["quest (page 16, budget 1024)", () => dyn.quest(q, k, { budget: 1024, metadata: meta })],
    ["quest (page 16, budget 4096)", () => dyn.quest(q, k, { budget: 4096, metadata: meta })],
    ["doubleSparsity (D/16 channels, S/16 tokens, label cache)", () => dyn.doubleSparsity(q, k, { labels, labelCache })],
    ["tidalDecode selection (top 256)", () => dyn.tidalDecode(q, k, { topK: 256 })],
  ];
  console.log("\n| method | tokens kept | recall | estimator ms | sparse decode ms | total ms / step | dense decode ms |");
  console.log("|---|---|---|---|---|---|---|");
  for (const [name, fn] of methods) {
    const est = await time(fn);
    const att = await time(() => sl.decodeAttention(q, k, v, { indices: est.r }));
    const rc = await sl.metrics.recall(q, k, { indices: est.r });
    console.log(`| ${name} | ${est.r.shape[2]} | ${f(rc.value, 4)} | ${f(est.ms, 1)} | ${f(att.ms, 1)} | ${f(est.ms + att.ms, 1)} | ${f(denseMs, 1)} |`);
  }
  // DuoAttention: half the heads streaming (gate values drawn from the seed; DuoAttention learns them).
  const alpha = Array.from({ length: H }, (_, i) => ((i * 7919 + seed) % 13) / 13);
  const duo = await time(() => dyn.duoAttention(q, k, { alpha, sparsity: 0.5 }));
  let kept = 0;
  const qd = q.floatData();
  const kd = k.floatData();
  for (let h = 0; h < H; h++) {
    const idx = duo.r.indices[h].data as Int32Array;
    const s = new Float64Array(decodeS + 1);
    let m = -Infinity;
    for (let j = 0; j <= decodeS; j++) {
      let d = 0;
      for (let x = 0; x < Dh; x++) d += qd[h * Dh + x] * kd[(h * (decodeS + 1) + j) * Dh + x];
      m = Math.max(m, (s[j] = d / Math.sqrt(Dh)));
    }
    let z = 0;
    for (let j = 0; j <= decodeS; j++) z += s[j] = Math.exp(s[j] - m);
    let kk = 0;
    for (const j of idx) kk += s[j];
    kept += kk / z / H;
  }
  console.log(`| duoAttention (half streaming: sink 128 + recent 256) | ${f(duo.r.density * (decodeS + 1), 0)} avg | ${f(kept, 4)} | ${f(duo.ms, 1)} | — | — | ${f(denseMs, 1)} |`);
}

await sl.ready();
if (only !== "decode") await prefill();
if (only !== "prefill") await decode();
