import { argError, fmtShape } from "../errors.js";
import { isFloat } from "../tensor/dtype.js";
import type { Tensor } from "../tensor/tensor.js";
import { resolveOp, type BackendName } from "../backends/registry.js";
import type { AttentionImpl, AttentionResult } from "../backends/ops.js";
import { ready } from "../backends/load.js";
import { effectiveSignal, throwIfCancelled } from "../cancel.js";
import { DeviceBlockMask, type BlockMaskFields } from "./block-mask.js";
import type { ScoreMod } from "./types.js";

/** Options of {@link attention}. */
export interface AttentionOptions {
  /**
   * Which tiles to compute (FlexAttention layout). Absent = dense: every query attends every
   * key. Its B and H may be 1 (broadcast) or equal to q's batch and query heads. A broadcast
   * block mask shares its tile classes, while its mask is still evaluated at the real (b, h)
   * inside partial tiles (as in FlexAttention): for a mask that reads b or h, build the block
   * mask with the full B and H.
   */
  blockMask?: BlockMaskFields;
  /** Applied to each scaled score before masking (FlexAttention order: score_mod, then mask). */
  scoreMod?: ScoreMod;
  /** Multiplies q·k before the score mod. Default 1 / sqrt(D). */
  scale?: number;
  /** Also return the log-sum-exp of each row (natural log, f32 [B, Hq, Sq]). */
  returnLse?: boolean;
  /** Run on this backend ("js", "cpu", "cuda"); default: the fastest loaded one for the tensors' device. */
  backend?: BackendName;
  /** Cancels a long run; the promise then rejects with CancelledError. */
  signal?: AbortSignal;
  /**
   * Write the output into this tensor ([B, Hq, Sq, Dv], q's dtype and device) and return it,
   * instead of allocating a new one per call: a sweep over masks or a timing loop then makes no
   * garbage (on the CPU a fresh 16 MiB output per call costs a V8 collection every few calls; on
   * the GPU it is an allocation). It must not share storage with q, k or v.
   */
  out?: Tensor;
}

/** The result of {@link attention} with `returnLse: true`. */
export interface AttentionWithLse {
  /** [B, Hq, Sq, Dv] in q's dtype. */
  output: Tensor;
  /** f32 [B, Hq, Sq]: log Σ exp(score) over the attended keys; -Infinity where a row attends nothing. */
  lse: Tensor<"f32">;
}

/**
 * Scaled dot-product attention, dense or block-sparse, with GQA and score mods.
 *
 * q [B, Hq, Sq, D], k [B, Hkv, Skv, D], v [B, Hkv, Skv, Dv]; query head h reads KV head
 * floor(h / (Hq / Hkv)) (grouped-query attention; Hkv must divide Hq). Scores are
 * `scoreMod(scale · q·k)`, then masked by the block mask (empty tiles skipped, full tiles
 * unmasked, partial tiles refined by `blockMask.mask`), then softmaxed along kv with f32 (or
 * wider) accumulation. A query row with no attended key gives output 0 and lse -Infinity
 * (not NaN), so fully masked rows are harmless downstream.
 *
 * Inputs may be f32, f16 or bf16 (all three the same dtype); the output has q's dtype.
 *
 * @example
 * const q = sl.randn([1, 8, 1024, 64], { seed: 1 });
 * const k = sl.randn([1, 2, 1024, 64], { seed: 2 });   // GQA: 4 query heads per KV head
 * const v = sl.randn([1, 2, 1024, 64], { seed: 3 });
 * const dense = await sl.attention(q, k, v);
 * const bm = sl.createBlockMask(sl.masks.causal(), { qLen: 1024, kvLen: 1024 });
 * const { output, lse } = await sl.attention(q, k, v, { blockMask: bm, returnLse: true });
 * const out = sl.zeros([1, 8, 1024, 64]);                // reused across calls: no new output
 * for (const w of [64, 128, 256]) await sl.attention(q, k, v, { blockMask: sl.createBlockMask(sl.masks.slidingWindow(w), { qLen: 1024, kvLen: 1024 }), out });
 */
