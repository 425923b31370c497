import { argError, fmtShape, SparselabError } from "../errors.js";
import { DISPLAY, type MimeBundle } from "../display.js";
import { Tensor } from "../tensor/tensor.js";
import { decodeSafetensors, encodeSafetensors } from "../tensor/io/safetensors.js";
import { TILE_EMPTY, TILE_FULL, TILE_PARTIAL, type Mask } from "./types.js";
import { countTrue } from "./masks/support/tile-scan.js";
import { drawGrid, escapeHtml } from "./masks/support/grid-text.js";
import { shiftBatchHead } from "./masks/support/shift-mask.js";
import { checkInt, describe, makeMask } from "./masks/support/make-mask.js";

/**
 * The fields of a block mask, in FlexAttention's layout so that masks move between the two.
 * For each (b, h, qBlock):
 *  - kvNumBlocks[b, h, qb] partial tiles, listed first in kvIndices[b, h, qb, :]: these need
 *    the mask evaluated inside;
 *  - fullKvNumBlocks[b, h, qb] full tiles, listed first in fullKvIndices[b, h, qb, :]: computed
 *    with no mask.
 * Any tile in neither list is empty and skipped. B or H may be 1, broadcasting over the
 * attention call's batch or heads. Index lists are sorted ascending; entries past the count
 * are unspecified (FlexAttention pads with arbitrary values; we pad with 0).
 */
export interface BlockMaskFields {
  B: number;
  H: number;
  qLen: number;
  kvLen: number;
  qBlockSize: number;
  kvBlockSize: number;
  /** i32 [B, H, ceil(qLen / qBlockSize)] */
  kvNumBlocks: Tensor<"i32">;
  /** i32 [B, H, qBlocks, ceil(kvLen / kvBlockSize)] */
  kvIndices: Tensor<"i32">;
  /** i32 [B, H, qBlocks] */
  fullKvNumBlocks: Tensor<"i32">;
  /** i32 [B, H, qBlocks, kvBlocks] */
  fullKvIndices: Tensor<"i32">;
  /** Refines partial tiles. Required when any tile is partial. */
  mask?: Mask;
}

/** What `density()` measures; see BlockMask.density. */
export interface DensityOptions {
  /** "block": computed tiles (partial + full); "element": true mask entries. Default "block". */
  level?: "block" | "element";
  /** "full": over everything; "causal": over the causal lower triangle. Default "full". */
  denominator?: "full" | "causal";
}

/** Tile counts over the whole mask (all b, h). */
export interface BlockCounts {
  partial: number;
  full: number;
  empty: number;
  total: number;
}

/** Block size as one number (both sides) or [qBlockSize, kvBlockSize]. */
export type BlockSize = number | readonly [number, number];

/** Reads a block size option into [q, kv], rejecting non-positive sizes. */
export function blockSizes(op: string, bs: BlockSize | undefined): [number, number] {
  if (bs === undefined) return [128, 128];
  if (typeof bs === "number") {
    checkInt(op, "blockSize", bs, 1);
    return [bs, bs];
  }
  if (!Array.isArray(bs) || bs.length !== 2) argError(op, "blockSize", "a positive integer or [qBlockSize, kvBlockSize]", describe(bs));
  checkInt(op, "blockSize[0]", bs[0], 1);
  checkInt(op, "blockSize[1]", bs[1], 1);
  return [bs[0], bs[1]];
}

/** Passed by the builders in this module (their lists are correct by construction) to skip the O(entries) index check. */
const TRUSTED = Symbol("trusted");

const i32 = (shape: number[], data: Int32Array) => new Tensor<"i32">(shape, "i32", data);

/**
 * Builds the four FlexAttention arrays from per-(b, h) tile classes. `classesOf(b, h)` returns
 * [qBlocks * kvBlocks] classes; `shareKey(b, h)` lets (b, h) pairs with the same classes share
 * the work: rows of the first are copied, not recomputed.
 */
export function fieldsFromClasses(
  B: number,
  H: number,
  nq: number,
  nk: number,
  classesOf: (b: number, h: number) => Uint8Array,
  shareKey: (b: number, h: number) => number = (b, h) => b * H + h,
): Pick<BlockMaskFields, "kvNumBlocks" | "kvIndices" | "fullKvNumBlocks" | "fullKvIndices"> {
  const BH = B * H;
  const kvNum = new Int32Array(BH * nq), fullNum = new Int32Array(BH * nq);
  const kvIdx = new Int32Array(BH * nq * nk), fullIdx = new Int32Array(BH * nq * nk);
  const firstOf = new Map<number, number>();
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const bh = b * H + h;
      const key = shareKey(b, h);
      const src = firstOf.get(key);
      if (src !== undefined) {
        kvNum.copyWithin(bh * nq, src * nq, (src + 1) * nq);
        fullNum.copyWithin(bh * nq, src * nq, (src + 1) * nq);
        kvIdx.copyWithin(bh * nq * nk, src * nq * nk, (src + 1) * nq * nk);
        fullIdx.copyWithin(bh * nq * nk, src * nq * nk, (src + 1) * nq * nk);
        continue;
      }
      firstOf.set(key, bh);
      const cls = classesOf(b, h);
      for (let i = 0; i < nq; i++) {
        const row = (bh * nq + i) * nk;
        let p = 0, f = 0;
        for (let j = 0; j < nk; j++) {
          const c = cls[i * nk + j];
          if (c === TILE_PARTIAL) kvIdx[row + p++] = j;
          else if (c === TILE_FULL) fullIdx[row + f++] = j;
        }
        kvNum[bh * nq + i] = p;
        fullNum[bh * nq + i] = f;
      }
    }
  return {
    kvNumBlocks: i32([B, H, nq], kvNum),
    kvIndices: i32([B, H, nq, nk], kvIdx),
    fullKvNumBlocks: i32([B, H, nq], fullNum),
    fullKvIndices: i32([B, H, nq, nk], fullIdx),
  };
}

