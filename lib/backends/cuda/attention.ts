import { SparselabError, fmtShape } from "../../errors.js";
import type { BlockMaskFields } from "../../attention/block-mask.js";
import type { MaskProgram } from "../../attention/mask-ir.js";
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

/** Query rows and keys per step of the Hopper kernel (attention_hopper.cu). */
const HOPPER_BLOCK = 128;

/**
 * Whether a Hopper kernel (wgmma, sm_90a) runs this call: compute capability 9.x, head dim 64
 * or 128, and block-mask blocks that are whole multiples of its 128 x 128 tile. It is
 * attention_hopper_tma.cu (TMA copies from a producer warp) when the driver encodes tensor maps,
 * else attention_hopper.cu (cp.async). Everything else (sm_80/sm_89, other head dims, 64-wide
 * mask blocks) runs the mma.sync kernel, attention.cu. SPARSELAB_CUDA_ATTN_KERNEL=mma forces
 * the mma.sync kernel (for comparisons).
 */
export function useHopper(major: number, D: number, bm: BlockMaskFields | undefined): boolean {
  if (major !== 9 || process.env.SPARSELAB_CUDA_ATTN_KERNEL === "mma") return false;
  if (D !== 64 && D !== 128) return false;
  return !bm || (bm.qBlockSize % HOPPER_BLOCK === 0 && bm.kvBlockSize % HOPPER_BLOCK === 0);
}

/**
 * Dynamic shared memory of attention_hopper.cu: Q, then (K, V) stages (three with the
 * overlapped schedule, two without), and 1 KB to align the swizzle atoms. 225 KB at D = 128.
 */
export function hopperSmem(D: number, overlap: boolean): number {
  return 1024 + HOPPER_BLOCK * D * 2 + (overlap ? 3 : 2) * 2 * HOPPER_BLOCK * D * 2;
}

function launchHopper(
  rt: ReturnType<typeof requireCuda>, args: AttentionArgs, gen: ReturnType<typeof toCuda>, maskProgram: MaskProgram | undefined,
): AttentionResult {
  const { q, k, v, blockMask: bm, scale, returnLse } = args;
  const [B, Hq, Sq, D] = q.shape;
  const [, Hkv, Skv] = k.shape;
  // The TMA kernel (producer warp + mbarriers) when the driver can encode tensor maps;
  // SPARSELAB_CUDA_ATTN_TMA=0 selects the cp.async kernel, SPARSELAB_CUDA_ATTN_OVERLAP=0 its
  // one-tile-at-a-time schedule (both for comparisons and as fallbacks).
  const tma = rt.info.tensorMaps && process.env.SPARSELAB_CUDA_ATTN_TMA !== "0";
  const overlap = tma || process.env.SPARSELAB_CUDA_ATTN_OVERLAP !== "0";
  const defines = [
    ...attentionDefines({ D, warps: 8, dtype: q.dtype, maskExpr: gen.exprs[0], scoreExpr: gen.exprs[1], tableParams: gen.tableParams, tableArgs: gen.tableArgs }),
    `#define OVERLAP ${overlap ? 1 : 0}`,
    // Warp-group ping-pong of the TMA kernel (SPARSELAB_CUDA_ATTN_PINGPONG=0/1).
    `#define PINGPONG ${process.env.SPARSELAB_CUDA_ATTN_PINGPONG === "1" ? 1 : 0}`,
  ];
  const file = tma ? "attention_hopper_tma.cu" : "attention_hopper.cu";
  const key = `${file}\n${defines.join("\n")}`;
  let fn = fnMemo.get(key);
  if (!fn) {
    const source = `${defines.join("\n")}\n${CODEGEN_PRELUDE}\n${rt.kernelSource(file)}`;
    fn = rt.fn(`attention_sm90${tma ? "_tma" : ""}_d${D}_${q.dtype}`, source, tma ? "attention_fwd_sm90_tma" : "attention_fwd_sm90", hopperSmem(D, overlap));
    fnMemo.set(key, fn);
  }
  const o = emptyCuda([B, Hq, Sq, D], q.dtype, rt);
  const lse = returnLse ? emptyCuda([B, Hq, Sq], "f32", rt) : undefined;
  const m = maskArgs(bm, gen, maskProgram, Math.ceil(Sq / HOPPER_BLOCK));
  // TMA views: [heads, rows, D] with boxes of 128 rows x 64 columns (one 128-byte swizzle atom
  // wide), so a tile past a head's last row reads zeros instead of the next head.
  const view = (t: Tensor, rows: number, heads: number) =>
    rt.tensorMap({
      dtype: q.dtype as "bf16" | "f16", globalAddress: devicePtr(t), globalDims: [D, rows, heads],
      globalStridesBytes: [D * 2, rows * D * 2], boxDims: [64, HOPPER_BLOCK, 1], swizzle: 128,
    });
  const inputs = tma
    ? { spec: "mmm", args: [view(q, Sq, B * Hq), view(k, Skv, B * Hkv), view(v, Skv, B * Hkv)] }
    : { spec: "ppp", args: [devicePtr(q), devicePtr(k), devicePtr(v)] };
  rt.launch(
    fn,
    [Math.ceil(Sq / HOPPER_BLOCK), Hq, B],
    [tma ? 384 : 256, 1, 1],
    inputs.spec + "pp" + "pppp" + "iiiiiiiiii" + "f" + "p".repeat(m.tablePtrs.length),
    [
      ...inputs.args, devicePtr(o), lse ? devicePtr(lse) : 0,
      m.kvNum, m.kvIdx, m.fullNum, m.fullIdx,
      Hq, Hkv, Sq, Skv, m.bmB, m.bmH, m.qBlocks, m.kvBlocks, bm ? bm.qBlockSize : HOPPER_BLOCK, bm ? bm.kvBlockSize : HOPPER_BLOCK,
      scale,
      ...m.tablePtrs,
    ],
  );
  m.release();
  return lse ? { output: o, lse: lse as Tensor<"f32"> } : { output: o };
}