export async function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions & { returnLse: true }): Promise<AttentionWithLse>;
export async function attention(q: Tensor, k: Tensor, v: Tensor, opts?: AttentionOptions & { returnLse?: false }): Promise<Tensor>;
export async function attention(q: Tensor, k: Tensor, v: Tensor, opts?: AttentionOptions): Promise<Tensor | AttentionWithLse>;
export async function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Promise<Tensor | AttentionWithLse> {
  const op = "attention";
  checkOptions(op, opts, ["blockMask", "scoreMod", "scale", "returnLse", "backend", "signal", "out"]);
  const dims = checkQkv(op, q, k, v, ["q", "k", "v"]);
  if (opts.out !== undefined) checkOut(op, opts.out, [dims.B, dims.Hq, dims.Sq, dims.Dv], q, [q, k, v]);
  const scale = checkScale(op, opts.scale, dims.D);
  if (opts.scoreMod !== undefined) checkScoreMod(op, opts.scoreMod);
  if (opts.blockMask !== undefined) checkBlockMask(op, opts.blockMask, dims.B, dims.Hq, dims.Sq, dims.Skv);
  if (opts.returnLse !== undefined && typeof opts.returnLse !== "boolean")
    argError(op, "opts.returnLse", "a boolean", String(opts.returnLse));
  const signal = effectiveSignal(opts.signal);
  throwIfCancelled(op, signal);
  await ready();
  const { impl, backend } = resolveOp<AttentionImpl>(op, { backend: opts.backend, device: q.device });
  const res = await impl({
    q,
    k,
    v,
    blockMask: opts.blockMask === undefined ? undefined : blockMaskFor(backend, opts.blockMask),
    scoreMod: opts.scoreMod,
    scale,
    returnLse: opts.returnLse === true,
    signal,
    out: opts.out,
  });
  if (opts.out !== undefined && res.output !== opts.out) res.output = copyInto(op, res.output, opts.out);
  return shapeResult(res, opts.returnLse === true);
}

/**
 * @internal The block mask a backend can read: a mask built on the GPU (`device: "cuda"`) goes
 * to the cuda backend as it is and to a host backend as its host view (read back once, kept).
 */
export function blockMaskFor(backend: BackendName, bm: BlockMaskFields): BlockMaskFields {
  return bm instanceof DeviceBlockMask && backend !== "cuda" ? bm.host() : bm;
}

/** @internal Validates an `out` tensor: live, the output's shape, dtype and device, no aliasing. */
export function checkOut(op: string, out: unknown, shape: readonly number[], like: Tensor, inputs: readonly Tensor[]): void {
  if (!isTensorLike(out)) argError(op, "opts.out", "a Tensor", describe(out));
  if (out.disposed) argError(op, "opts.out", "a live tensor", "a disposed tensor");
  if (out.shape.length !== shape.length || out.shape.some((n, i) => n !== shape[i]))
    argError(op, "opts.out", `shape ${fmtShape(shape)} (the output's)`, `shape ${fmtShape(out.shape)}`);
  if (out.dtype !== like.dtype) argError(op, "opts.out", `dtype ${like.dtype} (q's)`, `dtype ${out.dtype}`);
  if (out.device !== like.device) argError(op, "opts.out", `a tensor on ${like.device} (q's device)`, `device ${out.device}`);
  const store = (t: Tensor): unknown => (t.device === "cpu" ? t.data.buffer : t.buffer);
  if (inputs.some((t) => store(t) === store(out))) argError(op, "opts.out", "storage of its own", "a tensor sharing storage with q, k or v");
}

/** @internal For backends that cannot write in place: copies a host result into `out`. */
function copyInto(op: string, result: Tensor, out: Tensor): Tensor {
  if (out.device !== "cpu") throw new Error(`[sparselab] ${op}: the ${out.device} backend returned a new output although opts.out was given (internal error)`);
  (out.data as { set(a: ArrayLike<number>): void }).set(result.data as ArrayLike<number>);
  result.dispose();
  return out;
}

/** @internal Turns a backend result into the public return shape. */
export function shapeResult(res: AttentionResult, returnLse: boolean): Tensor | AttentionWithLse {
  if (!returnLse) return res.output;
  if (!res.lse) throw new Error("[sparselab] attention: backend returned no lse although returnLse was set (internal error)");
  return { output: res.output, lse: res.lse };
}

/** @internal Rejects option names that are not known (a typo would otherwise be silently ignored). */
export function checkOptions(op: string, opts: unknown, known: readonly string[]): void {
  if (opts === null || typeof opts !== "object" || Array.isArray(opts))
    argError(op, "opts", "an options object", describe(opts));
  for (const key of Object.keys(opts as object)) {
    if ((opts as Record<string, unknown>)[key] === undefined) continue;
    if (!known.includes(key)) argError(op, "opts", `only the keys ${known.join(", ")}`, `unknown key '${key}'`);
  }
}

/** @internal The sizes of a validated q/k/v triple. */
export interface QkvDims {
  B: number;
  Hq: number;
  Hkv: number;
  Sq: number;
  Skv: number;
  D: number;
  Dv: number;
}

