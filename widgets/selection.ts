/**
 * Single-choice widgets (@jupyter-widgets/controls 2.0.0): Dropdown, Select, RadioButtons,
 * ToggleButtons. The protocol only carries `_options_labels` and `index`; the option values,
 * which can be anything, stay in the kernel, and `value`/`label` are derived from `index`.
 */
import { argError } from "../lib/errors.js";
import { sameValue } from "./buffers.js";
import { bool, int, nullableInt, oneOf, show, strList, type Traits } from "./traits.js";
import {
  controlsSpec, defineTraitAccessors, descriptionTraits, DOMWidget, type DescriptionOptions, type Style,
} from "./dom-widget.js";
import type { Change, ModelSpec } from "./widget.js";

/** Options: plain values (labelled by String(v)), [label, value] pairs, or {label: value}. */
export type OptionsInput<T> = readonly (T | readonly [string, T])[] | Readonly<Record<string, T>>;

export interface SelectionOptions<T> extends DescriptionOptions {
  options?: OptionsInput<T>;
  /** The selected value (must be one of the options). */
  value?: T | null;
  /** The selected label. */
  label?: string | null;
  /** The selected index (null: nothing selected). */
  index?: number | null;
  disabled?: boolean;
  style?: Style | { description_width?: string };
}

/** Normalises options to [label, value] pairs. */
export function toPairs<T>(widget: string, options: unknown): [string, T][] {
  if (options === undefined) return [];
  if (Array.isArray(options)) {
    return options.map((o) =>
      Array.isArray(o) && o.length === 2 && typeof o[0] === "string" ? [o[0], o[1] as T] : [String(o), o as T],
    );
  }
  if (options !== null && typeof options === "object") return Object.entries(options as Record<string, T>);
  return argError(widget, "options", "an array of values or [label, value] pairs, or an object {label: value}", show(options));
}

function selectionTraits(styleModel: string): Traits {
  return { ...descriptionTraits(styleModel), _options_labels: strList(), index: nullableInt(null), disabled: bool(false) };
}

/**
 * Base of the single-selection widgets: `value`, `label`, `index` and `options` in the kernel,
 * `_options_labels` + `index` on the wire. Observers of "value" and "label" fire when the
 * selection changes from either side.
 */
export class Selection<T = unknown> extends DOMWidget {
  private _options: [string, T][];
  private _last: { value: T | null; label: string | null };

  constructor(spec: ModelSpec, options: SelectionOptions<T> & Record<string, unknown>) {
    const { options: opts, value, label, index, ...rest } = options ?? {};
    const pairs = toPairs<T>(spec.name, opts);
    let i: number | null = pairs.length ? 0 : null;
    if (index !== undefined && index !== null) {
      if (!Number.isInteger(index) || index < 0 || index >= pairs.length) {
        argError(spec.name, "index", `an integer in [0, ${pairs.length})`, show(index));
      }
      i = index;
    } else if (index === null) {
      i = null;
    }
    if (label !== undefined && label !== null) {
      const j = pairs.findIndex((p) => p[0] === label);
      if (j < 0) argError(spec.name, "label", `one of the option labels (${pairs.map((p) => JSON.stringify(p[0])).join(", ")})`, show(label));
      i = j;
    }
    if (value !== undefined && value !== null) {
      const j = pairs.findIndex((p) => sameValue(p[1], value));
      if (j < 0) argError(spec.name, "value", `one of the options (${pairs.map((p) => JSON.stringify(p[0])).join(", ")})`, show(value));
      i = j;
    }
    super(spec, { ...rest, _options_labels: pairs.map((p) => p[0]), index: i });
    this._options = pairs;
    this._last = { value: this.value, label: this.label };
  }

  /** The options as [label, value] pairs. */
  get options(): [string, T][] {
    return this._options.map((p) => [p[0], p[1]]);
  }
  /** Replaces the options; keeps the selected value if it is still offered, else selects the first. */
  set options(opts: OptionsInput<T>) {
    const pairs = toPairs<T>(this.spec.name, opts);
    const current = this.value;
    const j = pairs.findIndex((p) => sameValue(p[1], current));
    this._options = pairs;
    this.setState({ _options_labels: pairs.map((p) => p[0]), index: j >= 0 ? j : pairs.length ? 0 : null });
  }

