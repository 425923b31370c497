/**
 * anywidget: custom views without a front-end build. The view is an ES module (text) that the
 * anywidget front-end extension loads; its state syncs both ways like any widget's, and custom
 * messages (with binary buffers) flow both ways. Model "AnyModel" / view "AnyView" of module
 * "anywidget" (protocol 2.1), as anywidget's Python package creates them.
 */
import { createHash } from "node:crypto";
import { argError } from "../lib/errors.js";
import { reportCallbackError } from "./report.js";
import { show, str } from "./traits.js";
import { domTraits, DOMWidget, type DOMWidgetOptions } from "./dom-widget.js";
import { ANYWIDGET } from "./versions.js";
import type { Change, ModelSpec, Observer } from "./widget.js";

export interface AnyWidgetOptions<S extends Record<string, unknown>> extends DOMWidgetOptions {
  /**
   * ES module source (or an https URL) whose default export is `{ initialize?({ model }),
   * render({ model, el }) }` (anywidget's front-end module format).
   */
  esm: string;
  /** CSS text (or URL) applied to the page once per widget kind. */
  css?: string;
  /** Initial synced state: JSON values or binary data (typed arrays travel as buffers). */
  state?: S;
  /** A stable name for this kind of widget (keys the CSS, enables hot reload); default: a hash of esm. */
  name?: string;
  /** The anywidget front-end version range to ask for (default ">=0.9.0"; see versions.ts). */
  moduleVersion?: string;
}

const ANY_SPEC: ModelSpec = {
  name: "AnyWidget",
  model: { module: ANYWIDGET.module, version: ANYWIDGET.version, name: "AnyModel" },
  view: { module: ANYWIDGET.module, version: ANYWIDGET.version, name: "AnyView" },
  traits: { ...domTraits(), _esm: str(""), _css: str(""), _anywidget_id: str("") },
  openState: true,
};

/** Handles an anywidget `experimental.invoke(name, msg, {buffers})` call from the view. */
export type CommandHandler = (msg: any, buffers: Uint8Array[]) => unknown | Promise<unknown>;

/**
 * A custom widget drawn by your own ES module.
 * @example
 * const counter = widgets.widget({
 *   esm: `export default { render({ model, el }) {
 *     const b = document.createElement("button");
 *     const draw = () => (b.textContent = "count " + model.get("count"));
 *     b.onclick = () => { model.set("count", model.get("count") + 1); model.save_changes(); };
 *     model.on("change:count", draw); draw(); el.append(b);
 *   } }`,
 *   state: { count: 0 },
 * });
 * counter.observe("count", (c) => console.log("clicked", c.new));
 * counter
 */
export class AnyWidget<S extends Record<string, unknown> = Record<string, unknown>> extends DOMWidget {
  /** The synced state as an object: `w.state.count += 1` sends an update. */
  readonly state: S;
  private _commands = new Map<string, CommandHandler>();

  constructor(options: AnyWidgetOptions<S>) {
    if (options === null || typeof options !== "object") argError("AnyWidget", "options", "an object with an esm string", show(options));
    const { esm, css, state, name, moduleVersion, ...dom } = options;
    if (moduleVersion !== undefined && (typeof moduleVersion !== "string" || moduleVersion === "")) {
      argError("AnyWidget", "moduleVersion", "a semver range such as \"~0.11.*\"", show(moduleVersion));
    }
    if (typeof esm !== "string" || esm.length === 0) argError("AnyWidget", "esm", "ES module source text or a URL", show(esm));
    if (css !== undefined && typeof css !== "string") argError("AnyWidget", "css", "CSS text or a URL", show(css));
    if (state !== undefined && (state === null || typeof state !== "object" || Array.isArray(state))) {
      argError("AnyWidget", "state", "an object of initial values", show(state));
    }
    for (const k of Object.keys(state ?? {})) {
      if (k.startsWith("_model_") || k.startsWith("_view_") || k in ANY_SPEC.traits) {
        argError("AnyWidget", `state.${k}`, "a key that is not reserved by the widget protocol", JSON.stringify(k));
      }
    }
    const id = name ?? `sparselab.${createHash("sha256").update(esm).digest("hex").slice(0, 12)}`;
    const spec: ModelSpec = moduleVersion
      ? { ...ANY_SPEC, model: { ...ANY_SPEC.model, version: moduleVersion }, view: { ...ANY_SPEC.view, version: moduleVersion } }
      : ANY_SPEC;
    super(spec, { ...(dom as Record<string, unknown>), ...(state ?? {}), _esm: esm, _css: css ?? "", _anywidget_id: id });
    this.state = new Proxy({} as S, {
      get: (_t, k) => (typeof k === "string" ? this.get(k) : undefined),
      set: (_t, k, v) => {
        if (typeof k !== "string") return false;
        this.set(k, v);
        return true;
      },
      has: (_t, k) => typeof k === "string" && k in this.getState(),
      ownKeys: () => Object.keys(this.getState()).filter((k) => !k.startsWith("_") && k !== "layout" && k !== "tabbable" && k !== "tooltip"),
      getOwnPropertyDescriptor: (_t, k) => (typeof k === "string" && k in this.getState() ? { configurable: true, enumerable: true, value: this.get(k), writable: true } : undefined),
    });
    this.on("msg:custom", (content: any, buffers) => this._onCommand(content, buffers));
  }

  /** Reads a state key (typed by S). */
  override get<K extends keyof S & string>(name: K): S[K] {
    return super.get(name);
  }

  /** Writes a state key (typed by S); new keys are allowed when S allows them. */
  override set<K extends keyof S & string>(name: K, value: S[K]): void {
    super.set(name, value);
  }

  override observe<K extends keyof S & string>(names: K | readonly K[] | "*", fn: Observer<S[K]>): () => void;
  override observe(names: string | readonly string[], fn: Observer): () => void;
  override observe(names: string | readonly string[], fn: Observer): () => void {
    return super.observe(names, fn);
  }

  /**
   * Answers the view's `experimental.invoke(name, msg, { buffers })` calls: the handler's
   * return value (or `[value, buffers]`) goes back as the response.
   */
  command(name: string, handler: CommandHandler): () => void {
    if (typeof handler !== "function") argError("AnyWidget.command", "handler", "a function", show(handler));
    this._commands.set(name, handler);
    return () => this._commands.delete(name);
  }

  private async _onCommand(content: any, buffers: Uint8Array[]): Promise<void> {
    if (content?.kind !== "anywidget-command") return;
    const handler = this._commands.get(content.name);
    if (!handler) {
      reportCallbackError("AnyWidget command", new Error(`no command named ${JSON.stringify(content.name)}; register one with widget.command(name, fn)`));
      return;
    }
    const r = await handler(content.msg, buffers);
    const [response, out] = Array.isArray(r) && r.length === 2 && Array.isArray(r[1]) && r[1].every((b) => ArrayBuffer.isView(b)) ? r : [r, []];
    this.send({ id: content.id, kind: "anywidget-command-response", response }, out as ArrayBufferView[]);
  }
}

export type { Change };

/**
 * Creates an anywidget: `esm` draws it, `state` syncs both ways.
 * @example
 * const w = widgets.widget({ esm: `export default { render({ model, el }) { el.textContent = model.get("msg"); } }`, state: { msg: "hi" } });
 * w.state.msg = "hello"; // the view updates
 * w
 */
export function widget<S extends Record<string, unknown> = Record<string, unknown>>(options: AnyWidgetOptions<S>): AnyWidget<S> {
  return new AnyWidget<S>(options);
}
