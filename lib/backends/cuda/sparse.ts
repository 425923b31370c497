import { SparselabError, argError, fmtShape } from "../../errors.js";
import type { DecodeAttentionArgs, AttentionResult } from "../ops.js";
import { Tensor } from "../../tensor/tensor.js";
import type { DType } from "../../tensor/dtype.js";
import type { Mask } from "../../attention/types.js";
import { BlockMask, DeviceBlockMask, blockSizes, type BlockSize } from "../../attention/block-mask.js";
import { registerDeviceBlockMaskBuilder } from "../../attention/create-block-mask.js";
import { toCuda } from "./codegen.js";
import { INTERVAL_PRELUDE, toCudaInterval } from "./interval-codegen.js";
import { CudaBuffer, devicePtr, emptyCuda, toDevice } from "./device-tensor.js";
import { requireCuda, type CompiledFunction, type CudaRuntime } from "./runtime.js";
import { CODEGEN_PRELUDE } from "./codegen.js";
import { programDependsOnBatchHead } from "../../attention/masks/support/ir.js";
import type { MaskProgram } from "../../attention/mask-ir.js";

/**
 * The SIMT kernels of sparse_ops.cu from TypeScript: decode attention over selected tokens,
 * block pooling, XAttention's antidiagonal scores, dtype casts, and createBlockMask on the GPU.
 */
const memo = new Map<string, CompiledFunction>();

function elemDefine(dtype: DType, op: string): string {
  if (dtype === "f32") return "#define ELEM 0";
  if (dtype === "bf16") return "#define ELEM 1";
  if (dtype === "f16") return "#define ELEM 2";
  throw new SparselabError(op, `expected a float tensor, got ${dtype}`);
}

function fn(rt: CudaRuntime, entry: string, defines: string[], smem = 0): CompiledFunction {
  const key = `${entry}:${defines.join(";")}:${smem}`;
  let f = memo.get(key);
  if (!f) {
    f = rt.fn(`sparse_${entry}`, `${defines.join("\n")}\n${CODEGEN_PRELUDE}\n${rt.kernelSource("sparse_ops.cu")}`, entry, smem);
    memo.set(key, f);
  }
  return f;
}

function grid(n: number): [number, number, number] {
  return [Math.max(1, Math.min(65535, Math.ceil(n / 256))), 1, 1];
}

/** Casts a CUDA tensor between f32 and bf16/f16 (one of the two must be f32). */
export function castCuda<D extends DType>(t: Tensor, dtype: D): Tensor<D> {
  const op = "astype (cuda)";
  const rt = requireCuda(op);
  if (t.dtype === dtype) return t as Tensor<D>;
  const out = emptyCuda(t.shape, dtype, rt);
  if (t.dtype === "f32") rt.launch(fn(rt, "cast_from_f32", [elemDefine(dtype, op)]), grid(t.size), [256, 1, 1], "ppl", [devicePtr(t), devicePtr(out), t.size]);
  else if (dtype === "f32") rt.launch(fn(rt, "cast_to_f32", [elemDefine(t.dtype, op)]), grid(t.size), [256, 1, 1], "ppl", [devicePtr(t), devicePtr(out), t.size]);
  else throw new SparselabError(op, `casts go through f32: ${t.dtype} -> ${dtype} is not supported directly`);
  return out;
}

