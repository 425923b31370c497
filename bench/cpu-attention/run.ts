/**
 * bench/cpu-attention: the native CPU backend's attention, in one run, side by side.
 *
 *   npx tsc -p . && node dist/bench/cpu-attention/run.js [--quick] [--sparse-only] [--json out.json]
 *
 * 1. FMA ceiling of the pool (a 12-chain vector FMA probe on every thread), before and after.
 * 2. Dense f32, B1 H8: D64 S1024, D64 S4096, D128 S4096, ours (sl.attention, backend "cpu")
 *    against onnxruntime-node's com.microsoft MultiHeadAttention with the same thread count
 *    (installed for the benchmark only: see README.md), reps interleaved so both see the same
 *    machine load; outputs compared.
 * 3. Block-sparse at S = 8192 D64 H8: sliding window 256 / 1024, causal, a vertical-slash
 *    pattern and a 10% random block mask: time, block density (tiles computed / all tiles)
 *    and efficiency = dense time x density / sparse time.
 * Part 3 times each pattern two ways, both through sl.attention: a fresh output tensor per call,
 * and `opts.out` (one preallocated output tensor reused, as a sweep or timing loop should).
 * Times are medians. FLOPs count 4·S·S·D per head for dense (QKᵀ and PV). Next to wall
 * times, the CPU time per op (process.cpuUsage over all threads, medians) is given for both:
 * on a shared machine it is the steadier measure of how much work each implementation does.
 * SPARSELAB_THREADS=1 runs both on one thread; with --sparse-only (part 3 alone) it gives the
 * efficiency of the work itself, which a shared machine's scheduling does not blur: a call of
 * 20 ms loses a larger share to a thread preempted mid-task than a dense call of 400 ms does.
 */
import { createRequire } from "node:module";
import { existsSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import * as sl from "../../lib/index.js";
import { loadAddon } from "../../lib/backends/cpu/index.js";
import type { BlockMaskFields } from "../../lib/attention/block-mask.js";
import { mhaModel } from "./onnx-mha.js";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const sparseOnly = args.includes("--sparse-only");
const jsonOut = args.includes("--json") ? args[args.indexOf("--json") + 1] : undefined;
const threads = loadAddon().info().threads;

/** Pause before each measured dense op (see the comment at its use). */
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 250);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x: number, d = 1): string => x.toFixed(d);

interface Ort {
  InferenceSession: { create(model: Uint8Array, opts: object): Promise<{ run(feeds: object): Promise<Record<string, { data: Float32Array }>> }> };
  Tensor: new (type: string, data: Float32Array, dims: number[]) => object;
}
function loadOrt(): Ort | undefined {
  const peers = fileURLToPath(new URL("../../../bench/cpu-attention/.peers/package.json", import.meta.url));
  if (!existsSync(peers)) return undefined;
  try {
    return createRequire(peers)("onnxruntime-node") as Ort;
  } catch {
    return undefined;
  }
}

/** [B, H, S, D] -> [B, S, H·D] (onnxruntime's layout). */
function toBSHD(x: Float32Array, H: number, S: number, D: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let h = 0; h < H; h++)
    for (let s = 0; s < S; s++) out.set(x.subarray((h * S + s) * D, (h * S + s + 1) * D), (s * H + h) * D);
  return out;
}

