import { SparselabError, fmtShape } from "../../errors.js";
import type { BlockMaskFields } from "../../attention/block-mask.js";
import type { MaskProgram } from "../../attention/mask-ir.js";
import type { AttentionArgs, AttentionResult } from "../ops.js";
import { Tensor } from "../../tensor/tensor.js";
import { CODEGEN_PRELUDE, toCuda } from "./codegen.js";
import { devicePtr, emptyCuda, recordStream, toDevice } from "./device-tensor.js";
import { requireCuda, type CompiledFunction, type CudaRuntime } from "./runtime.js";
import type { ScoreMod } from "../../attention/types.js";

const OP = "attention (cuda)";
const BLOCK_N = 64;

/** Compiled kernels by their generated defines, so repeated calls skip hashing the source. */
const fnMemo = new Map<string, CompiledFunction>();

/** Device copies of a block mask's index tensors and tables, made once per BlockMask. */
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
  // Arrays already on the GPU (sl.createBlockMask(..., { device: "cuda" })) are not read back:
  // the kernel is built with the mask, which partial tiles need and other tiles never evaluate.
  if (bm.kvNumBlocks.device !== "cpu") return bm.mask !== undefined;
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

/** Query rows and keys per step of the Hopper kernels (attention_hopper*.cu). */
const HOPPER_BLOCK = 128;

/**
 * Whether a Hopper kernel (wgmma, sm_90a) runs this call: compute capability 9.x, head dim 64
 * or 128, and block-mask blocks that are whole multiples of its 128 x 128 tile. It is
 * attention_hopper_tma.cu (TMA copies from a producer warp) when the driver encodes tensor maps,
 * else attention_hopper.cu (cp.async). Everything else (sm_80/sm_89, other head dims, 64-wide
 * mask blocks) runs the mma.sync kernel, attention.cu. SPARSELAB_CUDA_ATTN_KERNEL=mma forces
 * the mma.sync kernel (for comparisons).
 */
export function useHopper(major: number, D: number, bm: Pick<BlockMaskFields, "qBlockSize" | "kvBlockSize"> | undefined): boolean {
  if (major !== 9 || process.env.SPARSELAB_CUDA_ATTN_KERNEL === "mma") return false;
  if (D !== 64 && D !== 128) return false;
  return !bm || (bm.qBlockSize % HOPPER_BLOCK === 0 && bm.kvBlockSize % HOPPER_BLOCK === 0);
}

/**
 * Dynamic shared memory of attention_hopper*.cu: Q, then (K, V) stages (three with the
 * overlapped schedule unless `stages` says otherwise, two without), and 1 KB to align the
 * swizzle atoms. 225 KB at D = 128.
 */
export function hopperSmem(D: number, overlap: boolean, stages = overlap ? 3 : 2): number {
  return 1024 + HOPPER_BLOCK * D * 2 + stages * 2 * HOPPER_BLOCK * D * 2;
}

/** The most K / V stages the TMA kernel fits in an H100 block's 227 KB at head dim D. */
export function maxHopperStages(D: number): number {
  let n = 3;
  while (hopperSmem(D, true, n + 1) + 1024 <= 232448) n++;
  return n;
}

/**
 * K / V stages of the TMA kernel at head dim D: 3 unless SPARSELAB_CUDA_ATTN_STAGES asks for
 * another count, capped by shared memory. D = 64 fits 6, which measured no steadier gain than
 * the rounds' spread (H100, 3 interleaved rounds: -1 to +2% across the four D = 64 shapes).
 */
export function tmaStages(D: number): number {
  const want = Number(process.env.SPARSELAB_CUDA_ATTN_STAGES ?? 3);
  return Math.max(2, Math.min(maxHopperStages(D), Number.isInteger(want) ? want : 3));
}

/**
 * Heads per section of the TMA kernel's item order (attention_hopper_tma.cu, `schedule`): as
 * many (a power of two) as have their K and V in 32 MB of L2 together, FlashAttention-3's
 * choice, so the longest q tiles of several heads run first while those heads' K / V stay in L2.
 * Measured on the H100 against the per-head order: causal S = 4096 14-17% faster (the tail no
 * longer waits on the last head's long q tiles), window 4096 8%, the rest within 2%.
 * SPARSELAB_CUDA_ATTN_HEADGROUP=n overrides (1: the per-head order).
 */