  /** The selected value, or null. */
  get value(): T | null {
    const i = this.get("index") as number | null;
    return i === null || i === undefined ? null : (this._options[i]?.[1] ?? null);
  }
  set value(v: T | null) {
    if (v === null) {
      this.set("index", null);
      return;
    }
    const j = this._options.findIndex((p) => sameValue(p[1], v));
    if (j < 0) argError(this.spec.name, "value", `one of the options (${this._options.map((p) => JSON.stringify(p[0])).join(", ")})`, show(v));
    this.set("index", j);
  }

  /** The selected label, or null. */
  get label(): string | null {
    const i = this.get("index") as number | null;
    return i === null || i === undefined ? null : (this._options[i]?.[0] ?? null);
  }
  set label(l: string | null) {
    if (l === null) {
      this.set("index", null);
      return;
    }
    const j = this._options.findIndex((p) => p[0] === l);
    if (j < 0) argError(this.spec.name, "label", `one of the option labels (${this._options.map((p) => JSON.stringify(p[0])).join(", ")})`, show(l));
    this.set("index", j);
  }

  protected override _coerce(c: Record<string, unknown>, s: Record<string, unknown>, origin: "kernel" | "frontend"): void {
    if (!("index" in c)) return;
    const n = ((c._options_labels ?? s._options_labels) as string[]).length;
    const i = c.index as number | null;
    if (i !== null && (i < 0 || i >= n)) {
      if (origin === "frontend") delete c.index;
      else argError(this.spec.name, "index", `an integer in [0, ${n}) or null`, show(i));
    }
  }

  protected override _isDerived(name: string): boolean {
    return name === "value" || name === "label";
  }

  protected override _derive(changes: Change[]): Change[] {
    if (!changes.some((c) => c.name === "index" || c.name === "_options_labels")) return [];
    const now = { value: this.value, label: this.label };
    const out: Change[] = [];
    if (!sameValue(now.value, this._last.value)) out.push({ name: "value", old: this._last.value, new: now.value, owner: this });
    if (now.label !== this._last.label) out.push({ name: "label", old: this._last.label, new: now.label, owner: this });
    this._last = now;
    return out;
  }
}

const DROPDOWN = controlsSpec("Dropdown", "DropdownModel", "DropdownView", selectionTraits("DescriptionStyleModel"));
/**
 * A drop-down list.
 * @example
 * const mask = new widgets.Dropdown({ options: ["causal", "sliding", "dilated"], value: "sliding", description: "mask" });
 * mask.observe("value", (c) => console.log(c.new));
 * mask
 */
export class Dropdown<T = unknown> extends Selection<T> {
  constructor(options: SelectionOptions<T> = {}) {
    super(DROPDOWN, options as SelectionOptions<T> & Record<string, unknown>);
  }
}
export interface Dropdown<T = unknown> {
  description: string;
  description_allow_html: boolean;
  disabled: boolean;
  index: number | null;
  tooltip: string | null;
  tabbable: boolean | null;
}
defineTraitAccessors(Dropdown, DROPDOWN, ["_options_labels"]);

export interface SelectOptions<T> extends SelectionOptions<T> {
  /** Visible rows. */
  rows?: number;
}
const SELECT = controlsSpec("Select", "SelectModel", "SelectView", { ...selectionTraits("DescriptionStyleModel"), rows: int(5) });
/**
 * A list box showing several options at once.
 * @example
 * const e = new widgets.Select({ options: [["expert 0", 0], ["expert 1", 1]], rows: 4 });
 * e
 */
export class Select<T = unknown> extends Selection<T> {
  constructor(options: SelectOptions<T> = {}) {
    super(SELECT, options as SelectionOptions<T> & Record<string, unknown>);
  }
}
export interface Select<T = unknown> extends Dropdown<T> {
  rows: number;
}
defineTraitAccessors(Select, SELECT);

const RADIO = controlsSpec("RadioButtons", "RadioButtonsModel", "RadioButtonsView", selectionTraits("DescriptionStyleModel"));
/**
 * Radio buttons.
 * @example
 * const r = new widgets.RadioButtons({ options: ["top-1", "top-2"], description: "routing" });
 * r
 */
export class RadioButtons<T = unknown> extends Selection<T> {
  constructor(options: SelectionOptions<T> = {}) {
    super(RADIO, options as SelectionOptions<T> & Record<string, unknown>);
  }
}
export interface RadioButtons<T = unknown> extends Dropdown<T> {}
defineTraitAccessors(RadioButtons, RADIO);