/**
 * The block-mask and table arguments both kernels take: device copies of the mask's index
 * tensors (cached per BlockMask), its dimensions, and the tables' pointers (mask tables cached,
 * score-mod tables uploaded per call and released by `release` once the launch is queued).
 */
function maskArgs(bm: BlockMaskFields | undefined, gen: ReturnType<typeof toCuda>, maskProgram: MaskProgram | undefined, qBlocksDense: number) {
  let kvNum = 0, kvIdx = 0, fullNum = 0, fullIdx = 0, bmB = 1, bmH = 1, qBlocks = qBlocksDense, kvBlocks = 0;
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
  const smTables = gen.tables.slice(maskProgram?.tables.length ?? 0).map((t) =>
    toDevice(t instanceof Float32Array ? new Tensor([t.length], "f32", t) : new Tensor([t.length], "i32", t)),
  );
  tablePtrs = tablePtrs.concat(smTables.map(devicePtr));
  return {
    kvNum, kvIdx, fullNum, fullIdx, bmB, bmH, qBlocks, kvBlocks, tablePtrs,
    release: () => { for (const t of smTables) t.dispose(); }, // the allocator keeps the memory until the stream passes it
  };
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
  if (useHopper(rt.info.major, D, bm)) return launchHopper(rt, args, gen, maskProgram);
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
  const m = maskArgs(bm, gen, maskProgram, Math.ceil(Sq / blockM));
  rt.launch(
    fn,
    [Math.ceil(Sq / blockM), Hq, B],
    [warps * 32, 1, 1],
    "ppppp" + "pppp" + "iiiiiiiiii" + "f" + "p".repeat(m.tablePtrs.length),
    [
      devicePtr(q), devicePtr(k), devicePtr(v), devicePtr(o), lse ? devicePtr(lse) : 0,
      m.kvNum, m.kvIdx, m.fullNum, m.fullIdx,
      Hq, Hkv, Sq, Skv, m.bmB, m.bmH, m.qBlocks, m.kvBlocks, bm ? bm.qBlockSize : blockM, kvBlockSize,
      scale,
      ...m.tablePtrs,
    ],
  );
  m.release();
  return lse ? { output: o, lse: lse as Tensor<"f32"> } : { output: o };
}
