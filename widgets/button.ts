/** Button (@jupyter-widgets/controls 2.0.0): clicks arrive as custom {event: "click"}. */
import { argError } from "../lib/errors.js";
import { bool, oneOf, str } from "./traits.js";
import { controlsSpec, defineTraitAccessors, domTraits, DOMWidget, type DOMWidgetOptions, type Props, type Style } from "./dom-widget.js";
import { BUTTON_STYLES, type ButtonStyleName } from "./bool.js";
import type { Widget } from "./widget.js";

export interface ButtonOptions extends DOMWidgetOptions {
  /** The button's label. */
  description?: string;
  disabled?: boolean;
  /** Font Awesome icon name, without the "fa-" prefix. */
  icon?: string;
  button_style?: ButtonStyleName;
  style?: Style | { button_color?: string | null; font_weight?: string; text_color?: string | null; font_size?: string | null };
}
const BUTTON = controlsSpec("Button", "ButtonModel", "ButtonView", {
  ...domTraits("ButtonStyleModel"),
  description: str(""),
  disabled: bool(false),
  icon: str(""),
  button_style: oneOf(BUTTON_STYLES, ""),
});

/**
 * A push button. Handlers run in the kernel on every click; what they print or display goes
 * to an Output widget they capture into (or the kernel's log), and what they throw is reported.
 * @example
 * const out = new widgets.Output();
 * const run = new widgets.Button({ description: "Run", button_style: "primary" });
 * run.onClick(() => out.capture(() => console.log("clicked at", new Date().toISOString())));
 * new widgets.VBox([run, out])
 */
export class Button extends DOMWidget {
  constructor(options: ButtonOptions = {}) {
    super(BUTTON, options as Record<string, unknown>);
  }
  /** Runs `fn(button)` on each click. Returns a function that removes it. */
  onClick(fn: (b: Button) => void | Promise<void>): () => void {
    if (typeof fn !== "function") argError("Button.onClick", "fn", "a function", typeof fn);
    return this.on("msg:custom", (content: any, _buffers, w: Widget) => (content?.event === "click" ? fn(w as Button) : undefined));
  }
  /** Acts as if the button were clicked (runs the click handlers); resolves when they settle. */
  async click(): Promise<void> {
    await this._dispatchCustom({ event: "click" }, []);
  }
}
export interface Button extends Props<ButtonOptions> {}
defineTraitAccessors(Button, BUTTON);
