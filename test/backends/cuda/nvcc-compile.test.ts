// Every CUDA kernel variant the runtime generates compiles for sm_80 and sm_90a. CI has nvcc but
// no GPU and no libnvrtc, so this compiles the exact sources NVRTC would get (same #defines, same
// generated mask and score-mod code) with `nvcc -cubin`: a broken kernel fails CI. The product
// itself compiles through NVRTC at run time.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as sl from "../../../lib/index.js";
import { attentionDefines } from "../../../lib/backends/cuda/attention.js";
import { CODEGEN_PRELUDE, toCuda } from "../../../lib/backends/cuda/codegen.js";
import { readKernelSource } from "../../../lib/backends/cuda/runtime.js";
import type { Mask, ScoreMod } from "../../../lib/attention/types.js";

const root = new URL("../../../../", import.meta.url).pathname;
const kernel = (f: string) => readKernelSource(join(root, "lib", "backends", "cuda", "kernels"), f);
const nvcc = ["nvcc", "/usr/local/cuda/bin/nvcc"].find((p) => spawnSync(p, ["--version"], { stdio: "ignore" }).status === 0);
const skip = nvcc ? undefined : "nvcc not found (CUDA toolkit not installed here); CI and the device machine have it";
if (skip) {
  if (process.env.CI) throw new Error(`CI must compile the CUDA kernels but ${skip}`);
  console.log(`# skipping nvcc compile checks: ${skip}`);
}

// archs: the targets a variant is built for (default sm_80 and sm_90a); wgmma kernels are sm_90a only.
interface Variant { name: string; source: string; archs?: string[] }
const variants: Variant[] = [];

function attention(name: string, D: number, warps: number, dtype: string, mask?: Mask, mod?: ScoreMod) {
  const gen = toCuda([mask?.program, mod?.program]);
  const defs = attentionDefines({ D, warps, dtype, minBlocks: D <= 64 ? 3 : 1, maskExpr: gen.exprs[0], scoreExpr: gen.exprs[1], tableParams: gen.tableParams, tableArgs: gen.tableArgs });
  variants.push({ name, source: `${defs.join("\n")}\n${CODEGEN_PRELUDE}\n${kernel("attention.cu")}` });
}
for (const D of [64, 128, 80]) for (const dtype of ["bf16", "f16"]) for (const warps of [4, 8]) attention(`attention D${D} ${dtype} w${warps}`, D, warps, dtype);
const ids = new Int32Array(1024).map((_, i) => Math.floor(i / 100));
attention("attention causal", 128, 4, "bf16", sl.masks.causal());
attention("attention sliding window", 128, 4, "bf16", sl.masks.slidingWindow(256));
attention("attention document", 64, 4, "f16", sl.masks.document(ids));
attention("attention DSL mask + alibi", 128, 8, "bf16", sl.mask("q >= kv and (q - kv) % 3 == 0 or kv < 4"), sl.scoreMods.alibi(16));
attention("attention sink + softcap", 64, 4, "bf16", sl.masks.sink(4, 128), sl.scoreMods.softcap(30));
// The Hopper kernel (attention_hopper.cu): every head dim and dtype it takes, masks, tables, mods.
function hopper(name: string, D: number, dtype: string, mask?: Mask, mod?: ScoreMod, overlap = 1, stages = 3, extra: string[] = []) {
  // intOps: the attention kernels get comparisons on positions in int arithmetic (attention.ts).
  const gen = toCuda([mask?.program, mod?.program], { intOps: true });
  const defs = [...attentionDefines({ D, warps: 8, dtype, maskExpr: gen.exprs[0], scoreExpr: gen.exprs[1], tableParams: gen.tableParams, tableArgs: gen.tableArgs }), `#define OVERLAP ${overlap}`, `#define STAGES ${stages}`, ...extra];
  for (const file of overlap ? ["attention_hopper.cu", "attention_hopper_tma.cu"] : ["attention_hopper.cu"])
    variants.push({ name: `${name} (${file})`, source: `${defs.join("\n")}\n${CODEGEN_PRELUDE}\n${kernel(file)}`, archs: ["sm_90a"] });
}
for (const D of [64, 128]) for (const dtype of ["bf16", "f16"]) hopper(`attention_hopper D${D} ${dtype}`, D, dtype);
hopper("attention_hopper sliding window", 128, "bf16", sl.masks.slidingWindow(256));
hopper("attention_hopper D64 causal, 6 TMA stages", 64, "bf16", sl.masks.causal(), undefined, 1, 6);
// The comparison knobs: FlashAttention-4's lazy rescale, the item hand-over at the loop's end.
hopper("attention_hopper D128 causal, lazy rescale, AHEAD 0", 128, "bf16", sl.masks.causal(), undefined, 1, 3, ["#define LAZY_RESCALE 1", "#define AHEAD 0"]);
hopper("attention_hopper document + alibi", 128, "bf16", sl.masks.document(ids), sl.scoreMods.alibi(16));
hopper("attention_hopper sink + softcap", 64, "f16", sl.masks.sink(4, 128), sl.scoreMods.softcap(30));
for (const D of [64, 128]) hopper(`attention_hopper D${D} without overlap, causal`, D, "bf16", sl.masks.causal(), undefined, 0);
for (const dtype of ["bf16", "f16"])
  for (const bk of [32, 64]) variants.push({ name: `grouped_gemm ${dtype} BK${bk}`, source: `${dtype === "f16" ? "#define DTYPE_F16 1\n" : ""}#define BK ${bk}\n${kernel("grouped_gemm.cu")}` });
