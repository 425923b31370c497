/**
 * Shared plumbing for the content-based estimators: argument checks, the heavy primitives
 * (pooling, Q·Kᵀ products, antidiagonal scores) routed through the backend registry with a
 * plain-loop fallback, a tile grid that becomes BlockMask fields, and small mask builders whose
 * IR the native backends run.
 *
 * Every estimator takes `impl`: "fast" (default) sends the heavy parts to the fastest backend
 * that implements the registry op (cpu, else js); "reference" runs the readable loops in this
 * file. Tests check that the two pick exactly the same blocks.
 */
import { argError, fmtShape, SparselabError } from "../../errors.js";
import { hasOp, resolveOp, type BackendName } from "../../backends/registry.js";
import type { AntidiagScoresImpl, BlockPoolImpl, MatmulImpl } from "../../backends/ops.js";
import { Tensor } from "../../tensor/tensor.js";
import { throwIfCancelled, effectiveSignal } from "../../cancel.js";
import { BlockMask, type BlockMaskFields } from "../block-mask.js";
import type { MaskExpr, MaskProgram } from "../mask-ir.js";
import { TILE_EMPTY, TILE_FULL, TILE_PARTIAL, type Mask, type TileClass } from "../types.js";

/** Options every estimator accepts. */
export interface EstimatorCommonOptions {
  /**
   * "fast" (default): heavy parts through the backend registry (cpu when loaded, else js);
   * "reference": the readable loops of this module, the spec the tests compare against.
   */
  impl?: "fast" | "reference";
  /** Forces a backend for the registry ops (an error if it lacks one). */
  backend?: BackendName;
  /** Cancels between heads / tiles. */
  signal?: AbortSignal;
}

/** Options of the prefill estimators. */
export interface PrefillCommonOptions extends EstimatorCommonOptions {
  /** Causal attention (default true): no tile above the diagonal; diagonal tiles masked. */
  causal?: boolean;
  /** Tile size of the returned BlockMask (both axes); each method documents its default. */
  blockSize?: number;
}

/** What an estimator did: the method, its parameters, which backend ran each op, its time. */
export interface EstimatorInfo {
  method: string;
  params: Record<string, unknown>;
  /** Registry op -> backend that ran it ("loops" for the reference path). */
  backends: Record<string, string>;
  ms: number;
  /**
   * Floating-point operations of the estimator's heavy parts (2 per multiply-add of its
   * products and score grids, 1 per pooled element); selection and bookkeeping not counted.
   */
  flops: number;
}

const infos = new WeakMap<object, EstimatorInfo>();

/**
 * How an estimator result was produced: method, parameters, backend per op, time in ms.
 * @example
 * const bm = await sl.dynamic.xattention(q, k);
 * sl.dynamic.estimatorInfo(bm)  // { method: "xattention", backends: { antidiagScores: "cpu" }, ms: 41.2, ... }
 */
export function estimatorInfo(result: object): EstimatorInfo | undefined {
  return infos.get(result);
}

/** Execution context of one estimator call. */
export class Ctx {
  readonly op: string;
  readonly reference: boolean;
  readonly backend?: BackendName;
  readonly signal?: AbortSignal;
  readonly used: Record<string, string> = {};
  flops = 0;
  readonly t0 = performance.now();
  constructor(op: string, o: EstimatorCommonOptions = {}) {
    this.op = op;
    if (o.impl !== undefined && o.impl !== "fast" && o.impl !== "reference")
      argError(op, "impl", `"fast" or "reference"`, JSON.stringify(o.impl));
    this.reference = o.impl === "reference";
    this.backend = o.backend;
    this.signal = effectiveSignal(o.signal);
  }
  check(): void {
    throwIfCancelled(this.op, this.signal);
  }
  /** The registry implementation of `name`, or undefined for the loop path. */
  pick<F extends (...a: any[]) => any>(name: string): F | undefined {
    if (this.reference) {
      this.used[name] = "loops";
      return undefined;
    }
    if (!this.backend && !hasOp("cpu", name) && !hasOp("js", name) && !hasOp("cuda", name)) {
      this.used[name] = "loops";
      return undefined;
    }
    const r = resolveOp<F>(name, { backend: this.backend });
    this.used[name] = r.backend;
    return r.impl;
  }
  /** Attaches the info record to `result` and returns it. */
  finish<T extends object>(result: T, params: Record<string, unknown>): T {
    infos.set(result, { method: this.op, params, backends: { ...this.used }, ms: performance.now() - this.t0, flops: this.flops });
    return result;
  }
}

