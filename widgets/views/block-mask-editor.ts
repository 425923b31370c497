/**
 * The block-mask editor: an anywidget drawing one (b, h) tile grid on a canvas, where clicking
 * a tile cycles it empty -> full -> partial -> empty. The classes live in the synced model
 * state, so page edits reach the kernel and `editor.blockMask()` builds a runnable BlockMask.
 */
import { argError } from "../../lib/errors.js";
import { BlockMask } from "../../lib/attention/block-mask.js";
import type { Mask } from "../../lib/attention/types.js";
import { Tensor } from "../../lib/tensor/tensor.js";
import { TILE_COLOURS } from "../../lib/viz/figure.js";
import { AnyWidget } from "../anywidget.js";

/**
 * The editor's synced state (snake_case, as it appears in the front-end model).
 * @example
 * const ed = widgets.blockMaskEditor(bm);
 * ed.state.classes.filter((c) => c === 2).length   // full tiles now
 */
export interface BlockMaskEditorState extends Record<string, unknown> {
  q_blocks: number;
  kv_blocks: number;
  q_block_size: number;
  kv_block_size: number;
  q_len: number;
  kv_len: number;
  /** Row-major tile classes, q_blocks × kv_blocks: 0 empty, 1 partial, 2 full. */
  classes: number[];
  /** Whether partial tiles are allowed (they need a mask to refine them). */
  has_mask: boolean;
  /** Mask name shown above the grid. */
  mask_name: string;
  /** Pixels per tile side. */
  cell_px: number;
}

/**
 * Most tiles per side the editor accepts (the state travels as a JSON list).
 * @example
 * // a 16384-token mask fits with blockSize 128: 128 tiles per side
 * widgets.blockMaskEditor(sl.createBlockMask(sl.masks.causal(), { qLen: 16384, kvLen: 16384, blockSize: 128 }))
 */
export const EDITOR_MAX_TILES = 128;

export interface BlockMaskEditorOptions {
  b?: number;
  h?: number;
  /** Refines partial tiles (default: the block mask's own mask). Without one, clicks cycle empty <-> full. */
  mask?: Mask;
  /** Pixels per tile side (default: fits the grid in about 480 px, 4 to 32). */
  cellPx?: number;
}

