import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CancelledError, SparselabError } from "../../errors.js";
import { effectiveSignal } from "../../cancel.js";
import type { DType } from "../../tensor/dtype.js";
import type { NativeProgram } from "./program.js";

/**
 * Loading the native CPU addon (build/Release/sparselab_cpu.node, built by
 * scripts/build-native.mjs from binding.gyp) and the typed surface of its functions. Every
 * function takes one object of typed arrays and numbers, writes into the output arrays the
 * caller allocated, and resolves when done (it runs off the JS thread).
 */
type Arr = Float32Array | Uint16Array | Int32Array;
interface Common {
  cancel?: Int32Array;
}
export interface NativeAddon {
  info(): { isa: string; vectorWidth: number; threads: number };
  /**
   * An ArrayBuffer for an op's output, from memory recycled across calls (contents unspecified:
   * only for outputs the op writes in full). Its memory returns to the pool when collected.
   */
  allocOutput(bytes: number): ArrayBuffer;
  /** A pool block for an op to write before any JS object wraps it (pass it as outId); wrap it once with wrapOutput. */
  reserveOutput(bytes: number): number;
  /** The ArrayBuffer over a reserved block (each id once); wrapping after the launch lets the GC it may trigger overlap the kernel. */
  wrapOutput(id: number): ArrayBuffer;
  /** Benchmarks only: GFLOP/s of the FMA probe on every pool thread for about `ms` ms (blocks). */
  probeFma(ms: number): number;
  attention(p: Common & {
    q: Arr; k: Arr; v: Arr; dtype: number;
    B: number; Hq: number; Hkv: number; Sq: number; Skv: number; D: number; Dv: number; scale: number;
    bm?: { B: number; H: number; qbs: number; kbs: number; nqb: number; nkb: number; kvNum: Int32Array; kvIdx: Int32Array; fullNum: Int32Array; fullIdx: Int32Array };
    maskProgram?: NativeProgram;
    /** B / H: 1 where the bitmaps are shared over the call's batches / query heads (default: the call's). */
    bitmaps?: { bits: Uint32Array; tileStart: Int32Array; wordsPerRow: number; B?: number; H?: number };
    scoreProgram?: NativeProgram;
    /** The output, or outId: a block from reserveOutput (wrapped by the caller once launched). */
    out?: Arr; outId?: number; lse?: Float32Array;
  }): Promise<void>;
  /** Evaluates maskProgram over bm's partial tiles into `bits`, in the layout (tileStart, bB, bH, wordsPerRow) the caller computed. */
  maskBitmaps(p: Common & {
    B: number; Hq: number; Hkv: number; Sq: number; Skv: number; D: number; Dv: number;
    bm: NonNullable<Parameters<NativeAddon["attention"]>[0]["bm"]>;
    maskProgram: NativeProgram;
    bits: Uint32Array; tileStart: Int32Array; wordsPerRow: number; bB: number; bH: number;
  }): Promise<void>;
  decodeAttention(p: Common & {
    q: Arr; k: Arr; v: Arr; dtype: number;
    B: number; Hq: number; Hkv: number; Sq: number; Skv: number; D: number; Dv: number; n: number;
    indices: Int32Array; scale: number; out: Arr; lse?: Float32Array;
  }): Promise<void>;
  matmul(p: Common & {
    a: Arr; adtype: number; b: Arr; bdtype: number; aOffsets: Float64Array; bOffsets: Float64Array;
    M: number; N: number; K: number; transB: boolean; out: Arr; outDtype: number;
  }): Promise<void>;
  groupedGemm(p: Common & { x: Arr; xdtype: number; w: Arr; wdtype: number; offsets: Int32Array; K: number; N: number; out: Arr; outDtype: number }): Promise<void>;
  softmax(p: Common & { x: Arr; dtype: number; rows: number; n: number; out: Float32Array }): Promise<void>;
  topk(p: Common & { x: Arr; dtype: number; rows: number; n: number; k: number; values: Float32Array; indices: Int32Array }): Promise<void>;
  blockPool(p: Common & { x: Arr; dtype: number; BH: number; S: number; D: number; block: number; reduce: number; out: Float32Array }): Promise<void>;
  antidiagScores(p: Common & { q: Arr; k: Arr; dtype: number; B: number; H: number; Sq: number; Skv: number; D: number; stride: number; scale: number; out: Float32Array }): Promise<void>;
  colDiagSums(p: Common & {
    q: Arr; k: Arr; dtype: number; B: number; Hq: number; Hkv: number; Sq: number; Skv: number; D: number;
    scale: number; qOffset: number; causal: boolean; cols: Float32Array; diags: Float32Array;
  }): Promise<void>;
}

/** Element-type codes of native/common.h. */
export const DTYPE_CODE: Partial<Record<DType, number>> = { f32: 0, f16: 1, bf16: 2, i32: 3 };

/** The package root: the nearest folder above this file whose package.json names sparselab. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const pj = join(dir, "package.json");
    if (existsSync(pj)) {
      try {
        if (JSON.parse(readFileSync(pj, "utf8")).name === "sparselab") return dir;
      } catch {
        /* keep looking */
      }
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new Error("cannot find the sparselab package root above " + fileURLToPath(import.meta.url));
}

/** Where the addon is expected (SPARSELAB_CPU_ADDON overrides, for out-of-tree builds). */
export function addonPath(): string {
  return process.env.SPARSELAB_CPU_ADDON ?? join(packageRoot(), "build", "Release", "sparselab_cpu.node");
}

let cached: NativeAddon | undefined;
let failure: string | undefined;

/** Loads the addon once; throws an Error whose message says why it is unavailable. */
export function loadAddon(): NativeAddon {
  if (cached) return cached;
  if (failure) throw new Error(failure);
  let path = "";
  try {
    path = addonPath();
    if (!existsSync(path)) throw new Error(`not built (no ${path}; run \`npm install\` or \`node scripts/build-native.mjs\`)`);
    cached = createRequire(import.meta.url)(path) as NativeAddon;
    return cached;
  } catch (e) {
    const msg = (e as Error).message;
    failure = msg.startsWith("not built") ? msg : `load failed (${path}): ${msg}`;
    throw new Error(failure);
  }
}

/**
 * Runs a native op with a cancellation flag: when the signal (the caller's, else the kernel's
 * ambient one) fires, the flag flips and the kernel stops at its next tile; the rejection
 * becomes a CancelledError naming `op`. Other native failures become a SparselabError.
 */
export async function runNative(op: string, signal: AbortSignal | undefined, call: (cancel: Int32Array) => Promise<void>): Promise<void> {
  const s = effectiveSignal(signal);
  if (s?.aborted) throw new CancelledError(op);
  const flag = new Int32Array(1);
  const onAbort = (): void => {
    flag[0] = 1;
  };
  s?.addEventListener("abort", onAbort, { once: true });
  try {
    await call(flag);
  } catch (e) {
    const err = e as Error & { code?: string };
    if (err?.code === "CANCELLED") throw new CancelledError(op);
    if (err instanceof SparselabError) throw err;
    throw new SparselabError(op, `native cpu backend: ${err?.message ?? String(e)}`);
  } finally {
    s?.removeEventListener("abort", onAbort);
  }
  if (flag[0] && s?.aborted) throw new CancelledError(op);
}
