import { SparselabError, fmtShape } from "../../errors.js";
import type { BlockMaskFields } from "../../attention/block-mask.js";
import type { AttentionArgs, AttentionResult } from "../ops.js";
import { Tensor } from "../../tensor/tensor.js";
import { CODEGEN_PRELUDE, toCuda } from "./codegen.js";
import { devicePtr, emptyCuda, toDevice } from "./device-tensor.js";
import { requireCuda, type CompiledFunction } from "./runtime.js";

const OP = "attention (cuda)";
const BLOCK_N = 64;

/** Device copies of a block mask's index tensors, made once per BlockMask. */
/** Compiled kernels by their generated defines, so repeated calls skip hashing the source. */
const fnMemo = new Map<string, CompiledFunction>();

const maskCache = new WeakMap<object, { kvNum: Tensor; kvIdx: Tensor; fullNum: Tensor; fullIdx: Tensor; tables: Tensor[] }>();

function deviceMask(bm: BlockMaskFields, tables: (Int32Array | Float32Array)[]) {
  let c = maskCache.get(bm);
  if (!c) {
    c = {
      kvNum: toDevice(bm.kvNumBlocks),
      kvIdx: toDevice(bm.kvIndices),
      fullNum: toDevice(bm.fullKvNumBlocks),
      fullIdx: toDevice(bm.fullKvIndices),
      tables: tables.map((t) =>
        toDevice(t instanceof Float32Array ? new Tensor([t.length], "f32", t) : new Tensor([t.length], "i32", t)),
      ),
    };
    maskCache.set(bm, c);
  }
  return c;
}

function anyPartial(bm: BlockMaskFields): boolean {
  const n = bm.kvNumBlocks.data as Int32Array;
  for (let i = 0; i < n.length; i++) if (n[i] > 0) return true;
  return false;
}

/** The #defines that specialise attention.cu; shared with the nvcc compile check in CI. */
export function attentionDefines(o: {
  D: number; warps: number; dtype: string; maskExpr?: string; scoreExpr?: string; tableParams?: string; tableArgs?: string; minBlocks?: number;
}): string[] {
  return [
    `#define HEAD_DIM ${o.D}`,
    `#define WARPS ${o.warps}`,
    o.minBlocks && o.minBlocks > 1 ? `#define MIN_BLOCKS ${o.minBlocks}` : "",
    o.dtype === "f16" ? "#define DTYPE_F16 1" : "",
    o.maskExpr ? `#define HAS_MASK 1\n#define MASK_EXPR ((${o.maskExpr}) != 0.f)` : "",
    o.scoreExpr ? `#define HAS_SCORE_MOD 1\n#define SCORE_EXPR (${o.scoreExpr})` : "",
    o.tableParams ? `#define TABLE_PARAMS ${o.tableParams}\n#define TABLE_ARGS ${o.tableArgs}` : "",
  ].filter(Boolean);
}

/**
 * The CUDA implementation of "attention": validates what this kernel supports beyond the
 * public checks, generates the kernel source for the mask and score mod, and launches it.
 */
