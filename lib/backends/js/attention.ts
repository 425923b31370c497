/**
 * The JS reference for "attention": the spec every native backend is checked against.
 *
 * Flash-style, so it needs O(tile) working memory, never Sq x Skv: for each (b, h, q tile) it
 * walks the kv tiles the block mask lists (in ascending kv order, partial and full merged),
 * skips empty tiles, evaluates the mask only inside partial tiles, and folds each tile into an
 * online softmax. Accumulation is float64 (JS numbers) so that it is a better oracle than
 * any f32 kernel it judges; the result is rounded once to q's dtype.
 *
 * Semantics, in FlexAttention's order: s = scale · q·k; s = scoreMod(s, b, h, q, kv);
 * s = -inf where the mask says no. A row whose every score is -inf (fully masked) outputs 0
 * and lse -Infinity, rather than NaN.
 *
 * Responsiveness: checks the cancellation signal before each q tile and yields to the event
 * loop (a setImmediate) whenever ~10 ms have passed, checked between kv tiles, so a notebook
 * kernel keeps answering interrupts and widget messages while a long reference run goes on.
 */
import { registerOp } from "../registry.js";
import type { AttentionArgs, AttentionResult } from "../ops.js";
import { throwIfCancelled } from "../../cancel.js";
import { Tensor, fromFloat32 } from "../../tensor/tensor.js";
import type { BlockMaskFields } from "../../attention/block-mask.js";
import type { Mask, ScoreMod } from "../../attention/types.js";

/** Tile edge used when there is no block mask (dense): small enough to stay in cache. */
const DENSE_TILE = 64;
/** Run this long (ms) between yields to the event loop. */
const YIELD_MS = 10;

/** Everything the tile loop needs, widened to f32 and flattened. */
export interface TileProblem {
  op: string;
  B: number;
  Hq: number;
  Hkv: number;
  Sq: number;
  Skv: number;
  D: number;
  Dv: number;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  scale: number;
  blockMask?: BlockMaskFields;
  scoreMod?: ScoreMod;
  signal?: AbortSignal;
}

/** Output f32 [B, Hq, Sq, Dv] and lse f32 [B, Hq, Sq]. */
export interface TileSolution {
  out: Float32Array;
  lse: Float32Array;
}

const now = (): number => (typeof performance !== "undefined" ? performance.now() : Date.now());
const yieldToLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * Runs the flash-style loop over host f32 arrays. Exported for decode attention (its block-mask
 * path) and for anyone who needs the oracle without Tensors.
 */
export async function runAttentionTiles(p: TileProblem): Promise<TileSolution> {
  const { op, B, Hq, Hkv, Sq, Skv, Dv, blockMask: bm, signal } = p;
  const out = new Float32Array(B * Hq * Sq * Dv);
  const lseOut = new Float32Array(B * Hq * Sq);
  const group = Hq / Hkv;
  const qBlock = bm ? bm.qBlockSize : DENSE_TILE;
  const kvBlock = bm ? bm.kvBlockSize : DENSE_TILE;
  const qBlocks = Math.ceil(Sq / qBlock);
  const kvBlocks = Math.ceil(Skv / kvBlock);

  // Per q-tile scratch: running max m, running sum l, accumulator acc (float64).
  const m = new Float64Array(qBlock);
  const l = new Float64Array(qBlock);
  const acc = new Float64Array(qBlock * Dv);
  const s = new Float64Array(kvBlock);
  // The kv tiles of the current q tile, ascending, with a flag for "partial".
  const tiles = new Int32Array(kvBlocks);
  const partial = new Uint8Array(kvBlocks);

  const bmNum = bm ? (bm.kvNumBlocks.data as Int32Array) : undefined;
  const bmIdx = bm ? (bm.kvIndices.data as Int32Array) : undefined;
  const bmFNum = bm ? (bm.fullKvNumBlocks.data as Int32Array) : undefined;
  const bmFIdx = bm ? (bm.fullKvIndices.data as Int32Array) : undefined;
  const mask: Mask | undefined = bm?.mask;

  let lastYield = now();
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hq; h++) {
      const hk = Math.floor(h / group);
      const qBase = (b * Hq + h) * Sq;
      for (let qb = 0; qb < qBlocks; qb++) {
        throwIfCancelled(op, signal);
        if (now() - lastYield > YIELD_MS) {
          await yieldToLoop();
          throwIfCancelled(op, signal);
          lastYield = now();
        }
        const q0 = qb * qBlock;
        const rows = Math.min(qBlock, Sq - q0);
        const nt = listTiles(bm, bmNum, bmIdx, bmFNum, bmFIdx, b, h, qb, qBlocks, kvBlocks, tiles, partial);
        m.fill(-Infinity, 0, rows);
        l.fill(0, 0, rows);
        acc.fill(0, 0, rows * Dv);
        for (let t = 0; t < nt; t++) {
          // A long q row (many kv tiles) may take longer than the yield interval by itself: the
          // running state lives in this call's scratch, so pausing between kv tiles is safe.
          if (t > 0 && now() - lastYield > YIELD_MS) {
            await yieldToLoop();
            throwIfCancelled(op, signal);
            lastYield = now();
          }
          foldTile(p, b, h, hk, q0, rows, tiles[t] * kvBlock, partial[t] === 1 ? mask : undefined, m, l, acc, s);
        }
        finishRows(qBase + q0, rows, Dv, m, l, acc, out, lseOut);
      }
    }
  }
  return { out, lse: lseOut };
}