// The Hopper grouped GEMM at every N tile and stage count lib/backends/cuda/moe.ts launches, fed by TMA
// (with the atomic work counter, as launched by default, and the static walk) or cp.async.
for (const dtype of ["bf16", "f16"])
  for (const [bn, stages] of [[256, 4], [192, 5], [128, 6], [256, 3]])
    for (const feed of ["TMA", "TMA static", "cp.async"])
      variants.push({
        name: `grouped_gemm_sm90 ${dtype} BN${bn} S${stages} ${feed}`,
        source: `${dtype === "f16" ? "#define DTYPE_F16 1\n" : ""}#define BN ${bn}\n#define STAGES ${stages}\n${feed.startsWith("TMA") ? "#define USE_TMA 1\n" : ""}${feed === "TMA" ? "#define DYN_SCHED 1\n" : ""}${kernel("grouped_gemm_sm90.cu")}`,
        archs: ["sm_90a"],
      });
// The TMA-store epilogue (SPARSELAB_CUDA_GEMM_EPI=tma) at both widths it takes.
for (const [bn, stages] of [[256, 4], [128, 6]])
  variants.push({ name: `grouped_gemm_sm90 bf16 BN${bn} S${stages} TMA, TMA-store epilogue`, source: `#define BN ${bn}\n#define STAGES ${stages}\n#define USE_TMA 1\n#define DYN_SCHED 1\n#define EPI_TMA 1\n${kernel("grouped_gemm_sm90.cu")}`, archs: ["sm_90a"] });
variants.push({ name: "grouped_gemm_sm90 bf16 BN256 TMA 2-CTA cluster", source: `#define BN 256\n#define STAGES 4\n#define USE_TMA 1\n#define CLUSTER 2\n${kernel("grouped_gemm_sm90.cu")}`, archs: ["sm_90a"] });
for (const dtype of ["bf16", "f16"]) variants.push({ name: `moe_ops ${dtype}`, source: `${dtype === "f16" ? "#define DTYPE_F16 1\n" : ""}#define MAX_E_PER_LANE 2\n${kernel("moe_ops.cu")}` });

for (const elem of [0, 1, 2]) variants.push({ name: `sparse_ops ELEM ${elem}`, source: `#define ELEM ${elem}\n${CODEGEN_PRELUDE}\n${kernel("sparse_ops.cu")}` });
{
  const gen = toCuda([sl.masks.document(ids).program]);
  variants.push({
    name: "sparse_ops classify_tiles with a table mask",
    source: `#define HAS_MASK 1\n#define MASK_EXPR ((${gen.exprs[0]}) != 0.f)\n#define TABLE_PARAMS ${gen.tableParams}\n#define TABLE_ARGS ${gen.tableArgs}\n${CODEGEN_PRELUDE}\n${kernel("sparse_ops.cu")}`,
  });
}

function compile(src: string, arch: string, dir: string, i: number): Promise<{ ok: boolean; log: string }> {
  const file = join(dir, `k${i}_${arch}.cu`);
  writeFileSync(file, src);
  return new Promise((resolve) => {
    const p = spawn(nvcc!, ["-cubin", `-gencode=arch=compute_${arch.replace("sm_", "")},code=${arch}`, "-std=c++17", "-o", file.replace(/\.cu$/, ".cubin"), file]);
    let log = "";
    p.stdout.on("data", (d) => (log += d));
    p.stderr.on("data", (d) => (log += d));
    p.on("close", (code) => resolve({ ok: code === 0, log }));
  });
}

test(`nvcc compiles all ${variants.length} CUDA kernel variants for sm_80 and sm_90a (wgmma ones for sm_90a)`, { skip, timeout: 600_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "sl-nvcc-"));
  try {
    const jobs = variants.flatMap((v, i) => (v.archs ?? ["sm_80", "sm_90a"]).map((arch) => ({ v, arch, i })));
    const failures: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < jobs.length) {
        const j = jobs[next++];
        const r = await compile(j.v.source, j.arch, dir, j.i);
        if (!r.ok) failures.push(`${j.v.name} (${j.arch}):\n${r.log.slice(0, 2000)}`);
      }
    };
    await Promise.all([worker(), worker()]);
    assert.equal(failures.length, 0, failures.join("\n\n"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