// ---------------------------------------------------------------- validation

/** A 4-D float host tensor [B, H, S, D]. */
export function check4d(op: string, name: string, t: unknown): Tensor {
  if (!(t instanceof Tensor)) argError(op, name, "a Tensor [B, H, S, D]", typeof t);
  if (t.ndim !== 4) argError(op, name, "a 4-D tensor [B, H, S, D]", `shape ${fmtShape(t.shape)}`);
  if (t.dtype !== "f32" && t.dtype !== "f16" && t.dtype !== "bf16")
    argError(op, name, "a float tensor (f32, f16, bf16)", `dtype ${t.dtype}`);
  if (t.device !== "cpu") argError(op, name, "a host tensor (estimators read it on the host; use t.to(\"cpu\"))", `device ${t.device}`);
  return t;
}

/** Checks q [B, Hq, Sq, D] against k [B, Hkv, Skv, D] (GQA: Hkv divides Hq). */
export function checkQK(op: string, q: unknown, k: unknown, kName = "k"): { B: number; Hq: number; Hkv: number; Sq: number; Skv: number; D: number; group: number } {
  const qt = check4d(op, "q", q);
  const kt = check4d(op, kName, k);
  const [B, Hq, Sq, D] = qt.shape;
  const [Bk, Hkv, Skv, Dk] = kt.shape;
  if (Bk !== B) argError(op, kName, `batch ${B} like q ${fmtShape(qt.shape)}`, `shape ${fmtShape(kt.shape)}`);
  if (Dk !== D) argError(op, kName, `head dim ${D} like q ${fmtShape(qt.shape)}`, `shape ${fmtShape(kt.shape)}`);
  if (Hkv === 0 || Hq % Hkv !== 0) argError(op, kName, `a head count dividing q's ${Hq} (GQA)`, `shape ${fmtShape(kt.shape)}`);
  if (Sq === 0 || Skv === 0 || D === 0) argError(op, "q", "non-empty sequence and head dims", `q ${fmtShape(qt.shape)}, ${kName} ${fmtShape(kt.shape)}`);
  return { B, Hq, Hkv, Sq, Skv, D, group: Hq / Hkv };
}

/** Prefill shape check: causal prefill needs Sq == Skv (queries are the whole sequence). */
export function checkPrefill(op: string, q: unknown, k: unknown, causal: boolean) {
  const s = checkQK(op, q, k);
  if (causal && s.Sq !== s.Skv)
    argError(op, "q", `the same length as k for causal prefill (Sq == Skv)`, `Sq ${s.Sq}, Skv ${s.Skv}`);
  return s;
}

export function posInt(op: string, name: string, v: unknown, dflt: number): number {
  const x = v === undefined ? dflt : v;
  if (typeof x !== "number" || !Number.isInteger(x) || x < 1) argError(op, name, "a positive integer", String(x));
  return x;
}

export function nonNegInt(op: string, name: string, v: unknown, dflt: number): number {
  const x = v === undefined ? dflt : v;
  if (typeof x !== "number" || !Number.isInteger(x) || x < 0) argError(op, name, "a non-negative integer", String(x));
  return x;
}

/** A number in [lo, hi]. */
export function inRange(op: string, name: string, v: unknown, dflt: number, lo: number, hi: number): number {
  const x = v === undefined ? dflt : v;
  if (typeof x !== "number" || !(x >= lo && x <= hi)) argError(op, name, `a number in [${lo}, ${hi}]`, String(x));
  return x;
}

