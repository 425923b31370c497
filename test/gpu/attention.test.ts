// CUDA attention against a float64 reference on fresh random inputs: dense, GQA, ragged
// lengths, head dims 64/80/96/128, bf16 and f16, block-sparse with IR masks (causal, sliding
// window, document ids via a table, per-head masks), score mods, fully masked rows, outputs
// poisoned first. On a Hopper GPU every case the wgmma kernel (attention_hopper.cu) takes runs
// twice: once through it and once forced onto the mma.sync kernel.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { MaskProgram } from "../../lib/attention/mask-ir.js";
import type { ScoreMod } from "../../lib/attention/types.js";
import { cudaAttention, useHopper } from "../../lib/backends/cuda/attention.js";
import { cudaRuntime } from "../../lib/backends/cuda/runtime.js";
import { toDevice, toHost } from "../../lib/backends/cuda/device-tensor.js";
import { bruteBlockMask, gpuSkipReason, poison, randomTensor, refAttention, relErr, widen, type Pred } from "./gpu-helpers.js";
import type { DType } from "../../lib/tensor/dtype.js";

const skip = gpuSkipReason();
if (skip) console.log(`# skipping CUDA attention tests: ${skip}`);

const v = (name: "q" | "kv" | "b" | "h") => ({ t: "var" as const, name });
const num = (x: number) => ({ t: "num" as const, v: x });
const causalIR: MaskProgram = { expr: { t: "bin", op: "ge", a: v("q"), b: v("kv") }, tables: [] };
const windowIR = (w: number): MaskProgram => ({
  expr: { t: "bin", op: "and", a: causalIR.expr, b: { t: "bin", op: "lt", a: { t: "bin", op: "sub", a: v("q"), b: v("kv") }, b: num(w) } },
  tables: [],
});

interface Case {
  name: string; B: number; Hq: number; Hkv: number; Sq: number; Skv: number; D: number; dtype: DType;
  pred?: Pred; program?: MaskProgram; qbs?: number; kvbs?: number; drop?: (qb: number, kb: number) => boolean;
  scoreMod?: ScoreMod; refMod?: (s: number, q: number, kv: number) => number; H?: number;
}

const docs = new Int32Array(300);
for (let i = 0; i < 300; i++) docs[i] = i < 70 ? 0 : i < 190 ? 1 : 2;

