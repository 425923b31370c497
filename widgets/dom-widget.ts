/**
 * Widgets that have a view on the page: CSS layout, per-control style, DOM classes, tooltip.
 * Layout and style are separate models in the protocol. Front-ends cope with them being absent
 * (ipywidgets' DOMWidgetModel declares no default for them on purpose), so we create them only
 * when a user sets one: `new IntSlider({ layout: { width: "300px" } })` or `s.layout.width = ...`.
 */
import { argError } from "../lib/errors.js";
import { resolveRef } from "./registry.js";
import { bool, nullableStr, show, str, strList, type Trait, type Traits } from "./traits.js";
import { BASE, CONTROLS } from "./versions.js";
import { defineAccessors, ref, Widget, type ModelSpec } from "./widget.js";

/** The CSS properties a LayoutModel (@jupyter-widgets/base 2.0.0) syncs; all default to null. */
export const LAYOUT_KEYS = [
  "align_content", "align_items", "align_self", "border_top", "border_right", "border_bottom", "border_left",
  "bottom", "display", "flex", "flex_flow", "grid_area", "grid_auto_columns", "grid_auto_flow", "grid_auto_rows",
  "grid_column", "grid_gap", "grid_row", "grid_template_areas", "grid_template_columns", "grid_template_rows",
  "height", "justify_content", "justify_items", "left", "margin", "max_height", "max_width", "min_height",
  "min_width", "object_fit", "object_position", "order", "overflow", "padding", "right", "top", "visibility", "width",
] as const;

export type LayoutKey = (typeof LAYOUT_KEYS)[number];
/** Layout options: CSS values as strings; `border` sets the four sides at once. */
export type LayoutOptions = { [K in LayoutKey]?: string | null } & { border?: string | null };

const LAYOUT_SPEC: ModelSpec = {
  name: "Layout",
  model: { module: BASE.module, version: BASE.version, name: "LayoutModel" },
  view: { module: BASE.module, version: BASE.version, name: "LayoutView" },
  traits: Object.fromEntries(LAYOUT_KEYS.map((k) => [k, nullableStr(null)])),
};

/**
 * The CSS layout of a widget (a LayoutModel).
 * @example
 * const s = new widgets.IntSlider({ layout: { width: "400px" } });
 * s.layout.margin = "0 0 0 20px";
 */
export class Layout extends Widget {
  constructor(options: LayoutOptions = {}) {
    const { border, ...rest } = options ?? {};
    const sides = border === undefined ? {} : { border_top: border, border_right: border, border_bottom: border, border_left: border };
    super(LAYOUT_SPEC, { ...sides, ...rest });
  }
  /** Sets the four border sides at once (read: the top side). */
  get border(): string | null {
    return this.get("border_top");
  }
  set border(v: string | null) {
    this.setState({ border_top: v, border_right: v, border_bottom: v, border_left: v });
  }
}
export interface Layout extends Record<LayoutKey, string | null> {}
defineAccessors(Layout, LAYOUT_KEYS);

/** Style models of @jupyter-widgets/controls 2.0.0 and the keys each syncs. */
export const STYLE_KEYS: Record<string, readonly string[]> = {
  DescriptionStyleModel: ["description_width"],
  SliderStyleModel: ["description_width", "handle_color"],
  ProgressStyleModel: ["description_width", "bar_color"],
  ButtonStyleModel: ["button_color", "font_family", "font_size", "font_style", "font_variant", "font_weight", "text_color", "text_decoration"],
  ToggleButtonStyleModel: ["description_width", "font_family", "font_size", "font_style", "font_variant", "font_weight", "text_color", "text_decoration"],
  ToggleButtonsStyleModel: ["button_width", "description_width", "font_weight"],
  CheckboxStyleModel: ["background", "description_width"],
  TextStyleModel: ["background", "description_width", "font_size", "text_color"],
  LabelStyleModel: ["background", "description_width", "font_family", "font_size", "font_style", "font_variant", "font_weight", "text_color", "text_decoration"],
  HTMLStyleModel: ["background", "description_width", "font_size", "text_color"],
  HTMLMathStyleModel: ["background", "description_width", "font_size", "text_color"],
};

/**
 * Per-control styling (a *StyleModel viewed by @jupyter-widgets/base's StyleView). Only the keys
 * you set are sent; the front-end fills in the rest.
 * @example
 * const b = new widgets.Button({ description: "Run", style: { button_color: "lightgreen" } });
 * b.style.set("font_weight", "bold");
 */
export class Style extends Widget {
  constructor(modelName: string, options: Record<string, string | null> = {}) {
    const keys = STYLE_KEYS[modelName];
    if (!keys) argError("Style", "modelName", `one of ${Object.keys(STYLE_KEYS).join(", ")}`, show(modelName));
    const traits: Traits = {};
    for (const k of keys) traits[k] = { default: () => undefined, check: nullableStr(null).check };
    super(
      {
        name: modelName.replace(/Model$/, ""),
        model: { module: CONTROLS.module, version: CONTROLS.version, name: modelName },
        view: { module: BASE.module, version: BASE.version, name: "StyleView" },
        traits,
      },
      options,
    );
  }
}