/**
 * Folds one kv tile into the running softmax of a q tile's rows. A sync function of its own so
 * V8 optimises the hot loop early (a loop inside the long async driver only gets on-stack
 * replacement, after hundreds of ms).
 */
function foldTile(
  p: TileProblem,
  b: number,
  h: number,
  hk: number,
  q0: number,
  rows: number,
  kv0: number,
  mask: Mask | undefined,
  m: Float64Array,
  l: Float64Array,
  acc: Float64Array,
  s: Float64Array,
): void {
  const { Hq, Hkv, Sq, Skv, D, Dv, q, k, v, scale, scoreMod } = p;
  const kvBlock = s.length;
  const cols = Math.min(kvBlock, Skv - kv0);
  const qBase = (b * Hq + h) * Sq;
  const kvBase = (b * Hkv + hk) * Skv;
  for (let r = 0; r < rows; r++) {
    const qi = q0 + r;
    const qOff = (qBase + qi) * D;
    // s[c] = scale · q·k for every column, four keys at a time so each q element is loaded
    // once per four dot products. Readable form:
    //   for (c) { dot = Σ_d q[qOff + d] · k[(kvBase + kv0 + c) · D + d]; s[c] = dot · scale }
    let c = 0;
    for (; c + 4 <= cols; c += 4) {
      const o0 = (kvBase + kv0 + c) * D;
      const o1 = o0 + D;
      const o2 = o1 + D;
      const o3 = o2 + D;
      let d0 = 0;
      let d1 = 0;
      let d2 = 0;
      let d3 = 0;
      for (let d = 0; d < D; d++) {
        const x = q[qOff + d];
        d0 += x * k[o0 + d];
        d1 += x * k[o1 + d];
        d2 += x * k[o2 + d];
        d3 += x * k[o3 + d];
      }
      s[c] = d0 * scale;
      s[c + 1] = d1 * scale;
      s[c + 2] = d2 * scale;
      s[c + 3] = d3 * scale;
    }
    for (; c < cols; c++) {
      const o = (kvBase + kv0 + c) * D;
      let dot = 0;
      for (let d = 0; d < D; d++) dot += q[qOff + d] * k[o + d];
      s[c] = dot * scale;
    }
    // FlexAttention's order: score mod on every score, then the mask.
    let tileMax = -Infinity;
    for (c = 0; c < cols; c++) {
      let sc = s[c];
      if (scoreMod !== undefined) sc = scoreMod.apply(sc, b, h, qi, kv0 + c);
      if (mask !== undefined && !mask.at(b, h, qi, kv0 + c)) sc = -Infinity;
      s[c] = sc;
      if (sc > tileMax) tileMax = sc;
    }
    if (tileMax === -Infinity) continue; // nothing attended in this tile
    // Online softmax: rescale what was accumulated to the new running max.
    const mOld = m[r];
    const mNew = mOld > tileMax ? mOld : tileMax;
    const alpha = Math.exp(mOld - mNew); // exp(-inf) = 0 on the first tile
    let sum = l[r] * alpha;
    const aOff = r * Dv;
    if (alpha !== 1) for (let d = 0; d < Dv; d++) acc[aOff + d] *= alpha;
    // acc += Σ_c exp(s[c] − mNew) · v[kv0 + c], four keys per pass over acc (exp(-inf) = 0
    // drops masked keys). Readable form: for (c) { p = exp(s[c] − mNew); acc += p · v[c] }
    for (c = 0; c < cols; c++) {
      const pr = Math.exp(s[c] - mNew);
      s[c] = pr;
      sum += pr;
    }
    c = 0;
    for (; c + 4 <= cols; c += 4) {
      const p0 = s[c];
      const p1 = s[c + 1];
      const p2 = s[c + 2];
      const p3 = s[c + 3];
      const o0 = (kvBase + kv0 + c) * Dv;
      if (p0 === 0 || p1 === 0 || p2 === 0 || p3 === 0) {
        // A masked key must not touch the output even where its V holds Inf or NaN (0 · Inf = NaN).
        for (let j = 0; j < 4; j++) {
          const pj = s[c + j];
          if (pj === 0) continue;
          const o = o0 + j * Dv;
          for (let d = 0; d < Dv; d++) acc[aOff + d] += pj * v[o + d];
        }
        continue;
      }
      const o1 = o0 + Dv;
      const o2 = o1 + Dv;
      const o3 = o2 + Dv;
      for (let d = 0; d < Dv; d++) acc[aOff + d] += p0 * v[o0 + d] + p1 * v[o1 + d] + p2 * v[o2 + d] + p3 * v[o3 + d];
    }
    for (; c < cols; c++) {
      const pr = s[c];
      if (pr === 0) continue;
      const o = (kvBase + kv0 + c) * Dv;
      for (let d = 0; d < Dv; d++) acc[aOff + d] += pr * v[o + d];
    }
    l[r] = sum;
    m[r] = mNew;
  }
}

