/** Play (@jupyter-widgets/controls 2.0.0): a timer that steps an integer, for animations. */
import { argError } from "../lib/errors.js";
import { bool, int } from "./traits.js";
import {
  controlsSpec, defineTraitAccessors, descriptionTraits, DOMWidget, type DescriptionOptions, type Props, type Style,
} from "./dom-widget.js";

export interface PlayOptions extends DescriptionOptions {
  value?: number;
  min?: number;
  max?: number;
  step?: number;
  /** Milliseconds between steps. */
  interval?: number;
  playing?: boolean;
  repeat?: boolean;
  show_repeat?: boolean;
  disabled?: boolean;
  style?: Style | { description_width?: string };
}
const PLAY = controlsSpec("Play", "PlayModel", "PlayView", {
  ...descriptionTraits("DescriptionStyleModel"),
  value: int(0),
  min: int(0),
  max: int(100),
  step: int(1),
  interval: int(100),
  playing: bool(false),
  repeat: bool(false),
  show_repeat: bool(true),
  disabled: bool(false),
});

/**
 * Play / pause / stop buttons that advance `value` every `interval` ms; jslink it to a slider.
 * @example
 * const play = new widgets.Play({ max: 31, interval: 200 });
 * const layer = new widgets.IntSlider({ max: 31, description: "layer" });
 * widgets.jslink([play, "value"], [layer, "value"]);
 * new widgets.HBox([play, layer])
 */
export class Play extends DOMWidget {
  constructor(options: PlayOptions = {}) {
    super(PLAY, options as Record<string, unknown>);
  }
  protected override _coerce(c: Record<string, unknown>, s: Record<string, unknown>, origin: "kernel" | "frontend"): void {
    if (!("value" in c || "min" in c || "max" in c)) return;
    const min = (c.min ?? s.min) as number;
    const max = (c.max ?? s.max) as number;
    if (min > max) {
      if (origin === "kernel") argError("Play", "min" in c ? "min" : "max", "min <= max", `min ${min} > max ${max}`);
      return;
    }
    const v = (c.value ?? s.value) as number;
    const k = Math.min(max, Math.max(min, v));
    if ("value" in c || k !== v) c.value = k;
  }
}
export interface Play extends Props<PlayOptions> {}
defineTraitAccessors(Play, PLAY);