export function headGroup(Skv: number, D: number, heads: number): number {
  const env = Number(process.env.SPARSELAB_CUDA_ATTN_HEADGROUP);
  if (Number.isInteger(env) && env >= 1) return Math.min(env, heads);
  const perHead = Skv * D * 2 * 2;
  let g = 1;
  while (g * 2 * perHead <= 32 * 1024 * 1024 && g * 2 <= heads) g *= 2;
  return g;
}

/**
 * Everything about a launch that depends only on the block mask, the score mod, the head dim,
 * the dtype and the kernel choice: the compiled kernel, its shape, the mask's device pointers
 * and the tables. Cached per BlockMask (and score mod), so a repeated call does no code
 * generation, no hashing and no uploads: it allocates the output and launches.
 */
interface Plan {
  fn: CompiledFunction;
  kind: "tma" | "cp.async" | "mma";
  blockM: number;
  threads: number;
  kvBlockSize: number;
  mask: { kvNum: number; kvIdx: number; fullNum: number; fullIdx: number; bmB: number; bmH: number; qBlocks: number; kvBlocks: number; qBlockSize: number } | undefined;
  tablePtrs: number[];
  /** Score-mod tables on the device, owned by the plan. */
  owned: Tensor[];
}
const NO_MASK = {};
const planCache = new WeakMap<object, Map<string, Plan>>();
const modIds = new WeakMap<object, number>();
let nextModId = 1;
/** Bound on plans per mask (dense calls share one map): past it, the oldest plans go. */
const MAX_PLANS = 64;

function envKey(): string {
  const e = process.env;
  return `${e.SPARSELAB_CUDA_ATTN_KERNEL ?? ""}|${e.SPARSELAB_CUDA_ATTN_TMA ?? ""}|${e.SPARSELAB_CUDA_ATTN_OVERLAP ?? ""}|${e.SPARSELAB_CUDA_ATTN_PINGPONG ?? ""}|${e.SPARSELAB_CUDA_ATTN_WARPS ?? ""}|${e.SPARSELAB_CUDA_ATTN_MINBLOCKS ?? ""}|${e.SPARSELAB_CUDA_ATTN_STAGES ?? ""}|${e.SPARSELAB_CUDA_ATTN_LAZY ?? ""}|${e.SPARSELAB_CUDA_ATTN_AHEAD ?? ""}`;
}

/** TMA descriptors by (address, view): encoding one costs a driver call, and calls repeat. */
const tmaCache = new Map<string, Buffer>();
function headView(rt: CudaRuntime, t: Tensor, rows: number, heads: number, D: number): Buffer {
  const ptr = devicePtr(t);
  const key = `${ptr}|${rows}|${heads}|${D}|${t.dtype}`;
  let m = tmaCache.get(key);
  if (!m) {
    // [heads, rows, D] with boxes of 128 rows x 64 columns (one 128-byte swizzle atom wide), so
    // a tile past a head's last row reads zeros instead of the next head's rows.
    m = rt.tensorMap({
      dtype: t.dtype as "bf16" | "f16", globalAddress: ptr, globalDims: [D, rows, heads],
      globalStridesBytes: [D * 2, rows * D * 2], boxDims: [64, HOPPER_BLOCK, 1], swizzle: 128,
    });
    if (tmaCache.size >= 256) tmaCache.delete(tmaCache.keys().next().value!);
    tmaCache.set(key, m);
  }
  return m;
}

