import { argError, SparselabError } from "../../errors.js";
import type { BlockMaskFields } from "../../attention/block-mask.js";
import type { Mask } from "../../attention/types.js";
import { Tensor } from "../../tensor/tensor.js";
import { allocStorage } from "../../tensor/dtype.js";
import type { AttentionArgs, AttentionResult } from "../ops.js";
import { resolveOp } from "../registry.js";
import { DTYPE_CODE, loadAddon, runNative, type NativeAddon } from "./addon.js";
import { lowerProgram, type NativeProgram } from "./program.js";

type NativeAttention = Parameters<NativeAddon["attention"]>[0];

/** Which attention calls the native kernel takes; the rest run on the JS reference. */
export function nativeAttentionUnsupported(q: Tensor, k: Tensor, v: Tensor, scoreProgram: unknown, hasScoreMod: boolean): string | undefined {
  if (q.device !== "cpu" || k.device !== "cpu" || v.device !== "cpu") return "tensors are not on the host";
  if (q.dtype !== k.dtype || q.dtype !== v.dtype) return `mixed dtypes (${q.dtype}, ${k.dtype}, ${v.dtype})`;
  if (q.dtype !== "f32" && q.dtype !== "f16" && q.dtype !== "bf16") return `dtype ${q.dtype}`;
  if (hasScoreMod && !scoreProgram) return "the score mod is a plain function (no IR)";
  return undefined;
}

const warned = new Set<string>();
function warnOnce(why: string): void {
  if (warned.has(why)) return;
  warned.add(why);
  console.warn(`[sparselab] cpu attention: ${why}; running the JS reference instead`);
}

/**
 * Per-tile bitmaps of a plain-function mask over the partial tiles of `bm`, evaluated once in
 * JS for the call's (b, h) (FlexAttention calls the mask with the real head even when the
 * block mask broadcasts over heads). Layout: see TileBitmaps in native/attention.h.
 */
export function maskBitmaps(mask: Mask, bm: BlockMaskFields, B: number, Hq: number, Sq: number, Skv: number): { bits: Uint32Array; tileStart: Int32Array; wordsPerRow: number } {
  const qbs = bm.qBlockSize;
  const kbs = bm.kvBlockSize;
  const nqb = Math.ceil(bm.qLen / qbs);
  const nkb = Math.ceil(bm.kvLen / kbs);
  const wpr = Math.ceil(kbs / 32);
  const num = bm.kvNumBlocks.data as Int32Array;
  const idx = bm.kvIndices.data as Int32Array;
  const tileStart = new Int32Array(B * Hq * nqb + 1);
  let tiles = 0;
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++)
      for (let qb = 0; qb < nqb; qb++) {
        tileStart[(b * Hq + h) * nqb + qb] = tiles;
        tiles += num[((bm.B === 1 ? 0 : b) * bm.H + (bm.H === 1 ? 0 : h)) * nqb + qb];
      }
  tileStart[B * Hq * nqb] = tiles;
  const bits = new Uint32Array(tiles * qbs * wpr);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++)
      for (let qb = 0; qb < nqb; qb++) {
        const bi = ((bm.B === 1 ? 0 : b) * bm.H + (bm.H === 1 ? 0 : h)) * nqb + qb;
        const first = tileStart[(b * Hq + h) * nqb + qb];
        for (let s = 0; s < num[bi]; s++) {
          const kb = idx[bi * nkb + s];
          const base = (first + s) * qbs * wpr;
          for (let r = 0; r < qbs && qb * qbs + r < Sq; r++) {
            const q = qb * qbs + r;
            for (let c = 0; c < kbs && kb * kbs + c < Skv; c++) {
              const ok = mask.at(b, h, q, kb * kbs + c);
              if (typeof ok !== "boolean") throw new SparselabError("attention", `mask function returned ${typeof ok}, expected a boolean`);
              if (ok) bits[base + r * wpr + (c >>> 5)] |= 1 << (c & 31);
            }
          }
        }
      }
  return { bits, tileStart, wordsPerRow: wpr };
}