// The view: a canvas grid, a legend and a live density line. Plain DOM, no dependencies.
const ESM = String.raw`
const COLOURS = ["${TILE_COLOURS.empty}", "${TILE_COLOURS.partial}", "${TILE_COLOURS.full}"];
const NAMES = ["empty", "partial", "full"];
function nextClass(c, hasMask) {
  if (c === 0) return 2;
  if (c === 2) return hasMask ? 1 : 0;
  return 0;
}
export default {
  render({ model, el }) {
    const root = document.createElement("div");
    root.className = "sl-bm-editor";
    root.style.fontFamily = "sans-serif";
    root.style.fontSize = "12px";
    const head = document.createElement("div");
    head.className = "sl-bm-editor-info";
    const canvas = document.createElement("canvas");
    canvas.className = "sl-bm-editor-grid";
    canvas.style.cursor = "pointer";
    canvas.style.border = "1px solid #999";
    const legend = document.createElement("div");
    legend.className = "sl-bm-editor-legend";
    NAMES.forEach((n, i) => {
      const sw = document.createElement("span");
      sw.style.cssText = "display:inline-block;width:12px;height:12px;margin:0 4px 0 10px;vertical-align:middle;background:" + COLOURS[i];
      legend.append(sw, document.createTextNode(n));
    });
    root.append(head, canvas, legend);
    el.append(root);
    const geom = () => ({ nq: model.get("q_blocks"), nk: model.get("kv_blocks"), px: model.get("cell_px") });
    function draw() {
      const { nq, nk, px } = geom();
      const cls = model.get("classes");
      canvas.width = nk * px;
      canvas.height = nq * px;
      const ctx = canvas.getContext("2d");
      const gap = px >= 6 ? 1 : 0;
      const n = [0, 0, 0];
      for (let i = 0; i < nq; i++)
        for (let j = 0; j < nk; j++) {
          const c = cls[i * nk + j];
          n[c]++;
          ctx.fillStyle = COLOURS[c];
          ctx.fillRect(j * px, i * px, px - gap, px - gap);
        }
      const total = nq * nk;
      const d = total ? (100 * (n[1] + n[2])) / total : 0;
      head.textContent = model.get("mask_name") + ": block density " + d.toFixed(2) + "% (computed tiles / all tiles): " +
        n[2] + " full, " + n[1] + " partial, " + n[0] + " empty of " + total + (model.get("has_mask") ? "" : " (no mask: partial unavailable)");
      root.dataset.full = String(n[2]);
      root.dataset.partial = String(n[1]);
      root.dataset.empty = String(n[0]);
    }
    function tileAt(ev) {
      const { nq, nk } = geom();
      const r = canvas.getBoundingClientRect();
      const j = Math.floor(((ev.clientX - r.left) / r.width) * nk);
      const i = Math.floor(((ev.clientY - r.top) / r.height) * nq);
      return i >= 0 && i < nq && j >= 0 && j < nk ? [i, j] : null;
    }
    canvas.addEventListener("click", (ev) => {
      const t = tileAt(ev);
      if (!t) return;
      const nk = model.get("kv_blocks");
      const cls = model.get("classes").slice();
      const at = t[0] * nk + t[1];
      cls[at] = nextClass(cls[at], model.get("has_mask"));
      model.set("classes", cls);
      model.save_changes();
    });
    canvas.addEventListener("mousemove", (ev) => {
      const t = tileAt(ev);
      if (!t) return;
      const qs = model.get("q_block_size"), ks = model.get("kv_block_size");
      const c = model.get("classes")[t[0] * model.get("kv_blocks") + t[1]];
      canvas.title = "tile (" + t[0] + ", " + t[1] + "): q " + t[0] * qs + "–" + (Math.min(model.get("q_len"), (t[0] + 1) * qs) - 1) +
        ", kv " + t[1] * ks + "–" + (Math.min(model.get("kv_len"), (t[1] + 1) * ks) - 1) + ": " + NAMES[c];
    });
    const keys = ["classes", "q_blocks", "kv_blocks", "cell_px", "has_mask", "mask_name"];
    for (const k of keys) model.on("change:" + k, draw);
    draw();
    return () => { for (const k of keys) model.off("change:" + k, draw); };
  },
};
`;

/**
 * An anywidget block-mask editor; read the edited mask back with `blockMask()`.
 * @example
 * const bm = sl.createBlockMask(sl.masks.causal(), { qLen: 1024, kvLen: 1024 });
 * const ed = widgets.blockMaskEditor(bm);
 * ed   // click tiles in the grid, then in the next cell:
 * const [q, k, v] = [1, 2, 3].map((seed) => sl.randn([1, 2, 1024, 64], { seed }));
 * await sl.attention(q, k, v, { blockMask: ed.blockMask() });
 */
export class BlockMaskEditor extends AnyWidget<BlockMaskEditorState> {
  /** Refines partial tiles of the edited mask. */
  readonly mask: Mask | undefined;

  constructor(state: BlockMaskEditorState, mask: Mask | undefined) {
    super({ esm: ESM, state, name: "sparselab.blockMaskEditor" });
    this.mask = mask;
  }

  /** Tile class (0 empty, 1 partial, 2 full) at query block i, kv block j. */
  tile(i: number, j: number): number {
    this.#checkTile("BlockMaskEditor.tile", i, j);
    return this.get("classes")[i * this.get("kv_blocks") + j];
  }

  /** Sets one tile from the kernel side (the page redraws). */
  setTile(i: number, j: number, cls: 0 | 1 | 2): void {
    const op = "BlockMaskEditor.setTile";
    this.#checkTile(op, i, j);
    if (cls !== 0 && cls !== 1 && cls !== 2) argError(op, "cls", "0 (empty), 1 (partial) or 2 (full)", String(cls));
    if (cls === 1 && !this.mask) argError(op, "cls", "0 or 2 (partial tiles need a mask; pass { mask } to blockMaskEditor)", "1");
    const c = [...this.get("classes")];
    c[i * this.get("kv_blocks") + j] = cls;
    this.set("classes", c);
  }