const cases: Case[] = [
  { name: "dense GQA ragged D64 bf16", B: 2, Hq: 4, Hkv: 2, Sq: 200, Skv: 300, D: 64, dtype: "bf16" },
  { name: "dense D128 f16", B: 1, Hq: 2, Hkv: 2, Sq: 256, Skv: 256, D: 128, dtype: "f16" },
  { name: "dense D80 bf16", B: 1, Hq: 2, Hkv: 1, Sq: 130, Skv: 190, D: 80, dtype: "bf16" },
  { name: "dense D96 bf16", B: 1, Hq: 1, Hkv: 1, Sq: 64, Skv: 100, D: 96, dtype: "bf16" },
  { name: "causal block 128 ragged D128", B: 1, Hq: 2, Hkv: 2, Sq: 333, Skv: 333, D: 128, dtype: "bf16", pred: (_b, _h, q, kv) => q >= kv, program: causalIR, qbs: 128, kvbs: 128 },
  { name: "sliding window 100, q block 64, kv block 128, D64", B: 1, Hq: 4, Hkv: 1, Sq: 300, Skv: 300, D: 64, dtype: "bf16", pred: (_b, _h, q, kv) => q >= kv && q - kv < 100, program: windowIR(100), qbs: 64, kvbs: 128 },
  {
    name: "document mask via a table, f16", B: 1, Hq: 2, Hkv: 2, Sq: 300, Skv: 300, D: 64, dtype: "f16",
    pred: (_b, _h, q, kv) => docs[q] === docs[kv],
    program: { expr: { t: "bin", op: "eq", a: { t: "idx", table: 0, index: v("q") }, b: { t: "idx", table: 0, index: v("kv") } }, tables: [docs] },
    qbs: 128, kvbs: 64,
  },
  {
    name: "fully masked q blocks give 0 and -inf", B: 1, Hq: 1, Hkv: 1, Sq: 256, Skv: 256, D: 64, dtype: "bf16",
    pred: (_b, _h, q, kv) => q >= 128 && q >= kv, program: { expr: { t: "bin", op: "and", a: { t: "bin", op: "ge", a: v("q"), b: num(128) }, b: causalIR.expr }, tables: [] }, qbs: 128, kvbs: 128,
  },
  {
    name: "softcap score mod, causal", B: 1, Hq: 2, Hkv: 2, Sq: 200, Skv: 200, D: 64, dtype: "bf16", pred: (_b, _h, q, kv) => q >= kv, program: causalIR, qbs: 128, kvbs: 128,
    scoreMod: { kind: "softcap", name: "softcap_2", params: {}, apply: (s) => 2 * Math.tanh(s / 2), program: { expr: { t: "bin", op: "mul", a: num(2), b: { t: "un", op: "tanh", a: { t: "bin", op: "div", a: { t: "var", name: "score" }, b: num(2) } } }, tables: [] } },
    refMod: (s) => 2 * Math.tanh(s / 2),
  },
  // More work items (q tile, head) than an H100 has SMs: persistent CTAs take several items each,
  // their stages and barrier phases running on from one item to the next.
  { name: "many items: dense GQA 5:1 ragged D64 bf16", B: 1, Hq: 40, Hkv: 8, Sq: 520, Skv: 260, D: 64, dtype: "bf16" },
  { name: "many items: causal GQA 12:1 D128 f16", B: 2, Hq: 24, Hkv: 2, Sq: 384, Skv: 384, D: 128, dtype: "f16", pred: (_b, _h, q, kv) => q >= kv, program: causalIR, qbs: 128, kvbs: 128 },
  // Shapes aimed at the Hopper kernel's schedule: many tiles through both pipeline stages,
  // ragged ends on both sides, GQA 4:1, mask blocks of two 128-key steps, per-head masks.
  { name: "dense long ragged D128 bf16", B: 1, Hq: 2, Hkv: 1, Sq: 700, Skv: 1100, D: 128, dtype: "bf16" },
  { name: "dense GQA 4:1 ragged D64 bf16", B: 2, Hq: 8, Hkv: 2, Sq: 257, Skv: 513, D: 64, dtype: "bf16" },
  { name: "causal, kv block 256, D128 f16", B: 1, Hq: 2, Hkv: 2, Sq: 600, Skv: 600, D: 128, dtype: "f16", pred: (_b, _h, q, kv) => q >= kv, program: causalIR, qbs: 128, kvbs: 256 },
  {
    name: "document mask via a table, 128 blocks, D128", B: 1, Hq: 2, Hkv: 2, Sq: 300, Skv: 300, D: 128, dtype: "bf16",
    pred: (_b, _h, q, kv) => docs[q] === docs[kv],
    program: { expr: { t: "bin", op: "eq", a: { t: "idx", table: 0, index: v("q") }, b: { t: "idx", table: 0, index: v("kv") } }, tables: [docs] },
    qbs: 128, kvbs: 128,
  },
  {
    name: "per-head mask (causal / window 150), distance score mod, D64", B: 1, Hq: 2, Hkv: 1, Sq: 400, Skv: 400, D: 64, dtype: "bf16", H: 2,
    pred: (_b, h, q, kv) => q >= kv && (h === 0 || q - kv < 150),
    program: { expr: { t: "bin", op: "and", a: causalIR.expr, b: { t: "bin", op: "or", a: { t: "bin", op: "eq", a: v("h"), b: num(0) }, b: { t: "bin", op: "lt", a: { t: "bin", op: "sub", a: v("q"), b: v("kv") }, b: num(150) } } }, tables: [] },
    qbs: 128, kvbs: 128,
    scoreMod: {
      kind: "expr", name: "distance", params: {}, apply: (s, _b, _h, q, kv) => s - 0.01 * Math.abs(q - kv),
      program: { expr: { t: "bin", op: "sub", a: { t: "var", name: "score" }, b: { t: "bin", op: "mul", a: num(0.01), b: { t: "un", op: "abs", a: { t: "bin", op: "sub", a: v("q"), b: v("kv") } } } }, tables: [] },
    },
    refMod: (s, q, kv) => s - 0.01 * Math.abs(q - kv),
  },
];

