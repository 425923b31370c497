/**
 * Sliders (@jupyter-widgets/controls 2.0.0): IntSlider, FloatSlider, FloatLogSlider,
 * IntRangeSlider, FloatRangeSlider. Values are clamped into [min, max] as ipywidgets does.
 */
import { argError } from "../lib/errors.js";
import { bool, float, int, nullableFloat, oneOf, pair, str, type Traits } from "./traits.js";
import {
  controlsSpec, defineTraitAccessors, descriptionTraits, DOMWidget, type DescriptionOptions, type Props, type Style,
} from "./dom-widget.js";

/** Slider style: label width and handle colour. */
export interface SliderStyle {
  description_width?: string;
  handle_color?: string | null;
}

interface SliderCommon extends DescriptionOptions {
  /** "horizontal" (default) or "vertical". */
  orientation?: "horizontal" | "vertical";
  /** Show the value beside the slider. */
  readout?: boolean;
  /** d3-format string for the readout. */
  readout_format?: string;
  /** Send every change while dragging (true) or only on release (false). */
  continuous_update?: boolean;
  disabled?: boolean;
  /** How the handle responds: "drag-tap" (default), "drag-snap", "tap", "drag" or "snap". */
  behavior?: "drag-tap" | "drag-snap" | "tap" | "drag" | "snap";
  style?: Style | SliderStyle;
}

function sliderTraits(fmt: string): Traits {
  return {
    ...descriptionTraits("SliderStyleModel"),
    orientation: oneOf(["horizontal", "vertical"], "horizontal"),
    readout: bool(true),
    readout_format: str(fmt),
    continuous_update: bool(true),
    disabled: bool(false),
    behavior: oneOf(["drag-tap", "drag-snap", "tap", "drag", "snap"], "drag-tap"),
  };
}

/**
 * Keeps min <= max and the value inside [min, max] (for log sliders inside [base^min, base^max]);
 * a kernel-side min > max is an error, a front-end one is ignored.
 */
function coerceRange(
  widget: string,
  changes: Record<string, unknown>,
  state: Record<string, unknown>,
  origin: "kernel" | "frontend",
  log = false,
): void {
  if (!("value" in changes || "min" in changes || "max" in changes || "base" in changes)) return;
  const min = (changes.min ?? state.min) as number;
  const max = (changes.max ?? state.max) as number;
  if (min > max) {
    if (origin === "frontend") return;
    const which = "min" in changes ? "min" : "max";
    argError(widget, which, which === "min" ? `<= max (${max})` : `>= min (${min})`, String(changes[which]));
  }
  const base = (changes.base ?? state.base ?? 10) as number;
  const lo = log ? base ** min : min;
  const hi = log ? base ** max : max;
  const clamp = (x: number) => Math.min(hi, Math.max(lo, x));
  const v = changes.value ?? state.value;
  if (Array.isArray(v)) {
    const c = [clamp(v[0]), clamp(v[1])];
    if ("value" in changes || c[0] !== v[0] || c[1] !== v[1]) changes.value = c;
  } else if (typeof v === "number") {
    const c = clamp(v);
    if ("value" in changes || c !== v) changes.value = c;
  }
}

// ---- IntSlider

export interface IntSliderOptions extends SliderCommon {
  value?: number;
  min?: number;
  max?: number;
  step?: number;
}
const INT_SLIDER = controlsSpec("IntSlider", "IntSliderModel", "IntSliderView", {
  ...sliderTraits("d"),
  value: int(0),
  min: int(0),
  max: int(100),
  step: int(1),
});

/**
 * A slider over integers.
 * @example
 * const w = new widgets.IntSlider({ value: 256, min: 16, max: 1024, step: 16, description: "window" });
 * w.observe("value", (c) => console.log("window", c.new));
 * w
 */
export class IntSlider extends DOMWidget {
  constructor(options: IntSliderOptions = {}) {
    super(INT_SLIDER, options as Record<string, unknown>);
  }
  protected override _coerce(c: Record<string, unknown>, s: Record<string, unknown>, o: "kernel" | "frontend"): void {
    coerceRange(this.spec.name, c, s, o);
  }
}
export interface IntSlider extends Props<IntSliderOptions> {}
defineTraitAccessors(IntSlider, INT_SLIDER);

// ---- FloatSlider

export interface FloatSliderOptions extends SliderCommon {
  value?: number;
  min?: number;
  max?: number;
  step?: number | null;
}
const FLOAT_SLIDER = controlsSpec("FloatSlider", "FloatSliderModel", "FloatSliderView", {
  ...sliderTraits(".2f"),
  value: float(0),
  min: float(0),
  max: float(100),
  step: nullableFloat(0.1),
});

/**
 * A slider over real numbers.
 * @example
 * const t = new widgets.FloatSlider({ value: 1.0, min: 0.1, max: 4, step: 0.1, description: "temperature" });
 * t
 */
