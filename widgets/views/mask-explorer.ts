/**
 * The mask explorer: pick a mask kind (or type an expression), move its parameters, and see the
 * block mask, its density, its recall on the given Q/K and the attention time on the current
 * backend, recomputed in place. Built on `interactive`, so rapid slider moves coalesce into one
 * recomputation with the latest values.
 */
import { argError, fmtShape, SparselabError } from "../../lib/errors.js";
import { DISPLAY, type MimeBundle } from "../../lib/display.js";
import { Tensor } from "../../lib/tensor/tensor.js";
import type { Mask } from "../../lib/attention/types.js";
import type { BlockMask } from "../../lib/attention/block-mask.js";
import { createBlockMask } from "../../lib/attention/create-block-mask.js";
import * as masks from "../../lib/attention/masks/index.js";
import { mask as expressionMask } from "../../lib/attention/dsl/mask.js";
import { attention } from "../../lib/attention/attention.js";
import { recall as recallOf, type Recall } from "../../lib/attention/metrics/recall.js";
import { resolveOp, type BackendName } from "../../lib/backends/registry.js";
import { blockMaskView } from "../../lib/viz/block-mask-view.js";
import { pct, type Figure } from "../../lib/viz/figure.js";
// Registers the JS reference ops, so the explorer also works when only sparselab/widgets is imported.
import "../../lib/backends/js/index.js";
import { Interactive } from "../interact.js";
import { showAfterFirstRun } from "./show-after-first-run.js";
import { IntSlider } from "../sliders.js";
import { Dropdown } from "../selection.js";
import { Text } from "../text.js";
import type { DOMWidget } from "../dom-widget.js";

/** A parameter a mask kind reads; in expressions it is the identifier in brackets. */
export type MaskParam = "window" | "sink" | "dilation" | "stride" | "prefix";

/**
 * Identifiers an expression uses for each slider.
 * @example
 * // in the explorer's expression box, `w` is the window slider and `n` the sink slider:
 * // q >= kv and (kv < n or q - kv < w)
 * widgets.EXPRESSION_PARAMS.window   // "w"
 */
export const EXPRESSION_PARAMS: Record<MaskParam, string> = { window: "w", sink: "n", dilation: "d", stride: "l", prefix: "p" };

/**
 * The built-in kinds the explorer offers, the sliders each reads, and how each builds its mask.
 * @example
 * Object.keys(widgets.EXPLORER_MASKS)   // pass a subset as maskExplorer({ q, k, masks: ["sink", "expression"] })
 */
export const EXPLORER_MASKS: Record<string, { params: MaskParam[]; causal: boolean; make: (p: Record<MaskParam, number>) => Mask }> = {
  causal: { params: [], causal: true, make: () => masks.causal() },
  slidingWindow: { params: ["window"], causal: true, make: (p) => masks.slidingWindow(p.window) },
  sink: { params: ["sink", "window"], causal: true, make: (p) => masks.sink(p.sink, p.window) },
  dilated: { params: ["window", "dilation"], causal: true, make: (p) => masks.dilated(p.window, p.dilation, { causal: true }) },
  strided: { params: ["stride"], causal: true, make: (p) => masks.strided(p.stride) },
  // the prefix is bidirectional: keys past the query are kept, so recall is measured against dense
  prefixLM: { params: ["prefix"], causal: false, make: (p) => masks.prefixLM(p.prefix) },
};

export interface MaskExplorerOptions {
  /** Queries [B, H, S, D]. */
  q: Tensor;
  /** Keys [B, Hkv, S, D]. */
  k: Tensor;
  /** Values for the timing (default: k). */
  v?: Tensor;
  /** Kinds offered, in order (default: every built-in of EXPLORER_MASKS, then "expression"). */
  masks?: string[];
  /** The expression the Text starts with (default a causal window in `w`). */
  expression?: string;
  /** Block sizes offered (default 16, 32, 64, 128 where they fit); the first <= S/4 is selected. */
  blockSizes?: number[];
  /**
   * Recall against the causal softmax (true) or the dense one (false). Default: causal for the
   * causal kinds (EXPLORER_MASKS[kind].causal), dense for prefixLM and expressions (which may
   * keep keys past the query; measured against causal, such recall would read above 1).
   */
  causal?: boolean;
  /** Attention runs timed per change; the best is shown (default 2). */
  repeats?: number;
  /** Backend for recall and timing (default: the fastest loaded for q's device). */
  backend?: BackendName;
}