const rt = cudaRuntime();
// On Hopper: "auto" is the TMA kernel (attention_hopper_tma.cu: persistent CTAs drawing items
// from a counter, warp-group ping-pong at D = 64 only); "pingpong" flips the ping-pong, "static"
// strides over the items in a fixed order, "per-item" launches one CTA per item; "cp.async" and
// "sequential" are the cp.async kernel (attention_hopper.cu) with and without its overlapped
// schedule, "mma" the mma.sync kernel every other GPU runs.
// "heads 1" is the per-head item order; "heads 3, stages" sections of three heads (a ragged last
// section on most cases) with 6 K / V stages at D = 64 (the most it fits) and 2 at D = 128.
// "lazy" keeps a row's max until it grows by 2^8 (FlashAttention-4's rescale).
type Kernel = "auto" | "pingpong" | "static" | "per-item" | "heads 1" | "heads 3, stages" | "lazy" | "cp.async" | "sequential" | "mma";
const runs: { c: Case; kernel: Kernel }[] = [];
for (const c of cases) {
  const bmShape = c.pred ? { qBlockSize: c.qbs!, kvBlockSize: c.kvbs! } : undefined;
  const hopper = rt !== undefined && useHopper(rt.info.major, c.D, bmShape as never);
  runs.push({ c, kernel: "auto" });
  if (hopper) for (const kernel of ["pingpong", "static", "per-item", "heads 1", "heads 3, stages", "lazy", "cp.async", "sequential", "mma"] as const) runs.push({ c, kernel });
}
const ENV: Record<Kernel, (D: number) => Record<string, string>> = {
  auto: () => ({}),
  pingpong: (D) => ({ SPARSELAB_CUDA_ATTN_PINGPONG: D === 64 ? "0" : "1" }),
  static: () => ({ SPARSELAB_CUDA_ATTN_DYNAMIC: "0" }),
  "per-item": () => ({ SPARSELAB_CUDA_ATTN_PERSISTENT: "0" }),
  "heads 1": () => ({ SPARSELAB_CUDA_ATTN_HEADGROUP: "1" }),
  "heads 3, stages": (D) => ({ SPARSELAB_CUDA_ATTN_HEADGROUP: "3", SPARSELAB_CUDA_ATTN_STAGES: D === 64 ? "6" : "2" }),
  lazy: () => ({ SPARSELAB_CUDA_ATTN_LAZY: "1" }),
  "cp.async": () => ({ SPARSELAB_CUDA_ATTN_TMA: "0" }),
  sequential: () => ({ SPARSELAB_CUDA_ATTN_TMA: "0", SPARSELAB_CUDA_ATTN_OVERLAP: "0" }),
  mma: () => ({ SPARSELAB_CUDA_ATTN_KERNEL: "mma" }),
};

test("cuda attention: compute capability 9.x takes the wgmma kernel for D 64/128 and 128-blocks", { skip }, () => {
  if (rt!.info.major !== 9) return;
  assert.equal(useHopper(9, 128, undefined), true);
  assert.equal(useHopper(9, 64, { qBlockSize: 128, kvBlockSize: 256 } as never), true);
  assert.equal(useHopper(9, 80, undefined), false);
  assert.equal(useHopper(9, 128, { qBlockSize: 128, kvBlockSize: 64 } as never), false);
  assert.equal(useHopper(8, 128, undefined), false);
});

