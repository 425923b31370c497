/** Boolean controls (@jupyter-widgets/controls 2.0.0): Checkbox and ToggleButton. */
import { bool, oneOf, str } from "./traits.js";
import {
  controlsSpec, defineTraitAccessors, descriptionTraits, DOMWidget, type DescriptionOptions, type Props, type Style,
} from "./dom-widget.js";

export interface CheckboxOptions extends DescriptionOptions {
  value?: boolean;
  disabled?: boolean;
  /** Indent the box to line up with controls that have a description. */
  indent?: boolean;
  style?: Style | { background?: string | null; description_width?: string };
}
const CHECKBOX = controlsSpec("Checkbox", "CheckboxModel", "CheckboxView", {
  ...descriptionTraits("CheckboxStyleModel"),
  value: bool(false),
  disabled: bool(false),
  indent: bool(true),
});

/**
 * A check box.
 * @example
 * const causal = new widgets.Checkbox({ value: true, description: "causal" });
 * causal
 */
export class Checkbox extends DOMWidget {
  constructor(options: CheckboxOptions = {}) {
    super(CHECKBOX, options as Record<string, unknown>);
  }
}
export interface Checkbox extends Props<CheckboxOptions> {}
defineTraitAccessors(Checkbox, CHECKBOX);

export type ButtonStyleName = "primary" | "success" | "info" | "warning" | "danger" | "";
export const BUTTON_STYLES: ButtonStyleName[] = ["primary", "success", "info", "warning", "danger", ""];

export interface ToggleButtonOptions extends DescriptionOptions {
  value?: boolean;
  disabled?: boolean;
  /** Font Awesome icon name, without the "fa-" prefix. */
  icon?: string;
  button_style?: ButtonStyleName;
  style?: Style | Record<string, string | null>;
}
const TOGGLE_BUTTON = controlsSpec("ToggleButton", "ToggleButtonModel", "ToggleButtonView", {
  ...descriptionTraits("ToggleButtonStyleModel"),
  value: bool(false),
  disabled: bool(false),
  icon: str(""),
  button_style: oneOf(BUTTON_STYLES, ""),
});

/**
 * A button that stays pressed: `value` is its state.
 * @example
 * const live = new widgets.ToggleButton({ description: "live update", icon: "bolt" });
 * live
 */
export class ToggleButton extends DOMWidget {
  constructor(options: ToggleButtonOptions = {}) {
    super(TOGGLE_BUTTON, options as Record<string, unknown>);
  }
}
export interface ToggleButton extends Props<ToggleButtonOptions> {}
defineTraitAccessors(ToggleButton, TOGGLE_BUTTON);