/**
 * A block mask: which (qBlock x kvBlock) tiles of the score matrix are empty (skipped),
 * partial (computed with the mask applied inside) or full (computed without it), per batch and
 * head, in FlexAttention's layout (see BlockMaskFields). Make one with `sl.createBlockMask`,
 * `BlockMask.fromKvBlocks`, `BlockMask.fromDense` or `BlockMask.fromSafetensors`.
 * @example
 * const bm = sl.createBlockMask(sl.masks.causal(), { qLen: 1024, kvLen: 1024 });
 * bm.density({ level: "block", denominator: "full" });   // 0.5625 (36 of 64 tiles)
 * console.log(bm.toString());
 */
export class BlockMask implements BlockMaskFields {
  readonly B: number;
  readonly H: number;
  readonly qLen: number;
  readonly kvLen: number;
  readonly qBlockSize: number;
  readonly kvBlockSize: number;
  readonly kvNumBlocks: Tensor<"i32">;
  readonly kvIndices: Tensor<"i32">;
  readonly fullKvNumBlocks: Tensor<"i32">;
  readonly fullKvIndices: Tensor<"i32">;
  readonly mask?: Mask;

  /** Wraps fields after checking their shapes, counts and indices. */
  constructor(f: BlockMaskFields, trusted?: typeof TRUSTED) {
    const op = "BlockMask";
    this.B = checkInt(op, "B", f.B, 1);
    this.H = checkInt(op, "H", f.H, 1);
    this.qLen = checkInt(op, "qLen", f.qLen, 1);
    this.kvLen = checkInt(op, "kvLen", f.kvLen, 1);
    this.qBlockSize = checkInt(op, "qBlockSize", f.qBlockSize, 1);
    this.kvBlockSize = checkInt(op, "kvBlockSize", f.kvBlockSize, 1);
    const nq = this.qBlocks, nk = this.kvBlocks;
    const want = (name: string, t: unknown, shape: number[]) => {
      if (!(t instanceof Tensor) || t.dtype !== "i32" || t.device !== "cpu")
        argError(op, name, `an i32 cpu Tensor ${fmtShape(shape)}`, t instanceof Tensor ? `${t.dtype} on ${t.device}` : describe(t));
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) argError(op, name, `shape ${fmtShape(shape)}`, fmtShape(t.shape));
      return t as Tensor<"i32">;
    };
    this.kvNumBlocks = want("kvNumBlocks", f.kvNumBlocks, [this.B, this.H, nq]);
    this.kvIndices = want("kvIndices", f.kvIndices, [this.B, this.H, nq, nk]);
    this.fullKvNumBlocks = want("fullKvNumBlocks", f.fullKvNumBlocks, [this.B, this.H, nq]);
    this.fullKvIndices = want("fullKvIndices", f.fullKvIndices, [this.B, this.H, nq, nk]);
    let partial = 0;
    const pn = this.kvNumBlocks.data as Int32Array, fn = this.fullKvNumBlocks.data as Int32Array;
    const pi = this.kvIndices.data as Int32Array, fi = this.fullKvIndices.data as Int32Array;
    if (trusted === TRUSTED) for (let r = 0; r < pn.length; r++) partial += pn[r];
    else for (let r = 0; r < pn.length; r++) {
      if (!(pn[r] >= 0 && fn[r] >= 0 && pn[r] + fn[r] <= nk))
        argError(op, "kvNumBlocks/fullKvNumBlocks", `counts >= 0 whose sum is <= ${nk} kv blocks`, `${pn[r]} + ${fn[r]} at row ${r}`);
      partial += pn[r];
      for (const [idx, cnt, name] of [[pi, pn[r], "kvIndices"], [fi, fn[r], "fullKvIndices"]] as const)
        for (let k = 0; k < cnt; k++) {
          const j = idx[r * nk + k];
          if (!(j >= 0 && j < nk) || (k > 0 && j <= idx[r * nk + k - 1]))
            argError(op, name, `strictly ascending kv block indices in [0, ${nk})`, `${j} at row ${r}, entry ${k}`);
        }
    }
    if (f.mask !== undefined) this.mask = f.mask;
    else if (partial > 0) argError(op, "mask", "a Mask to refine the partial tiles (there are partial tiles)", "undefined");
  }

  /** Number of query blocks: ceil(qLen / qBlockSize). */
  get qBlocks(): number {
    return Math.ceil(this.qLen / this.qBlockSize);
  }
  /** Number of key blocks: ceil(kvLen / kvBlockSize). */
  get kvBlocks(): number {
    return Math.ceil(this.kvLen / this.kvBlockSize);
  }

  /**
   * Tile classes of one (b, h): Uint8Array [qBlocks * kvBlocks], 0 empty, 1 partial, 2 full.
   * @example
   * sl.createBlockMask(sl.masks.causal(), { qLen: 256, kvLen: 256 }).tileClasses(0, 0);  // [1, 0, 2, 1]
   */
  tileClasses(b = 0, h = 0): Uint8Array {
    checkInt("BlockMask.tileClasses", "b", b, 0, this.B - 1);
    checkInt("BlockMask.tileClasses", "h", h, 0, this.H - 1);
    const nq = this.qBlocks, nk = this.kvBlocks;
    const out = new Uint8Array(nq * nk);
    const bh = b * this.H + h;
    const pn = this.kvNumBlocks.data, fn = this.fullKvNumBlocks.data, pi = this.kvIndices.data, fi = this.fullKvIndices.data;
    for (let i = 0; i < nq; i++) {
      const r = bh * nq + i;
      for (let k = 0; k < pn[r]; k++) out[i * nk + pi[r * nk + k]] = TILE_PARTIAL;
      for (let k = 0; k < fn[r]; k++) out[i * nk + fi[r * nk + k]] = TILE_FULL;
    }
    return out;
  }

  /**
   * Counts of partial, full and empty tiles over every (b, h).
   * @example
   * sl.createBlockMask(sl.masks.causal(), { qLen: 512, kvLen: 512 }).blockCounts();  // { partial: 4, full: 6, empty: 6, total: 16 }
   */
  blockCounts(): BlockCounts {
    let partial = 0, full = 0;
    const pn = this.kvNumBlocks.data, fn = this.fullKvNumBlocks.data;
    for (let r = 0; r < pn.length; r++) {
      partial += pn[r];
      full += fn[r];
    }
    const total = this.B * this.H * this.qBlocks * this.kvBlocks;
    return { partial, full, empty: total - partial - full, total };
  }

  /**
   * Density, with its definition chosen explicitly:
   *  - level "block": computed tiles (partial + full) divided by all tiles
   *    (denominator "full": B*H*qBlocks*kvBlocks, FlexAttention's sparsity() basis) or by the
   *    tiles that hold at least one causal entry q >= kv (denominator "causal", as
   *    SeerAttention and XAttention report). The numerator always counts every computed tile,
   *    so a non-causal mask can exceed 1 with the causal denominator.
   *  - level "element": true mask entries, counted exactly (full tiles by area, partial tiles
   *    through the mask's bounds and elements), divided by B*H*qLen*kvLen ("full") or by the
   *    number of entries with q >= kv ("causal").
   * B or H of 1 (broadcast) count once.
   * @example
   * const bm = sl.createBlockMask(sl.masks.causal(), { qLen: 256, kvLen: 256, blockSize: 128 });
   * bm.density({ level: "block", denominator: "full" });      // 0.75
   * bm.density({ level: "element", denominator: "causal" });  // 1
   */
  density(opts: DensityOptions = {}): number {
    const level = opts.level ?? "block";
    const den = opts.denominator ?? "full";
    if (level !== "block" && level !== "element") argError("BlockMask.density", "level", '"block" or "element"', describe(level));
    if (den !== "full" && den !== "causal") argError("BlockMask.density", "denominator", '"full" or "causal"', describe(den));
    const BH = this.B * this.H;
    const nq = this.qBlocks, nk = this.kvBlocks;
    if (level === "block") {
      const c = this.blockCounts();
      if (den === "full") return (c.partial + c.full) / c.total;
      let causalTiles = 0;
      for (let i = 0; i < nq; i++) causalTiles += Math.min(nk, Math.floor((Math.min((i + 1) * this.qBlockSize, this.qLen) - 1) / this.kvBlockSize) + 1);
      return (c.partial + c.full) / (BH * causalTiles);
    }
    let count = 0;
    const pn = this.kvNumBlocks.data, fn = this.fullKvNumBlocks.data, pi = this.kvIndices.data, fi = this.fullKvIndices.data;
    for (let b = 0; b < this.B; b++)
      for (let h = 0; h < this.H; h++)
        for (let i = 0; i < nq; i++) {
          const r = (b * this.H + h) * nq + i;
          const q0 = i * this.qBlockSize, q1 = Math.min(q0 + this.qBlockSize, this.qLen);
          for (let k = 0; k < fn[r]; k++) {
            const kv0 = fi[r * nk + k] * this.kvBlockSize;
            count += (q1 - q0) * (Math.min(kv0 + this.kvBlockSize, this.kvLen) - kv0);
          }
          for (let k = 0; k < pn[r]; k++) {
            const kv0 = pi[r * nk + k] * this.kvBlockSize;
            count += countTrue(this.mask!, b, h, q0, q1, kv0, Math.min(kv0 + this.kvBlockSize, this.kvLen));
          }
        }
    if (den === "full") return count / (BH * this.qLen * this.kvLen);
    let causal = 0;
    for (let q = 0; q < this.qLen; q++) causal += Math.min(q + 1, this.kvLen);
    return count / (BH * causal);
  }

  /**
   * The tile classes as a u8 Tensor [B, H, qBlocks, kvBlocks]: 0 empty, 1 partial (computed with
   * the mask), 2 full (computed without it). `x > 0` is "tile computed".
   * @example
   * const t = sl.createBlockMask(sl.masks.causal(), { qLen: 512, kvLen: 512 }).toDense();
   * await t.toArray();  // [[[[1,0,0,0],[2,1,0,0],[2,2,1,0],[2,2,2,1]]]]
   */
  toDense(): Tensor<"u8"> {
    const nq = this.qBlocks, nk = this.kvBlocks;
    const out = new Uint8Array(this.B * this.H * nq * nk);
    for (let b = 0; b < this.B; b++) for (let h = 0; h < this.H; h++) out.set(this.tileClasses(b, h), (b * this.H + h) * nq * nk);
    return new Tensor<"u8">([this.B, this.H, nq, nk], "u8", out);
  }

  /**
   * The element mask the block mask stands for, as a bool Tensor [B, H, qLen, kvLen]: full
   * tiles true, partial tiles from the mask, empty tiles false. For small sizes only
   * (at most 2^26 elements).
   * @example
   * const m = sl.createBlockMask(sl.masks.slidingWindow(4), { qLen: 16, kvLen: 16, blockSize: 8 }).toDenseMask();
   * m.shape;  // [1, 1, 16, 16]
   */
  toDenseMask(): Tensor<"bool"> {
    const n = this.B * this.H * this.qLen * this.kvLen;
    if (n > 2 ** 26) argError("BlockMask.toDenseMask", "size", "at most 2^26 elements (B*H*qLen*kvLen)", `${n}`);
    const out = new Uint8Array(n);
    const nk = this.kvBlocks;
    for (let b = 0; b < this.B; b++)
      for (let h = 0; h < this.H; h++) {
        const cls = this.tileClasses(b, h);
        const base = (b * this.H + h) * this.qLen * this.kvLen;
        for (let q = 0; q < this.qLen; q++) {
          const i = Math.floor(q / this.qBlockSize);
          for (let kv = 0; kv < this.kvLen; kv++) {
            const c = cls[i * nk + Math.floor(kv / this.kvBlockSize)];
            out[base + q * this.kvLen + kv] = c === TILE_FULL ? 1 : c === TILE_PARTIAL ? (this.mask!.at(b, h, q, kv) ? 1 : 0) : 0;
          }
        }
      }
    return new Tensor<"bool">([this.B, this.H, this.qLen, this.kvLen], "bool", out);
  }

  /**
   * The (b, h) slice(s): `slice({ b: 0 })`, `slice({ h: 3 })`, `slice({ b: 1, h: [0, 4] })`
   * (a number picks one, [start, end) a range; omitted = all). The mask is shifted so that
   * index 0 of the slice evaluates as the original (b, h). A broadcast dimension (size 1)
   * accepts only index 0.
   * @example
   * const bm = sl.createBlockMask(sl.mask("q >= kv + h"), { H: 8, qLen: 256, kvLen: 256, blockSize: 64 });
   * bm.slice({ h: 3 }).H;  // 1
   */
  slice(sel: { b?: number | readonly [number, number]; h?: number | readonly [number, number] }): BlockMask {
    const range = (v: number | readonly [number, number] | undefined, n: number, name: string): [number, number] => {
      if (v === undefined) return [0, n];
      if (typeof v === "number") {
        checkInt("BlockMask.slice", name, v, 0, n - 1);
        return [v, v + 1];
      }
      if (!Array.isArray(v) || v.length !== 2 || !(v[0] >= 0 && v[0] < v[1] && v[1] <= n))
        argError("BlockMask.slice", name, `an index in [0, ${n}) or a range [start, end) inside it`, describe(v));
      return [v[0], v[1]];
    };
    const [b0, b1] = range(sel?.b, this.B, "b");
    const [h0, h1] = range(sel?.h, this.H, "h");
    const nq = this.qBlocks, nk = this.kvBlocks;
    const nB = b1 - b0, nH = h1 - h0;
    const take = (t: Tensor<"i32">, row: number) => {
      const src = t.data as Int32Array;
      const out = new Int32Array(nB * nH * row);
      for (let b = 0; b < nB; b++)
        for (let h = 0; h < nH; h++) {
          const from = ((b0 + b) * this.H + h0 + h) * row;
          out.set(src.subarray(from, from + row), (b * nH + h) * row);
        }
      return out;
    };
    return new BlockMask({
      B: nB,
      H: nH,
      qLen: this.qLen,
      kvLen: this.kvLen,
      qBlockSize: this.qBlockSize,
      kvBlockSize: this.kvBlockSize,
      kvNumBlocks: i32([nB, nH, nq], take(this.kvNumBlocks, nq)),
      kvIndices: i32([nB, nH, nq, nk], take(this.kvIndices, nq * nk)),
      fullKvNumBlocks: i32([nB, nH, nq], take(this.fullKvNumBlocks, nq)),
      fullKvIndices: i32([nB, nH, nq, nk], take(this.fullKvIndices, nq * nk)),
      mask: this.mask ? shiftBatchHead(this.mask, b0, h0) : undefined,
    }, TRUSTED);
  }

  /**
   * The transposed lists FlexAttention keeps for the backward pass: for each (b, h, kvBlock),
   * the query blocks whose tile is partial (qNumBlocks / qIndices) or full (fullQNumBlocks /
   * fullQIndices), ascending, padded with 0.
   * @example
   * const { qNumBlocks } = sl.createBlockMask(sl.masks.causal(), { qLen: 256, kvLen: 256 }).qBlockLists();
   */
  qBlockLists(): { qNumBlocks: Tensor<"i32">; qIndices: Tensor<"i32">; fullQNumBlocks: Tensor<"i32">; fullQIndices: Tensor<"i32"> } {
    const nq = this.qBlocks, nk = this.kvBlocks, BH = this.B * this.H;
    const qn = new Int32Array(BH * nk), fqn = new Int32Array(BH * nk);
    const qi = new Int32Array(BH * nk * nq), fqi = new Int32Array(BH * nk * nq);
    for (let bh = 0; bh < BH; bh++) {
      const cls = this.tileClasses(Math.floor(bh / this.H), bh % this.H);
      for (let j = 0; j < nk; j++) {
        const r = bh * nk + j;
        for (let i = 0; i < nq; i++) {
          const c = cls[i * nk + j];
          if (c === TILE_PARTIAL) qi[r * nq + qn[r]++] = i;
          else if (c === TILE_FULL) fqi[r * nq + fqn[r]++] = i;
        }
      }
    }
    return {
      qNumBlocks: i32([this.B, this.H, nk], qn),
      qIndices: i32([this.B, this.H, nk, nq], qi),
      fullQNumBlocks: i32([this.B, this.H, nk], fqn),
      fullQIndices: i32([this.B, this.H, nk, nq], fqi),
    };
  }

  /**
   * A text picture of one (b, h) (default 0, 0): '█' full, '░' partial, '·' empty; large
   * grids are drawn coarser (one character per group of tiles, '░' when the group is mixed).
   * @example
   * console.log(sl.createBlockMask(sl.masks.slidingWindow(256), { qLen: 4096, kvLen: 4096 }).toString({ maxCols: 32 }));
   */
  toString(opts: { b?: number; h?: number; maxCols?: number; maxRows?: number } = {}): string {
    const b = opts.b ?? 0, h = opts.h ?? 0;
    const pic = drawGrid(this.tileClasses(b, h), this.qBlocks, this.kvBlocks, opts.maxCols ?? 64, opts.maxRows ?? 48);
    return [this.#header(b, h, pic.group), ...pic.lines].join("\n");
  }

  #header(b: number, h: number, group: number): string {
    const c = this.blockCounts();
    const pct = (((c.partial + c.full) / c.total) * 100).toFixed(c.partial + c.full < c.total / 100 ? 3 : 1);
    return (
      `BlockMask(B=${this.B}, H=${this.H}, qLen=${this.qLen}, kvLen=${this.kvLen}, block=${this.qBlockSize}x${this.kvBlockSize}` +
      `${this.mask ? `, mask=${this.mask.name}` : ""}) ${pct}% of tiles computed (block level, full denominator); ` +
      `b=${b} h=${h}${group > 1 ? `, 1 char = ${group}x${group} tiles` : ""}; █ full ░ partial · empty`
    );
  }

  /** Jupyter display: the text grid, and an HTML version of it. */
  [DISPLAY](): MimeBundle {
    const pic = drawGrid(this.tileClasses(0, 0), this.qBlocks, this.kvBlocks, 96, 64);
    const head = this.#header(0, 0, pic.group);
    const html =
      `<div class="sparselab-blockmask"><div style="font-family:monospace;font-size:12px;margin-bottom:4px">${escapeHtml(head)}</div>` +
      `<pre style="line-height:1;font-size:10px;letter-spacing:0">${escapeHtml(pic.lines.join("\n"))}</pre></div>`;
    return { "text/plain": this.toString(), "text/html": html };
  }

  /**
   * Builds a block mask from FlexAttention's kv lists (BlockMask.from_kv_blocks): counts
   * [B, H, qBlocks] and indices [B, H, qBlocks, kvBlocks] (i32 Tensors). Entries past each count
   * are ignored; listed indices are sorted. qLen / kvLen default to whole blocks.
   * @example
   * const num = sl.tensor([[[1, 1]]], { dtype: "i32" });
   * const idx = sl.tensor([[[[0, 0], [1, 0]]]], { dtype: "i32" });
   * const full = sl.tensor([[[0, 1]]], { dtype: "i32" });
   * const fidx = sl.tensor([[[[0, 0], [0, 0]]]], { dtype: "i32" });
   * const bm = sl.BlockMask.fromKvBlocks(num, idx, full, fidx, { blockSize: 128, mask: sl.masks.causal() });
   */
  static fromKvBlocks(
    kvNumBlocks: Tensor,
    kvIndices: Tensor,
    fullKvNumBlocks?: Tensor,
    fullKvIndices?: Tensor,
    opts: { blockSize?: BlockSize; qLen?: number; kvLen?: number; mask?: Mask } = {},
  ): BlockMask {
    const op = "BlockMask.fromKvBlocks";
    for (const [n, t] of [["kvNumBlocks", kvNumBlocks], ["kvIndices", kvIndices]] as const)
      if (!(t instanceof Tensor) || t.dtype !== "i32") argError(op, n, "an i32 Tensor", describe(t));
    if (kvNumBlocks.ndim !== 3) argError(op, "kvNumBlocks", "shape [B, H, qBlocks]", fmtShape(kvNumBlocks.shape));
    const [B, H, nq] = kvNumBlocks.shape;
    if (kvIndices.ndim !== 4 || kvIndices.shape[0] !== B || kvIndices.shape[1] !== H || kvIndices.shape[2] !== nq)
      argError(op, "kvIndices", `shape [${B}, ${H}, ${nq}, kvBlocks]`, fmtShape(kvIndices.shape));
    const nk = kvIndices.shape[3];
    if ((fullKvNumBlocks === undefined) !== (fullKvIndices === undefined))
      argError(op, "fullKvNumBlocks/fullKvIndices", "both given or both omitted", fullKvNumBlocks ? "only fullKvNumBlocks" : "only fullKvIndices");
    const [qbs, kvbs] = blockSizes(op, opts.blockSize);
    const qLen = opts.qLen ?? nq * qbs, kvLen = opts.kvLen ?? nk * kvbs;
    if (Math.ceil(qLen / qbs) !== nq) argError(op, "qLen", `a length with ceil(qLen / ${qbs}) = ${nq} query blocks`, String(qLen));
    if (Math.ceil(kvLen / kvbs) !== nk) argError(op, "kvLen", `a length with ceil(kvLen / ${kvbs}) = ${nk} kv blocks`, String(kvLen));
    const cls = new Uint8Array(B * H * nq * nk);
    const mark = (num: Tensor, idx: Tensor, c: number, name: string) => {
      if (!(num instanceof Tensor) || num.dtype !== "i32" || num.shape.join() !== kvNumBlocks.shape.join())
        argError(op, `${name}NumBlocks`, `an i32 Tensor ${fmtShape(kvNumBlocks.shape)}`, describe(num));
      if (!(idx instanceof Tensor) || idx.dtype !== "i32" || idx.shape.join() !== kvIndices.shape.join())
        argError(op, `${name}Indices`, `an i32 Tensor ${fmtShape(kvIndices.shape)}`, describe(idx));
      const n = num.data, ix = idx.data;
      for (let r = 0; r < B * H * nq; r++) {
        if (!(n[r] >= 0 && n[r] <= nk)) argError(op, `${name}NumBlocks`, `counts in [0, ${nk}]`, `${n[r]} at row ${r}`);
        for (let k = 0; k < n[r]; k++) {
          const j = ix[r * nk + k];
          if (!(j >= 0 && j < nk)) argError(op, `${name}Indices`, `indices in [0, ${nk})`, `${j} at row ${r}`);
          if (cls[r * nk + j] !== 0) argError(op, `${name}Indices`, "each kv block listed once per row (partial and full lists disjoint)", `block ${j} twice at row ${r}`);
          cls[r * nk + j] = c;
        }
      }
    };
    mark(kvNumBlocks, kvIndices, TILE_PARTIAL, "kv");
    if (fullKvNumBlocks && fullKvIndices) mark(fullKvNumBlocks, fullKvIndices, TILE_FULL, "fullKv");
    return BlockMask.#fromClasses(cls, B, H, qLen, kvLen, qbs, kvbs, opts.mask);
  }

  /**
   * Builds a block mask from tile classes: a u8 Tensor or Uint8Array of 0 (empty), 1 (partial),
   * 2 (full), shaped [B, H, qBlocks, kvBlocks] or [qBlocks, kvBlocks] (then B = H = 1).
   * @example
   * const cls = sl.tensor([[1, 0], [2, 1]], { dtype: "u8" });
   * const bm = sl.BlockMask.fromDense(cls, { qLen: 256, kvLen: 256, mask: sl.masks.causal() });
   */
  static fromDense(tileClasses: Tensor, opts: { blockSize?: BlockSize; qLen?: number; kvLen?: number; mask?: Mask } = {}): BlockMask {
    const op = "BlockMask.fromDense";
    if (!(tileClasses instanceof Tensor) || (tileClasses.dtype !== "u8" && tileClasses.dtype !== "i32" && tileClasses.dtype !== "bool"))
      argError(op, "tileClasses", "a u8 Tensor [B, H, qBlocks, kvBlocks] or [qBlocks, kvBlocks]", describe(tileClasses));
    const s = tileClasses.shape;
    if (s.length !== 2 && s.length !== 4) argError(op, "tileClasses", "shape [B, H, qBlocks, kvBlocks] or [qBlocks, kvBlocks]", fmtShape(s));
    const [B, H, nq, nk] = s.length === 4 ? s : [1, 1, s[0], s[1]];
    const [qbs, kvbs] = blockSizes(op, opts.blockSize);
    const qLen = opts.qLen ?? nq * qbs, kvLen = opts.kvLen ?? nk * kvbs;
    if (Math.ceil(qLen / qbs) !== nq) argError(op, "qLen", `a length with ceil(qLen / ${qbs}) = ${nq} query blocks`, String(qLen));
    if (Math.ceil(kvLen / kvbs) !== nk) argError(op, "kvLen", `a length with ceil(kvLen / ${kvbs}) = ${nk} kv blocks`, String(kvLen));
    const src = tileClasses.data;
    const cls = new Uint8Array(src.length);
    for (let i = 0; i < src.length; i++) {
      if (!(src[i] === 0 || src[i] === 1 || src[i] === 2)) argError(op, "tileClasses", "values 0 (empty), 1 (partial) or 2 (full)", `${src[i]} at ${i}`);
      cls[i] = src[i];
    }
    return BlockMask.#fromClasses(cls, B, H, qLen, kvLen, qbs, kvbs, opts.mask);
  }

  static #fromClasses(cls: Uint8Array, B: number, H: number, qLen: number, kvLen: number, qbs: number, kvbs: number, mask?: Mask): BlockMask {
    const nq = Math.ceil(qLen / qbs), nk = Math.ceil(kvLen / kvbs);
    const f = fieldsFromClasses(B, H, nq, nk, (b, h) => cls.subarray((b * H + h) * nq * nk, (b * H + h + 1) * nq * nk));
    return new BlockMask({ B, H, qLen, kvLen, qBlockSize: qbs, kvBlockSize: kvbs, ...f, mask }, TRUSTED);
  }

  /** @internal For createBlockMask: wraps lists built by fieldsFromClasses without re-checking every index. */
  static fromTrustedFields(f: BlockMaskFields): BlockMask {
    return new BlockMask(f, TRUSTED);
  }

  /**
   * safetensors bytes with FlexAttention's field names (kv_num_blocks, kv_indices,
   * full_kv_num_blocks, full_kv_indices, q_num_blocks, q_indices, full_q_num_blocks,
   * full_q_indices; int32) and metadata BLOCK_SIZE "[q, kv]" and seq_lengths "[qLen, kvLen]"
   * (JSON), plus mask_name. In PyTorch:
   * `BlockMask.from_kv_blocks(t["kv_num_blocks"], t["kv_indices"], t["full_kv_num_blocks"],
   *  t["full_kv_indices"], BLOCK_SIZE=tuple(json.loads(meta["BLOCK_SIZE"])), mask_mod=...,
   *  seq_lengths=tuple(json.loads(meta["seq_lengths"])))`.
   *
   * `convention`: "torch" (default) writes exactly what PyTorch's create_block_mask makes: when
   * a length is not a multiple of its block size, PyTorch marks every tile of the ragged last
   * query-block row and kv-block column partial (its padding is masked there), even where all
   * real elements are true; so full tiles there are written as partial. "exact" writes our
   * classes unchanged (ragged tiles classified over their real elements only). Checked against
   * PyTorch 2.11 by bench/create-block-mask/torch_check.py.
   * @example
   * const bytes = await bm.toSafetensors();
   * const back = sl.BlockMask.fromSafetensors(bytes, { mask: sl.masks.causal() });
   */
  async toSafetensors(opts: { convention?: "torch" | "exact" } = {}): Promise<Uint8Array> {
    const convention = opts.convention ?? "torch";
    if (convention !== "torch" && convention !== "exact") argError("BlockMask.toSafetensors", "convention", '"torch" or "exact"', describe(convention));
    const src = convention === "torch" ? this.#raggedEdgesPartial() : this;
    const q = src.qBlockLists();
    return encodeSafetensors(
      {
        kv_num_blocks: src.kvNumBlocks,
        kv_indices: src.kvIndices,
        full_kv_num_blocks: src.fullKvNumBlocks,
        full_kv_indices: src.fullKvIndices,
        q_num_blocks: q.qNumBlocks,
        q_indices: q.qIndices,
        full_q_num_blocks: q.fullQNumBlocks,
        full_q_indices: q.fullQIndices,
      },
      {
        format: "sparselab.block_mask",
        convention,
        BLOCK_SIZE: JSON.stringify([this.qBlockSize, this.kvBlockSize]),
        seq_lengths: JSON.stringify([this.qLen, this.kvLen]),
        ...(this.mask ? { mask_name: this.mask.name } : {}),
      },
    );
  }

  /** This mask with full tiles on a ragged last row / column made partial (PyTorch's convention). */
  #raggedEdgesPartial(): BlockMask {
    const nq = this.qBlocks, nk = this.kvBlocks;
    const raggedRow = this.qLen % this.qBlockSize !== 0, raggedCol = this.kvLen % this.kvBlockSize !== 0;
    if (!raggedRow && !raggedCol) return this;
    const f = fieldsFromClasses(this.B, this.H, nq, nk, (b, h) => {
      const cls = this.tileClasses(b, h);
      if (raggedRow) for (let j = 0; j < nk; j++) if (cls[(nq - 1) * nk + j] === TILE_FULL) cls[(nq - 1) * nk + j] = TILE_PARTIAL;
      if (raggedCol) for (let i = 0; i < nq; i++) if (cls[i * nk + nk - 1] === TILE_FULL) cls[i * nk + nk - 1] = TILE_PARTIAL;
      return cls;
    });
    // a fully-true ragged tile becomes partial: refine it with the mask, or with "attend" if there is none
    const mask = this.mask ?? makeMask({ kind: "all", name: "all", params: {}, at: () => true, program: { expr: { t: "num", v: 1 }, tables: [] } });
    return new BlockMask({ B: this.B, H: this.H, qLen: this.qLen, kvLen: this.kvLen, qBlockSize: this.qBlockSize, kvBlockSize: this.kvBlockSize, ...f, mask }, TRUSTED);
  }

  /**
   * Reads a block mask written by toSafetensors (or by PyTorch with the same names): needs
   * kv_num_blocks and kv_indices (full_* optional), BLOCK_SIZE in the metadata (default 128)
   * and seq_lengths (default whole blocks). Pass the mask that refines partial tiles.
   * @example
   * const bm = sl.BlockMask.fromSafetensors(await readFile("block_mask.safetensors"), { mask: sl.masks.causal() });
   */
  static fromSafetensors(bytes: Uint8Array, opts: { mask?: Mask } = {}): BlockMask {
    const op = "BlockMask.fromSafetensors";
    const { tensors, metadata } = decodeSafetensors(bytes);
    const get = (name: string, required: boolean) => {
      const t = tensors[name];
      if (!t) {
        if (required) throw new SparselabError(op, `the file has no tensor '${name}' (found: ${Object.keys(tensors).join(", ") || "none"})`);
        return undefined;
      }
      if (t.dtype !== "i32") argError(op, name, "an I32 tensor", t.dtype);
      return t as Tensor<"i32">;
    };
    const parsePair = (key: string): [number, number] | undefined => {
      const v = metadata[key];
      if (v === undefined) return undefined;
      let p: unknown;
      try {
        p = JSON.parse(v.replace(/\(/g, "[").replace(/\)/g, "]"));
      } catch {
        p = undefined;
      }
      if (typeof p === "number") return [p, p];
      if (!Array.isArray(p) || p.length !== 2 || !p.every((x) => Number.isInteger(x) && x > 0)) argError(op, `__metadata__.${key}`, "a pair like [128, 128]", JSON.stringify(v));
      return [p[0], p[1]];
    };
    const bs = parsePair("BLOCK_SIZE");
    const lens = parsePair("seq_lengths");
    return BlockMask.fromKvBlocks(get("kv_num_blocks", true)!, get("kv_indices", true)!, get("full_kv_num_blocks", false), get("full_kv_indices", false), {
      blockSize: bs,
      qLen: lens?.[0],
      kvLen: lens?.[1],
      mask: opts.mask,
    });
  }
}

