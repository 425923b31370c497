/**
 * Text and number entry (@jupyter-widgets/controls 2.0.0): Text, Textarea, IntText, FloatText,
 * BoundedIntText, BoundedFloatText.
 */
import { argError } from "../lib/errors.js";
import { bool, float, int, nullableFloat, nullableInt, str } from "./traits.js";
import {
  controlsSpec, defineTraitAccessors, descriptionTraits, DOMWidget, type DescriptionOptions, type Props, type Style,
} from "./dom-widget.js";
import type { Widget } from "./widget.js";

type TextStyle = { background?: string | null; description_width?: string; font_size?: string | null; text_color?: string | null };

export interface TextOptions extends DescriptionOptions {
  value?: string;
  /** Greyed-out hint shown when empty. */
  placeholder?: string;
  /** Send each keystroke (true) or only on Enter / blur (false). */
  continuous_update?: boolean;
  disabled?: boolean;
  style?: Style | TextStyle;
}
const TEXT = controlsSpec("Text", "TextModel", "TextView", {
  ...descriptionTraits("TextStyleModel"),
  value: str(""),
  placeholder: str("\u200b"),
  continuous_update: bool(true),
  disabled: bool(false),
});

/**
 * A single-line text box. `onSubmit` runs when the user presses Enter.
 * @example
 * const q = new widgets.Text({ placeholder: "prompt", description: "input" });
 * q.onSubmit((w) => console.log("submitted", w.value));
 * q
 */
export class Text extends DOMWidget {
  constructor(options: TextOptions = {}) {
    super(TEXT, options as Record<string, unknown>);
  }
  /** Runs `fn` when the user presses Enter (front-end custom message {event: "submit"}). */
  onSubmit(fn: (w: Text) => void | Promise<void>): () => void {
    if (typeof fn !== "function") argError("Text.onSubmit", "fn", "a function", typeof fn);
    return this.on("msg:custom", (content: any, _b, w: Widget) => (content?.event === "submit" ? fn(w as Text) : undefined));
  }
}
export interface Text extends Props<TextOptions> {}
defineTraitAccessors(Text, TEXT);

export interface TextareaOptions extends TextOptions {
  /** Visible rows (null: the front-end's default). */
  rows?: number | null;
}
const TEXTAREA = controlsSpec("Textarea", "TextareaModel", "TextareaView", {
  ...descriptionTraits("TextStyleModel"),
  value: str(""),
  placeholder: str("\u200b"),
  rows: nullableInt(null),
  continuous_update: bool(true),
  disabled: bool(false),
});

/**
 * A multi-line text box.
 * @example
 * const src = new widgets.Textarea({ value: "q @ k.T", rows: 4 });
 * src
 */
export class Textarea extends DOMWidget {
  constructor(options: TextareaOptions = {}) {
    super(TEXTAREA, options as Record<string, unknown>);
  }
}
export interface Textarea extends Props<TextareaOptions> {}
defineTraitAccessors(Textarea, TEXTAREA);

interface NumberTextOptions extends DescriptionOptions {
  value?: number;
  continuous_update?: boolean;
  disabled?: boolean;
  style?: Style | { description_width?: string };
}
export interface IntTextOptions extends NumberTextOptions {
  step?: number;
}
export interface FloatTextOptions extends NumberTextOptions {
  step?: number | null;
}

const numberTraits = () => ({ ...descriptionTraits("DescriptionStyleModel"), continuous_update: bool(false), disabled: bool(false) });

const INT_TEXT = controlsSpec("IntText", "IntTextModel", "IntTextView", { ...numberTraits(), value: int(0), step: int(1) });
/**
 * An integer entry box.
 * @example
 * const k = new widgets.IntText({ value: 2, description: "top-k" });
 * k
 */
export class IntText extends DOMWidget {
  constructor(options: IntTextOptions = {}) {
    super(INT_TEXT, options as Record<string, unknown>);
  }
}
export interface IntText extends Props<IntTextOptions> {}
defineTraitAccessors(IntText, INT_TEXT);

const FLOAT_TEXT = controlsSpec("FloatText", "FloatTextModel", "FloatTextView", { ...numberTraits(), value: float(0), step: nullableFloat(null) });
/**
 * A number entry box.
 * @example
 * const cf = new widgets.FloatText({ value: 1.25, description: "capacity" });
 * cf
 */
export class FloatText extends DOMWidget {
  constructor(options: FloatTextOptions = {}) {
    super(FLOAT_TEXT, options as Record<string, unknown>);
  }
}
export interface FloatText extends Props<FloatTextOptions> {}
defineTraitAccessors(FloatText, FLOAT_TEXT);

/** Clamps value into [min, max]; a kernel-side min > max is an error. */
function coerceBounded(widget: string, c: Record<string, unknown>, s: Record<string, unknown>, origin: "kernel" | "frontend"): void {
  if (!("value" in c || "min" in c || "max" in c)) return;
  const min = (c.min ?? s.min) as number;
  const max = (c.max ?? s.max) as number;
  if (min > max) {
    if (origin === "frontend") return;
    argError(widget, "min" in c ? "min" : "max", `min <= max`, `min ${min} > max ${max}`);
  }
  const v = (c.value ?? s.value) as number;
  const k = Math.min(max, Math.max(min, v));
  if ("value" in c || k !== v) c.value = k;
}

export interface BoundedIntTextOptions extends IntTextOptions {
  min?: number;
  max?: number;
}
const BOUNDED_INT_TEXT = controlsSpec("BoundedIntText", "BoundedIntTextModel", "IntTextView", {
  ...numberTraits(),
  value: int(0),
  min: int(0),
  max: int(100),
  step: int(1),
});
/**
 * An integer entry box whose value stays in [min, max].
 * @example
 * const e = new widgets.BoundedIntText({ value: 8, min: 1, max: 64, description: "experts" });
 * e
 */
export class BoundedIntText extends DOMWidget {
  constructor(options: BoundedIntTextOptions = {}) {
    super(BOUNDED_INT_TEXT, options as Record<string, unknown>);
  }
  protected override _coerce(c: Record<string, unknown>, s: Record<string, unknown>, o: "kernel" | "frontend"): void {
    coerceBounded(this.spec.name, c, s, o);
  }
}
export interface BoundedIntText extends Props<BoundedIntTextOptions> {}
defineTraitAccessors(BoundedIntText, BOUNDED_INT_TEXT);

export interface BoundedFloatTextOptions extends FloatTextOptions {
  min?: number;
  max?: number;
}
const BOUNDED_FLOAT_TEXT = controlsSpec("BoundedFloatText", "BoundedFloatTextModel", "FloatTextView", {
  ...numberTraits(),
  value: float(0),
  min: float(0),
  max: float(100),
  step: nullableFloat(null),
});
/**
 * A number entry box whose value stays in [min, max].
 * @example
 * const p = new widgets.BoundedFloatText({ value: 0.9, min: 0, max: 1, step: 0.01, description: "top-p" });
 * p
 */
export class BoundedFloatText extends DOMWidget {
  constructor(options: BoundedFloatTextOptions = {}) {
    super(BOUNDED_FLOAT_TEXT, options as Record<string, unknown>);
  }
  protected override _coerce(c: Record<string, unknown>, s: Record<string, unknown>, o: "kernel" | "frontend"): void {
    coerceBounded(this.spec.name, c, s, o);
  }
}
export interface BoundedFloatText extends Props<BoundedFloatTextOptions> {}
defineTraitAccessors(BoundedFloatText, BOUNDED_FLOAT_TEXT);
