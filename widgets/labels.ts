/** Read-only text (@jupyter-widgets/controls 2.0.0): Label, HTML, HTMLMath. */
import { str } from "./traits.js";
import {
  controlsSpec, defineTraitAccessors, descriptionTraits, DOMWidget, type DescriptionOptions, type Props, type Style,
} from "./dom-widget.js";

export interface LabelOptions extends DescriptionOptions {
  value?: string;
  placeholder?: string;
  style?: Style | Record<string, string | null>;
}

const labelTraits = (style: string) => ({ ...descriptionTraits(style), value: str(""), placeholder: str("\u200b") });

const LABEL = controlsSpec("Label", "LabelModel", "LabelView", labelTraits("LabelStyleModel"));
/**
 * Plain text.
 * @example
 * const status = new widgets.Label({ value: "ready" });
 * status
 */
export class Label extends DOMWidget {
  constructor(options: LabelOptions | string = {}) {
    super(LABEL, (typeof options === "string" ? { value: options } : options) as Record<string, unknown>);
  }
}
export interface Label extends Props<LabelOptions> {}
defineTraitAccessors(Label, LABEL);

const HTML_SPEC = controlsSpec("HTML", "HTMLModel", "HTMLView", labelTraits("HTMLStyleModel"));
/**
 * HTML content.
 * @example
 * const info = new widgets.HTML({ value: "<b>density</b>: 12.5%" });
 * info
 */
export class HTML extends DOMWidget {
  constructor(options: LabelOptions | string = {}) {
    super(HTML_SPEC, (typeof options === "string" ? { value: options } : options) as Record<string, unknown>);
  }
}
export interface HTML extends Props<LabelOptions> {}
defineTraitAccessors(HTML, HTML_SPEC);

const HTML_MATH = controlsSpec("HTMLMath", "HTMLMathModel", "HTMLMathView", labelTraits("HTMLMathStyleModel"));
/**
 * HTML with LaTeX math between `$...$`.
 * @example
 * new widgets.HTMLMath({ value: "cost $O(n \\cdot w)$ for window $w$" })
 */
export class HTMLMath extends DOMWidget {
  constructor(options: LabelOptions | string = {}) {
    super(HTML_MATH, (typeof options === "string" ? { value: options } : options) as Record<string, unknown>);
  }
}
export interface HTMLMath extends Props<LabelOptions> {}
defineTraitAccessors(HTMLMath, HTML_MATH);