/** Reads one of a device block mask's arrays back synchronously (waits for the device); supplied by the backend that made it. */
export type DeviceArrayReader = (t: Tensor<"i32">) => Tensor<"i32">;

/**
 * A block mask whose four FlexAttention arrays are device tensors (i32, the same shapes,
 * contents, order and zero padding as `BlockMask`'s), made by
 * `sl.createBlockMask(mask, { ..., device: "cuda" })`. Pass it to `sl.attention` with CUDA
 * q/k/v: the kernel reads the arrays where they are, with no copy to the host and back.
 *
 * The host view is lazy: `host()` (and every method that reads tiles: density, blockCounts,
 * tileClasses, toString, toDense, toDenseMask, qBlockLists, slice, toSafetensors, the notebook
 * display) reads the arrays back once, waiting for the device, and keeps that BlockMask;
 * `await cpu()` does the same without blocking the JS thread. `dispose()` frees the device
 * arrays at once (the host copy, if read, stays); do not pass a disposed mask to attention.
 * @example
 * const dbm = sl.createBlockMask(sl.masks.slidingWindow(1024), { H: 16, qLen: 16384, kvLen: 16384, device: "cuda" });
 * const q = sl.randn([1, 16, 16384, 128], { seed: 1 }).astype("bf16").to("cuda");
 * const out = await sl.attention(q, q, q, { blockMask: dbm });   // arrays never leave the GPU
 * dbm.density();            // reads the arrays back once (lazily), then as BlockMask.density
 * dbm.dispose();
 */