/** A per-head integer: one number for all heads or an array of length H. */
export function perHead(op: string, name: string, v: unknown, dflt: number, H: number): number[] {
  if (v === undefined) return new Array(H).fill(dflt);
  if (typeof v === "number") return new Array(H).fill(nonNegInt(op, name, v, dflt));
  if (Array.isArray(v) && v.length === H) return v.map((x, i) => nonNegInt(op, `${name}[${i}]`, x, dflt));
  return argError(op, name, `a non-negative integer or an array of ${H} (one per head)`, JSON.stringify(v));
}

export function checkBool(op: string, name: string, v: unknown, dflt: boolean): boolean {
  const x = v === undefined ? dflt : v;
  if (typeof x !== "boolean") argError(op, name, "a boolean", String(x));
  return x;
}

// ---------------------------------------------------------------- heavy primitives

/** f32 view of a host tensor (widens f16/bf16 once). */
export function f32(t: Tensor): Float32Array {
  return t.floatData();
}

/**
 * a [M, D] · b [N, D]ᵀ -> [M, N] (f32 out). Fast path: the registry's "matmul" with transB.
 */
export async function matmulNT(ctx: Ctx, a: Float32Array, M: number, b: Float32Array, N: number, D: number): Promise<Float32Array> {
  ctx.flops += 2 * M * N * D;
  const impl = ctx.pick<MatmulImpl>("matmul");
  if (impl) {
    const ta = new Tensor([M, D], "f32", a.length === M * D ? a : a.subarray(0, M * D));
    const tb = new Tensor([N, D], "f32", b.length === N * D ? b : b.subarray(0, N * D));
    const out = await impl(ta, tb, { transB: true, signal: ctx.signal });
    const r = out.data as Float32Array;
    return r;
  }
  const out = new Float32Array(M * N);
  for (let i = 0; i < M; i++) {
    const ai = i * D;
    for (let j = 0; j < N; j++) {
      const bj = j * D;
      let s = 0;
      for (let d = 0; d < D; d++) s += a[ai + d] * b[bj + d];
      out[i * N + j] = s;
    }
  }
  return out;
}

/**
 * Pools every `block` rows of x [B, H, S, D] with mean / max / min (ragged last block) ->
 * [B, H, ceil(S / block), D]. Fast path: the registry's "blockPool".
 */
export async function blockPool(ctx: Ctx, x: Tensor, block: number, reduce: "mean" | "max" | "min"): Promise<Float32Array> {
  ctx.flops += x.size;
  const impl = ctx.pick<BlockPoolImpl>("blockPool");
  if (impl) {
    const out = await impl(x, block, reduce, { signal: ctx.signal });
    return out.data as Float32Array;
  }
  const [B, H, S, D] = x.shape;
  const xs = f32(x);
  const nb = Math.ceil(S / block);
  const out = new Float32Array(B * H * nb * D);
  for (let bh = 0; bh < B * H; bh++) {
    for (let j = 0; j < nb; j++) {
      const r0 = j * block;
      const r1 = Math.min(S, r0 + block);
      const o = (bh * nb + j) * D;
      for (let d = 0; d < D; d++) {
        let acc = reduce === "mean" ? 0 : reduce === "max" ? -Infinity : Infinity;
        for (let r = r0; r < r1; r++) {
          const v = xs[(bh * S + r) * D + d];
          if (reduce === "mean") acc += v;
          else if (reduce === "max") acc = v > acc ? v : acc;
          else acc = v < acc ? v : acc;
        }
        out[o + d] = reduce === "mean" ? acc / (r1 - r0) : acc;
      }
    }
  }
  return out;
}

/** Repeats each KV head `group` times so that k lines up with q's heads (GQA). */
export function expandKv(k: Tensor, group: number): Tensor {
  if (group === 1) return k;
  const [B, Hkv, S, D] = k.shape;
  const src = f32(k);
  const out = new Float32Array(B * Hkv * group * S * D);
  const hs = S * D;
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hkv; h++)
      for (let g = 0; g < group; g++)
        out.set(src.subarray((b * Hkv + h) * hs, (b * Hkv + h + 1) * hs), ((b * Hkv + h) * group + g) * hs);
  return new Tensor([B, Hkv * group, S, D], "f32", out);
}

