// bench/gpu/attention: our CUDA attention on the anchors.md shapes (bf16, B=1, H=16), beside the
// PyTorch peer measured in the same device call (bench/gpu/peer_attention.py writes JSON lines
// to the file named by PEER_RESULTS). Prints a table with ms, TFLOP/s and ratios.
//   node bench-gpu-attention.mjs [peer.jsonl]
import { readFileSync, existsSync } from "node:fs";
import { Tensor } from "../../lib/tensor/tensor.js";
import type { BlockMaskFields } from "../../lib/attention/block-mask.js";
import type { MaskProgram } from "../../lib/attention/mask-ir.js";
import { cudaAttentionSync } from "../../lib/backends/cuda/attention.js";
import { toDevice } from "../../lib/backends/cuda/device-tensor.js";
import { requireCuda } from "../../lib/backends/cuda/runtime.js";
import { fromFloat32 } from "../../lib/tensor/tensor.js";
import * as sl from "../../lib/index.js";
import { cudaCreateBlockMask } from "../../lib/backends/cuda/sparse.js";

const rt = requireCuda("bench");
const H = 16;

function randn(shape: number[], seed: number): Tensor {
  let n = 1;
  for (const d of shape) n *= d;
  const f = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i += 2) {
    s = (s * 1664525 + 1013904223) >>> 0;
    const u1 = (s + 1) / 4294967297;
    s = (s * 1664525 + 1013904223) >>> 0;
    const u2 = s / 4294967296;
    const r = Math.sqrt(-2 * Math.log(u1));
    f[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) f[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return new Tensor(shape, "bf16", fromFloat32(f, "bf16"));
}

const V = (name: "q" | "kv") => ({ t: "var" as const, name });
/** Interval classification of causal / sliding-window tiles: O(tiles), no element visits. */
function bandMask(S: number, bs: number, w: number | undefined): BlockMaskFields {
  const n = Math.ceil(S / bs);
  const kvNum = new Int32Array(n), kvIdx = new Int32Array(n * n), fNum = new Int32Array(n), fIdx = new Int32Array(n * n);
  for (let qb = 0; qb < n; qb++) {
    const q0 = qb * bs, q1 = Math.min(S, q0 + bs) - 1;
    for (let kb = 0; kb <= qb; kb++) {
      const k0 = kb * bs, k1 = Math.min(S, k0 + bs) - 1;
      // diff = q - kv ranges over [q0 - k1, q1 - k0]; keep needs 0 <= diff < w.
      const dmin = q0 - k1, dmax = q1 - k0;
      const wmax = w ?? Infinity;
      if (dmax < 0 || dmin >= wmax) continue;
      if (dmin >= 0 && dmax < wmax) fIdx[qb * n + fNum[qb]++] = kb;
      else kvIdx[qb * n + kvNum[qb]++] = kb;
    }
  }
  const causal = { t: "bin" as const, op: "ge" as const, a: V("q"), b: V("kv") };
  const program: MaskProgram = w
    ? { expr: { t: "bin", op: "and", a: causal, b: { t: "bin", op: "lt", a: { t: "bin", op: "sub", a: V("q"), b: V("kv") }, b: { t: "num", v: w } } }, tables: [] }
    : { expr: causal, tables: [] };
  return {
    B: 1, H: 1, qLen: S, kvLen: S, qBlockSize: bs, kvBlockSize: bs,
    kvNumBlocks: new Tensor([1, 1, n], "i32", kvNum), kvIndices: new Tensor([1, 1, n, n], "i32", kvIdx),
    fullKvNumBlocks: new Tensor([1, 1, n], "i32", fNum), fullKvIndices: new Tensor([1, 1, n, n], "i32", fIdx),
    mask: { kind: w ? "slidingWindow" : "causal", name: w ? `sliding_window_${w}` : "causal", params: {}, at: (_b, _h, q, kv) => q >= kv && (w === undefined || q - kv < w), program },
  };
}

const peer = new Map<string, number>();
const peerFile = process.argv[2];
if (peerFile && existsSync(peerFile))
  for (const line of readFileSync(peerFile, "utf8").split("\n")) {
    if (!line.startsWith("{")) continue;
    const r = JSON.parse(line);
    peer.set(`${r.peer}:${r.S}:${r.D}:${r.kind}`, r.ms);
  }

const rows: string[][] = [["work", "ours ms", "TFLOP/s", "SDPA ms", "Flex ms", "ours/SDPA", "ours/Flex"]];
// Kernel variants timed beside the default (on Hopper the persistent TMA kernel drawing items
// from a counter in sections of heads whose K / V fit L2, ping-pong at D = 64, 3 K / V stages):
// the per-head item order, the item hand-over at the end of the loop (AHEAD=0), ping-pong on at
// D = 128, 3 and 6 K / V stages at D = 64 (D = 128 fits 3); BENCH_ALL=1 adds ping-pong off at
// D = 64, FlashAttention-4's lazy rescale, one CTA per item, a fixed item order, the cp.async
// kernel and the mma.sync kernel that sm_80 / sm_89 run.
type Variant = [string, Record<string, string>, (D: number) => boolean];
const any = () => true, d64 = (D: number) => D === 64;
const VARIANTS: Variant[] = [
  ["tma, per-head item order", { SPARSELAB_CUDA_ATTN_HEADGROUP: "1" }, any],
  ["tma, item hand-over at the loop's end", { SPARSELAB_CUDA_ATTN_AHEAD: "0" }, any],
  ["tma, pingpong on", { SPARSELAB_CUDA_ATTN_PINGPONG: "1" }, (D) => D !== 64],
  ["tma, 3 stages", { SPARSELAB_CUDA_ATTN_STAGES: "3" }, d64],
  ["tma, 6 stages", { SPARSELAB_CUDA_ATTN_STAGES: "6" }, d64],
  ...(process.env.BENCH_ALL === "1"
    ? ([
        ["tma, pingpong off", { SPARSELAB_CUDA_ATTN_PINGPONG: "0" }, d64],
        ["tma, lazy rescale", { SPARSELAB_CUDA_ATTN_LAZY: "1" }, any],
        ["tma, CTA per item", { SPARSELAB_CUDA_ATTN_PERSISTENT: "0" }, any],
        ["tma, static item order", { SPARSELAB_CUDA_ATTN_DYNAMIC: "0" }, any],
        ["cp.async kernel", { SPARSELAB_CUDA_ATTN_TMA: "0" }, any],
        ["mma.sync kernel", { SPARSELAB_CUDA_ATTN_KERNEL: "mma" }, any],
      ] as Variant[])
    : []),
];
// Each configuration is timed in ROUNDS interleaved rounds (default, variant, ..., default, ...)
// and reported as the median of its rounds' medians: one H100 timed the same configuration 7%
// apart within one pass (causal D=128, 03:50 UTC), so a single pass cannot rank variants.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
function withEnv<T>(env: Record<string, string>, fn: () => T): T {
  for (const [k, v] of Object.entries(env)) process.env[k] = v;
  try {
    return fn();
  } finally {
    for (const k of Object.keys(env)) delete process.env[k];
  }
}
function timeRounds(configs: { env: Record<string, string>; fn: () => void }[]): number[] {
  const per = configs.map(() => [] as number[]);
  for (let r = 0; r < ROUNDS; r++) configs.forEach((c, i) => per[i].push(withEnv(c.env, () => rt.time(c.fn, 30, 5).median)));
  return per.map((xs) => xs.sort((a, b) => a - b)[xs.length >> 1]);
}
function row(label: string, S: number, D: number, kind: string, ms: number, flops: number | undefined) {
  const sd = peer.get(`sdpa:${S}:${D}:${kind}`), fx = peer.get(`flex:${S}:${D}:${kind}`);
  // Ratios are speed-ups: peer time / our time (> 1 means we are faster).
  rows.push([label, ms.toFixed(3), flops ? (flops / ms / 1e9).toFixed(0) : "-", sd?.toFixed(3) ?? "-", fx?.toFixed(3) ?? "-", sd ? (sd / ms).toFixed(2) : "-", fx ? (fx / ms).toFixed(2) : "-"]);
  console.log(JSON.stringify({ ours: true, S, D, kind, ms }));
}

for (const [S, D] of [[4096, 64], [4096, 128], [16384, 64], [16384, 128]]) {
  const q = toDevice(randn([1, H, S, D], 1)), k = toDevice(randn([1, H, S, D], 2)), v = toDevice(randn([1, H, S, D], 3));
  const scale = 1 / Math.sqrt(D);
  // Each output is released right after its launch, as PyTorch's allocator does when the peer's
  // result goes out of scope, so every timed call reuses one block (no cuMemAlloc in the loop).
  const run = (bm?: BlockMaskFields) => () => cudaAttentionSync({ q, k, v, scale, returnLse: false, blockMask: bm }).output.dispose();
  const cm = bandMask(S, 128, undefined);
  for (const [kind, bm, flops] of [["dense", undefined, 4 * H * S * S * D], ["causal", cm, 2 * H * S * S * D]] as const) {
    const vs = VARIANTS.filter(([, , when]) => when(D));
    const ms = timeRounds([{ env: {}, fn: run(bm) }, ...vs.map(([, env]) => ({ env, fn: run(bm) }))]);
    row(`S=${S} D=${D} ${kind}`, S, D, kind, ms[0], flops);
    vs.forEach(([name], i) => row(`S=${S} D=${D} ${kind}, ${name}`, S, D, kind, ms[i + 1], flops));
  }
  q.dispose(); k.dispose(); v.dispose();
}
{
  const S = 16384, D = 128;
  const q = toDevice(randn([1, H, S, D], 4)), k = toDevice(randn([1, H, S, D], 5)), v = toDevice(randn([1, H, S, D], 6));
  for (const w of [256, 1024, 4096]) {
    // The library's createBlockMask (host, interval classification), H = 16 as in the anchor.
    const t0 = performance.now();
    const bm = sl.createBlockMask(sl.masks.slidingWindow(w), { H, qLen: S, kvLen: S, blockSize: 128 });
    const tMask = performance.now() - t0;
    const run = () => cudaAttentionSync({ q, k, v, scale: 1 / Math.sqrt(D), returnLse: false, blockMask: bm }).output.dispose();
    const vs = VARIANTS.filter(([, , when]) => when(D));
    const ms = timeRounds([{ env: {}, fn: run }, ...vs.map(([, env]) => ({ env, fn: run }))]);
    row(`S=${S} D=${D} window ${w}`, S, D, `window${w}`, ms[0], undefined);
    vs.forEach(([name], i) => row(`S=${S} D=${D} window ${w}, ${name}`, S, D, `window${w}`, ms[i + 1], undefined));
    const pcm = peer.get(`flex:${S}:${D}:create_block_mask_window${w}`);
    rows.push([`  sl.createBlockMask window ${w}, H=16 (host)`, tMask.toFixed(3), "-", "-", pcm?.toFixed(3) ?? "-", "-", pcm ? (pcm / tMask).toFixed(0) : "-"]);
  }
  // A mask the interval bounds cannot decide: every tile's elements are evaluated on the GPU.
  const hard = sl.mask("(q * 7 + kv * 3) % 11 < 5");
  await cudaCreateBlockMask(hard, { qLen: S, kvLen: S, blockSize: 128 });
  const t1 = performance.now();
  await cudaCreateBlockMask(hard, { H, qLen: S, kvLen: S, blockSize: 128 });
  rows.push([`  cuda createBlockMask, undecidable DSL mask, H=16`, (performance.now() - t1).toFixed(3), "-", "-", "-", "-", "-"]);
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
console.log(`\n${rt.info.name}, ${rt.arch}; ratios are peer time / ours (> 1: ours faster)`);
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i])).join("  "));