// Fresh random inputs per case (a new seed every run of the suite), shared by the case's kernel
// runs so the float64 reference is computed once.
const inputMemo = new Map<Case, ReturnType<typeof makeInputs>>();
function makeInputs(c: Case) {
  const seed = (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0;
  const q = randomTensor([c.B, c.Hq, c.Sq, c.D], c.dtype, seed, 2);
  const k = randomTensor([c.B, c.Hkv, c.Skv, c.D], c.dtype, seed + 1, 2);
  const vv = randomTensor([c.B, c.Hkv, c.Skv, c.D], c.dtype, seed + 2);
  const scale = 1 / Math.sqrt(c.D);
  const bm = c.pred ? bruteBlockMask(c.pred, 1, c.H ?? 1, c.Sq, c.Skv, c.qbs!, c.kvbs!, c.program, c.drop) : undefined;
  const ref = refAttention(q, k, vv, scale, c.pred, c.refMod ? (s, _b, _h, qi, kv) => c.refMod!(s, qi, kv) : undefined);
  return { seed, q, k, vv, scale, bm, ref };
}
function inputsOf(c: Case) {
  let x = inputMemo.get(c);
  if (!x) inputMemo.set(c, (x = makeInputs(c)));
  return x;
}

for (const { c, kernel } of runs) {
  const hopper = rt && useHopper(rt.info.major, c.D, (c.pred ? { qBlockSize: c.qbs!, kvBlockSize: c.kvbs! } : undefined) as never);
  const kname = { auto: hopper ? (rt!.info.tensorMaps ? "wgmma tma" : "wgmma cp.async") : "mma.sync", pingpong: c.D === 64 ? "wgmma tma, no pingpong" : "wgmma tma pingpong", static: "wgmma tma, static order", "per-item": "wgmma tma, CTA per item", "heads 1": "wgmma tma, per-head order", "heads 3, stages": `wgmma tma, 3-head sections, ${c.D === 64 ? 6 : 2} stages`, lazy: "wgmma tma, lazy rescale", "cp.async": "wgmma cp.async", sequential: "wgmma cp.async, no overlap", mma: "mma.sync (forced)" }[kernel];
  test(`cuda attention [${kname}]: ${c.name}`, { skip }, async () => {
    const env = Object.entries(ENV[kernel](c.D));
    for (const [name, value] of env) process.env[name] = value;
    const { seed, q, k, vv, scale, bm, ref } = inputsOf(c);
    poison(c.B * c.Hq * c.Sq * c.D * 2, c.B * c.Hq * c.Sq * 4);
    let res;
    try {
      res = await cudaAttention({ q: toDevice(q), k: toDevice(k), v: toDevice(vv), blockMask: bm, scoreMod: c.scoreMod, scale, returnLse: true });
    } finally {
      for (const [name] of env) delete process.env[name];
    }
    const out = widen(await toHost(res.output));
    const lse = await res.lse!.toTypedArray();
    const tol = c.dtype === "bf16" ? 1e-2 : 4e-3;
    const e = relErr(out, ref.out);
    assert.ok(e < tol, `seed ${seed}: output rel err ${e} >= ${tol}`);
    for (let i = 0; i < lse.length; i++) {
      if (ref.lse[i] === -Infinity) {
        assert.equal(lse[i], -Infinity, `seed ${seed}: lse[${i}] should be -inf, got ${lse[i]}`);
        for (let d = 0; d < c.D; d++) assert.equal(out[i * c.D + d], 0, `seed ${seed}: fully masked row ${i} must be 0`);
      } else assert.ok(Math.abs(lse[i] - ref.lse[i]) < 2e-2 * Math.max(1, Math.abs(ref.lse[i])), `seed ${seed}: lse[${i}] ${lse[i]} vs ${ref.lse[i]}`);
    }
  });
}

test("cuda attention through sl.attention: opts.out is written in place and reused, equal to a fresh output", { skip }, async () => {
  (await import("../../lib/backends/cuda/index.js")).load();
  const sl = await import("../../lib/index.js");
  const seed = (Date.now() % 100000) + 7;
  const [B, H, S, D] = [1, 4, 1000, 128];
  const dev = (s: number) => sl.randn([B, H, S, D], { seed: s }).astype("bf16").to("cuda");
  const q = dev(seed), k = dev(seed + 1), v = dev(seed + 2);
  const out = sl.full([B, H, S, D], Number.NaN).astype("bf16").to("cuda"); // poisoned
  for (const mask of [sl.masks.slidingWindow(300), sl.masks.causal()]) {
    const blockMask = sl.createBlockMask(mask, { qLen: S, kvLen: S });
    const fresh = await sl.attention(q, k, v, { blockMask });
    const same = await sl.attention(q, k, v, { blockMask, out });
    assert.equal(same, out, "the out tensor itself is returned");
    const [a, b] = [await (await out.cpu()).toTypedArray(), await (await fresh.cpu()).toTypedArray()];
    assert.deepEqual(Array.from(a), Array.from(b), `seed ${seed}, mask ${mask.name}`);
    fresh.dispose();
  }
  await assert.rejects(sl.attention(q, k, v, { out: sl.zeros([B, H, S, D]).astype("bf16") }), /opts\.out.*cuda.*device cpu/s);
});