export class DeviceBlockMask implements BlockMaskFields {
  readonly B: number;
  readonly H: number;
  readonly qLen: number;
  readonly kvLen: number;
  readonly qBlockSize: number;
  readonly kvBlockSize: number;
  /** i32 [B, H, qBlocks], on the device. */
  readonly kvNumBlocks: Tensor<"i32">;
  /** i32 [B, H, qBlocks, kvBlocks], on the device. */
  readonly kvIndices: Tensor<"i32">;
  /** i32 [B, H, qBlocks], on the device. */
  readonly fullKvNumBlocks: Tensor<"i32">;
  /** i32 [B, H, qBlocks, kvBlocks], on the device. */
  readonly fullKvIndices: Tensor<"i32">;
  readonly mask: Mask;
  readonly #readSync: DeviceArrayReader;
  #host: BlockMask | undefined;

  /**
   * Wraps device arrays a backend wrote (shapes and dtypes are checked; contents are the
   * backend's guarantee). `readSync` reads one array back for the lazy host view.
   */
  constructor(f: BlockMaskFields & { mask: Mask }, readSync: DeviceArrayReader) {
    const op = "DeviceBlockMask";
    this.B = checkInt(op, "B", f.B, 1);
    this.H = checkInt(op, "H", f.H, 1);
    this.qLen = checkInt(op, "qLen", f.qLen, 1);
    this.kvLen = checkInt(op, "kvLen", f.kvLen, 1);
    this.qBlockSize = checkInt(op, "qBlockSize", f.qBlockSize, 1);
    this.kvBlockSize = checkInt(op, "kvBlockSize", f.kvBlockSize, 1);
    const nq = this.qBlocks, nk = this.kvBlocks;
    const want = (name: string, t: unknown, shape: number[]) => {
      if (!(t instanceof Tensor) || t.dtype !== "i32" || t.device === "cpu")
        argError(op, name, `an i32 device Tensor ${fmtShape(shape)}`, t instanceof Tensor ? `${t.dtype} on ${t.device}` : describe(t));
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) argError(op, name, `shape ${fmtShape(shape)}`, fmtShape(t.shape));
      return t as Tensor<"i32">;
    };
    this.kvNumBlocks = want("kvNumBlocks", f.kvNumBlocks, [this.B, this.H, nq]);
    this.kvIndices = want("kvIndices", f.kvIndices, [this.B, this.H, nq, nk]);
    this.fullKvNumBlocks = want("fullKvNumBlocks", f.fullKvNumBlocks, [this.B, this.H, nq]);
    this.fullKvIndices = want("fullKvIndices", f.fullKvIndices, [this.B, this.H, nq, nk]);
    if (f.mask === undefined || f.mask === null) argError(op, "mask", "the Mask the arrays were built from", "undefined");
    this.mask = f.mask;
    this.#readSync = readSync;
  }

  /** Where the arrays live ("cuda"). */
  get device(): Tensor["device"] {
    return this.kvNumBlocks.device;
  }
  /** Number of query blocks: ceil(qLen / qBlockSize). */
  get qBlocks(): number {
    return Math.ceil(this.qLen / this.qBlockSize);
  }
  /** Number of key blocks: ceil(kvLen / kvBlockSize). */
  get kvBlocks(): number {
    return Math.ceil(this.kvLen / this.kvBlockSize);
  }
  /** Whether the device arrays were freed (the host view, if already read, still works). */
  get disposed(): boolean {
    return this.kvNumBlocks.disposed;
  }

  #wrap(fields: Tensor<"i32">[]): BlockMask {
    const [kvNumBlocks, kvIndices, fullKvNumBlocks, fullKvIndices] = fields;
    return BlockMask.fromTrustedFields({
      B: this.B, H: this.H, qLen: this.qLen, kvLen: this.kvLen, qBlockSize: this.qBlockSize, kvBlockSize: this.kvBlockSize,
      kvNumBlocks, kvIndices, fullKvNumBlocks, fullKvIndices, mask: this.mask,
    });
  }

  #arrays(what: string): Tensor<"i32">[] {
    if (this.disposed) throw new SparselabError(`DeviceBlockMask.${what}`, "the device arrays were disposed before the host view was read");
    return [this.kvNumBlocks, this.kvIndices, this.fullKvNumBlocks, this.fullKvIndices];
  }

  /**
   * The host BlockMask with the same arrays: read back on first use (waiting for the device),
   * then kept.
   * @example
   * const bm = sl.createBlockMask(sl.masks.causal(), { qLen: 4096, kvLen: 4096, device: "cuda" }).host();
   * bm.blockCounts();
   */
  host(): BlockMask {
    return (this.#host ??= this.#wrap(this.#arrays("host").map((t) => this.#readSync(t))));
  }

  /**
   * The host BlockMask, read back without blocking the JS thread (kept like `host()`'s).
   * @example
   * const bm = await sl.createBlockMask(sl.masks.causal(), { qLen: 4096, kvLen: 4096, device: "cuda" }).cpu();
   */
  async cpu(): Promise<BlockMask> {
    if (this.#host) return this.#host;
    const fields = await Promise.all(this.#arrays("cpu").map((t) => t.cpu()));
    return (this.#host ??= this.#wrap(fields));
  }

  /**
   * The same as `cpu()` (the name `sl.cuda.blockMaskOnDevice`'s result had first).
   * @example
   * const bm = await sl.cuda.blockMaskOnDevice(sl.masks.causal(), { qLen: 4096, kvLen: 4096 }).toBlockMask();
   */
  toBlockMask(): Promise<BlockMask> {
    return this.cpu();
  }

  /**
   * Frees the device arrays (stream-ordered: work already queued that reads them still sees them).
   * @example
   * sl.createBlockMask(sl.masks.causal(), { qLen: 4096, kvLen: 4096, device: "cuda" }).dispose();
   */
  dispose(): void {
    for (const t of [this.kvNumBlocks, this.kvIndices, this.fullKvNumBlocks, this.fullKvIndices]) t.dispose();
  }

  /**
   * As BlockMask.tileClasses, on the host view.
   * @example
   * sl.createBlockMask(sl.masks.causal(), { qLen: 256, kvLen: 256, device: "cuda" }).tileClasses(0, 0);  // [1, 0, 2, 1]
   */
  tileClasses(b = 0, h = 0): Uint8Array {
    return this.host().tileClasses(b, h);
  }
  /**
   * As BlockMask.blockCounts, on the host view.
   * @example
   * sl.createBlockMask(sl.masks.causal(), { qLen: 512, kvLen: 512, device: "cuda" }).blockCounts();
   */
  blockCounts(): BlockCounts {
    return this.host().blockCounts();
  }
  /**
   * As BlockMask.density, on the host view.
   * @example
   * sl.createBlockMask(sl.masks.causal(), { qLen: 256, kvLen: 256, device: "cuda" }).density();  // 0.75
   */
  density(opts: DensityOptions = {}): number {
    return this.host().density(opts);
  }
  /**
   * As BlockMask.toDense (a host u8 Tensor), on the host view.
   * @example
   * sl.createBlockMask(sl.masks.causal(), { qLen: 512, kvLen: 512, device: "cuda" }).toDense();
   */
  toDense(): Tensor<"u8"> {
    return this.host().toDense();
  }
  /**
   * As BlockMask.toDenseMask, on the host view.
   * @example
   * sl.createBlockMask(sl.masks.slidingWindow(4), { qLen: 256, kvLen: 256, blockSize: 128, device: "cuda" }).toDenseMask();
   */
  toDenseMask(): Tensor<"bool"> {
    return this.host().toDenseMask();
  }
  /**
   * As BlockMask.slice (a host BlockMask), on the host view.
   * @example
   * sl.createBlockMask(sl.mask("q >= kv + h"), { H: 8, qLen: 256, kvLen: 256, device: "cuda" }).slice({ h: 3 });
   */
  slice(sel: { b?: number | readonly [number, number]; h?: number | readonly [number, number] }): BlockMask {
    return this.host().slice(sel);
  }
  /**
   * As BlockMask.qBlockLists (host tensors), on the host view.
   * @example
   * sl.createBlockMask(sl.masks.causal(), { qLen: 256, kvLen: 256, device: "cuda" }).qBlockLists();
   */
  qBlockLists(): ReturnType<BlockMask["qBlockLists"]> {
    return this.host().qBlockLists();
  }
  /**
   * As BlockMask.toSafetensors, on the host view (read without blocking the JS thread).
   * @example
   * const bytes = await sl.createBlockMask(sl.masks.causal(), { qLen: 4096, kvLen: 4096, device: "cuda" }).toSafetensors();
   */
  async toSafetensors(opts: { convention?: "torch" | "exact" } = {}): Promise<Uint8Array> {
    return (await this.cpu()).toSafetensors(opts);
  }
  /**
   * As BlockMask.toString, on the host view; the first line says the arrays are on the device.
   * @example
   * console.log(sl.createBlockMask(sl.masks.causal(), { qLen: 4096, kvLen: 4096, device: "cuda" }).toString());
   */
  toString(opts: { b?: number; h?: number; maxCols?: number; maxRows?: number } = {}): string {
    return `${this.#deviceLine()}\n${this.host().toString(opts)}`;
  }
  #deviceLine(): string {
    return `DeviceBlockMask: arrays on ${this.device}${this.disposed ? " (disposed)" : ""}`;
  }
  /** Jupyter display: the host view's, with a line saying where the arrays are. */
  [DISPLAY](): MimeBundle {
    const inner = this.host()[DISPLAY]();
    return {
      "text/plain": `${this.#deviceLine()}\n${inner["text/plain"]}`,
      "text/html": `<div style="font-family:monospace;font-size:12px">${escapeHtml(this.#deviceLine())}</div>${inner["text/html"]}`,
    };
  }
}