function makePlan(rt: CudaRuntime, D: number, stages: number, dtype: string, bm: BlockMaskFields | undefined, maskProgram: MaskProgram | undefined, scoreMod: ScoreMod | undefined): Plan {
  const gen = toCuda([maskProgram, scoreMod?.program], { intOps: true });
  const exprs = { maskExpr: gen.exprs[0], scoreExpr: gen.exprs[1], tableParams: gen.tableParams, tableArgs: gen.tableArgs };
  let fn: CompiledFunction, kind: Plan["kind"], blockM: number, threads: number, kvBlockSize: number;
  let defines: string[], file: string, name: string, entry: string, smem: number;
  if (useHopper(rt.info.major, D, bm)) {
    // The TMA kernel when the driver can encode tensor maps; SPARSELAB_CUDA_ATTN_TMA=0 selects
    // the cp.async kernel, SPARSELAB_CUDA_ATTN_OVERLAP=0 its one-tile-at-a-time schedule, and
    // SPARSELAB_CUDA_ATTN_PINGPONG=1 the TMA kernel's warp-group ping-pong (comparisons).
    const tma = rt.info.tensorMaps && process.env.SPARSELAB_CUDA_ATTN_TMA !== "0";
    const overlap = tma || process.env.SPARSELAB_CUDA_ATTN_OVERLAP !== "0";
    kind = tma ? "tma" : "cp.async";
    defines = [
      ...attentionDefines({ D, warps: 8, dtype, ...exprs }),
      `#define OVERLAP ${overlap ? 1 : 0}`,
      // Ping-pong measured faster at D = 64 (H100: 2.61 vs 3.04 ms dense S=16384) and slower at
      // D = 128 (3.67 vs 3.33 ms); SPARSELAB_CUDA_ATTN_PINGPONG=0/1 overrides.
      `#define PINGPONG ${(process.env.SPARSELAB_CUDA_ATTN_PINGPONG ?? (D === 64 ? "1" : "0")) === "1" ? 1 : 0}`,
      ...(tma ? [`#define STAGES ${stages}`] : []),
      // FlashAttention-4's lazy rescale (attention_hopper_common.cuh), SPARSELAB_CUDA_ATTN_LAZY=1:
      // off, as it measured 3-6% slower on the H100 at S = 16384 (the skip's vote and branch
      // cost more than the rescales they save here).
      `#define LAZY_RESCALE ${process.env.SPARSELAB_CUDA_ATTN_LAZY === "1" ? 1 : 0}`,
      // The TMA kernel's early item hand-over (H100, 3 rounds: 1-4% on the dense / causal shapes,
      // 4-10% on the windows); SPARSELAB_CUDA_ATTN_AHEAD=0 gives the earlier order.
      `#define AHEAD ${process.env.SPARSELAB_CUDA_ATTN_AHEAD === "0" ? 0 : 1}`,
    ];
    file = tma ? "attention_hopper_tma.cu" : "attention_hopper.cu";
    name = `attention_sm90${tma ? "_tma" : ""}_d${D}_${dtype}`;
    entry = tma ? "attention_fwd_sm90_tma" : "attention_fwd_sm90";
    smem = tma ? hopperSmem(D, true, stages) : hopperSmem(D, overlap);
    blockM = HOPPER_BLOCK;
    threads = tma ? 384 : 256;
    kvBlockSize = bm ? bm.kvBlockSize : HOPPER_BLOCK;
  } else {
    // 4 warps (64 query rows) per CTA measured faster than 8 on H100 (bench/gpu): two CTAs fit
    // per SM at ~230 registers a thread, and their loads overlap each other's math.
    let warps = Number(process.env.SPARSELAB_CUDA_ATTN_WARPS ?? 4) === 8 ? 8 : 4;
    if (bm && (bm.qBlockSize / 16) % warps !== 0) warps = 4;
    // Measured on H100 (bench/gpu): capping registers for three CTAs per SM pays at D <= 64
    // (+5%) and costs at D = 128 (spills, -15%).
    const minBlocks = Number(process.env.SPARSELAB_CUDA_ATTN_MINBLOCKS ?? (D <= 64 ? 3 : 1));
    kind = "mma";
    defines = attentionDefines({ D, warps, dtype, minBlocks, ...exprs });
    file = "attention.cu";
    name = `attention_d${D}_w${warps}_${dtype}`;
    entry = "attention_fwd";
    // Two stages of K and V tiles; Q borrows stage 1 before the pipeline starts.
    smem = 4 * BLOCK_N * D * 2;
    blockM = warps * 16;
    threads = warps * 32;
    kvBlockSize = bm ? bm.kvBlockSize : BLOCK_N;
  }
  const key = `${file}\n${defines.join("\n")}`;
  fn = fnMemo.get(key)!;
  if (!fn) {
    fn = rt.fn(name, `${defines.join("\n")}\n${CODEGEN_PRELUDE}\n${rt.kernelSource(file)}`, entry, smem);
    fnMemo.set(key, fn);
  }
  let mask: Plan["mask"];
  let tablePtrs: number[] = [];
  if (bm) {
    const dm = deviceMask(bm, gen.tables.slice(0, maskProgram?.tables.length ?? 0));
    mask = {
      kvNum: devicePtr(dm.kvNum), kvIdx: devicePtr(dm.kvIdx), fullNum: devicePtr(dm.fullNum), fullIdx: devicePtr(dm.fullIdx),
      bmB: bm.B, bmH: bm.H, qBlocks: bm.kvNumBlocks.shape[2], kvBlocks: bm.kvIndices.shape[3], qBlockSize: bm.qBlockSize,
    };
    tablePtrs = dm.tables.map(devicePtr);
  }
  // Score-mod tables follow the mask's.
  const owned = gen.tables.slice(maskProgram?.tables.length ?? 0).map((t) =>
    toDevice(t instanceof Float32Array ? new Tensor([t.length], "f32", t) : new Tensor([t.length], "i32", t)),
  );
  tablePtrs = tablePtrs.concat(owned.map(devicePtr));
  return { fn, kind, blockM, threads, kvBlockSize, mask, tablePtrs, owned };
}

