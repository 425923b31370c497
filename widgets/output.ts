/**
 * Output (@jupyter-widgets/output 1.0.0): an output area inside a widget layout.
 *
 * Two ways to fill it, as ipywidgets has:
 * - `capture(fn)`: while fn runs, `msg_id` is the id of the request being handled, and the
 *   front-end routes every output with that parent (prints, displays, errors) into this widget.
 * - `append*` / `clear` without a front-end to route: the kernel writes `outputs` itself, so
 *   headless runs and saved widget state still show them.
 */
import type { MimeBundle } from "../lib/display.js";
import { getKernelComms } from "./comm.js";
import { toBundle } from "./bundle.js";
import { domTraits, DOMWidget, type DOMWidgetOptions } from "./dom-widget.js";
import { formatError, reportCallbackError } from "./report.js";
import { any, str } from "./traits.js";
import { OUTPUT } from "./versions.js";
import type { ModelSpec } from "./widget.js";

/** One nbformat output, as the OutputModel's `outputs` holds them. */
export type OutputItem =
  | { output_type: "stream"; name: "stdout" | "stderr"; text: string }
  | { output_type: "display_data"; data: MimeBundle; metadata: Record<string, unknown> }
  | { output_type: "error"; ename: string; evalue: string; traceback: string[] };

const OUTPUT_SPEC: ModelSpec = {
  name: "Output",
  model: { module: OUTPUT.module, version: OUTPUT.version, name: "OutputModel" },
  view: { module: OUTPUT.module, version: OUTPUT.version, name: "OutputView" },
  traits: { ...domTraits(), msg_id: str(""), outputs: any<OutputItem[]>([]) },
};

export interface OutputOptions extends DOMWidgetOptions {}

/**
 * An output area.
 * @example
 * const out = new widgets.Output();
 * const b = new widgets.Button({ description: "sample" });
 * b.onClick(() => out.capture(() => console.log(Math.random())));
 * new widgets.VBox([b, out])
 */
export class Output extends DOMWidget {
  private _captures: string[] = [];

  constructor(options: OutputOptions = {}) {
    super(OUTPUT_SPEC, options as Record<string, unknown>);
  }

  /** The `msg_id` outputs are routed by ("" when not capturing). */
  get msg_id(): string {
    return this.get("msg_id");
  }

  /** The outputs the kernel (or a front-end that synced them back) has recorded. */
  get outputs(): OutputItem[] {
    return this.get("outputs");
  }
  set outputs(v: OutputItem[]) {
    this.set("outputs", v);
  }

  /**
   * Runs `fn` with this Output capturing what the current request outputs (prints, displays).
   * An error thrown by fn is shown in the Output and not rethrown (ipywidgets' `with out:`);
   * the result is fn's return value, or undefined after an error. Async fns are awaited.
   */
  capture<T>(fn: () => T): T extends Promise<infer U> ? Promise<U | undefined> : T | undefined {
    const id = getKernelComms()?.currentParentMsgId() ?? "";
    // nbclient starts capturing on an update that sets msg_id and fails when the comm opens with
    // one already set: open first (msg_id ""), then send the capture id as an update.
    this._ensureOpen();
    this._captures.push(id);
    this.set("msg_id", id);
    let result: unknown;
    try {
      result = fn();
    } catch (e) {
      this._showError(e);
      this._release(id);
      return undefined as any;
    }
    if (result && typeof (result as Promise<unknown>).then === "function") {
      return (result as Promise<unknown>).then(
        (v) => {
          this._release(id);
          return v;
        },
        (e) => {
          this._showError(e);
          this._release(id);
          return undefined;
        },
      ) as any;
    }
    this._release(id);
    return result as any;
  }

  /**
   * Clears the Output. With `wait`, a live front-end clears when the next output arrives
   * (no flicker while re-rendering).
   */
  clear(wait = false): void {
    const k = getKernelComms();
    if (k) this.capture(() => k.clearOutput(wait));
    if (!wait || !k) this.set("outputs", []);
  }

  /** Appends text as a stdout stream output. */
  appendStdout(text: string): void {
    this._append({ output_type: "stream", name: "stdout", text: String(text) });
  }

  /** Appends text as a stderr stream output. */
  appendStderr(text: string): void {
    this._append({ output_type: "stream", name: "stderr", text: String(text) });
  }

  /** Appends an error output (ename, evalue, traceback lines) for `err`. */
  appendError(err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    this._append({ output_type: "error", ename: e.name, evalue: e.message, traceback: formatError(e).split("\n") });
  }

  /**
   * Appends a display of `value`: a MIME bundle as is, anything else through the kernel's
   * formatter / Symbol.for("Jupyter.display") / text/plain. Resolves once appended.
   */
  async appendDisplay(value: unknown, metadata: Record<string, unknown> = {}): Promise<void> {
    const data = await toBundle(value);
    this._append({ output_type: "display_data", data, metadata });
  }

  /** Appends a display of `value` (same as appendDisplay). */
  append(value: unknown, metadata: Record<string, unknown> = {}): Promise<void> {
    return this.appendDisplay(value, metadata);
  }

  private _append(item: OutputItem): void {
    this.set("outputs", [...(this.get("outputs") as OutputItem[]), item]);
  }

  private _release(id: string): void {
    const i = this._captures.lastIndexOf(id);
    if (i >= 0) this._captures.splice(i, 1);
    this.set("msg_id", this._captures.at(-1) ?? "");
  }

  /** Shows an error raised inside capture: routed to this Output while msg_id is still set. */
  private _showError(e: unknown): void {
    const k = getKernelComms();
    if (k) reportCallbackError("Output.capture callback", e);
    else this.appendError(e);
  }

  /**
   * Shows a callback's error here (what `widget.errorsTo(out)` uses): in a kernel as stderr
   * routed to this Output by msg_id, else as an error output in `outputs`.
   */
  showError(where: string, err: unknown): void {
    if (getKernelComms()) this.capture(() => reportCallbackError(where, err));
    else this.appendError(err);
  }
}