// Bitmaps are the slow part of a plain-function mask (one JS call per element of each partial
// tile): keep the last ones per block mask, for the re-runs a widget or a benchmark makes.
const bitmapCache = new WeakMap<BlockMaskFields, { mask: Mask; key: string; value: ReturnType<typeof maskBitmaps> }>();
function cachedBitmaps(mask: Mask, bm: BlockMaskFields, B: number, Hq: number, Sq: number, Skv: number): ReturnType<typeof maskBitmaps> {
  const key = `${B},${Hq},${Sq},${Skv}`;
  const hit = bitmapCache.get(bm);
  if (hit && hit.mask === mask && hit.key === key) return hit.value;
  const value = maskBitmaps(mask, bm, B, Hq, Sq, Skv);
  bitmapCache.set(bm, { mask, key, value });
  return value;
}

// Opcode / variable numbers of native/program.h (see program.ts).
const OP_VAR = 1;
const VAR_B = 0;
const VAR_H = 1;
/**
 * Bitmaps of an IR mask larger than this are not built; the kernel evaluates the program per
 * row instead. SPARSELAB_TUNE_MAX_BITMAP_BYTES overrides it here and in the kernel (tests set 0
 * to run the per-row path).
 */
function maxIrBitmapBytes(): number {
  const e = Number(process.env.SPARSELAB_TUNE_MAX_BITMAP_BYTES);
  return process.env.SPARSELAB_TUNE_MAX_BITMAP_BYTES !== undefined && Number.isFinite(e) && e >= 0 ? e : 256 * 2 ** 20;
}

type IrBitmaps = { bits: Uint32Array; tileStart: Int32Array; wordsPerRow: number; B: number; H: number };

/**
 * The layout of an IR mask's bitmaps over the partial tiles of `view` (native bitmap_layout
 * computes the same and checks it): one set per (b, h) the mask or the block mask varies over.
 */
function irBitmapLayout(prog: NativeProgram, view: NonNullable<NativeAttention["bm"]>, B: number, Hq: number): { tileStart: Int32Array; tiles: number; B: number; H: number; wordsPerRow: number } {
  let usesB = false;
  let usesH = false;
  for (let i = 0; i + 4 < prog.code.length; i += 5)
    if (prog.code[i] === OP_VAR) {
      usesB ||= prog.code[i + 2] === VAR_B;
      usesH ||= prog.code[i + 2] === VAR_H;
    }
  const bB = usesB || view.B > 1 ? B : 1;
  const bH = usesH || view.H > 1 ? Hq : 1;
  const tileStart = new Int32Array(bB * bH * view.nqb + 1);
  let tiles = 0;
  for (let b = 0; b < bB; b++)
    for (let h = 0; h < bH; h++)
      for (let qb = 0; qb < view.nqb; qb++) {
        tileStart[(b * bH + h) * view.nqb + qb] = tiles;
        tiles += Math.max(0, Math.min(view.kvNum[((view.B === 1 ? 0 : b) * view.H + (view.H === 1 ? 0 : h)) * view.nqb + qb], view.nkb));
      }
  tileStart[tileStart.length - 1] = tiles;
  return { tileStart, tiles, B: bB, H: bH, wordsPerRow: Math.ceil(view.kbs / 32) };
}

// An IR mask's bitmaps cost one evaluation of the program per element of every partial tile
// (a sizeable share of a narrow sliding window's time): keep the last ones per block mask, as
// a block mask is made once and used for many calls (layers, steps, a widget's re-runs).
const irBitmapCache = new WeakMap<BlockMaskFields, { prog: NativeProgram; key: string; value: IrBitmaps }>();
async function cachedIrBitmaps(
  addon: NativeAddon, bm: BlockMaskFields, prog: NativeProgram, view: NonNullable<NativeAttention["bm"]>,
  shape: { B: number; Hq: number; Hkv: number; Sq: number; Skv: number; D: number; Dv: number }, signal: AbortSignal | undefined,
): Promise<IrBitmaps | undefined> {
  const key = `${shape.B},${shape.Hq},${shape.Sq},${shape.Skv}`;
  const hit = irBitmapCache.get(bm);
  if (hit && hit.prog === prog && hit.key === key) return hit.value;
  const layout = irBitmapLayout(prog, view, shape.B, shape.Hq);
  const words = layout.tiles * view.qbs * layout.wordsPerRow;
  if (words * 4 > maxIrBitmapBytes()) return undefined;
  const bits = new Uint32Array(words);
  await runNative("attention", signal, (cancel) =>
    addon.maskBitmaps({ ...shape, bm: view, maskProgram: prog, bits, tileStart: layout.tileStart, wordsPerRow: layout.wordsPerRow, bB: layout.B, bH: layout.H, cancel }),
  );
  const value = { bits, tileStart: layout.tileStart, wordsPerRow: layout.wordsPerRow, B: layout.B, H: layout.H };
  irBitmapCache.set(bm, { prog, key, value });
  return value;
}