/**
 * The TMA kernel's item counter for a stream: one int on the device, zeroed once, that every
 * launch on the stream advances by exactly its item count (each CTA claims until a claim fails:
 * one claim per item it ran), so a launch is told the value it starts from instead of zeroing
 * the counter first (a memset launch fewer per call; launches on one stream run in order).
 */
const itemCounters = new Map<number, { ptr: number; base: number; t: Tensor }>();
function itemCounter(rt: CudaRuntime): { ptr: number; base: number } {
  const stream = rt.currentStream();
  let c = itemCounters.get(stream);
  if (!c) {
    const t = emptyCuda([1], "i32", rt);
    rt.memset(devicePtr(t), 0, 4, stream);
    c = { ptr: devicePtr(t), base: 0, t };
    itemCounters.set(stream, c);
  }
  return c;
}

/**
 * Refuses a block mask whose arrays were freed (a disposed DeviceBlockMask) before any cached
 * plan could hand the kernel their old GPU addresses, and drops what is cached for it (its
 * plans, their score-mod tables, its device-mask entry).
 */
function refuseDisposed(bm: BlockMaskFields): void {
  if (![bm.kvNumBlocks, bm.kvIndices, bm.fullKvNumBlocks, bm.fullKvIndices].some((t) => t.disposed)) return;
  const plans = planCache.get(bm);
  if (plans) for (const p of plans.values()) for (const t of p.owned) t.dispose(); // stream-ordered
  planCache.delete(bm);
  maskCache.delete(bm);
  throw new SparselabError(OP, "argument 'blockMask' was disposed (its device arrays are freed): build the mask again, or dispose it after its last attention call");
}

/**
 * The CUDA implementation of "attention" (the registry's op): see `cudaAttentionSync`.
 */
export async function cudaAttention(args: AttentionArgs): Promise<AttentionResult> {
  return cudaAttentionSync(args);
}

/**
 * Attention on the GPU, launched before it returns (the result's tensors are filled in stream
 * order): validates what the kernels support beyond the public checks, picks the kernel
 * (Hopper wgmma kernels on compute capability 9.x, the mma.sync kernel elsewhere), compiles it
 * once per mask / score mod (the mask and score mod become kernel code) and launches it.
 * Synchronous so that a caller timing or chaining launches can release each output at once;
 * users reach it through `sl.attention` with a CUDA backend (the registry's "attention" op).
 * @example
 * const q = sl.randn([1, 8, 4096, 128], { seed: 1 }).astype("bf16").to("cuda");
 * const out = await sl.attention(q, q, q, { blockMask: sl.createBlockMask(sl.masks.causal(), { qLen: 4096, kvLen: 4096 }) });
 */
