/**
 * The routing explorer: one MoE routing record, or a layer per record, seen through the
 * sl.viz routing views, switched with a Dropdown and redrawn in place.
 */
import { argError, SparselabError } from "../../lib/errors.js";
import { DISPLAY, type MimeBundle } from "../../lib/display.js";
import type { RoutingRecord } from "../../lib/moe/record.js";
import { coactivation, droppedByPosition, expertLoad, routingHeatmap, routingSankey } from "../../lib/viz/routing.js";
import type { Figure } from "../../lib/viz/figure.js";
import { Interactive } from "../interact.js";
import { showAfterFirstRun } from "./show-after-first-run.js";
import { IntSlider } from "../sliders.js";
import { Dropdown } from "../selection.js";
import type { DOMWidget } from "../dom-widget.js";

/**
 * The views the explorer offers (label -> key).
 * @example
 * const ui = widgets.routingExplorer(layers);
 * ui.controls.view.value = "coactivation";
 */
export const ROUTING_VIEWS = {
  "weights (token × expert)": "weights",
  "tokens per expert": "load",
  "dropped by position": "drops",
  "co-activation": "coactivation",
  "layer-to-layer flow": "flow",
} as const;
export type RoutingView = (typeof ROUTING_VIEWS)[keyof typeof ROUTING_VIEWS];

/**
 * A figure with a one-line text fallback; displays as a plotly figure.
 * @example
 * const ui = widgets.routingExplorer(record);
 * await ui.ready;
 * ui.current.figure.layout.title   // the figure on show
 */
export class FigureView {
  constructor(
    readonly view: RoutingView,
    readonly figure: Figure,
  ) {}
  [DISPLAY](): MimeBundle {
    const t = (this.figure.layout.title as { text?: string } | undefined)?.text ?? this.view;
    return { "application/vnd.plotly.v1+json": this.figure, "text/plain": t.replace(/<[^>]+>/g, " ") };
  }
}

type Controls = { view: Dropdown<RoutingView>; layer: Dropdown<number>; maxTokens: IntSlider; bins: IntSlider };

/**
 * The routing explorer widget; `current` is the figure on show.
 * @example
 * const ui = widgets.routingExplorer(layers);
 * ui.controls.layer.value = 1;
 * ui
 */
export class RoutingExplorer extends Interactive<Controls, FigureView> {
  /** Resolves when the first figure has been shown. */
  ready: Promise<void> = Promise.resolve();

  /** The figure on show; throws before the first is drawn (`await ui.ready`) or after a failed redraw. */
  get current(): FigureView {
    if (this.result) return this.result;
    throw new SparselabError("routingExplorer", this.error ? `the last redraw failed: ${(this.error as Error)?.message ?? String(this.error)}` : "nothing drawn yet: await ui.ready first");
  }
}

function isRecord(r: unknown): r is RoutingRecord {
  const x = r as RoutingRecord;
  return !!x && typeof x === "object" && !!x.indices && !!x.counts && typeof x.numExperts === "number";
}

function setShown(w: DOMWidget, shown: boolean): void {
  const want = shown ? null : "none";
  if (w.layout.display !== want) w.layout.display = want;
}

/**
 * Explores routing records: token × expert weights, tokens per expert (every layer), drops by
 * position, expert co-activation, and (with two or more layers) the layer-to-layer flow. A
 * layer Dropdown picks the record; sliders set the tokens drawn and the position bins.
 * @example
 * const layers = [1, 2, 3].map((seed) => sl.moe.route(sl.moe.randomLogits(256, 8, { seed }), { router: "softmax-topk", k: 2, capacityFactor: 1 }));
 * widgets.routingExplorer(layers)
 */
export function routingExplorer(records: RoutingRecord | RoutingRecord[]): RoutingExplorer {
  const op = "routingExplorer";
  const list = Array.isArray(records) ? records : [records];
  if (list.length === 0) argError(op, "records", "a RoutingRecord or a non-empty array of them", "an empty array");
  list.forEach((r, i) => {
    if (!isRecord(r)) argError(op, `records[${i}]`, "a RoutingRecord (from sl.moe.route or a layer's forward)", typeof r);
  });
  const views = Object.entries(ROUTING_VIEWS).filter(([, v]) => v !== "flow" || list.length >= 2);
  const T = Math.max(...list.map((r) => r.numTokens));
  const controls: Controls = {
    view: new Dropdown<RoutingView>({ options: views as [string, RoutingView][], value: "weights", description: "view" }),
    layer: new Dropdown<number>({ options: list.map((r, i) => [`layer ${r.layer ?? i}`, i] as [string, number]), value: 0, description: "layer" }),
    maxTokens: new IntSlider({ value: Math.min(T, 256), min: 1, max: Math.max(1, T), description: "tokens drawn" }),
    bins: new IntSlider({ value: Math.min(16, Math.max(1, T)), min: 1, max: Math.max(1, Math.min(T, 128)), description: "position bins" }),
  };
  const draw = (v: { view: RoutingView; layer: number; maxTokens: number; bins: number }): FigureView => {
    setShown(controls.layer, v.view !== "load" && v.view !== "flow" && list.length > 1);
    setShown(controls.maxTokens, v.view === "weights");
    setShown(controls.bins, v.view === "drops");
    const r = list[v.layer];
    switch (v.view) {
      case "weights":
        return new FigureView(v.view, routingHeatmap(r, { maxTokens: v.maxTokens }));
      case "load":
        return new FigureView(v.view, expertLoad(list));
      case "drops":
        return new FigureView(v.view, droppedByPosition(r, { bins: v.bins }));
      case "coactivation":
        return new FigureView(v.view, coactivation(r));
      case "flow":
        return new FigureView(v.view, routingSankey(list));
    }
    return argError(op, "view", Object.values(ROUTING_VIEWS).join(", "), String(v.view));
  };
  const ui = new RoutingExplorer(draw as (vals: any) => FigureView, controls);
  ui.ready = ui.update();
  showAfterFirstRun(ui, ui.ready);
  return ui;
}
