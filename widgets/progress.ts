/**
 * Progress bars (@jupyter-widgets/controls 2.0.0 IntProgress / FloatProgress) and `progress`,
 * a helper for long ops: a bar plus a "done/total, rate, eta" label, updated at most every
 * 100 ms so a tight loop does not flood the front-end with messages.
 */
import { DISPLAY, type MimeBundle } from "../lib/display.js";
import { argError } from "../lib/errors.js";
import { float, int, oneOf, show } from "./traits.js";
import {
  controlsSpec, defineTraitAccessors, descriptionTraits, DOMWidget, type DescriptionOptions, type Props, type Style,
} from "./dom-widget.js";
import { HBox } from "./boxes.js";
import { Label } from "./labels.js";

export type BarStyle = "success" | "info" | "warning" | "danger" | "";

interface ProgressCommon extends DescriptionOptions {
  value?: number;
  min?: number;
  max?: number;
  bar_style?: BarStyle;
  orientation?: "horizontal" | "vertical";
  style?: Style | { bar_color?: string | null; description_width?: string };
}
export interface IntProgressOptions extends ProgressCommon {}
export interface FloatProgressOptions extends ProgressCommon {}

const progressTraits = () => ({
  ...descriptionTraits("ProgressStyleModel"),
  bar_style: oneOf(["success", "info", "warning", "danger", ""], ""),
  orientation: oneOf(["horizontal", "vertical"], "horizontal"),
});

/** Clamps value into [min, max] (ipywidgets' progress bars do). */
function clampProgress(c: Record<string, unknown>, s: Record<string, unknown>): void {
  if (!("value" in c || "min" in c || "max" in c)) return;
  const min = (c.min ?? s.min) as number;
  const max = (c.max ?? s.max) as number;
  if (min > max) return;
  const v = (c.value ?? s.value) as number;
  const k = Math.min(max, Math.max(min, v));
  if ("value" in c || k !== v) c.value = k;
}

const INT_PROGRESS = controlsSpec("IntProgress", "IntProgressModel", "ProgressView", {
  ...progressTraits(),
  value: int(0),
  min: int(0),
  max: int(100),
});
/**
 * An integer progress bar.
 * @example
 * const bar = new widgets.IntProgress({ max: 10, description: "layers" });
 * bar.show();
 * for (let i = 0; i < 10; i++) { await new Promise((r) => setTimeout(r, 100)); bar.value = i + 1; }
 */
export class IntProgress extends DOMWidget {
  constructor(options: IntProgressOptions = {}) {
    super(INT_PROGRESS, options as Record<string, unknown>);
  }
  protected override _coerce(c: Record<string, unknown>, s: Record<string, unknown>): void {
    clampProgress(c, s);
  }
}
export interface IntProgress extends Props<IntProgressOptions> {}
defineTraitAccessors(IntProgress, INT_PROGRESS);

const FLOAT_PROGRESS = controlsSpec("FloatProgress", "FloatProgressModel", "ProgressView", {
  ...progressTraits(),
  value: float(0),
  min: float(0),
  max: float(100),
});
/**
 * A real-valued progress bar.
 * @example
 * const bar = new widgets.FloatProgress({ max: 1, description: "sparsity" });
 * bar.value = 0.875;
 * bar
 */
export class FloatProgress extends DOMWidget {
  constructor(options: FloatProgressOptions = {}) {
    super(FLOAT_PROGRESS, options as Record<string, unknown>);
  }
  protected override _coerce(c: Record<string, unknown>, s: Record<string, unknown>): void {
    clampProgress(c, s);
  }
}
export interface FloatProgress extends Props<FloatProgressOptions> {}
defineTraitAccessors(FloatProgress, FLOAT_PROGRESS);

export interface ProgressOptions {
  /** Label before the bar. */
  description?: string;
  /** Show it at once in the current output (default true; a no-op outside a kernel). */
  show?: boolean;
  /** Minimum milliseconds between updates sent to the front-end (default 100). */
  intervalMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/** A progress bar with a rate/eta label; returned by `progress(total)`. */
export class ProgressBar {
  /** The bar widget. */
  readonly bar: IntProgress;
  /** The "n/total" label. */
  readonly label: Label;
  /** The bar and label side by side; this is what is displayed. */
  readonly widget: HBox;
  readonly total: number;
  private _count = 0;
  private _sentAt = -Infinity;
  private readonly _start: number;
  private readonly _interval: number;
  private readonly _now: () => number;