/** "decodeAttention" on CUDA: selected token indices per KV head (or a block mask without partial tiles). */
export async function cudaDecodeAttention(args: DecodeAttentionArgs): Promise<AttentionResult> {
  const op = "decodeAttention (cuda)";
  const rt = requireCuda(op);
  const { q, kCache, vCache, scale, returnLse } = args;
  const [B, Hq, Sq, D] = q.shape;
  const [, Hkv, Skv] = kCache.shape;
  if (vCache.shape[3] !== D) throw new SparselabError(op, `v head dim must equal q's (${D}) on CUDA, got ${fmtShape(vCache.shape)}`);
  let indices = args.indices;
  if (!indices) {
    const bm = args.blockMask;
    if (!bm) throw new SparselabError(op, "pass indices or a blockMask");
    // Token lists from the block mask's full tiles (decode block masks have one q block).
    const pn = bm.kvNumBlocks.data as Int32Array;
    if (pn.some((x) => x > 0)) throw new SparselabError(op, "block masks with partial tiles are not supported for decode on CUDA; pass token indices");
    if (bm.H !== 1 && bm.H !== Hkv) throw new SparselabError(op, `block mask H must be 1 or Hkv = ${Hkv} for decode, got ${bm.H}`);
    const fnum = bm.fullKvNumBlocks.data as Int32Array, fidx = bm.fullKvIndices.data as Int32Array;
    const nk = bm.fullKvIndices.shape[3], nq = bm.fullKvNumBlocks.shape[2];
    let n = 0;
    for (let i = 0; i < fnum.length; i += nq) n = Math.max(n, fnum[i] * bm.kvBlockSize);
    const ix = new Int32Array(B * Hkv * n).fill(-1);
    for (let b = 0; b < B; b++)
      for (let h = 0; h < Hkv; h++) {
        const row = ((bm.B === 1 ? 0 : b) * bm.H + (bm.H === 1 ? 0 : h)) * nq;
        let c = 0;
        for (let j = 0; j < fnum[row]; j++)
          for (let t = fidx[row * nk + j] * bm.kvBlockSize; t < Math.min(Skv, (fidx[row * nk + j] + 1) * bm.kvBlockSize); t++) ix[(b * Hkv + h) * n + c++] = t;
      }
    indices = new Tensor([B, Hkv, n], "i32", ix);
  }
  const n = indices.shape[2];
  const dIdx = indices.device === "cuda" ? indices : toDevice(indices);
  const warps = 8;
  const f = fn(rt, "decode_attention", [elemDefine(q.dtype, op)], (D + warps * D + 2 * warps) * 4);
  const out = emptyCuda([B, Hq, Sq, D], q.dtype, rt);
  const lse = returnLse ? emptyCuda([B, Hq, Sq], "f32", rt) : undefined;
  rt.launch(f, [Sq, Hq, B], [warps * 32, 1, 1], "pppppp" + "iiiiii" + "f", [
    devicePtr(q), devicePtr(kCache), devicePtr(vCache), devicePtr(dIdx), devicePtr(out), lse ? devicePtr(lse) : 0,
    Hq, Hkv, Sq, Skv, D, n, scale,
  ]);
  if (dIdx !== indices) dIdx.dispose();
  return lse ? { output: out, lse: lse as Tensor<"f32"> } : { output: out };
}

/** "blockPool" on CUDA: mean / max / min over blocks of rows of x [B, H, S, D]. */
export async function cudaBlockPool(x: Tensor, block: number, reduce: "mean" | "max" | "min"): Promise<Tensor<"f32">> {
  const op = "blockPool (cuda)";
  const rt = requireCuda(op);
  const [B, H, S, D] = x.shape;
  const nb = Math.ceil(S / block);
  const out = emptyCuda([B, H, nb, D], "f32", rt);
  rt.launch(fn(rt, "block_pool", [elemDefine(x.dtype, op)]), grid(B * H * nb * D), [256, 1, 1], "ppiiiii", [
    devicePtr(x), devicePtr(out), B * H, S, D, block, reduce === "mean" ? 0 : reduce === "max" ? 1 : 2,
  ]);
  return out;
}

/** "antidiagScores" on CUDA (XAttention's strided estimate). */
export async function cudaAntidiagScores(q: Tensor, k: Tensor, stride: number, scale: number): Promise<Tensor<"f32">> {
  const op = "antidiagScores (cuda)";
  const rt = requireCuda(op);
  const [B, Hq, Sq, D] = q.shape;
  const [, Hkv, Skv] = k.shape;
  const nq = Math.ceil(Sq / stride), nk = Math.ceil(Skv / stride);
  const out = emptyCuda([B, Hq, nq, nk], "f32", rt);
  rt.launch(fn(rt, "antidiag_scores", [elemDefine(q.dtype, op)]), grid(B * Hq * nq * nk), [256, 1, 1], "ppp" + "iiiiiii" + "f", [
    devicePtr(q), devicePtr(k), devicePtr(out), B, Hq, Hkv, Sq, Skv, D, stride, scale,
  ]);
  return out;
}

