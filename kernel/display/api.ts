/**
 * The `display`, `input` and `clearOutput` globals every cell sees. They act on the current
 * output context (the cell, or the widget message whose callback is running).
 */
import { randomUUID } from "node:crypto";
import { currentContext, type OutputContext } from "../io/output-context.js";
import { formatNow, FormatState, inspectPlain, plotlyBundle } from "./format.js";
import type { PlotlyFigure } from "./plotly-html.js";
import type { MimeBundle } from "../../lib/display.js";


/** Options of `display(x, opts)`. */
export interface DisplayOptions {
  /** `true` (a fresh id) or an id string: returns a handle that can update this output in place. */
  id?: boolean | string;
  /** Treat x as a ready MIME bundle instead of formatting it. */
  raw?: boolean;
  /** Output metadata (e.g. {"image/png": {width: 200}}). */
  metadata?: Record<string, unknown>;
}

/** A displayed output that can be replaced in place (update_display_data). */
export interface DisplayHandle {
  /** The display_id (transient.display_id on the wire). */
  readonly id: string;
  /** Replaces the output with the display of `x`. */
  update(x: unknown, opts?: Omit<DisplayOptions, "id">): Promise<void>;
  /** Replaces the output with an empty text. */
  clear(): Promise<void>;
}

/**
 * Shows a value below the cell: anything with a `[Symbol.for("Jupyter.display")]()` method,
 * arquero tables, plotly figure specs ({data, layout}), else its inspected text.
 * @example
 * const h = display("step 0", { id: true });
 * for (let i = 1; i <= 3; i++) await h.update(`step ${i}`);
 * display.markdown("**done**");
 */
export interface DisplayFunction {
  (x: unknown, opts?: DisplayOptions): DisplayHandle;
  /** HTML. @example display.html("<b>bold</b>") */
  html(html: string, opts?: DisplayOptions): DisplayHandle;
  /** Markdown. @example display.markdown("# Title") */
  markdown(md: string, opts?: DisplayOptions): DisplayHandle;
  /** SVG markup. @example display.svg('<svg width="10" height="10"><circle r="5" cx="5" cy="5"/></svg>') */
  svg(svg: string, opts?: DisplayOptions): DisplayHandle;
  /** PNG bytes or base64 text. @example display.png(pngBytes) */
  png(png: Uint8Array | string, opts?: DisplayOptions): DisplayHandle;
  /** JSON (rendered as a tree by JupyterLab). @example display.json({ a: [1, 2] }) */
  json(value: unknown, opts?: DisplayOptions): DisplayHandle;
  /** A plotly figure. @example display.plotly({ data: [{ type: "bar", x: ["a", "b"], y: [1, 2] }] }) */
  plotly(fig: PlotlyFigure, opts?: DisplayOptions): DisplayHandle;
  /** A ready MIME bundle. @example display.bundle({ "text/plain": "hi" }) */
  bundle(bundle: MimeBundle, opts?: DisplayOptions): DisplayHandle;
}

/** `await input("name? ")`: asks the front-end for a line of text (stdin channel). */
export type InputFunction = (prompt?: string, opts?: { password?: boolean }) => Promise<string>;

/** `clearOutput(wait?)`: clears this cell's output (with wait, when the next output arrives). */
export type ClearOutputFunction = (wait?: boolean) => void;

/** Session-wide formatter state (plotly.js inlined once per page). */
export const formatState = new FormatState();

function send(
  ctx: OutputContext | undefined,
  bundle: MimeBundle,
  metadata: Record<string, unknown>,
  displayId: string | undefined,
  update: boolean,
  place?: (msgType: string, content: unknown) => void,
): void {
  if (!ctx) return;
  const content = { data: bundle, metadata, transient: displayId ? { display_id: displayId } : {} };
  (place ?? ((t, c) => ctx.publish(t, c)))(update ? "update_display_data" : "display_data", content);
}

/** Publishes x (formatted) in ctx; async formatting is tracked so the cell waits for it. */
export function showIn(ctx: OutputContext | undefined, x: unknown, opts: DisplayOptions, displayId: string | undefined, update: boolean): Promise<void> {
  const metadata = opts.metadata ?? {};
  if (opts.raw) {
    send(ctx, x as MimeBundle, metadata, displayId, update);
    return Promise.resolve();
  }
  let now: MimeBundle | Promise<MimeBundle>;
  try {
    now = formatNow(x, formatState);
  } catch (e) {
    now = Promise.reject(e);
  }
  if (!(now instanceof Promise)) {
    send(ctx, now, metadata, displayId, update);
    return Promise.resolve();
  }
  // An async display method: hold this display's place so output made after it does not
  // overtake it.
  const place = ctx?.reserve();
  const p = now.then(
    (b) => send(ctx, b, metadata, displayId, update, place),
    (e) => send(ctx, { "text/plain": `display failed: ${inspectPlain(e)}` }, {}, displayId, update, place),
  );
  ctx?.pending.add(p);
  void p.finally(() => ctx?.pending.delete(p));
  return p;
}

function makeHandle(id: string): DisplayHandle {
  return {
    id,
    update: (x, opts = {}) => showIn(currentContext(), x, opts, id, true),
    clear: () => showIn(currentContext(), { "text/plain": "" }, { raw: true }, id, true),
  };
}

function displayImpl(x: unknown, opts: DisplayOptions = {}): DisplayHandle {
  const id = opts.id === true ? randomUUID() : typeof opts.id === "string" ? opts.id : undefined;
  void showIn(currentContext(), x, opts, id, false);
  return makeHandle(id ?? randomUUID());
}

function rawDisplay(bundle: MimeBundle, opts: DisplayOptions = {}): DisplayHandle {
  return displayImpl(bundle, { ...opts, raw: true });
}

/** The `display` global. */
export const display: DisplayFunction = Object.assign(displayImpl, {
  html: (html: string, o?: DisplayOptions) => rawDisplay({ "text/html": html, "text/plain": "[HTML]" }, o),
  markdown: (md: string, o?: DisplayOptions) => rawDisplay({ "text/markdown": md, "text/plain": md }, o),
  svg: (svg: string, o?: DisplayOptions) => rawDisplay({ "image/svg+xml": svg, "text/plain": "[SVG image]" }, o),
  png: (png: Uint8Array | string, o?: DisplayOptions) =>
    rawDisplay({ "image/png": typeof png === "string" ? png : Buffer.from(png).toString("base64"), "text/plain": "[PNG image]" }, o),
  json: (value: unknown, o?: DisplayOptions) => rawDisplay({ "application/json": value as object, "text/plain": inspectPlain(value) }, o),
  plotly: (fig: PlotlyFigure, o?: DisplayOptions) => rawDisplay(plotlyBundle(fig, formatState), o),
  bundle: (b: MimeBundle, o?: DisplayOptions) => rawDisplay(b, o),
});

/** The `clearOutput` global. */
export const clearOutput: ClearOutputFunction = (wait = false) => currentContext()?.publish("clear_output", { wait });