  constructor(total: number, options: ProgressOptions = {}) {
    if (!Number.isInteger(total) || total < 0) argError("progress", "total", "a non-negative integer", show(total));
    this.total = total;
    this._now = options.now ?? (() => performance.now());
    this._interval = options.intervalMs ?? 100;
    this._start = this._now();
    this.bar = new IntProgress({ max: total, description: options.description ?? "" });
    this.label = new Label({ value: `0/${total}` });
    this.widget = new HBox([this.bar, this.label]);
    if (options.show ?? true) this.widget.show();
  }

  /** How many steps are done. */
  get count(): number {
    return this._count;
  }

  /** Advances by `n` steps. */
  tick(n = 1): void {
    this.update(this._count + n);
  }

  /** Sets the number of steps done. */
  update(count: number): void {
    if (typeof count !== "number" || !Number.isFinite(count)) argError("ProgressBar.update", "count", "a finite number", show(count));
    this._count = Math.min(this.total, Math.max(0, Math.round(count)));
    const t = this._now();
    if (this._count === this.total || t - this._sentAt >= this._interval) this._flush(t);
  }

  /** Marks it finished (green bar). */
  done(): void {
    this._count = this.total;
    this._flush(this._now());
    this.bar.bar_style = "success";
  }

  /** Marks it failed (red bar) with an optional message in the label. */
  fail(message?: string): void {
    this._flush(this._now());
    this.bar.bar_style = "danger";
    if (message) this.label.value = `${this.label.value} - ${message}`;
  }

  private _flush(t: number): void {
    this._sentAt = t;
    const elapsed = (t - this._start) / 1000;
    const rate = elapsed > 0 ? this._count / elapsed : 0;
    const eta = rate > 0 ? (this.total - this._count) / rate : NaN;
    this.bar.value = this._count;
    this.label.value =
      `${this._count}/${this.total}` +
      (elapsed > 0 ? ` [${fmtSeconds(elapsed)}${Number.isFinite(eta) ? `<${fmtSeconds(eta)}` : ""}, ${rate >= 10 ? rate.toFixed(0) : rate.toFixed(2)}/s]` : "");
  }

  [DISPLAY](): MimeBundle {
    return this.widget[DISPLAY]();
  }
}

function fmtSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${String(Math.round(s - 60 * m)).padStart(2, "0")}s`;
}

/**
 * A progress bar for a long op: call `tick()` per step (or `update(n)`), `done()` at the end.
 * Shown at once in the current output.
 * @example
 * const p = widgets.progress(32, { description: "heads" });
 * for (let h = 0; h < 32; h++) { await someWork(h); p.tick(); }
 * p.done();
 */
export function progress(total: number, options: ProgressOptions = {}): ProgressBar {
  return new ProgressBar(total, options);
}

/**
 * Iterates `items` with a progress bar that ticks per item and finishes at the end.
 * @example
 * for (const layer of widgets.track([0, 1, 2, 3], { description: "layers" })) await analyse(layer);
 */
export function* track<T>(items: Iterable<T> | ArrayLike<T>, options: ProgressOptions & { total?: number } = {}): Generator<T> {
  const arr = Symbol.iterator in Object(items) ? null : Array.from(items as ArrayLike<T>);
  const total = options.total ?? (arr ? arr.length : Array.isArray(items) ? items.length : (items as any).length ?? (items as any).size);
  if (typeof total !== "number") argError("track", "options.total", "the number of items (the iterable has no length)", "undefined");
  const p = progress(total, options);
  try {
    for (const x of arr ?? (items as Iterable<T>)) {
      yield x;
      p.tick();
    }
    p.done();
  } catch (e) {
    p.fail(e instanceof Error ? e.message : String(e));
    throw e;
  }
}