/** Checks the block mask matches the call, so the native kernel never reads out of bounds. */
function blockMaskView(bm: BlockMaskFields, B: number, Hq: number, Sq: number, Skv: number): NonNullable<NativeAttention["bm"]> {
  const op = "attention";
  if (bm.qLen !== Sq || bm.kvLen !== Skv) argError(op, "blockMask", `qLen ${Sq} and kvLen ${Skv} (from q and k)`, `qLen ${bm.qLen}, kvLen ${bm.kvLen}`);
  if (bm.B !== 1 && bm.B !== B) argError(op, "blockMask", `B = 1 or ${B}`, `B = ${bm.B}`);
  if (bm.H !== 1 && bm.H !== Hq) argError(op, "blockMask", `H = 1 or ${Hq} (query heads)`, `H = ${bm.H}`);
  if (!(bm.qBlockSize > 0 && bm.kvBlockSize > 0)) argError(op, "blockMask", "positive block sizes", `${bm.qBlockSize} x ${bm.kvBlockSize}`);
  const nqb = Math.ceil(Sq / bm.qBlockSize);
  const nkb = Math.ceil(Skv / bm.kvBlockSize);
  const n3 = bm.B * bm.H * nqb;
  const want = (t: Tensor, n: number, name: string): Int32Array => {
    if (t.dtype !== "i32" || t.size !== n) argError(op, `blockMask.${name}`, `i32 with ${n} elements`, `${t.dtype} with ${t.size}`);
    return t.data as Int32Array;
  };
  return {
    B: bm.B, H: bm.H, qbs: bm.qBlockSize, kbs: bm.kvBlockSize, nqb, nkb,
    kvNum: want(bm.kvNumBlocks, n3, "kvNumBlocks"),
    kvIdx: want(bm.kvIndices, n3 * nkb, "kvIndices"),
    fullNum: want(bm.fullKvNumBlocks, n3, "fullKvNumBlocks"),
    fullIdx: want(bm.fullKvIndices, n3 * nkb, "fullKvIndices"),
  };
}

function hasPartial(view: NonNullable<NativeAttention["bm"]>): boolean {
  return view.kvNum.some((n) => n > 0);
}

const programs = new WeakMap<object, NativeProgram>();
function lowered(x: { program?: import("../../attention/mask-ir.js").MaskProgram } | undefined): NativeProgram | undefined {
  if (!x?.program) return undefined;
  let p = programs.get(x.program);
  if (!p) programs.set(x.program, (p = lowerProgram(x.program)));
  return p;
}

/**
 * Runs the native kernel into caller-owned storage: `out` [B, Hq, Sq, Dv] in q's dtype and
 * optionally `lse` [B, Hq, Sq]. Tests poison these first to check every element is written.
 */
export async function attentionInto(args: AttentionArgs, out: Float32Array | Uint16Array, lse?: Float32Array): Promise<void> {
  return runAttention(args, out, lse);
}