export interface ToggleButtonsOptions<T> extends Omit<SelectionOptions<T>, "style"> {
  /** Tooltip per option. */
  tooltips?: string[];
  /** Font Awesome icon name per option. */
  icons?: string[];
  button_style?: "primary" | "success" | "info" | "warning" | "danger" | "";
  style?: Style | { button_width?: string; description_width?: string; font_weight?: string };
}
const TOGGLE_BUTTONS = controlsSpec("ToggleButtons", "ToggleButtonsModel", "ToggleButtonsView", {
  ...selectionTraits("ToggleButtonsStyleModel"),
  tooltips: strList(),
  icons: strList(),
  button_style: oneOf(["primary", "success", "info", "warning", "danger", ""], ""),
});
/**
 * A row of buttons of which one is selected.
 * @example
 * const dt = new widgets.ToggleButtons({ options: ["f32", "f16", "bf16"], description: "dtype" });
 * dt
 */
export class ToggleButtons<T = unknown> extends Selection<T> {
  constructor(options: ToggleButtonsOptions<T> = {}) {
    super(TOGGLE_BUTTONS, options as SelectionOptions<T> & Record<string, unknown>);
  }
}
export interface ToggleButtons<T = unknown> extends Dropdown<T> {
  tooltips: string[];
  icons: string[];
  button_style: "primary" | "success" | "info" | "warning" | "danger" | "";
}
defineTraitAccessors(ToggleButtons, TOGGLE_BUTTONS);

export interface SelectionSliderOptions<T> extends Omit<SelectionOptions<T>, "style"> {
  orientation?: "horizontal" | "vertical";
  /** Show the selected label beside the slider. */
  readout?: boolean;
  continuous_update?: boolean;
  behavior?: "drag-tap" | "drag-snap" | "tap" | "drag" | "snap";
  style?: Style | { description_width?: string; handle_color?: string | null };
}
const SELECTION_SLIDER = controlsSpec("SelectionSlider", "SelectionSliderModel", "SelectionSliderView", {
  ...selectionTraits("SliderStyleModel"),
  orientation: oneOf(["horizontal", "vertical"], "horizontal"),
  readout: bool(true),
  continuous_update: bool(true),
  behavior: oneOf(["drag-tap", "drag-snap", "tap", "drag", "snap"], "drag-tap"),
});
/**
 * A slider over a list of options (e.g. block sizes), showing the selected label.
 * @example
 * const block = new widgets.SelectionSlider({ options: [16, 32, 64, 128], value: 64, description: "block" });
 * block
 */
export class SelectionSlider<T = unknown> extends Selection<T> {
  constructor(options: SelectionSliderOptions<T> = {}) {
    super(SELECTION_SLIDER, options as SelectionOptions<T> & Record<string, unknown>);
  }
}
export interface SelectionSlider<T = unknown> extends Dropdown<T> {
  orientation: "horizontal" | "vertical";
  readout: boolean;
  continuous_update: boolean;
  behavior: "drag-tap" | "drag-snap" | "tap" | "drag" | "snap";
}
defineTraitAccessors(SelectionSlider, SELECTION_SLIDER);

/** Non-negative distinct integers (SelectMultiple's selected indices). */
function indexList(): import("./traits.js").Trait<number[]> {
  return {
    default: () => [],
    check: (v, ctx) => {
      if (!Array.isArray(v) || !v.every((i) => Number.isInteger(i) && i >= 0) || new Set(v).size !== v.length) {
        return argError(ctx.widget, ctx.name, "an array of distinct non-negative integer indices", show(v));
      }
      return v.slice();
    },
  };
}

export interface SelectMultipleOptions<T> extends DescriptionOptions {
  options?: OptionsInput<T>;
  /** The selected values (each one of the options). */
  value?: readonly T[];
  /** The selected labels. */
  label?: readonly string[];
  /** The selected indices. */
  index?: readonly number[];
  /** Visible rows (null: the front-end's default). */
  rows?: number | null;
  disabled?: boolean;
  style?: Style | { description_width?: string };
}
const SELECT_MULTIPLE = controlsSpec("SelectMultiple", "SelectMultipleModel", "SelectMultipleView", {
  ...descriptionTraits("DescriptionStyleModel"),
  _options_labels: strList(),
  index: indexList(),
  rows: nullableInt(null),
  disabled: bool(false),
});