/**
 * What one recomputation produced; displays as the block-mask figure with the figures in its title.
 * @example
 * const ui = widgets.maskExplorer({ q, k });
 * await ui.ready;
 * ui.view.density; ui.view.recall.value; ui.view.ms; ui.view.blockMask   // run it: sl.attention(q, k, v, { blockMask: ui.view.blockMask })
 */
export class MaskExplorerView {
  constructor(
    readonly kind: string,
    readonly mask: Mask,
    readonly blockMask: BlockMask,
    /** Block density, computed tiles / all tiles. */
    readonly density: number,
    readonly recall: Recall,
    /** Best attention time over the timed runs, in milliseconds. */
    readonly ms: number,
    readonly backend: BackendName,
    readonly figure: Figure,
  ) {}

  /** One line with every figure and its definition. */
  summary(): string {
    return `${this.mask.name}: block density ${pct(this.density)} (computed tiles / all tiles), recall ${this.recall.value.toFixed(4)} (${this.recall.definition}), attention ${this.ms.toFixed(2)} ms on ${this.backend}`;
  }

  [DISPLAY](): MimeBundle {
    return { "application/vnd.plotly.v1+json": this.figure, "text/plain": this.summary() };
  }
}

type Controls = {
  kind: Dropdown<string>;
  expression: Text;
  blockSize: Dropdown<number>;
  window: IntSlider;
  sink: IntSlider;
  dilation: IntSlider;
  stride: IntSlider;
  prefix: IntSlider;
};

/**
 * The explorer widget (a VBox of controls and an Output); `view` is the latest recomputation.
 * @example
 * const ui = widgets.maskExplorer({ q, k });
 * ui.controls.kind.value = "sink";     // the page follows; the figure recomputes
 * ui
 */
export class MaskExplorer extends Interactive<Controls, MaskExplorerView> {
  /** Resolves when the first computation has been shown (`await ui.ready` before reading `view`). */
  ready: Promise<void> = Promise.resolve();

  /**
   * The latest recomputation. Throws before the first one finishes (`await ui.ready`) or when
   * the last one failed (its error is shown in the Output, and included here); `result` is the
   * same value, or undefined, without throwing.
   */
  get view(): MaskExplorerView {
    if (this.result) return this.result;
    throw new SparselabError("maskExplorer", this.error ? `the last recomputation failed: ${(this.error as Error)?.message ?? String(this.error)}` : "no recomputation has finished yet: await ui.ready first");
  }
}

function posIntOpt(op: string, name: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) argError(op, name, "a positive integer", String(v));
  return v;
}

/** Identifiers of EXPRESSION_PARAMS that `expr` mentions (so the mask's name lists only those). */
function expressionParams(expr: string): MaskParam[] {
  return (Object.keys(EXPRESSION_PARAMS) as MaskParam[]).filter((p) => new RegExp(`\\b${EXPRESSION_PARAMS[p]}\\b`).test(expr));
}

function setShown(w: DOMWidget, shown: boolean): void {
  const want = shown ? null : "none";
  if (w.layout.display !== want) w.layout.display = want;
}

/**
 * An interactive mask explorer on your Q/K: a Dropdown of mask kinds (built-ins and
 * "expression"), a Text for an expression, a block-size choice and sliders for the kind's
 * parameters. Every change rebuilds the block mask and shows its tile view with the block
 * density, the recall on Q/K (`sl.metrics.recall`) and the `sl.attention` time on the current
 * backend; rapid changes coalesce into one recomputation.
 * @example
 * const q = sl.randn([1, 4, 2048, 64], { seed: 1 }), k = sl.randn([1, 4, 2048, 64], { seed: 2 });
 * const ui = widgets.maskExplorer({ q, k });
 * await ui.ready;   // the first figure is in place (also for saved, static notebooks)
 * ui
 */