export class FloatSlider extends DOMWidget {
  constructor(options: FloatSliderOptions = {}) {
    super(FLOAT_SLIDER, options as Record<string, unknown>);
  }
  protected override _coerce(c: Record<string, unknown>, s: Record<string, unknown>, o: "kernel" | "frontend"): void {
    coerceRange(this.spec.name, c, s, o);
  }
}
export interface FloatSlider extends Props<FloatSliderOptions> {}
defineTraitAccessors(FloatSlider, FLOAT_SLIDER);

// ---- FloatLogSlider

export interface FloatLogSliderOptions extends SliderCommon {
  /** The value itself (not its exponent). */
  value?: number;
  /** The base of the exponent. */
  base?: number;
  /** Minimum exponent. */
  min?: number;
  /** Maximum exponent. */
  max?: number;
  /** Exponent step. */
  step?: number;
}
const FLOAT_LOG_SLIDER = controlsSpec("FloatLogSlider", "FloatLogSliderModel", "FloatLogSliderView", {
  ...sliderTraits(".3g"),
  value: float(1),
  base: float(10),
  min: float(0),
  max: float(4),
  step: float(0.1),
});

/**
 * A slider on a log scale: `min`/`max`/`step` are exponents of `base`.
 * @example
 * const lr = new widgets.FloatLogSlider({ value: 1e-3, base: 10, min: -6, max: -1, description: "lr" });
 * lr
 */
export class FloatLogSlider extends DOMWidget {
  constructor(options: FloatLogSliderOptions = {}) {
    super(FLOAT_LOG_SLIDER, options as Record<string, unknown>);
  }
  protected override _coerce(c: Record<string, unknown>, s: Record<string, unknown>, o: "kernel" | "frontend"): void {
    coerceRange(this.spec.name, c, s, o, true);
  }
}
export interface FloatLogSlider extends Props<FloatLogSliderOptions> {}
defineTraitAccessors(FloatLogSlider, FLOAT_LOG_SLIDER);

/** Without a value, a range slider spans the middle half of [min, max] (as ipywidgets does). */
function withQuarterRange<O extends { value?: [number, number]; min?: number; max?: number }>(o: O, integer: boolean): O {
  if (o === null || typeof o !== "object" || o.value !== undefined) return o;
  const min = typeof o.min === "number" ? o.min : 0;
  const max = typeof o.max === "number" ? o.max : 100;
  const at = (f: number) => (integer ? Math.round(min + f * (max - min)) : min + f * (max - min));
  return { ...o, value: [at(0.25), at(0.75)] };
}

// ---- IntRangeSlider

export interface IntRangeSliderOptions extends SliderCommon {
  /** [low, high]. */
  value?: [number, number];
  min?: number;
  max?: number;
  step?: number;
}
const INT_RANGE_SLIDER = controlsSpec("IntRangeSlider", "IntRangeSliderModel", "IntRangeSliderView", {
  ...sliderTraits("d"),
  value: pair([25, 75], true),
  min: int(0),
  max: int(100),
  step: int(1),
});

/**
 * A two-handled slider over integers; `value` is `[low, high]`.
 * @example
 * const rows = new widgets.IntRangeSlider({ value: [0, 64], min: 0, max: 512, description: "rows" });
 * rows
 */
export class IntRangeSlider extends DOMWidget {
  constructor(options: IntRangeSliderOptions = {}) {
    super(INT_RANGE_SLIDER, withQuarterRange(options, true) as Record<string, unknown>);
  }
  protected override _coerce(c: Record<string, unknown>, s: Record<string, unknown>, o: "kernel" | "frontend"): void {
    coerceRange(this.spec.name, c, s, o);
  }
}
export interface IntRangeSlider extends Props<IntRangeSliderOptions> {}
defineTraitAccessors(IntRangeSlider, INT_RANGE_SLIDER);

// ---- FloatRangeSlider

export interface FloatRangeSliderOptions extends SliderCommon {
  /** [low, high]. */
  value?: [number, number];
  min?: number;
  max?: number;
  step?: number;
}
const FLOAT_RANGE_SLIDER = controlsSpec("FloatRangeSlider", "FloatRangeSliderModel", "FloatRangeSliderView", {
  ...sliderTraits(".2f"),
  value: pair([25, 75], false),
  min: float(0),
  max: float(100),
  step: float(0.1),
});

/**
 * A two-handled slider over real numbers; `value` is `[low, high]`.
 * @example
 * const band = new widgets.FloatRangeSlider({ value: [0.2, 0.8], min: 0, max: 1, step: 0.05 });
 * band
 */
export class FloatRangeSlider extends DOMWidget {
  constructor(options: FloatRangeSliderOptions = {}) {
    super(FLOAT_RANGE_SLIDER, withQuarterRange(options, false) as Record<string, unknown>);
  }
  protected override _coerce(c: Record<string, unknown>, s: Record<string, unknown>, o: "kernel" | "frontend"): void {
    coerceRange(this.spec.name, c, s, o);
  }
}
export interface FloatRangeSlider extends Props<FloatRangeSliderOptions> {}
defineTraitAccessors(FloatRangeSlider, FLOAT_RANGE_SLIDER);