/** @internal Validates q [B, Hq, Sq, D], k [B, Hkv, Skv, D], v [B, Hkv, Skv, Dv]. */
export function checkQkv(op: string, q: Tensor, k: Tensor, v: Tensor, names: readonly [string, string, string]): QkvDims {
  const [qn, kn, vn] = names;
  const ts = [q, k, v];
  for (let i = 0; i < 3; i++) {
    const t = ts[i];
    if (!isTensorLike(t)) argError(op, names[i], "a Tensor", describe(t));
    if (t.disposed) argError(op, names[i], "a live tensor", "a disposed tensor");
    if (t.shape.length !== 4)
      argError(op, names[i], `a 4-D tensor [B, H, S, ${i === 2 ? "Dv" : "D"}]`, `shape ${fmtShape(t.shape)}`);
    if (!isFloat(t.dtype)) argError(op, names[i], "a float tensor (f32, f16 or bf16)", `dtype ${t.dtype}`);
  }
  if (k.dtype !== q.dtype) argError(op, kn, `the same dtype as ${qn} (${q.dtype})`, `dtype ${k.dtype}`);
  if (v.dtype !== q.dtype) argError(op, vn, `the same dtype as ${qn} (${q.dtype})`, `dtype ${v.dtype}`);
  if (k.device !== q.device) argError(op, kn, `on the same device as ${qn} (${q.device})`, `device ${k.device}`);
  if (v.device !== q.device) argError(op, vn, `on the same device as ${qn} (${q.device})`, `device ${v.device}`);
  const [B, Hq, Sq, D] = q.shape;
  const [Bk, Hkv, Skv, Dk] = k.shape;
  const [Bv, Hv, Sv, Dv] = v.shape;
  if (Bk !== B) argError(op, kn, `batch ${B} like ${qn} ${fmtShape(q.shape)}`, `shape ${fmtShape(k.shape)}`);
  if (Bv !== B) argError(op, vn, `batch ${B} like ${qn} ${fmtShape(q.shape)}`, `shape ${fmtShape(v.shape)}`);
  if (D === 0) argError(op, qn, "a head dim D >= 1", `shape ${fmtShape(q.shape)}`);
  if (Dv === 0) argError(op, vn, "a head dim Dv >= 1", `shape ${fmtShape(v.shape)}`);
  if (Dk !== D) argError(op, kn, `head dim D = ${D} like ${qn} ${fmtShape(q.shape)}`, `shape ${fmtShape(k.shape)}`);
  if (Hkv === 0 || Hq % Hkv !== 0)
    argError(op, kn, `a KV head count dividing ${qn}'s ${Hq} heads (GQA)`, `shape ${fmtShape(k.shape)} (${Hkv} heads)`);
  if (Hv !== Hkv || Sv !== Skv)
    argError(op, vn, `[${B}, ${Hkv}, ${Skv}, Dv] matching ${kn} ${fmtShape(k.shape)} in heads and length`, `shape ${fmtShape(v.shape)}`);
  return { B, Hq, Hkv, Sq, Skv, D, Dv };
}

/** @internal Validates the scale (default 1/sqrt(D)). */
export function checkScale(op: string, scale: unknown, D: number): number {
  if (scale === undefined) return 1 / Math.sqrt(D);
  if (typeof scale !== "number" || !Number.isFinite(scale)) argError(op, "opts.scale", "a finite number", describe(scale));
  return scale;
}

/** @internal Validates a score mod object. */
export function checkScoreMod(op: string, mod: unknown): void {
  if (mod === null || typeof mod !== "object" || typeof (mod as ScoreMod).apply !== "function")
    argError(op, "opts.scoreMod", "a ScoreMod (e.g. sl.scoreMods.alibi(H)) with an apply(score, b, h, q, kv) method", describe(mod));
}

/**
 * @internal Validates a block mask against an attention call of batch B, H query heads, Sq
 * queries and Skv keys: sizes, broadcastable B/H, field shapes and dtypes, counts and indices
 * in range, and a refining mask wherever a tile is partial.
 */