/** A trait holding a Layout reference; a plain object becomes a new Layout. */
function layoutTrait(): Trait<string | undefined> {
  return {
    default: () => undefined,
    check: (v, ctx) => {
      if (v instanceof Layout) return ref(v);
      if (typeof v === "string" && resolveRef(v) instanceof Layout) return v;
      if (v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Widget)) return ref(new Layout(v as LayoutOptions));
      return argError(ctx.widget, ctx.name, "a Layout or an object of CSS properties", show(v));
    },
  };
}

/** A trait holding a reference to a style model of kind `modelName`. */
function styleTrait(modelName: string): Trait<string | undefined> {
  return {
    default: () => undefined,
    check: (v, ctx) => {
      if (v instanceof Style && v.spec.model.name === modelName) return ref(v);
      if (typeof v === "string" && resolveRef(v)?.spec.model.name === modelName) return v;
      if (v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Widget)) {
        return ref(new Style(modelName, v as Record<string, string | null>));
      }
      return argError(ctx.widget, ctx.name, `a ${modelName.replace(/Model$/, "")} or an object of its keys (${STYLE_KEYS[modelName]!.join(", ")})`, show(v));
    },
  };
}

function nullableBool(d: boolean | null): Trait<boolean | null> {
  return {
    default: () => d,
    check: (v, ctx) => (v === null || typeof v === "boolean" ? v : argError(ctx.widget, ctx.name, "a boolean or null", show(v))),
  };
}

/** Options every widget with a view accepts. */
export interface DOMWidgetOptions {
  /** CSS layout: a Layout or its properties, e.g. `{ width: "300px" }`. */
  layout?: Layout | LayoutOptions;
  /** CSS classes added to the view's element. */
  _dom_classes?: string[];
  /** Whether the view is in the tab order (null: the browser's default). */
  tabbable?: boolean | null;
  /** Hover text. */
  tooltip?: string | null;
}

/** Options of widgets that show a description label. */
export interface DescriptionOptions extends DOMWidgetOptions {
  /** The label shown beside the control. */
  description?: string;
  /** Render the description as HTML. */
  description_allow_html?: boolean;
}

/** Traits every DOM widget has; `style` names its style model, if it has one. */
export function domTraits(styleModel?: string): Traits {
  const t: Traits = { _dom_classes: strList(), layout: layoutTrait(), tabbable: nullableBool(null), tooltip: nullableStr(null) };
  if (styleModel) t.style = styleTrait(styleModel);
  return t;
}

/** DOM traits plus a description label. */
export function descriptionTraits(styleModel?: string): Traits {
  return { ...domTraits(styleModel), description: str(""), description_allow_html: bool(false) };
}

/** A spec for a @jupyter-widgets/controls 2.0.0 model and view. */
export function controlsSpec(name: string, modelName: string, viewName: string, traits: Traits): ModelSpec {
  return {
    name,
    model: { module: CONTROLS.module, version: CONTROLS.version, name: modelName },
    view: { module: CONTROLS.module, version: CONTROLS.version, name: viewName },
    traits,
  };
}

/**
 * Base of widgets with a view: adds `layout` and `style`, created on first use.
 */
export class DOMWidget extends Widget {
  /** The widget's Layout (created, and sent to the front-end, on first access). */
  get layout(): Layout {
    let l = resolveRef(this.get("layout"));
    if (!(l instanceof Layout)) {
      l = new Layout();
      this.set("layout", l);
    }
    return l as Layout;
  }
  set layout(v: Layout | LayoutOptions) {
    this.set("layout", v);
  }

  /** The widget's style model (created on first access); read/write keys with get/set. */
  get style(): Style {
    const t = this.spec.traits.style;
    if (!t) argError(this.spec.name, "style", "a property of a widget that has a style model", "a widget without one");
    let s = resolveRef(this.get("style"));
    if (!(s instanceof Style)) {
      this.set("style", {});
      s = resolveRef(this.get("style"));
    }
    return s as Style;
  }
  set style(v: Style | Record<string, string | null>) {
    this.set("style", v);
  }
}

/** The typed properties a widget class gets from its options (layout/style have their own). */
export type Props<O> = Required<Omit<O, "layout" | "style">>;

/** Accessors for every public trait of `spec` (everything but `_`-keys, layout and style). */
export function defineTraitAccessors(cls: { prototype: object }, spec: ModelSpec, except: readonly string[] = []): void {
  defineAccessors(
    cls,
    Object.keys(spec.traits).filter((k) => !k.startsWith("_") && k !== "layout" && k !== "style" && !except.includes(k)),
  );
}