/**
 * A list box where several options can be selected (ctrl/shift-click); `value` is an array.
 * @example
 * const heads = new widgets.SelectMultiple({ options: [0, 1, 2, 3, 4, 5, 6, 7], value: [0, 3], description: "heads" });
 * heads.observe("value", (c) => console.log(c.new));
 * heads
 */
export class SelectMultiple<T = unknown> extends DOMWidget {
  private _options: [string, T][];
  private _last: { value: T[]; label: string[] };

  constructor(options: SelectMultipleOptions<T> = {}) {
    const { options: opts, value, label, index, ...rest } = options ?? {};
    const pairs = toPairs<T>("SelectMultiple", opts);
    const find = (arg: string, xs: readonly unknown[], match: (p: [string, T], x: unknown) => boolean) =>
      xs.map((x) => {
        const j = pairs.findIndex((p) => match(p, x));
        if (j < 0) argError("SelectMultiple", arg, `entries among the options (${pairs.map((p) => JSON.stringify(p[0])).join(", ")})`, show(x));
        return j;
      });
    let idx: readonly number[] = index ?? [];
    if (label !== undefined) idx = find("label", label, (p, x) => p[0] === x);
    if (value !== undefined) idx = find("value", value, (p, x) => sameValue(p[1], x));
    super(SELECT_MULTIPLE, { ...(rest as Record<string, unknown>), _options_labels: pairs.map((p) => p[0]), index: [...idx] });
    this._options = pairs;
    this._last = { value: this.value, label: this.label };
  }

  get options(): [string, T][] {
    return this._options.map((p) => [p[0], p[1]]);
  }
  /** Replaces the options, keeping the selected values that are still offered. */
  set options(opts: OptionsInput<T>) {
    const pairs = toPairs<T>(this.spec.name, opts);
    const keep = this.value.map((v) => pairs.findIndex((p) => sameValue(p[1], v))).filter((j) => j >= 0);
    this._options = pairs;
    this.setState({ _options_labels: pairs.map((p) => p[0]), index: keep });
  }

  /** The selected values, in index order of selection. */
  get value(): T[] {
    return (this.get("index") as number[]).map((i) => this._options[i]?.[1]).filter((v): v is T => v !== undefined);
  }
  set value(vs: readonly T[]) {
    if (!Array.isArray(vs)) argError(this.spec.name, "value", "an array of options", show(vs));
    this.set(
      "index",
      vs.map((v) => {
        const j = this._options.findIndex((p) => sameValue(p[1], v));
        if (j < 0) argError(this.spec.name, "value", `entries among the options (${this._options.map((p) => JSON.stringify(p[0])).join(", ")})`, show(v));
        return j;
      }),
    );
  }

  /** The selected labels. */
  get label(): string[] {
    return (this.get("index") as number[]).map((i) => this._options[i]?.[0]).filter((l): l is string => l !== undefined);
  }

  protected override _coerce(c: Record<string, unknown>, s: Record<string, unknown>, origin: "kernel" | "frontend"): void {
    if (!("index" in c)) return;
    const n = ((c._options_labels ?? s._options_labels) as string[]).length;
    const bad = (c.index as number[]).find((i) => i >= n);
    if (bad !== undefined) {
      if (origin === "frontend") delete c.index;
      else argError(this.spec.name, "index", `indices in [0, ${n})`, show(bad));
    }
  }

  protected override _isDerived(name: string): boolean {
    return name === "value" || name === "label";
  }

  protected override _derive(changes: Change[]): Change[] {
    if (!changes.some((c) => c.name === "index" || c.name === "_options_labels")) return [];
    const now = { value: this.value, label: this.label };
    const out: Change[] = [];
    if (!sameValue(now.value, this._last.value)) out.push({ name: "value", old: this._last.value, new: now.value, owner: this });
    if (!sameValue(now.label, this._last.label)) out.push({ name: "label", old: this._last.label, new: now.label, owner: this });
    this._last = now;
    return out;
  }
}
export interface SelectMultiple<T = unknown> {
  index: number[];
  rows: number | null;
  disabled: boolean;
  description: string;
  description_allow_html: boolean;
  tooltip: string | null;
  tabbable: boolean | null;
}
defineTraitAccessors(SelectMultiple, SELECT_MULTIPLE, ["_options_labels"]);