export async function cudaAttention(args: AttentionArgs): Promise<AttentionResult> {
  const rt = requireCuda(OP);
  const { q, k, v, blockMask: bm, scoreMod, scale, returnLse } = args;
  const [B, Hq, Sq, D] = q.shape;
  const [, Hkv, Skv, Dk] = k.shape;
  const Dv = v.shape[3];
  for (const [name, t] of [["q", q], ["k", k], ["v", v]] as const)
    if (t.device !== "cuda") throw new SparselabError(OP, `argument '${name}' must be on cuda, got ${t.device} (use sl.cuda.toDevice)`);
  if (q.dtype !== "bf16" && q.dtype !== "f16")
    throw new SparselabError(OP, `argument 'q' must be bf16 or f16 on the tensor-core kernel, got ${q.dtype} (convert with astype("bf16"))`);
  if (k.dtype !== q.dtype || v.dtype !== q.dtype)
    throw new SparselabError(OP, `q, k, v must share a dtype, got ${q.dtype}, ${k.dtype}, ${v.dtype}`);
  if (D % 16 !== 0 || D > 128 || Dk !== D || Dv !== D)
    throw new SparselabError(OP, `head dims must be equal multiples of 16 up to 128, got q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}, v ${fmtShape(v.shape)}`);

  // 4 warps (64 query rows) per CTA measured faster than 8 on H100 (bench/gpu): two CTAs fit
  // per SM at ~230 registers a thread, and their loads overlap each other's math.
  if (!(scale > 0))
    throw new SparselabError(OP, `scale must be positive on CUDA (it is folded into exp2 with the running max), got ${scale}`);
  let warps = Number(process.env.SPARSELAB_CUDA_ATTN_WARPS ?? 4) === 8 ? 8 : 4;
  let kvBlockSize = BLOCK_N;
  let maskProgram;
  if (bm) {
    if (bm.qBlockSize % 64 !== 0)
      throw new SparselabError(OP, `block mask q block size must be a multiple of 64 on CUDA, got ${bm.qBlockSize}`);
    if (bm.kvBlockSize % BLOCK_N !== 0)
      throw new SparselabError(OP, `block mask kv block size must be a multiple of ${BLOCK_N} on CUDA, got ${bm.kvBlockSize}`);
    if ((bm.qBlockSize / 16) % warps !== 0) warps = 4;
    kvBlockSize = bm.kvBlockSize;
    if (anyPartial(bm)) {
      if (!bm.mask) throw new SparselabError(OP, "the block mask has partial tiles but no mask to refine them");
      if (!bm.mask.program)
        throw new SparselabError(OP, `mask '${bm.mask.name}' is a plain function; CUDA runs built-in and expression masks (use backend "cpu" or express it with sl.mask("..."))`);
      maskProgram = bm.mask.program;
    }
  }
  if (scoreMod && !scoreMod.program)
    throw new SparselabError(OP, `score mod '${scoreMod.name}' is a plain function; CUDA runs built-in and expression score mods`);

  const gen = toCuda([maskProgram, scoreMod?.program]);
  // Measured on H100 (bench/gpu, BENCH_VARIANTS=1): capping registers for three CTAs per SM pays
  // at D <= 64 (+5%) and costs at D = 128 (spills, -15%).
  const minBlocks = Number(process.env.SPARSELAB_CUDA_ATTN_MINBLOCKS ?? (D <= 64 ? 3 : 1));
  const defines = attentionDefines({ D, warps, dtype: q.dtype, minBlocks, maskExpr: gen.exprs[0], scoreExpr: gen.exprs[1], tableParams: gen.tableParams, tableArgs: gen.tableArgs });
  const blockM = warps * 16;
  // Two stages of K and V tiles; Q borrows stage 1 before the pipeline starts.
  const smem = 4 * BLOCK_N * D * 2;
  const key = defines.join("\n");
  let fn = fnMemo.get(key);
  if (!fn) {
    const source = `${key}\n${CODEGEN_PRELUDE}\n${rt.kernelSource("attention.cu")}`;
    fn = rt.fn(`attention_d${D}_w${warps}_${q.dtype}`, source, "attention_fwd", smem);
    fnMemo.set(key, fn);
  }

  const o = emptyCuda([B, Hq, Sq, D], q.dtype, rt);
  const lse = returnLse ? emptyCuda([B, Hq, Sq], "f32", rt) : undefined;
  let kvNum = 0, kvIdx = 0, fullNum = 0, fullIdx = 0, bmB = 1, bmH = 1, qBlocks = Math.ceil(Sq / blockM), kvBlocks = 0;
  let tablePtrs: number[] = [];
  if (bm) {
    const dm = deviceMask(bm, gen.tables.slice(0, maskProgram?.tables.length ?? 0));
    kvNum = devicePtr(dm.kvNum);
    kvIdx = devicePtr(dm.kvIdx);
    fullNum = devicePtr(dm.fullNum);
    fullIdx = devicePtr(dm.fullIdx);
    bmB = bm.B;
    bmH = bm.H;
    qBlocks = bm.kvNumBlocks.shape[2];
    kvBlocks = bm.kvIndices.shape[3];
    tablePtrs = dm.tables.map(devicePtr);
  }
  // Score-mod tables follow the mask's; upload them per call (they are small).
  const smTables = gen.tables.slice(maskProgram?.tables.length ?? 0).map((t) =>
    toDevice(t instanceof Float32Array ? new Tensor([t.length], "f32", t) : new Tensor([t.length], "i32", t)),
  );
  tablePtrs = tablePtrs.concat(smTables.map(devicePtr));

  rt.launch(
    fn,
    [Math.ceil(Sq / blockM), Hq, B],
    [warps * 32, 1, 1],
    "ppppp" + "pppp" + "iiiiiiiiii" + "f" + "p".repeat(tablePtrs.length),
    [
      devicePtr(q), devicePtr(k), devicePtr(v), devicePtr(o), lse ? devicePtr(lse) : 0,
      kvNum, kvIdx, fullNum, fullIdx,
      Hq, Hkv, Sq, Skv, bmB, bmH, qBlocks, kvBlocks, bm ? bm.qBlockSize : blockM, kvBlockSize,
      scale,
      ...tablePtrs,
    ],
  );
  for (const t of smTables) t.dispose(); // the allocator keeps the memory until the stream passes it
  return lse ? { output: o, lse: lse as Tensor<"f32"> } : { output: o };
}