/**
 * XAttention's strided estimate: cell (i, j) = scale · Σ_t q[i·s + t] · k[j·s + (s−1−t)] over
 * [ceil(Sq/s), ceil(Skv/s)] per head (rows past the end read as zero). Fast path: the
 * registry's "antidiagScores". q [B, H, Sq, D], k [B, H, Skv, D] with the same H.
 */
export async function antidiagScores(ctx: Ctx, q: Tensor, k: Tensor, stride: number, scale: number): Promise<Float32Array> {
  ctx.flops += 2 * q.shape[0] * q.shape[1] * Math.ceil(q.shape[2] / stride) * Math.ceil(k.shape[2] / stride) * stride * q.shape[3];
  const impl = ctx.pick<AntidiagScoresImpl>("antidiagScores");
  if (impl) {
    const out = await impl(q, k, stride, scale, { signal: ctx.signal });
    return out.data as Float32Array;
  }
  const [B, H, Sq, D] = q.shape;
  const Skv = k.shape[2];
  const qs = f32(q);
  const ks = f32(k);
  const nq = Math.ceil(Sq / stride);
  const nk = Math.ceil(Skv / stride);
  const out = new Float32Array(B * H * nq * nk);
  for (let bh = 0; bh < B * H; bh++) {
    ctx.check();
    for (let i = 0; i < nq; i++)
      for (let j = 0; j < nk; j++) {
        let s = 0;
        for (let t = 0; t < stride; t++) {
          const qi = i * stride + t;
          const kj = j * stride + (stride - 1 - t);
          if (qi >= Sq || kj >= Skv) continue;
          const qo = (bh * Sq + qi) * D;
          const ko = (bh * Skv + kj) * D;
          for (let d = 0; d < D; d++) s += qs[qo + d] * ks[ko + d];
        }
        out[(bh * nq + i) * nk + j] = s * scale;
      }
  }
  return out;
}

// ---------------------------------------------------------------- selection helpers

/**
 * Indices of the `k` largest of x[off .. off+n), in descending value order; ties go to the
 * lower index (the registry's topk rule), NaN sorts last.
 */
export function topkIdx(x: ArrayLike<number>, off: number, n: number, k: number): Int32Array {
  k = Math.max(0, Math.min(k, n));
  const val = (i: number) => {
    const y = x[off + i];
    return y !== y ? -Infinity : y; // NaN sorts last
  };
  // "a ranks before b": larger value, then lower index.
  const before = (a: number, b: number) => {
    const va = val(a);
    const vb = val(b);
    return va > vb || (va === vb && a < b);
  };
  // Min-heap (by rank) of the best k seen so far: O(n log k) with no per-element allocation.
  const heap = new Int32Array(k);
  let size = 0;
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let w = i;
      if (l < size && before(heap[w], heap[l])) w = l;
      if (r < size && before(heap[w], heap[r])) w = r;
      if (w === i) return;
      const t = heap[i];
      heap[i] = heap[w];
      heap[w] = t;
      i = w;
    }
  };
  for (let i = 0; i < n && k > 0; i++) {
    if (size < k) {
      let c = size++;
      heap[c] = i;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (!before(heap[p], heap[c])) break;
        const t = heap[p];
        heap[p] = heap[c];
        heap[c] = t;
        c = p;
      }
    } else if (before(i, heap[0])) {
      heap[0] = i;
      down(0);
    }
  }
  return heap.sort((a, b) => (before(a, b) ? -1 : 1));
}

/** In-place causal-or-not softmax of row x[off .. off+n) (entries already -Infinity stay 0). */
export function softmaxRow(x: Float32Array | Float64Array, off: number, n: number): void {
  let m = -Infinity;
  for (let i = 0; i < n; i++) if (x[off + i] > m) m = x[off + i];
  if (m === -Infinity) {
    for (let i = 0; i < n; i++) x[off + i] = 0;
    return;
  }
  let s = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp(x[off + i] - m);
    x[off + i] = e;
    s += e;
  }
  for (let i = 0; i < n; i++) x[off + i] /= s;
}