export function cudaAttentionSync(args: AttentionArgs): AttentionResult {
  const { q, k, v, blockMask: bm, scoreMod, scale, returnLse } = args;
  if (bm) refuseDisposed(bm);
  const rt = requireCuda(OP);
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
  if (!(scale > 0))
    throw new SparselabError(OP, `scale must be positive on CUDA (it is folded into exp2 with the running max), got ${scale}`);

  const modKey = scoreMod ? (modIds.get(scoreMod) ?? (modIds.set(scoreMod, nextModId), nextModId++)) : 0;
  const stages = tmaStages(D);
  const key = `${D}|${stages}|${q.dtype}|${modKey}|${envKey()}`;
  let plans = planCache.get(bm ?? NO_MASK);
  let plan = plans?.get(key);
  if (!plan) {
    let maskProgram: MaskProgram | undefined;
    if (bm) {
      if (bm.qBlockSize % 64 !== 0)
        throw new SparselabError(OP, `block mask q block size must be a multiple of 64 on CUDA, got ${bm.qBlockSize}`);
      if (bm.kvBlockSize % BLOCK_N !== 0)
        throw new SparselabError(OP, `block mask kv block size must be a multiple of ${BLOCK_N} on CUDA, got ${bm.kvBlockSize}`);
      if (anyPartial(bm)) {
        if (!bm.mask) throw new SparselabError(OP, "the block mask has partial tiles but no mask to refine them");
        if (!bm.mask.program)
          throw new SparselabError(OP, `mask '${bm.mask.name}' is a plain function; CUDA runs built-in and expression masks (use backend "cpu" or express it with sl.mask("..."))`);
        maskProgram = bm.mask.program;
      }
    }
    if (scoreMod && !scoreMod.program)
      throw new SparselabError(OP, `score mod '${scoreMod.name}' is a plain function; CUDA runs built-in and expression score mods`);
    plan = makePlan(rt, D, stages, q.dtype, bm, maskProgram, scoreMod);
    if (!plans) planCache.set(bm ?? NO_MASK, (plans = new Map()));
    if (plans.size >= MAX_PLANS) {
      const [oldKey, old] = plans.entries().next().value!;
      for (const t of old.owned) t.dispose(); // stream-ordered: the allocator reuses it after queued work
      plans.delete(oldKey);
    }
    plans.set(key, plan);
  }

  // opts.out (validated by sl.attention): written in place; the allocator learns that this
  // stream uses it, so freeing it later waits for this kernel.
  const o = args.out ?? emptyCuda([B, Hq, Sq, D], q.dtype, rt);
  if (args.out) recordStream(args.out, rt.currentStream());
  const lse = returnLse ? emptyCuda([B, Hq, Sq], "f32", rt) : undefined;
  const m = plan.mask;
  const inputs =
    plan.kind === "tma"
      ? { spec: "mmm", args: [headView(rt, q, Sq, B * Hq, D), headView(rt, k, Skv, B * Hkv, D), headView(rt, v, Skv, B * Hkv, D)] }
      : { spec: "ppp", args: [devicePtr(q), devicePtr(k), devicePtr(v)] };
  const qTiles = Math.ceil(Sq / plan.blockM);
  // The TMA kernel walks work items (q tile, head, batch) itself: one CTA per SM taking items
  // from a counter zeroed on the stream before the launch (persistent, the default);
  // SPARSELAB_CUDA_ATTN_PERSISTENT=0 gives one CTA per item, SPARSELAB_CUDA_ATTN_DYNAMIC=0
  // persistent CTAs striding over the items in a fixed order (comparisons).
  const items = qTiles * Hq * B;
  const persistent = plan.kind === "tma" && process.env.SPARSELAB_CUDA_ATTN_PERSISTENT !== "0";
  const counter = persistent && process.env.SPARSELAB_CUDA_ATTN_DYNAMIC !== "0" ? itemCounter(rt) : undefined;
  const itemBase = counter ? counter.base : 0;
  const grid: [number, number, number] =
    plan.kind === "tma" ? [persistent ? Math.min(items, rt.info.multiprocessors) : items, 1, 1] : [qTiles, Hq, B];
  rt.launch(
    plan.fn,
    grid,
    [plan.threads, 1, 1],
    inputs.spec + "pp" + "pppp" + "iiiiiiiiii" + (plan.kind === "tma" ? "ipii" : "") + "f" + "p".repeat(plan.tablePtrs.length),
    [
      ...inputs.args, devicePtr(o), lse ? devicePtr(lse) : 0,
      m?.kvNum ?? 0, m?.kvIdx ?? 0, m?.fullNum ?? 0, m?.fullIdx ?? 0,
      Hq, Hkv, Sq, Skv, m?.bmB ?? 1, m?.bmH ?? 1, m?.qBlocks ?? qTiles, m?.kvBlocks ?? 0, m?.qBlockSize ?? plan.blockM, plan.kvBlockSize,
      ...(plan.kind === "tma" ? [items, counter ? counter.ptr : 0, headGroup(Skv, D, B * Hq), itemBase | 0] : []),
      scale,
      ...plan.tablePtrs,
    ],
  );
  if (counter) counter.base = (counter.base + items) >>> 0; // only once the launch is queued
  return lse ? { output: o, lse: lse as Tensor<"f32"> } : { output: o };
}