/**
 * The definitions that specialise sparse_ops.cu's block_mask_rows for a mask: its element
 * expression and its interval classifier, both printed from the IR (also what the nvcc check
 * compiles), and the tables both read.
 */
export function blockMaskDefines(program: MaskProgram): { defs: string[]; tables: MaskProgram["tables"] } {
  const gen = toCuda([program]);
  const defs = [`#define HAS_MASK 1`, `#define MASK_EXPR ((${gen.exprs[0]}) != 0.f)`];
  if (gen.tables.length) defs.push(`#define TABLE_PARAMS ${gen.tableParams}`, `#define TABLE_ARGS ${gen.tableArgs}`);
  defs.push(`#define HAS_TILE_BOUNDS 1`, INTERVAL_PRELUDE, toCudaInterval(program, gen.tableParams).source);
  return { defs, tables: gen.tables };
}

/** Options of the GPU createBlockMask (as `sl.createBlockMask`'s). */
export interface CudaBlockMaskOptions {
  B?: number;
  H?: number;
  qLen: number;
  kvLen: number;
  /** Tile size, one number or [qBlockSize, kvBlockSize]. Default 128. */
  blockSize?: BlockSize;
}

export { DeviceBlockMask };

const BM_THREADS = 512;

/**
 * What a GPU createBlockMask needs of a mask besides its sizes, made once per mask program: the
 * generated code (printing it costs ~0.02-0.07 ms a call, more with tables), the kernel per
 * shared-memory size, and the mask's tables on the device. Uploading the tables on every call
 * put two 64 KB staging copies into each call of the document mask, and the event-timed figure
 * with them; with this cache a repeated call allocates the four arrays and launches, nothing else.
 */
interface MaskPrep {
  defs: string[];
  fns: Map<number, CompiledFunction>;
  tables: Tensor[];
}
const prepCache = new WeakMap<MaskProgram, MaskPrep>();

function maskPrep(rt: CudaRuntime, program: MaskProgram): MaskPrep {
  let p = prepCache.get(program);
  if (!p) {
    const { defs, tables } = blockMaskDefines(program);
    const dev = tables.map((t) => toDevice(t instanceof Float32Array ? new Tensor([t.length], "f32", t) : new Tensor([t.length], "i32", t)));
    // Tables are read by launches on any stream later: wait once for the upload here, so no
    // stream can run ahead of it.
    if (dev.length) rt.sync();
    p = { defs, fns: new Map(), tables: dev };
    prepCache.set(program, p);
  }
  return p;
}

/** Reads a device array back synchronously (after the device finishes its queued work): the DeviceBlockMask's lazy host view. */
function readArraySync(t: Tensor<"i32">): Tensor<"i32"> {
  const rt = requireCuda("DeviceBlockMask.host");
  rt.sync();
  return new Tensor(t.shape, "i32", new Int32Array(rt.b.dtoh(devicePtr(t), t.size * 4)));
}

/**
 * createBlockMask entirely on the GPU: a kernel generated from the mask's IR classifies every
 * tile, first by interval bounds of the mask over the tile (a few dozen instructions), and the
 * tiles those leave open element by element (a warp per tile, stopping as soon as it is known
 * partial), and writes FlexAttention's arrays on the device, in the same order and padding as the host's. A
 * mask that reads neither b nor h is classified once and written to every (b, h). The work is
 * queued on the current stream; nothing waits for it. The result goes to `sl.attention` on CUDA
 * tensors as it is (no host copy); its host view is read back lazily (see DeviceBlockMask).
 * `sl.createBlockMask(mask, { ..., device: "cuda" })` is the same call.
 * @example
 * const dbm = sl.cuda.blockMaskOnDevice(sl.masks.slidingWindow(256), { H: 16, qLen: 16384, kvLen: 16384 });
 * const bm = await dbm.toBlockMask();
 * dbm.dispose();
 */