/** attentionInto, or into a reserved pool block (an id); `afterLaunch` runs once the kernel is running. */
async function runAttention(args: AttentionArgs, out: Float32Array | Uint16Array | number, lse?: Float32Array, afterLaunch?: () => void): Promise<void> {
  const addon = loadAddon();
  const { q, k, v, blockMask, scoreMod, scale, signal } = args;
  const [B, Hq, Sq, D] = q.shape;
  const [, Hkv, Skv] = k.shape;
  const Dv = v.shape[3];
  const p: NativeAttention = {
    q: q.data as Float32Array, k: k.data as Float32Array, v: v.data as Float32Array,
    dtype: DTYPE_CODE[q.dtype]!, B, Hq, Hkv, Sq, Skv, D, Dv, scale, lse,
  };
  if (typeof out === "number") p.outId = out;
  else p.out = out;
  if (blockMask) {
    const view = blockMaskView(blockMask, B, Hq, Sq, Skv);
    p.bm = view;
    if (hasPartial(view)) {
      const mask = blockMask.mask;
      if (!mask) argError("attention", "blockMask.mask", "a mask to refine the partial tiles", "none");
      const prog = lowered(mask);
      if (prog) {
        const bits = await cachedIrBitmaps(addon, blockMask, prog, view, { B, Hq, Hkv, Sq, Skv, D, Dv }, signal);
        if (bits) p.bitmaps = bits;
        else p.maskProgram = prog;
      } else p.bitmaps = cachedBitmaps(mask, blockMask, B, Hq, Sq, Skv);
    }
  }
  if (scoreMod) {
    const prog = lowered(scoreMod);
    if (!prog) throw new SparselabError("attention", "the cpu backend needs a score mod with an IR program");
    p.scoreProgram = prog;
  }
  await runNative("attention", signal, (cancel) => {
    const running = addon.attention({ ...p, cancel });
    afterLaunch?.();
    return running;
  });
}

/** Outputs smaller than this come from V8's allocator; larger ones from the addon's pool. */
const POOLED_OUTPUT_BYTES = 256 * 1024;

/**
 * Storage for an output the kernel writes in full. Large ones come from the addon's recycled
 * pool: fresh pages for every call cost a page fault per 4 KiB on the kernel's first write
 * (about a fifth of a sliding-window-256 call at S 8192 H 8) plus zeroing they do not need.
 */
export function outputStorage(addon: NativeAddon, dtype: "f32" | "f16" | "bf16", n: number): Float32Array | Uint16Array {
  const bytes = n * (dtype === "f32" ? 4 : 2);
  if (bytes < POOLED_OUTPUT_BYTES) return allocStorage(dtype, n) as Float32Array | Uint16Array;
  const buf = addon.allocOutput(bytes);
  return dtype === "f32" ? new Float32Array(buf) : new Uint16Array(buf);
}

/** The registered "attention" implementation for backend "cpu". */
export async function cpuAttention(args: AttentionArgs): Promise<AttentionResult> {
  const { q, k, v, scoreMod, returnLse } = args;
  const why = nativeAttentionUnsupported(q, k, v, scoreMod?.program, scoreMod !== undefined);
  if (why) {
    warnOnce(why);
    return resolveOp<(a: AttentionArgs) => Promise<AttentionResult>>("attention", { backend: "js" }).impl(args);
  }
  const [B, Hq, Sq] = q.shape;
  const Dv = v.shape[3];
  const dtype = q.dtype as "f32" | "f16" | "bf16";
  const n = B * Hq * Sq * Dv;
  const bytes = n * (dtype === "f32" ? 4 : 2);
  const lse = returnLse ? new Float32Array(B * Hq * Sq) : undefined;
  let out: Float32Array | Uint16Array | undefined;
  if (args.out) {
    await attentionInto(args, args.out.data as Float32Array | Uint16Array, lse);
    return lse ? { output: args.out, lse: new Tensor([B, Hq, Sq], "f32", lse) } : { output: args.out };
  }
  if (bytes < POOLED_OUTPUT_BYTES) {
    out = allocStorage(dtype, n) as Float32Array | Uint16Array;
    await attentionInto(args, out, lse);
  } else {
    // A pool block, wrapped in an ArrayBuffer only once the kernel runs: the GC that a large
    // new ArrayBuffer often triggers then overlaps the kernel instead of delaying its start.
    const addon = loadAddon();
    const id = addon.reserveOutput(bytes);
    const wrap = (): void => {
      if (out) return;
      const buf = addon.wrapOutput(id);
      out = dtype === "f32" ? new Float32Array(buf) : new Uint16Array(buf);
    };
    try {
      await runAttention(args, id, lse, wrap);
    } finally {
      wrap();  // also on failure, so the block goes back to the pool with its array
    }
  }
  if (!out) throw new SparselabError("attention", "internal: no output storage");
  const res: AttentionResult = { output: new Tensor([B, Hq, Sq, Dv], q.dtype, out) };
  if (lse) res.lse = new Tensor([B, Hq, Sq], "f32", lse);
  return res;
}
