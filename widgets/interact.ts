/**
 * interact: controls for a function's arguments, and its output, re-rendered in place on every
 * change. Shorthands build the controls (ipywidgets' abbreviations):
 *   [min, max] / [min, max, step]  -> IntSlider (all integers) or FloatSlider
 *   a number                        -> IntSlider / FloatSlider around it
 *   true / false                    -> Checkbox
 *   a string                        -> Text
 *   an array of strings or [label, value] pairs, or an object {label: value} -> Dropdown
 *   a widget with a `value`         -> used as is
 *   fixed(v)                        -> passed through, no control
 * Changes arriving while a run is in flight are coalesced: one more run, with the latest values.
 */
import { DISPLAY, type MimeBundle } from "../lib/display.js";
import { argError } from "../lib/errors.js";
import { getKernelComms } from "./comm.js";
import { toBundle } from "./bundle.js";
import { VBox } from "./boxes.js";
import { Checkbox } from "./bool.js";
import { Output } from "./output.js";
import { reportCallbackError } from "./report.js";
import { Dropdown } from "./selection.js";
import { FloatSlider, IntSlider } from "./sliders.js";
import { Text } from "./text.js";
import { show } from "./traits.js";
import { Widget } from "./widget.js";

/** A constant argument: passed to the function, no control shown. */
export class Fixed<T> {
  constructor(readonly value: T) {}
}
/**
 * Passes `value` through interact unchanged.
 * @example
 * widgets.interact(({ q, w }) => q * w, { q: widgets.fixed(3), w: [1, 10] });
 */
export function fixed<T>(value: T): Fixed<T> {
  return new Fixed(value);
}

/** What a control shorthand produces as the value passed to the function. */
export type ValueOf<C> = C extends Fixed<infer T>
  ? T
  : C extends Widget & { value: infer V }
    ? V
    : C extends boolean
      ? boolean
      : C extends string
        ? string
        : C extends number
          ? number
          : C extends readonly [number, number] | readonly [number, number, number]
            ? number
            : C extends readonly (readonly [string, infer V])[]
              ? V
              : C extends readonly (infer V)[]
                ? V
                : C extends Record<string, infer V>
                  ? V
                  : unknown;

/** The control a shorthand becomes (numbers may become an IntSlider or a FloatSlider). */
export type ControlOf<C> = C extends Fixed<any>
  ? C
  : C extends Widget
    ? C
    : C extends boolean
      ? Checkbox
      : C extends string
        ? Text
        : C extends number | readonly [number, number] | readonly [number, number, number]
          ? IntSlider | FloatSlider
          : Dropdown<ValueOf<C>>;

export type ControlsSpec = Record<string, unknown>;
export type ControlsOf<C extends ControlsSpec> = { [K in keyof C]: ControlOf<C[K]> };
export type ValuesOf<C extends ControlsSpec> = { [K in keyof C]: ValueOf<C[K]> };

function isNumTuple(x: unknown): x is number[] {
  return Array.isArray(x) && (x.length === 2 || x.length === 3) && x.every((v) => typeof v === "number" && Number.isFinite(v));
}

/** Builds the control for one shorthand (or returns the widget / Fixed given). */
export function controlFor(name: string, spec: unknown): Widget | Fixed<unknown> {
  const description = name;
  if (spec instanceof Fixed) return spec;
  if (spec instanceof Widget) {
    if (!("value" in spec)) argError("interact", `controls.${name}`, "a widget with a value", spec.spec.name);
    if ("description" in spec.spec.traits && spec.get("description") === "") spec.set("description", name);
    return spec;
  }
  if (typeof spec === "boolean") return new Checkbox({ value: spec, description });
  if (typeof spec === "string") return new Text({ value: spec, description });
  if (typeof spec === "number" && Number.isFinite(spec)) {
    const [min, max] = spec > 0 ? [-spec, 3 * spec] : spec < 0 ? [3 * spec, -spec] : [-1, 1];
    if (Number.isInteger(spec)) return new IntSlider({ value: spec, min: spec === 0 ? -10 : min, max: spec === 0 ? 10 : max, description });
    return new FloatSlider({ value: spec, min, max, step: (max - min) / 100, description });
  }
  if (isNumTuple(spec)) {
    const [min, max, step] = spec;
    if (min > max) argError("interact", `controls.${name}`, "[min, max, step?] with min <= max", show(spec));
    if (step !== undefined && !(step > 0)) argError("interact", `controls.${name}`, "[min, max, step?] with step > 0", show(spec));
    if (spec.every(Number.isInteger)) {
      const st = step ?? 1;
      const mid = min + Math.round((max - min) / 2 / st) * st;
      return new IntSlider({ value: Math.min(max, mid), min, max, step: st, description });
    }
    const st = step ?? (max - min) / 100;
    const mid = min + Math.round((max - min) / 2 / st) * st;
    return new FloatSlider({ value: Math.min(max, mid), min, max, step: st, description });
  }
  if (Array.isArray(spec) && spec.length > 0) return new Dropdown({ options: spec, description });
  if (spec !== null && typeof spec === "object" && !Array.isArray(spec) && Object.keys(spec).length > 0) {
    return new Dropdown({ options: spec as Record<string, unknown>, description });
  }
  return argError(
    "interact",
    `controls.${name}`,
    "a widget, [min, max, step?], a number, a boolean, a string, a non-empty array of options, {label: value} or fixed(v)",
    show(spec),
  );
}