export function cudaBlockMaskOnDevice(mask: Mask, opts: CudaBlockMaskOptions): DeviceBlockMask {
  const op = "createBlockMask (cuda)";
  const rt = requireCuda(op);
  if (!mask || typeof mask !== "object" || !mask.program)
    throw new SparselabError(op, `mask '${(mask as Mask | undefined)?.name}' has no IR (a plain function); use sl.createBlockMask on the host`);
  if (typeof opts !== "object" || opts === null) argError(op, "opts", "{ qLen, kvLen, B?, H?, blockSize? }", String(opts));
  const int = (name: string, v: unknown, dflt?: number): number => {
    const x = v === undefined ? dflt : v;
    if (typeof x !== "number" || !Number.isInteger(x) || x < 1) argError(op, name, "an integer >= 1", String(v));
    return x;
  };
  const B = int("B", opts.B, 1), H = int("H", opts.H, 1), qLen = int("qLen", opts.qLen), kvLen = int("kvLen", opts.kvLen);
  // Coordinates run through the generated code as floats: exact below 2^24.
  if (Math.max(qLen, kvLen) > 2 ** 24) argError(op, "qLen/kvLen", "at most 2^24 on the GPU", `${qLen}/${kvLen}`);
  const [qbs, kvbs] = blockSizes(op, opts.blockSize);
  const nq = Math.ceil(qLen / qbs), nk = Math.ceil(kvLen / kvbs);
  const smem = 9 * nk;
  const limit = rt.info.sharedMemOptin || 48 * 1024;
  if (smem > limit) argError(op, "kvLen/blockSize", `at most ${Math.floor(limit / 9)} kv blocks on this GPU`, `${nk} (kvLen ${kvLen}, kv block ${kvbs})`);
  const dep = programDependsOnBatchHead(mask.program);
  const cB = dep.b ? B : 1, cH = dep.h ? H : 1;
  if (cB * cH > 65535) argError(op, "B*H", "at most 65535 distinct (b, h) masks", String(cB * cH));
  const prep = maskPrep(rt, mask.program);
  let f = prep.fns.get(smem);
  if (!f) prep.fns.set(smem, (f = fn(rt, "block_mask_rows", prep.defs, smem)));
  const stream = rt.currentStream();
  for (const t of prep.tables) (t.buffer as CudaBuffer).recordStream(stream); // no-op once recorded
  const kvNumBlocks = emptyCuda([B, H, nq], "i32", rt), kvIndices = emptyCuda([B, H, nq, nk], "i32", rt);
  const fullKvNumBlocks = emptyCuda([B, H, nq], "i32", rt), fullKvIndices = emptyCuda([B, H, nq, nk], "i32", rt);
  rt.launch(f, [nq, cB * cH, 1], [BM_THREADS, 1, 1], "pppp" + "iiiiiiii" + "p".repeat(prep.tables.length), [
    devicePtr(kvNumBlocks), devicePtr(kvIndices), devicePtr(fullKvNumBlocks), devicePtr(fullKvIndices),
    B, H, cB, cH, qLen, kvLen, qbs, kvbs, ...prep.tables.map(devicePtr),
  ], stream);
  return new DeviceBlockMask({ B, H, qLen, kvLen, qBlockSize: qbs, kvBlockSize: kvbs, kvNumBlocks, kvIndices, fullKvNumBlocks, fullKvIndices, mask }, readArraySync);
}

/**
 * createBlockMask on the GPU, returned as a host BlockMask (the same object `sl.createBlockMask`
 * builds): every tile classified from the mask's IR on the device, then the arrays copied back.
 * Masks without IR (plain functions) are refused.
 * @example
 * const bm = await sl.cuda.createBlockMask(sl.mask("(q * 7 + kv * 3) % 11 < 5"), { qLen: 16384, kvLen: 16384 });
 */
export async function cudaCreateBlockMask(mask: Mask, opts: CudaBlockMaskOptions): Promise<BlockMask> {
  const dbm = cudaBlockMaskOnDevice(mask, opts);
  try {
    return await dbm.toBlockMask();
  } finally {
    dbm.dispose();
  }
}

// `sl.createBlockMask(mask, { ..., device: "cuda" })` lands here (lib/attention cannot import backends).
registerDeviceBlockMaskBuilder("cuda", cudaBlockMaskOnDevice);