export function checkBlockMask(op: string, bm: BlockMaskFields, B: number, H: number, Sq: number, Skv: number, arg = "opts.blockMask"): void {
  if (bm === null || typeof bm !== "object") argError(op, arg, "a BlockMask (sl.createBlockMask)", describe(bm));
  for (const f of ["B", "H", "qLen", "kvLen", "qBlockSize", "kvBlockSize"] as const) {
    const x = bm[f];
    if (!Number.isInteger(x) || x < 0 || ((f === "qBlockSize" || f === "kvBlockSize" || f === "B" || f === "H") && x < 1))
      argError(op, `${arg}.${f}`, f.endsWith("BlockSize") || f.length === 1 ? "a positive integer" : "a non-negative integer", describe(x));
  }
  if (bm.B !== 1 && bm.B !== B) argError(op, `${arg}.B`, `1 (broadcast) or the batch size ${B}`, String(bm.B));
  if (bm.H !== 1 && bm.H !== H) argError(op, `${arg}.H`, `1 (broadcast) or the query head count ${H}`, String(bm.H));
  if (bm.qLen !== Sq) argError(op, `${arg}.qLen`, `the query length Sq = ${Sq}`, String(bm.qLen));
  if (bm.kvLen !== Skv) argError(op, `${arg}.kvLen`, `the key length Skv = ${Skv}`, String(bm.kvLen));
  const qb = Math.ceil(bm.qLen / bm.qBlockSize);
  const kb = Math.ceil(bm.kvLen / bm.kvBlockSize);
  const want3 = [bm.B, bm.H, qb];
  const want4 = [bm.B, bm.H, qb, kb];
  const fields = [
    ["kvNumBlocks", want3],
    ["kvIndices", want4],
    ["fullKvNumBlocks", want3],
    ["fullKvIndices", want4],
  ] as const;
  for (const [name, want] of fields) {
    const t = bm[name];
    if (!isTensorLike(t)) argError(op, `${arg}.${name}`, `an i32 Tensor ${fmtShape(want)}`, describe(t));
    if (t.dtype !== "i32") argError(op, `${arg}.${name}`, `an i32 Tensor ${fmtShape(want)}`, `dtype ${t.dtype}`);
    if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i]))
      argError(op, `${arg}.${name}`, `shape ${fmtShape(want)}`, `shape ${fmtShape(t.shape)}`);
  }
  // Device-resident fields are checked by the backend that made them; host fields we can read.
  if (bm.kvNumBlocks.device !== "cpu") return;
  const num = bm.kvNumBlocks.data as Int32Array;
  const idx = bm.kvIndices.data as Int32Array;
  const fnum = bm.fullKvNumBlocks.data as Int32Array;
  const fidx = bm.fullKvIndices.data as Int32Array;
  let anyPartial = false;
  const seen = new Int32Array(kb).fill(-1);
  for (let row = 0; row < num.length; row++) {
    const np = num[row];
    const nf = fnum[row];
    if (!(np >= 0 && nf >= 0 && np + nf <= kb))
      argError(op, `${arg}`, `per-row tile counts with 0 <= kvNumBlocks + fullKvNumBlocks <= ${kb}`, `row ${row}: ${np} partial + ${nf} full`);
    if (np > 0) anyPartial = true;
    for (let j = 0; j < np + nf; j++) {
      const kvb = j < np ? idx[row * kb + j] : fidx[row * kb + (j - np)];
      if (!(kvb >= 0 && kvb < kb))
        argError(op, `${arg}.${j < np ? "kvIndices" : "fullKvIndices"}`, `block indices in [0, ${kb})`, `${kvb} in row ${row}`);
      if (seen[kvb] === row)
        argError(op, `${arg}`, "each kv block listed at most once per row (partial or full)", `block ${kvb} twice in row ${row}`);
      seen[kvb] = row;
    }
  }
  if (anyPartial && bm.mask === undefined)
    argError(op, `${arg}.mask`, "a Mask refining the partial tiles", "undefined while some tiles are partial");
  if (bm.mask !== undefined && typeof bm.mask?.at !== "function")
    argError(op, `${arg}.mask`, "a Mask with an at(b, h, q, kv) method", describe(bm.mask));
}

function isTensorLike(t: unknown): t is Tensor {
  return typeof t === "object" && t !== null && Array.isArray((t as Tensor).shape) && typeof (t as Tensor).dtype === "string";
}

/** A short description of a bad value for error messages. */
export function describe(x: unknown): string {
  if (x === null) return "null";
  if (x === undefined) return "undefined";
  if (isTensorLike(x)) return `Tensor(${x.dtype}, ${fmtShape(x.shape)})`;
  if (typeof x === "number" || typeof x === "boolean") return String(x);
  if (typeof x === "string") return JSON.stringify(x);
  if (Array.isArray(x)) return `an array of length ${x.length}`;
  if (typeof x === "function") return "a function";
  return `an object with keys {${Object.keys(x as object).slice(0, 6).join(", ")}}`;
}