// ---------------------------------------------------------------- tile grid -> BlockMask fields

/** Per-(b, h) tile classes, merged with max (full beats partial beats empty). */
export class TileGrid {
  readonly cls: Uint8Array;
  readonly qBlocks: number;
  readonly kvBlocks: number;
  constructor(
    readonly B: number,
    readonly H: number,
    readonly qLen: number,
    readonly kvLen: number,
    readonly qBlockSize: number,
    readonly kvBlockSize: number,
  ) {
    this.qBlocks = Math.ceil(qLen / qBlockSize);
    this.kvBlocks = Math.ceil(kvLen / kvBlockSize);
    this.cls = new Uint8Array(B * H * this.qBlocks * this.kvBlocks);
  }
  at(bh: number, qb: number, kb: number): number {
    return (bh * this.qBlocks + qb) * this.kvBlocks + kb;
  }
  mark(bh: number, qb: number, kb: number, c: TileClass): void {
    const i = this.at(bh, qb, kb);
    if (c > this.cls[i]) this.cls[i] = c;
  }
  /**
   * Clips every tile to causality (q >= kv): tiles wholly above the diagonal become empty,
   * tiles crossing it become partial (the mask then must include q >= kv).
   */
  applyCausal(): void {
    for (let qb = 0; qb < this.qBlocks; qb++)
      for (let kb = 0; kb < this.kvBlocks; kb++) {
        const c = causalTile(qb, kb, this.qBlockSize, this.kvBlockSize, this.qLen, this.kvLen);
        if (c === TILE_FULL) continue;
        for (let bh = 0; bh < this.B * this.H; bh++) {
          const i = this.at(bh, qb, kb);
          if (this.cls[i] > c) this.cls[i] = c;
        }
      }
  }
  /** The BlockMask (FlexAttention layout); `mask` refines partial tiles. */
  toFields(mask: Mask | undefined): BlockMask {
    const { B, H, qBlocks: nq, kvBlocks: nk } = this;
    const kvNum = new Int32Array(B * H * nq);
    const kvIdx = new Int32Array(B * H * nq * nk);
    const fullNum = new Int32Array(B * H * nq);
    const fullIdx = new Int32Array(B * H * nq * nk);
    let anyPartial = false;
    for (let r = 0; r < B * H * nq; r++) {
      let np = 0;
      let nf = 0;
      for (let kb = 0; kb < nk; kb++) {
        const c = this.cls[r * nk + kb];
        if (c === TILE_PARTIAL) kvIdx[r * nk + np++] = kb;
        else if (c === TILE_FULL) fullIdx[r * nk + nf++] = kb;
      }
      kvNum[r] = np;
      fullNum[r] = nf;
      if (np) anyPartial = true;
    }
    if (anyPartial && !mask) throw new SparselabError("TileGrid.toFields", "partial tiles need a mask (internal error)");
    return new BlockMask({
      B,
      H,
      qLen: this.qLen,
      kvLen: this.kvLen,
      qBlockSize: this.qBlockSize,
      kvBlockSize: this.kvBlockSize,
      kvNumBlocks: new Tensor([B, H, nq], "i32", kvNum),
      kvIndices: new Tensor([B, H, nq, nk], "i32", kvIdx),
      fullKvNumBlocks: new Tensor([B, H, nq], "i32", fullNum),
      fullKvIndices: new Tensor([B, H, nq, nk], "i32", fullIdx),
      mask,
    });
  }
}

/** Tile class of (qb, kb) under q >= kv (same absolute positions for q and kv). */
export function causalTile(qb: number, kb: number, qbs: number, kbs: number, qLen: number, kvLen: number): TileClass {
  const q0 = qb * qbs;
  const q1 = Math.min(qLen, q0 + qbs) - 1;
  const k0 = kb * kbs;
  const k1 = Math.min(kvLen, k0 + kbs) - 1;
  if (k0 > q1) return TILE_EMPTY;
  if (k1 <= q0) return TILE_FULL;
  return TILE_PARTIAL;
}