/**
 * The controls plus an Output, and the machinery that re-runs the function; a VBox you can
 * place yourself (interact() displays one for you).
 */
export class Interactive<C extends ControlsSpec = ControlsSpec, R = unknown> extends VBox {
  /** The control of each argument (Fixed for fixed ones). */
  readonly controls: ControlsOf<C>;
  /** Where the function's output goes. */
  readonly output: Output;
  /** The last run's return value (undefined after an error). */
  result: R | undefined;
  /** The last run's error, if it threw. */
  error: unknown;
  /** How many times the function has run (coalesced changes count once). */
  runs = 0;
  private readonly _fn: (values: ValuesOf<C>) => R | Promise<R>;
  private _running: Promise<void> | undefined;
  private _again = false;

  constructor(fn: (values: ValuesOf<C>) => R | Promise<R>, controls: C) {
    if (typeof fn !== "function") argError("interact", "fn", "a function of the control values", show(fn));
    if (controls === null || typeof controls !== "object" || Array.isArray(controls)) {
      argError("interact", "controls", "an object {name: control or shorthand}", show(controls));
    }
    const built = {} as ControlsOf<C>;
    for (const [k, v] of Object.entries(controls)) (built as any)[k] = controlFor(k, v);
    const output = new Output();
    super([...(Object.values(built) as unknown[]).filter((w): w is Widget => w instanceof Widget), output], { _dom_classes: ["widget-interact"] });
    this.controls = built;
    this.output = output;
    this._fn = fn;
    for (const w of Object.values(built) as unknown[]) {
      if (!(w instanceof Widget)) continue;
      w.observe("value", () => this.update());
      // errors from observers users add to these controls show under them too
      w.errorsTo(output);
    }
  }

  /** The current values of all controls. */
  values(): ValuesOf<C> {
    const out: Record<string, unknown> = {};
    for (const [k, w] of Object.entries(this.controls) as [string, unknown][]) out[k] = w instanceof Fixed ? w.value : (w as any).value;
    return out as ValuesOf<C>;
  }

  /**
   * Runs the function with the current values, or, if a run is in flight, schedules one more
   * run after it (however many changes arrive meanwhile). Resolves when no run is pending.
   */
  update(): Promise<void> {
    if (this._running) {
      this._again = true;
      return this._running;
    }
    this._running = (async () => {
      try {
        do {
          this._again = false;
          await this._runOnce();
        } while (this._again);
      } finally {
        this._running = undefined;
      }
    })();
    return this._running;
  }

  private async _runOnce(): Promise<void> {
    this.runs++;
    const values = this.values();
    const k = getKernelComms();
    if (k) {
      // Live front-end: everything the run outputs (prints, displays, the result, an error)
      // is routed into the Output by msg_id; clear(wait) swaps old for new without flicker.
      await this.output.capture(async () => {
        k.clearOutput(true);
        try {
          const r = await this._fn(values);
          this.result = r;
          this.error = undefined;
          if (r !== undefined) k.display(await toBundle(r));
        } catch (e) {
          this.result = undefined;
          this.error = e;
          reportCallbackError("interact function", e);
        }
      });
    } else {
      // No kernel: the Output's own `outputs` state holds the result or the error.
      this.output.clear();
      try {
        const r = await this._fn(values);
        this.result = r;
        this.error = undefined;
        if (r !== undefined) await this.output.appendDisplay(r);
      } catch (e) {
        this.result = undefined;
        this.error = e;
        this.output.appendError(e);
      }
    }
  }
}

/**
 * Builds the controls and Output for `fn` without showing them; runs fn once now.
 * @example
 * const ui = widgets.interactive(({ w }) => `window ${w}`, { w: [0, 1024, 16] });
 * new widgets.HBox([ui])
 */
export function interactive<const C extends ControlsSpec, R>(fn: (values: ValuesOf<C>) => R | Promise<R>, controls: C): Interactive<C, R> {
  const ui = new Interactive(fn, controls);
  void ui.update();
  return ui;
}

/** What interact() returns: the widget it showed, and a promise of the first run. */
export class Interaction<C extends ControlsSpec = ControlsSpec, R = unknown> {
  constructor(
    /** The displayed controls + Output. */
    readonly widget: Interactive<C, R>,
    /** Resolves when the first run (and any coalesced re-run) has finished. */
    readonly ready: Promise<void>,
  ) {}
  get controls(): ControlsOf<C> {
    return this.widget.controls;
  }
  get output(): Output {
    return this.widget.output;
  }
  get result(): R | undefined {
    return this.widget.result;
  }
  /** A one-line summary: the widget itself is already on the page. */
  [DISPLAY](): MimeBundle {
    return { "text/plain": `interact(${this.widget["_fn"].name || "fn"}) with ${Object.keys(this.widget.controls).join(", ")}` };
  }
}

/**
 * Shows controls for `fn`'s arguments and its output below them, re-running `fn` on every
 * change (async fns too). The return value is displayed in place; what fn prints or displays
 * goes there as well; an error is shown there and never escapes.
 * @example
 * widgets.interact(({ window, causal }) => `window ${window}, causal ${causal}`, { window: [0, 1024, 16], causal: true });
 */
export function interact<const C extends ControlsSpec, R>(fn: (values: ValuesOf<C>) => R | Promise<R>, controls: C): Interaction<C, R> {
  const ui = new Interactive(fn, controls);
  ui.show();
  return new Interaction(ui, ui.update());
}