  /** Block density of the edited grid: computed tiles / all tiles. */
  density(): number {
    const c = this.get("classes");
    return c.length === 0 ? 0 : c.filter((x) => x !== 0).length / c.length;
  }

  /** The edited mask as a BlockMask (B = H = 1, broadcast over batch and heads), ready for sl.attention. */
  blockMask(): BlockMask {
    const op = "BlockMaskEditor.blockMask";
    const nq = this.get("q_blocks"), nk = this.get("kv_blocks");
    const c = this.get("classes");
    if (!Array.isArray(c) || c.length !== nq * nk) argError(op, "classes", `${nq * nk} tile classes`, Array.isArray(c) ? `${c.length}` : typeof c);
    const u8 = new Uint8Array(nq * nk);
    for (let i = 0; i < u8.length; i++) {
      const x = c[i];
      if (x !== 0 && x !== 1 && x !== 2) argError(op, "classes", "values 0, 1 or 2", `${String(x)} at ${i}`);
      if (x === 1 && !this.mask) argError(op, "classes", "no partial tiles (the editor has no mask to refine them)", `partial at tile ${Math.floor(i / nk)}, ${i % nk}`);
      u8[i] = x;
    }
    return BlockMask.fromDense(new Tensor([nq, nk], "u8", u8), {
      blockSize: [this.get("q_block_size"), this.get("kv_block_size")],
      qLen: this.get("q_len"),
      kvLen: this.get("kv_len"),
      mask: this.mask,
    });
  }

  #checkTile(op: string, i: number, j: number): void {
    const nq = this.get("q_blocks"), nk = this.get("kv_blocks");
    if (!Number.isInteger(i) || i < 0 || i >= nq) argError(op, "i", `a query block in [0, ${nq})`, String(i));
    if (!Number.isInteger(j) || j < 0 || j >= nk) argError(op, "j", `a kv block in [0, ${nk})`, String(j));
  }
}

/**
 * Opens a block mask's (b, h) tile grid in an editor: click a tile to cycle empty -> full ->
 * partial -> empty; `editor.blockMask()` returns the edited BlockMask.
 * @example
 * const ed = widgets.blockMaskEditor(sl.createBlockMask(sl.masks.slidingWindow(256), { qLen: 2048, kvLen: 2048 }));
 * ed
 */
export function blockMaskEditor(bm: BlockMask, opts: BlockMaskEditorOptions = {}): BlockMaskEditor {
  const op = "blockMaskEditor";
  if (!(bm instanceof BlockMask)) argError(op, "bm", "a BlockMask", typeof bm);
  const b = opts.b ?? 0, h = opts.h ?? 0;
  if (!Number.isInteger(b) || b < 0 || b >= bm.B) argError(op, "b", `a batch index in [0, ${bm.B})`, String(b));
  if (!Number.isInteger(h) || h < 0 || h >= bm.H) argError(op, "h", `a head index in [0, ${bm.H})`, String(h));
  const nq = bm.qBlocks, nk = bm.kvBlocks;
  if (nq > EDITOR_MAX_TILES || nk > EDITOR_MAX_TILES)
    argError(op, "bm", `at most ${EDITOR_MAX_TILES} tiles per side (use a larger blockSize)`, `${nq}×${nk} tiles`);
  const mask = opts.mask ?? bm.mask;
  const cellPx = opts.cellPx ?? Math.max(4, Math.min(32, Math.floor(480 / Math.max(nq, nk))));
  if (!Number.isInteger(cellPx) || cellPx < 1) argError(op, "cellPx", "a positive integer", String(opts.cellPx));
  return new BlockMaskEditor(
    {
      q_blocks: nq,
      kv_blocks: nk,
      q_block_size: bm.qBlockSize,
      kv_block_size: bm.kvBlockSize,
      q_len: bm.qLen,
      kv_len: bm.kvLen,
      classes: Array.from(bm.tileClasses(b, h)),
      has_mask: !!mask,
      mask_name: mask?.name ?? "block mask",
      cell_px: cellPx,
    },
    mask,
  );
}

/**
 * The editor's view module source, for tests and for embedding elsewhere.
 * @example
 * widgets.BLOCK_MASK_EDITOR_ESM.length
 */
export const BLOCK_MASK_EDITOR_ESM = ESM;
