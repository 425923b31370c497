/**
 * Containers (@jupyter-widgets/controls 2.0.0): Box, HBox, VBox, GridBox, and the selection
 * containers Tab and Accordion. Children travel as "IPY_MODEL_<id>" references; the kernel
 * API takes and returns widget objects.
 */
import { argError } from "../lib/errors.js";
import { resolveRef } from "./registry.js";
import { nullableInt, oneOf, show, strList, type Trait } from "./traits.js";
import { controlsSpec, defineTraitAccessors, domTraits, DOMWidget, type DOMWidgetOptions } from "./dom-widget.js";
import { ref, Widget, type ModelSpec } from "./widget.js";

/** A trait holding a list of widget references. */
export function widgetList(): Trait<string[]> {
  return {
    default: () => [],
    check: (v, ctx) => {
      if (!Array.isArray(v)) return argError(ctx.widget, ctx.name, "an array of widgets", show(v));
      return v.map((w, i) => {
        if (w instanceof Widget) {
          if (w.closed) argError(ctx.widget, `${ctx.name}[${i}]`, "an open widget", `closed ${w.spec.name}`);
          return ref(w);
        }
        if (typeof w === "string" && resolveRef(w)) return w;
        return argError(ctx.widget, `${ctx.name}[${i}]`, "a widget", show(w));
      });
    },
  };
}

export type BoxStyleName = "success" | "info" | "warning" | "danger" | "";

export interface BoxOptions extends DOMWidgetOptions {
  box_style?: BoxStyleName;
}

const boxTraits = () => ({ ...domTraits(), children: widgetList(), box_style: oneOf(["success", "info", "warning", "danger", ""], "") });

/** Base of the containers: `children` as widget objects. */
export class Box extends DOMWidget {
  constructor(children: readonly Widget[] = [], options: BoxOptions = {}, spec: ModelSpec = BOX) {
    if (!Array.isArray(children)) argError(spec.name, "children", "an array of widgets", show(children));
    super(spec, { ...(options as Record<string, unknown>), children });
  }
  /** The child widgets, in order. */
  get children(): Widget[] {
    return (this.get("children") as string[]).map((r) => resolveRef(r)).filter((w): w is Widget => w !== undefined);
  }
  set children(ws: readonly Widget[]) {
    this.set("children", ws);
  }
}
export interface Box {
  box_style: BoxStyleName;
  tooltip: string | null;
  tabbable: boolean | null;
}
const BOX = controlsSpec("Box", "BoxModel", "BoxView", boxTraits());
defineTraitAccessors(Box, BOX, ["children"]);

const HBOX = controlsSpec("HBox", "HBoxModel", "HBoxView", boxTraits());
/**
 * Lays children out in a row.
 * @example
 * new widgets.HBox([new widgets.IntSlider(), new widgets.Label("tokens")])
 */
export class HBox extends Box {
  constructor(children: readonly Widget[] = [], options: BoxOptions = {}) {
    super(children, options, HBOX);
  }
}

const VBOX = controlsSpec("VBox", "VBoxModel", "VBoxView", boxTraits());
/**
 * Lays children out in a column.
 * @example
 * new widgets.VBox([new widgets.Checkbox({ description: "causal" }), new widgets.Output()])
 */
export class VBox extends Box {
  constructor(children: readonly Widget[] = [], options: BoxOptions = {}) {
    super(children, options, VBOX);
  }
}

const GRIDBOX = controlsSpec("GridBox", "GridBoxModel", "GridBoxView", boxTraits());
/**
 * A CSS grid; set `layout.grid_template_columns` and friends.
 * @example
 * const cells = [...Array(6)].map((_, i) => new widgets.Button({ description: `head ${i}` }));
 * new widgets.GridBox(cells, { layout: { grid_template_columns: "repeat(3, 120px)" } })
 */
export class GridBox extends Box {
  constructor(children: readonly Widget[] = [], options: BoxOptions = {}) {
    super(children, options, GRIDBOX);
  }
}

export interface SelectionContainerOptions extends BoxOptions {
  /** One title per child. */
  titles?: string[];
  /** The open page (null: none). */
  selected_index?: number | null;
}

const containerTraits = () => ({ ...boxTraits(), titles: strList(), selected_index: nullableInt(null) });

/** Tab and Accordion: pages with titles, one selected. */
export class SelectionContainer extends Box {
  constructor(children: readonly Widget[], options: SelectionContainerOptions, spec: ModelSpec) {
    const titles = options.titles ?? [];
    const padded = Array.from({ length: Math.max(children.length, titles.length) }, (_, i) => titles[i] ?? "");
    super(children, { ...options, titles: padded } as BoxOptions, spec);
  }
  /** Sets the title of page `i`. */
  setTitle(i: number, title: string): void {
    const n = this.children.length;
    if (!Number.isInteger(i) || i < 0 || i >= n) argError(`${this.spec.name}.setTitle`, "i", `an index in [0, ${n})`, show(i));
    const t = (this.get("titles") as string[]).slice();
    while (t.length < n) t.push("");
    t[i] = title;
    this.set("titles", t);
  }
  protected override _coerce(c: Record<string, unknown>, s: Record<string, unknown>, origin: "kernel" | "frontend"): void {
    const n = ((c.children ?? s.children) as string[]).length;
    if ("children" in c && !("titles" in c)) {
      const t = (s.titles as string[]).slice(0, n);
      while (t.length < n) t.push("");
      c.titles = t;
    }
    if ("selected_index" in c && c.selected_index !== null) {
      const i = c.selected_index as number;
      if (i < 0 || i >= n) {
        if (origin === "frontend") delete c.selected_index;
        else argError(this.spec.name, "selected_index", `an index in [0, ${n}) or null`, show(i));
      }
    }
  }
}
export interface SelectionContainer {
  titles: string[];
  selected_index: number | null;
}

const TAB = controlsSpec("Tab", "TabModel", "TabView", containerTraits());
/**
 * Pages shown one at a time under tabs; the first page is selected when there are children.
 * @example
 * new widgets.Tab([new widgets.Label("maps"), new widgets.Label("stats")], { titles: ["Attention", "Stats"] })
 */
export class Tab extends SelectionContainer {
  constructor(children: readonly Widget[] = [], options: SelectionContainerOptions = {}) {
    const sel = options.selected_index === undefined && children.length > 0 ? 0 : options.selected_index;
    super(children, { ...options, selected_index: sel ?? null }, TAB);
  }
}
defineTraitAccessors(Tab, TAB, ["children"]);

const ACCORDION = controlsSpec("Accordion", "AccordionModel", "AccordionView", containerTraits());
/**
 * Collapsible pages, at most one open (none by default).
 * @example
 * new widgets.Accordion([new widgets.Label("router details")], { titles: ["Router"] })
 */
export class Accordion extends SelectionContainer {
  constructor(children: readonly Widget[] = [], options: SelectionContainerOptions = {}) {
    super(children, options, ACCORDION);
  }
}
defineTraitAccessors(Accordion, ACCORDION, ["children"]);