/**
 * Reads a BlockMask (or its fields) back as a dense tile-class grid [B·H, qBlocks, kvBlocks]
 * (0 empty, 1 partial, 2 full); what tests and metrics compare.
 * @example
 * const cls = sl.dynamic.tileClasses(await sl.dynamic.moba(q, k));
 */
export function tileClasses(f: BlockMaskFields): Uint8Array {
  const nq = Math.ceil(f.qLen / f.qBlockSize);
  const nk = Math.ceil(f.kvLen / f.kvBlockSize);
  const out = new Uint8Array(f.B * f.H * nq * nk);
  const kn = f.kvNumBlocks.data as Int32Array;
  const ki = f.kvIndices.data as Int32Array;
  const fn = f.fullKvNumBlocks.data as Int32Array;
  const fi = f.fullKvIndices.data as Int32Array;
  for (let r = 0; r < f.B * f.H * nq; r++) {
    for (let j = 0; j < kn[r]; j++) out[r * nk + ki[r * nk + j]] = TILE_PARTIAL;
    for (let j = 0; j < fn[r]; j++) out[r * nk + fi[r * nk + j]] = TILE_FULL;
  }
  return out;
}

// ---------------------------------------------------------------- masks (with IR)

export const ir = {
  num: (v: number): MaskExpr => ({ t: "num", v }),
  v: (name: "b" | "h" | "q" | "kv"): MaskExpr => ({ t: "var", name }),
  bin: (op: Extract<MaskExpr, { t: "bin" }>["op"], a: MaskExpr, b: MaskExpr): MaskExpr => ({ t: "bin", op, a, b }),
  idx: (table: number, index: MaskExpr): MaskExpr => ({ t: "idx", table, index }),
};

/** q >= kv as IR. */
export const CAUSAL_EXPR: MaskExpr = ir.bin("ge", ir.v("q"), ir.v("kv"));

/** (b · H + h) as IR: the row of a per-(b, h) table. */
export function bhExpr(H: number): MaskExpr {
  return ir.bin("add", ir.bin("mul", ir.v("b"), ir.num(H)), ir.v("h"));
}

/** Builds a Mask from a predicate, its IR program, and its parameters. */
export function makeMask(kind: string, name: string, params: Record<string, unknown>, at: Mask["at"], program?: MaskProgram): Mask {
  return Object.freeze({ kind, name, params: Object.freeze({ ...params }), at, program });
}

/** The causal mask (q >= kv), used to refine diagonal tiles of block-level selections. */
export function causalMask(): Mask {
  return makeMask("causal", "causal", {}, (_b, _h, q, kv) => q >= kv, { expr: CAUSAL_EXPR, tables: [] });
}

/** A mask that lets everything through (partial tiles of non-causal block selections never occur; kept for symmetry). */
export function allMask(): Mask {
  return makeMask("fn", "all", {}, () => true, { expr: ir.num(1), tables: [] });
}

/**
 * A block-level selection (1 = keep the tile) over [B·H, qBlocks, kvBlocks] -> BlockMask
 * fields: kept tiles are full, clipped to causality when `causal` (diagonal tiles partial,
 * refined by the causal mask).
 */
export function fieldsFromBlockSelection(
  sel: Uint8Array, B: number, H: number, qLen: number, kvLen: number, bs: number, causal: boolean,
): BlockMask {
  const g = new TileGrid(B, H, qLen, kvLen, bs, bs);
  for (let i = 0; i < sel.length; i++) if (sel[i]) g.cls[i] = TILE_FULL;
  if (causal) g.applyCausal();
  return g.toFields(causal ? causalMask() : undefined);
}