/** Normalises a finished q tile into out/lse; a row that attended nothing keeps 0 and gets lse -Infinity. */
function finishRows(row0: number, rows: number, Dv: number, m: Float64Array, l: Float64Array, acc: Float64Array, out: Float32Array, lse: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const row = row0 + r;
    if (l[r] === 0 || m[r] === -Infinity) {
      lse[row] = -Infinity;
      continue;
    }
    const inv = 1 / l[r];
    const oOff = row * Dv;
    for (let d = 0; d < Dv; d++) out[oOff + d] = acc[r * Dv + d] * inv;
    lse[row] = m[r] + Math.log(l[r]);
  }
}

/**
 * Fills `tiles` with the kv blocks to visit for (b, h, qb), ascending, and `partial` with
 * whether each needs the mask; returns how many. Dense (no block mask): every block, full.
 */
function listTiles(
  bm: BlockMaskFields | undefined,
  num: Int32Array | undefined,
  idx: Int32Array | undefined,
  fnum: Int32Array | undefined,
  fidx: Int32Array | undefined,
  b: number,
  h: number,
  qb: number,
  qBlocks: number,
  kvBlocks: number,
  tiles: Int32Array,
  partial: Uint8Array,
): number {
  if (!bm) {
    for (let j = 0; j < kvBlocks; j++) {
      tiles[j] = j;
      partial[j] = 0;
    }
    return kvBlocks;
  }
  // B or H of 1 broadcasts over the call's batch or heads.
  const row = ((bm.B === 1 ? 0 : b) * bm.H + (bm.H === 1 ? 0 : h)) * qBlocks + qb;
  const np = num![row];
  const nf = fnum![row];
  // Merge the two ascending lists so the accumulation order is kv order, as a dense pass's.
  let i = 0;
  let j = 0;
  let n = 0;
  const pOff = row * kvBlocks;
  while (i < np || j < nf) {
    const a = i < np ? idx![pOff + i] : Infinity;
    const c = j < nf ? fidx![pOff + j] : Infinity;
    if (a <= c) {
      tiles[n] = a;
      partial[n++] = 1;
      i++;
    } else {
      tiles[n] = c;
      partial[n++] = 0;
      j++;
    }
  }
  // The layout promises sorted lists, but a hand-built mask may not be: sort to be safe
  // (insertion sort: n is at most kvBlocks and almost always already ordered).
  for (let a = 1; a < n; a++) {
    const t = tiles[a];
    const pa = partial[a];
    let c = a - 1;
    while (c >= 0 && tiles[c] > t) {
      tiles[c + 1] = tiles[c];
      partial[c + 1] = partial[c];
      c--;
    }
    tiles[c + 1] = t;
    partial[c + 1] = pa;
  }
  return n;
}

/** The registered "attention" implementation for backend "js". */
export async function jsAttention(args: AttentionArgs): Promise<AttentionResult> {
  return runOnHost("attention", args.q, args.k, args.v, args);
}

/** @internal Shared by attention and decode attention: widen, run the tiles, narrow. */
export async function runOnHost(
  op: string,
  qT: Tensor,
  kT: Tensor,
  vT: Tensor,
  args: { blockMask?: BlockMaskFields; scoreMod?: ScoreMod; scale: number; returnLse: boolean; signal?: AbortSignal },
): Promise<AttentionResult> {
  const [B, Hq, Sq, D] = qT.shape;
  const [, Hkv, Skv] = kT.shape;
  const Dv = vT.shape[3];
  const sol = await runAttentionTiles({
    op,
    B,
    Hq,
    Hkv,
    Sq,
    Skv,
    D,
    Dv,
    q: await hostFloat(qT),
    k: await hostFloat(kT),
    v: await hostFloat(vT),
    scale: args.scale,
    blockMask: args.blockMask,
    scoreMod: args.scoreMod,
    signal: args.signal,
  });
  const outStorage = qT.dtype === "f32" ? sol.out : fromFloat32(sol.out, qT.dtype);
  const output = new Tensor([B, Hq, Sq, vT.shape[3]], qT.dtype, outStorage);
  const res: AttentionResult = { output };
  if (args.returnLse) res.lse = new Tensor([B, Hq, Sq], "f32", sol.lse);
  return res;
}

/** Host f32 elements of a float tensor (a view for host f32, a widened copy otherwise). */
async function hostFloat(t: Tensor): Promise<Float32Array> {
  if (t.device === "cpu") return t.floatData();
  return t.toTypedArray() as Promise<Float32Array>;
}

registerOp("js", "attention", jsAttention);