async function main(): Promise<void> {
  await sl.ready();
  const addon = loadAddon();
  const report: Record<string, unknown> = { threads, isa: addon.info().isa, cpus: cpus()[0]?.model, loadBefore: loadavg() };
  const probe0 = addon.probeFma(300);
  console.log(`machine: ${cpus()[0]?.model}, ${cpus().length} cpus; ${addon.info().isa}, ${threads} threads; load ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  console.log(`FMA probe (${threads} threads): ${fmt(probe0, 0)} GFLOP/s`);

  // ---- dense vs onnxruntime
  const ort = sparseOnly ? undefined : loadOrt();
  if (!ort && !sparseOnly) console.log("onnxruntime-node not installed in bench/cpu-attention/.peers: peer column skipped (see README.md)");
  const dense: Record<string, unknown>[] = [];
  const shapes: [number, number][] = sparseOnly ? [] : quick ? [[1024, 64]] : [[1024, 64], [4096, 64], [4096, 128]];
  const H = 8;
  for (const [S, D] of shapes) {
    const q = sl.randn([1, H, S, D], { seed: 1 });
    const k = sl.randn([1, H, S, D], { seed: 2 });
    const v = sl.randn([1, H, S, D], { seed: 3 });
    const flops = 4 * H * S * S * D;
    const reps = S <= 1024 ? 9 : quick ? 3 : 5;
    const ours: number[] = [];
    const peer: number[] = [];
    let session: Awaited<ReturnType<Ort["InferenceSession"]["create"]>> | undefined;
    let feeds: object | undefined;
    if (ort) {
      session = await ort.InferenceSession.create(mhaModel(1, S, H, H * D), { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: "sequential", graphOptimizationLevel: "all" });
      feeds = {
        query: new ort.Tensor("float32", toBSHD(q.data as Float32Array, H, S, D), [1, S, H * D]),
        key: new ort.Tensor("float32", toBSHD(k.data as Float32Array, H, S, D), [1, S, H * D]),
        value: new ort.Tensor("float32", toBSHD(v.data as Float32Array, H, S, D), [1, S, H * D]),
      };
    }
    // Warm up both, and check they agree.
    const o = await sl.attention(q, k, v, { backend: "cpu" });
    let agree: number | undefined;
    if (session && feeds) {
      const r = await session.run(feeds);
      const mine = toBSHD(o.data as Float32Array, H, S, D);
      const theirs = r.output.data;
      let num = 0;
      let den = 0;
      for (let i = 0; i < mine.length; i++) {
        num += (mine[i] - theirs[i]) ** 2;
        den += theirs[i] ** 2;
      }
      agree = Math.sqrt(num / den);
    }
    const oursCpu: number[] = [];
    const peerCpu: number[] = [];
    const cpuMs = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1000;
    // process.cpuUsage counts every thread of the process, and the two pools share the two
    // cores: let the other implementation's pool threads stop spinning before each measured op.
    // onnxruntime's intra-op threads spin for tens of ms after a run (with a 30 ms pause our CPU
    // time per op at S1024 doubled and our wall time rose ~1.8x; ours spin ~0.1 ms), so wait longer.
    const settle = (): Promise<void> => new Promise((r) => setTimeout(r, SETTLE_MS));
    for (let r = 0; r < reps; r++) {
      await settle();
      let c0 = process.cpuUsage();
      let t0 = performance.now();
      (await sl.attention(q, k, v, { backend: "cpu" })).dispose();
      ours.push(performance.now() - t0);
      oursCpu.push(cpuMs(process.cpuUsage(c0)));
      if (session && feeds) {
        await settle();
        c0 = process.cpuUsage();
        t0 = performance.now();
        await session.run(feeds);
        peer.push(performance.now() - t0);
        peerCpu.push(cpuMs(process.cpuUsage(c0)));
      }
    }
    const t = median(ours);
    const tp = peer.length ? median(peer) : undefined;
    const row = {
      shape: `H${H} D${D} S${S}`, oursMs: t, oursGflops: flops / t / 1e6, ortMs: tp, ortGflops: tp ? flops / tp / 1e6 : undefined,
      speedup: tp ? tp / t : undefined, fractionOfCeiling: flops / t / 1e6 / probe0, relDiffVsOrt: agree,
      oursCpuMs: median(oursCpu), ortCpuMs: peerCpu.length ? median(peerCpu) : undefined,
    };
    dense.push(row);
    console.log(
      `dense ${row.shape}: ours ${fmt(t)} ms (${fmt(row.oursGflops, 0)} GFLOP/s, ${fmt(100 * row.fractionOfCeiling, 0)}% of probe)` +
        (tp ? `; onnxruntime ${fmt(tp)} ms (${fmt(row.ortGflops!, 0)} GFLOP/s); ours is ${fmt(row.speedup!, 2)}x; outputs differ by ${agree!.toExponential(1)}` : "") +
        `\n    CPU time per op: ours ${fmt(row.oursCpuMs)} ms` + (row.ortCpuMs !== undefined ? `, onnxruntime ${fmt(row.ortCpuMs)} ms (onnxruntime / ours = ${fmt(row.ortCpuMs / row.oursCpuMs, 2)})` : ""),
    );
    q.dispose();
    k.dispose();
    v.dispose();
  }
  report.dense = dense;

  // ---- block-sparse
  const S = quick ? 4096 : 8192;
  const D = 64;
  const Hs = quick ? 4 : 8;
  const q = sl.randn([1, Hs, S, D], { seed: 4 });
  const k = sl.randn([1, Hs, S, D], { seed: 5 });
  const v = sl.randn([1, Hs, S, D], { seed: 6 });
  const nb = S / 128;
  const rand = sl.rng(7);
  const bits = rand.rand([nb * nb]).data as Float32Array;
  const randomFields = (): BlockMaskFields => {
    // 10% of tiles, all full (no mask inside), each q block keeps at least its diagonal tile.
    const num = new Int32Array(nb);
    const idx = new Int32Array(nb * nb);
    for (let i = 0; i < nb; i++)
      for (let j = 0; j < nb; j++) if (bits[i * nb + j] < 0.1 || i === j) idx[i * nb + num[i]++] = j;
    return {
      B: 1, H: 1, qLen: S, kvLen: S, qBlockSize: 128, kvBlockSize: 128,
      kvNumBlocks: new sl.Tensor([1, 1, nb], "i32", new Int32Array(nb)),
      kvIndices: new sl.Tensor([1, 1, nb, nb], "i32", new Int32Array(nb * nb)),
      fullKvNumBlocks: new sl.Tensor([1, 1, nb], "i32", num),
      fullKvIndices: new sl.Tensor([1, 1, nb, nb], "i32", idx),
    };
  };
  const vertical = new Int32Array(S);
  for (const c of [0, 1, 2, 3, 900, 901, 2500, 5000]) if (c < S) vertical[c] = 1;
  const slash = new Int32Array(S);
  for (let o = 0; o < 64; o++) slash[o] = 1;
  for (const o of [500, 2000]) slash[o] = 1;
  const patterns: [string, BlockMaskFields][] = [
    ["sliding window 256", sl.createBlockMask(sl.masks.slidingWindow(256), { qLen: S, kvLen: S })],
    ["sliding window 1024", sl.createBlockMask(sl.masks.slidingWindow(1024), { qLen: S, kvLen: S })],
    ["causal", sl.createBlockMask(sl.masks.causal(), { qLen: S, kvLen: S })],
    ["vertical-slash (8 columns, 66 diagonals)", sl.createBlockMask(sl.mask("q >= kv and (vert[kv] == 1 or slash[q - kv] == 1)", { vert: vertical, slash }), { qLen: S, kvLen: S })],
    ["random 10% of blocks", randomFields()],
  ];
  // Sparse calls are short: more reps, so one preempted rep moves the median less.
  const reps = quick ? 3 : 7;
  // Two ways per call, both timed through sl.attention: a fresh output tensor (16 MB here; the
  // GC that reclaims it costs a few ms per call, the same for a 20 ms sparse call as for a
  // 400 ms dense one), and opts.out, one preallocated output written in place.
  const out = sl.zeros([1, Hs, S, D]);
  const scale = 1 / Math.sqrt(D);
  // Wall time and CPU time (all threads) of one call.
  const run = async (bm: BlockMaskFields | undefined, into: boolean): Promise<[number, number]> => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    if (into) await sl.attention(q, k, v, { backend: "cpu", blockMask: bm, scale, out });
    else (await sl.attention(q, k, v, { backend: "cpu", blockMask: bm, scale })).dispose();
    const c = process.cpuUsage(c0);
    return [performance.now() - t0, (c.user + c.system) / 1000];
  };
  const sparse: Record<string, unknown>[] = [];
  const modes = [false, true];
  const times = modes.map(() => patterns.map(() => [] as number[]));
  const cpuTimes = modes.map(() => patterns.map(() => [] as number[]));
  const denseTimes = modes.map(() => [] as number[]);
  const denseCpu = modes.map(() => [] as number[]);
  // Modes one after the other, opts.out first: interleaved, the fresh outputs' garbage was
  // collected during the opts.out calls too (a mark-compact of ~12 ms on the JS thread, which
  // competes with the kernel's two threads for the two cores), so that column measured the
  // other mode's GC. Dense and the patterns still alternate within each rep.
  // A full collection before each mode, so the set-up's garbage (inputs, masks, the other
  // mode's outputs) is not collected during the measured calls.
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  for (const m of [1, 0]) {
    await run(undefined, modes[m]);  // warm-up
    gc();
    for (let r = 0; r < reps; r++) {
      const [dw, dc] = await run(undefined, modes[m]);
      denseTimes[m].push(dw);
      denseCpu[m].push(dc);
      for (let i = 0; i < patterns.length; i++) {
        const [w, c] = await run(patterns[i][1], modes[m]);
        times[m][i].push(w);
        cpuTimes[m][i].push(c);
      }
    }
  }
  const td = denseTimes.map(median);
  const tdc = denseCpu.map(median);
  console.log(
    `block-sparse, S ${S} D ${D} H ${Hs}, block 128, ${threads} thread(s), median of ${reps}: dense ${fmt(td[0])} ms ` +
      `(${fmt((4 * Hs * S * S * D) / td[0] / 1e6, 0)} GFLOP/s), CPU time ${fmt(tdc[0])} ms; with opts.out ${fmt(td[1])} ms, CPU ${fmt(tdc[1])} ms`,
  );
  console.log("  efficiency = dense time x density / time: sl.attention with a fresh output wall / CPU; with opts.out (reused) wall / CPU");
  for (let i = 0; i < patterns.length; i++) {
    const [name, f] = patterns[i];
    const tiles = f.B * f.H * nb * nb;
    let computed = 0;
    let partial = 0;
    const pn = f.kvNumBlocks.data as Int32Array;
    const fn = f.fullKvNumBlocks.data as Int32Array;
    for (let j = 0; j < pn.length; j++) {
      computed += pn[j] + fn[j];
      partial += pn[j];
    }
    const density = computed / tiles;
    const t = modes.map((_, m) => median(times[m][i]));
    const tc = modes.map((_, m) => median(cpuTimes[m][i]));
    const eff = t.map((x, m) => (td[m] * density) / x);
    const effCpu = tc.map((x, m) => (tdc[m] * density) / x);
    sparse.push({
      pattern: name, ms: t[0], cpuMs: tc[0], density, partialShare: partial / computed, efficiency: eff[0], efficiencyCpu: effCpu[0],
      intoMs: t[1], intoCpuMs: tc[1], efficiencyInto: eff[1], efficiencyIntoCpu: effCpu[1],
    });
    console.log(
      `  ${name}: ${fmt(t[0])} ms (opts.out: ${fmt(t[1])} ms), block density ${fmt(100 * density, 2)}% (${fmt((100 * partial) / computed, 0)}% of them partial), ` +
        `efficiency ${fmt(eff[0], 2)} / ${fmt(effCpu[0], 2)}; opts.out ${fmt(eff[1], 2)} / ${fmt(effCpu[1], 2)}`,
    );
  }
  report.sparse = { S, D, H: Hs, denseMs: td[0], denseIntoMs: td[1], rows: sparse };
  const probe1 = addon.probeFma(300);
  console.log(`FMA probe after: ${fmt(probe1, 0)} GFLOP/s; load ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  report.probe = [probe0, probe1];
  report.loadAfter = loadavg();
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify(report, null, 2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