/** Rows [r0, r1) of every (b, h) of x [B, H, S, D] as a new contiguous f32 tensor. */
export function sliceRows(x: Tensor, r0: number, r1: number): Tensor {
  const [B, H, S, D] = x.shape;
  const src = f32(x);
  const n = r1 - r0;
  const out = new Float32Array(B * H * n * D);
  for (let bh = 0; bh < B * H; bh++) out.set(src.subarray((bh * S + r0) * D, (bh * S + r1) * D), bh * n * D);
  return new Tensor([B, H, n, D], "f32", out);
}

/**
 * Column and diagonal sums of P = softmax(scale · q kᵀ) over the rows of q (absolute query
 * positions qOffset + i, causal): cols[b, h, j] = Σ_i P[i, j], diags[b, h, o] = Σ P[i, j] over
 * (qOffset + i) − j = o. q [B, Hq, n, D], k [B, Hkv, S, D]; both outputs [B, Hq, S]. Fast path:
 * the registry's "colDiagSums" (cpu); otherwise matmulNT per head and float64 loops.
 */
export async function colDiagSums(ctx: Ctx, q: Tensor, k: Tensor, scale: number, qOffset: number): Promise<{ cols: Float64Array | Float32Array; diags: Float64Array | Float32Array }> {
  type Impl = (q: Tensor, k: Tensor, o: { scale: number; qOffset: number; causal: boolean; signal?: AbortSignal }) => Promise<{ cols: Tensor<"f32">; diags: Tensor<"f32"> }>;
  ctx.flops += 2 * q.size * k.shape[2];
  const qf = q.dtype === "f32" ? q : new Tensor(q.shape, "f32", f32(q));
  const kf = k.dtype === "f32" ? k : new Tensor(k.shape, "f32", f32(k));
  if (!ctx.reference && (ctx.backend ? hasOp(ctx.backend, "colDiagSums") : hasOp("cpu", "colDiagSums") || hasOp("js", "colDiagSums"))) {
    const impl = ctx.pick<Impl>("colDiagSums")!;
    const r = await impl(qf, kf, { scale, qOffset, causal: true, signal: ctx.signal });
    return { cols: r.cols.data as Float32Array, diags: r.diags.data as Float32Array };
  }
  const [B, Hq, n, D] = qf.shape;
  const [, Hkv, S] = kf.shape;
  const group = Hq / Hkv;
  const qs = f32(qf);
  const ks = f32(kf);
  const cols = new Float64Array(B * Hq * S);
  const diags = new Float64Array(B * Hq * S);
  const a = new Float64Array(S);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      ctx.check();
      const bh = b * Hq + h;
      const kh = b * Hkv + Math.floor(h / group);
      const A = await matmulNT(ctx, qs.subarray(bh * n * D, (bh + 1) * n * D), n, ks.subarray(kh * S * D, (kh + 1) * S * D), S, D);
      for (let i = 0; i < n; i++) {
        const qi = qOffset + i;
        for (let j = 0; j < S; j++) a[j] = j <= qi ? A[i * S + j] * scale : -Infinity;
        softmaxRow(a, 0, S);
        for (let j = 0; j <= Math.min(qi, S - 1); j++) {
          cols[bh * S + j] += a[j];
          diags[bh * S + qi - j] += a[j];
        }
      }
    }
  return { cols, diags };
}

const keptPairsOf = new WeakMap<object, number>();

/**
 * Attended (b, h, q, kv) pairs of an estimator's mask, when the estimator could count them
 * from its selection (cheaper than evaluating the element mask over every partial tile).
 * Summed over the mask's B·H. `sl.compare` uses it for the element density.
 * @example
 * const bm = await sl.dynamic.verticalSlash(q, k);
 * sl.dynamic.keptPairs(bm) / (8 * 4096 * 4097 / 2);   // element density over the causal area
 */
export function keptPairs(bm: object): number | undefined {
  return keptPairsOf.get(bm);
}

/** Records the attended-pair count of an estimator result (see {@link keptPairs}). */
export function recordKeptPairs(bm: object, n: number): void {
  keptPairsOf.set(bm, n);
}