export function maskExplorer(opts: MaskExplorerOptions): MaskExplorer {
  const op = "maskExplorer";
  if (opts === null || typeof opts !== "object") argError(op, "opts", "an object { q, k, v?, masks? }", String(opts));
  const { q, k } = opts;
  if (!(q instanceof Tensor) || q.ndim !== 4) argError(op, "q", "a 4-D tensor [B, H, S, D]", q instanceof Tensor ? fmtShape(q.shape) : typeof q);
  if (!(k instanceof Tensor) || k.ndim !== 4 || k.shape[0] !== q.shape[0] || k.shape[3] !== q.shape[3] || q.shape[1] % k.shape[1] !== 0)
    argError(op, "k", `a 4-D tensor [${q.shape[0]}, Hkv, S, ${q.shape[3]}] with Hkv dividing ${q.shape[1]}`, k instanceof Tensor ? fmtShape(k.shape) : typeof k);
  const v = opts.v ?? k;
  if (!(v instanceof Tensor) || v.ndim !== 4 || v.shape[2] !== k.shape[2]) argError(op, "v", `a 4-D tensor with ${k.shape[2]} keys`, v instanceof Tensor ? fmtShape(v.shape) : typeof v);
  const kinds = opts.masks ?? [...Object.keys(EXPLORER_MASKS), "expression"];
  if (!Array.isArray(kinds) || kinds.length === 0) argError(op, "masks", "a non-empty array of mask kinds", String(kinds));
  for (const kd of kinds)
    if (kd !== "expression" && !(kd in EXPLORER_MASKS)) argError(op, "masks", `kinds from ${[...Object.keys(EXPLORER_MASKS), "expression"].join(", ")}`, JSON.stringify(kd));
  const repeats = posIntOpt(op, "repeats", opts.repeats, 2);
  const qLen = q.shape[2], kvLen = k.shape[2];
  const S = Math.max(qLen, kvLen);
  const sizes = opts.blockSizes ?? [16, 32, 64, 128].filter((b) => b <= Math.max(16, S));
  sizes.forEach((b, i) => posIntOpt(op, `blockSizes[${i}]`, b, 1));
  const blockDefault = [...sizes].reverse().find((b) => b <= S / 4) ?? sizes[0];
  const backend = opts.backend ?? resolveOp("attention", { device: q.device === "cuda" ? "cuda" : "cpu" }).backend;

  const cu = { continuous_update: true };
  const controls: Controls = {
    kind: new Dropdown<string>({ options: kinds, value: kinds[0], description: "mask" }),
    expression: new Text({ value: opts.expression ?? "q >= kv and q - kv < w", description: "expression", continuous_update: false, layout: { width: "420px" } }),
    blockSize: new Dropdown<number>({ options: sizes, value: blockDefault, description: "block size" }),
    window: new IntSlider({ value: Math.max(1, Math.round(S / 4)), min: 1, max: S, step: 1, description: "window (w)", ...cu }),
    sink: new IntSlider({ value: Math.min(4, S), min: 0, max: Math.max(1, Math.round(S / 4)), description: "sink (n)", ...cu }),
    dilation: new IntSlider({ value: 2, min: 1, max: 16, description: "dilation (d)", ...cu }),
    stride: new IntSlider({ value: Math.max(1, Math.round(Math.sqrt(S))), min: 1, max: S, description: "stride (l)", ...cu }),
    prefix: new IntSlider({ value: Math.round(S / 8), min: 0, max: S, description: "prefix (p)", ...cu }),
  };
  const sliders: MaskParam[] = ["window", "sink", "dilation", "stride", "prefix"];

  const recompute = async (vals: { kind: string; expression: string; blockSize: number } & Record<MaskParam, number>): Promise<MaskExplorerView> => {
    const isExpr = vals.kind === "expression";
    const used = isExpr ? expressionParams(vals.expression) : EXPLORER_MASKS[vals.kind].params;
    setShown(controls.expression, isExpr);
    for (const s of sliders) setShown(controls[s], used.includes(s));
    let m: Mask;
    if (isExpr) {
      const params: Record<string, number> = {};
      for (const p of used) params[EXPRESSION_PARAMS[p]] = vals[p];
      m = expressionMask(vals.expression, params);
    } else m = EXPLORER_MASKS[vals.kind].make(vals);
    const bm = createBlockMask(m, { qLen, kvLen, blockSize: vals.blockSize });
    const density = bm.density({ level: "block", denominator: "full" });
    const causal = opts.causal ?? (isExpr ? false : EXPLORER_MASKS[vals.kind].causal);
    const rec = await recallOf(q, k, { blockMask: bm, causal, backend });
    let best = Infinity;
    for (let r = 0; r < repeats; r++) {
      const t0 = performance.now();
      const out = await attention(q, k, v, { blockMask: bm, backend });
      best = Math.min(best, performance.now() - t0);
      out.dispose();
    }
    const title = `${m.name}: block density ${pct(density)} (computed tiles / all tiles)<br><sub>recall ${rec.value.toFixed(4)} of the ${causal ? "causal" : "dense"} softmax mass on Q/K · attention ${best.toFixed(2)} ms on ${backend} (best of ${repeats}) · ${qLen}×${kvLen}, blocks ${vals.blockSize}</sub>`;
    const figure = blockMaskView(bm, { title });
    return new MaskExplorerView(vals.kind, m, bm, density, rec, best, backend, figure);
  };

  const ui = new MaskExplorer(recompute as (vals: any) => Promise<MaskExplorerView>, controls);
  ui.ready = ui.update();
  showAfterFirstRun(ui, ui.ready);
  return ui;
}
