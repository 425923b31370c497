/**
 * The kernel side of one widget model (Jupyter widgets protocol 2.1): its comm, its synced
 * state, change listeners and custom messages. Outside a kernel (no KernelComms installed) a
 * widget is a plain object whose state and observers still work, so tests and scripts use it.
 */
import { randomUUID } from "node:crypto";
import { DISPLAY, type MimeBundle } from "../lib/display.js";
import { argError } from "../lib/errors.js";
import { getKernelComms, type KernelComms } from "./comm.js";
import { putBuffers, removeBuffers, sameValue, type BufferPath } from "./buffers.js";
import { register, unregister, resolveRef, liveWidgets, REF_PREFIX } from "./registry.js";
import { reportCallbackError } from "./report.js";
import { show, type Trait, type Traits } from "./traits.js";
import { PROTOCOL_VERSION, VIEW_MIME, WIDGET_TARGET } from "./versions.js";

/** Which front-end model and view a widget class maps to, and its synced properties. */
export interface ModelSpec {
  /** The class name users see, in error messages and text/plain. */
  name: string;
  model: { module: string; version: string; name: string };
  view: { module: string; version: string; name: string | null };
  traits: Traits;
  /** Accept state keys that have no trait (anywidget's free-form state). */
  openState?: boolean;
}

/** A property change, as observers receive it (the shape ipywidgets' observe uses). */
export interface Change<T = unknown> {
  name: string;
  old: T;
  new: T;
  owner: Widget;
}

/** An observer; may be async. What it throws or rejects with is reported, never propagated. */
export type Observer<T = any> = (change: Change<T>) => void | Promise<void>;

/** A handler of custom messages from the front-end (`model.send(content, callbacks, buffers)`). */
export type CustomHandler = (content: any, buffers: Uint8Array[], widget: Widget) => void | Promise<void>;

/** Somewhere to show errors thrown by a widget's callbacks (an Output widget). */
export interface ErrorSink {
  showError(where: string, err: unknown): void;
}

/** Where a state change came from: kernel code, or a front-end `update` message. */
type Origin = "kernel" | "frontend";

/**
 * Base class of every widget. Subclasses pass a ModelSpec; properties are read and written
 * through `get`/`set` (subclasses add typed accessors such as `value`).
 *
 * @example
 * const s = new widgets.IntSlider({ value: 3, max: 10 });
 * s.observe("value", (c) => console.log(`${c.old} -> ${c.new}`));
 * s.value = 7;   // prints "3 -> 7" and updates every view of s
 * s;             // shows the slider
 */
export class Widget {
  /** The comm id, which is also the model id front-ends know the widget by. */
  readonly model_id: string;
  readonly spec: ModelSpec;
  protected _state: Record<string, unknown>;
  private _observers = new Map<string, Set<Observer>>();
  private _customHandlers = new Set<CustomHandler>();
  private _comms: KernelComms | undefined;
  private _opened = false;
  private _closed = false;
  private _held: Set<string> | undefined;
  private _errorSink: ErrorSink | undefined;

  constructor(spec: ModelSpec, options: Record<string, unknown> = {}) {
    this.model_id = randomUUID().replace(/-/g, "");
    this.spec = spec;
    this._state = {
      _model_module: spec.model.module,
      _model_module_version: spec.model.version,
      _model_name: spec.model.name,
      _view_module: spec.view.module,
      _view_module_version: spec.view.version,
      _view_name: spec.view.name,
    };
    for (const [k, t] of Object.entries(spec.traits)) {
      const d = t.default();
      if (d !== undefined) this._state[k] = d; // absent keys take the front-end's default
    }
    if (options === null || typeof options !== "object" || Array.isArray(options)) {
      argError(spec.name, "options", "an options object", show(options));
    }
    const given: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(options)) {
      if (v === undefined) continue;
      given[k] = this._checkKernelValue(k, v);
    }
    this._coerce(given, this._state, "kernel");
    Object.assign(this._state, given);
    register(this);
    // Opening is deferred to the end of the current task so subclass constructors finish
    // first; any earlier message (a set, a display) opens it synchronously instead.
    queueMicrotask(() => {
      try {
        this._ensureOpen();
      } catch (e) {
        reportCallbackError(`${spec.name} comm_open`, e);
      }
    });
  }

  /** Whether close() was called or the front-end closed the comm. */
  get closed(): boolean {
    return this._closed;
  }

  /** Reads a synced property. */
  get(name: string): any {
    return this._state[name];
  }

  /** Writes a synced property: validates it, updates every view, fires observers. */
  set(name: string, value: unknown): void {
    this.setState({ [name]: value });
  }

  /** Writes several properties at once, in one `update` message. */
  setState(changes: Record<string, unknown>): void {
    const checked: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(changes)) checked[k] = this._checkKernelValue(k, v);
    void this._apply(checked, "kernel");
  }

  /** A copy of the whole synced state (binary values shared, not copied). */
  getState(): Record<string, unknown> {
    return { ...this._state };
  }

  /**
   * Calls `fn` on every change of `names` (a property, a list, or "*" for all), whether it
   * came from kernel code or from a front-end. Returns a function that stops observing.
   */
  observe<T = any>(names: string | readonly string[], fn: Observer<T>): () => void {
    if (typeof fn !== "function") argError(`${this.spec.name}.observe`, "fn", "a function", show(fn));
    const list = typeof names === "string" ? [names] : [...names];
    for (const n of list) {
      if (n !== "*" && !(n in this._state) && !(n in this.spec.traits) && !this.spec.openState && !this._isDerived(n)) {
        argError(`${this.spec.name}.observe`, "names", `a property of ${this.spec.name} or "*"`, show(n));
      }
      if (!this._observers.has(n)) this._observers.set(n, new Set());
      this._observers.get(n)!.add(fn as Observer);
    }
    return () => {
      for (const n of list) this._observers.get(n)?.delete(fn as Observer);
    };
  }

  /**
   * Listens to custom messages from the front-end (the only event is "msg:custom").
   * Returns a function that removes the handler.
   */
  on(event: "msg:custom", fn: CustomHandler): () => void {
    if (event !== "msg:custom") argError(`${this.spec.name}.on`, "event", '"msg:custom"', show(event));
    if (typeof fn !== "function") argError(`${this.spec.name}.on`, "fn", "a function", show(fn));
    this._customHandlers.add(fn);
    return () => this._customHandlers.delete(fn);
  }

  /** Sends a custom message (`{method: "custom", content}`) with optional binary buffers. */
  send(content: unknown, buffers: readonly (ArrayBuffer | ArrayBufferView)[] = []): void {
    if (!this._ensureOpen()) return;
    const bytes = buffers.map((b) => (b instanceof Uint8Array ? b : b instanceof ArrayBuffer ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength)));
    this._comms!.send(this.model_id, { method: "custom", content }, bytes);
  }

  /**
   * Shows errors thrown by this widget's observers and handlers in `out` (an Output), so they
   * appear on the page beside the widget; by default they go to stderr of the current request.
   * @example
   * const out = new widgets.Output();
   * const b = new widgets.Button({ description: "fail" }).errorsTo(out);
   * b.onClick(() => { throw new Error("shown in out"); });
   * new widgets.VBox([b, out])
   */
  errorsTo(out: ErrorSink | undefined): this {
    this._errorSink = out;
    return this;
  }

  /** Reports an error from a callback: to the error Output if one is set, else stderr. */
  protected _report(where: string, err: unknown): void {
    if (this._errorSink) {
      try {
        this._errorSink.showError(where, err);
        return;
      } catch (e) {
        reportCallbackError("error Output", e);
      }
    }
    reportCallbackError(where, err);
  }

  /** Runs `fn` and sends all the property changes it makes as one `update`. */
  holdSync<T>(fn: () => T): T {
    if (this._held) return fn();
    const held = (this._held = new Set());
    try {
      return fn();
    } finally {
      this._held = undefined;
      if (held.size) this._sync([...held]);
    }
  }

  /** Closes the comm: every view of this widget goes away and it stops syncing. */
  close(): void {
    if (this._closed) return;
    this._closed = true;
    unregister(this);
    if (this._opened && this._comms) this._comms.close(this.model_id);
  }

  /** Shows the widget in the current output (cell or callback); a no-op outside a kernel. */
  show(): void {
    const k = getKernelComms();
    if (k) k.display(this[DISPLAY]());
  }

  [DISPLAY](): MimeBundle {
    if (this._closed) return { "text/plain": `${this.toString()} (closed)` };
    this._ensureOpen();
    return {
      [VIEW_MIME]: { model_id: this.model_id, version_major: 2, version_minor: 1 },
      "text/plain": this.toString(),
    };
  }

  /** `IntSlider(value=3, max=10)`: the properties that differ from their defaults. */
  toString(): string {
    const parts: string[] = [];
    // value first: it is what a reader looks for
    const entries = Object.entries(this._state).sort(([a], [b]) => Number(b === "value") - Number(a === "value"));
    for (const [k, v] of entries) {
      if (k.startsWith("_")) continue;
      const t = this.spec.traits[k];
      if (t && sameValue(t.default(), v)) continue;
      parts.push(`${k}=${typeof v === "string" ? JSON.stringify(v.length > 40 ? v.slice(0, 37) + "..." : v) : show(v)}`);
    }
    return `${this.spec.name}(${parts.join(", ")})`;
  }

  // ---- subclass hooks

  /**
   * Cross-property normalisation before changes apply (e.g. a slider clamps value into
   * [min, max]). `changes` holds checked values and may be edited; `state` is the current state.
   */
  protected _coerce(_changes: Record<string, unknown>, _state: Record<string, unknown>, _origin: Origin): void {}

  /** Extra changes derived from real ones (a Dropdown's `value` from its `index`). */
  protected _derive(_changes: Change[]): Change[] {
    return [];
  }

  /** Names observers may use that are not state keys (derived properties). */
  protected _isDerived(_name: string): boolean {
    return false;
  }

  /** Validates a kernel-side value for `name`, throwing a SparselabError when it is wrong. */
  protected _checkKernelValue(name: string, value: unknown): unknown {
    const t: Trait | undefined = this.spec.traits[name];
    if (t) return t.check(value, { widget: this.spec.name, name });
    if (this.spec.openState && !name.startsWith("_model_") && !name.startsWith("_view_")) {
      if (typeof value === "function" || typeof value === "symbol") {
        argError(this.spec.name, name, "a JSON value or binary data", show(value));
      }
      return value;
    }
    const known = Object.keys(this.spec.traits).filter((k) => !k.startsWith("_"));
    return argError(this.spec.name, name, `one of its properties (${known.join(", ")})`, `unknown property ${JSON.stringify(name)}`);
  }

  // ---- machinery

  /**
   * Applies checked changes, syncs kernel-made ones and runs observers. Resolves when every
   * (possibly async) observer has settled; never rejects.
   */
  protected _apply(changes: Record<string, unknown>, origin: Origin): Promise<void> {
    const done = this._commit(changes, origin);
    return this._notify([...done, ...this._derive(done)]);
  }

  /** Coerces and stores changes; kernel-made ones are synced. Returns what actually changed. */
  private _commit(changes: Record<string, unknown>, origin: Origin): Change[] {
    this._coerce(changes, this._state, origin);
    const done: Change[] = [];
    for (const [k, v] of Object.entries(changes)) {
      const old = this._state[k];
      if (sameValue(old, v)) continue;
      this._state[k] = v;
      done.push({ name: k, old, new: v, owner: this });
    }
    if (origin === "kernel" && done.length) this._sync(done.map((c) => c.name));
    return done;
  }

  /** Runs the observers of `changes`; resolves when async ones settle. */
  protected _notify(changes: Change[]): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const c of changes) {
      const fns = [...(this._observers.get(c.name) ?? []), ...(this._observers.get("*") ?? [])];
      for (const fn of fns) {
        const where = `${this.spec.name} observe(${JSON.stringify(c.name)}) handler`;
        try {
          const r = fn(c);
          if (r && typeof (r as Promise<void>).then === "function") {
            pending.push(Promise.resolve(r).catch((e) => this._report(where, e)));
          }
        } catch (e) {
          this._report(where, e);
        }
      }
    }
    return pending.length ? Promise.all(pending).then(() => undefined) : Promise.resolve();
  }

  /** Sends `update` for `keys` (or queues them inside holdSync; opens the comm if needed). */
  protected _sync(keys: string[]): void {
    if (this._held) {
      for (const k of keys) this._held.add(k);
      return;
    }
    if (this._closed) return;
    if (!this._opened) {
      this._ensureOpen(); // comm_open carries the whole state, these keys included
      return;
    }
    const part: Record<string, unknown> = {};
    for (const k of keys) part[k] = this._state[k];
    for (const w of referencedWidgets(part)) if (w !== this) w._ensureOpen();
    const { state, buffer_paths, buffers } = removeBuffers(part);
    this._comms!.send(this.model_id, { method: "update", state, buffer_paths }, buffers);
  }

  /** Opens the comm if a kernel is present and it is not open yet. Returns whether it is open. */
  protected _ensureOpen(): boolean {
    if (this._opened) return !this._closed;
    if (this._closed) return false;
    const k = getKernelComms();
    if (!k) return false;
    this._opened = true;
    this._comms = k;
    // Front-ends resolve "IPY_MODEL_" references when a model is created: referenced
    // models must exist first.
    for (const w of referencedWidgets(this._state)) if (w !== this) w._ensureOpen();
    const { state, buffer_paths, buffers } = removeBuffers(this._state);
    k.onMsg(this.model_id, (data, bufs) => this._onFrontendMessage(data, bufs));
    k.onClose(this.model_id, () => {
      this._closed = true;
      unregister(this);
    });
    k.open({
      commId: this.model_id,
      targetName: WIDGET_TARGET,
      data: { state, buffer_paths },
      metadata: { version: PROTOCOL_VERSION },
      buffers,
    });
    return true;
  }

  /** The kernel's answer to a comm_msg from a front-end. */
  private async _onFrontendMessage(data: any, buffers: Uint8Array[]): Promise<void> {
    const method = data?.method;
    if (method === "update") {
      await this._onFrontendUpdate(data, buffers ?? []);
    } else if (method === "request_state") {
      this._sendFullState();
    } else if (method === "custom") {
      await this._dispatchCustom(data.content, buffers ?? []);
    } else {
      reportCallbackError(`${this.spec.name} comm message`, new Error(`unknown method ${JSON.stringify(method)}`));
    }
  }

  private async _onFrontendUpdate(data: any, buffers: Uint8Array[]): Promise<void> {
    const sent: Record<string, unknown> = data.state && typeof data.state === "object" ? data.state : {};
    const paths: BufferPath[] = Array.isArray(data.buffer_paths) ? data.buffer_paths : [];
    const known = (k: string) => this.spec.openState || k in this.spec.traits;
    // Protocol 2.1: echo what the front-end sent, first (ipywidgets 8 order), so every
    // front-end, the sender included, can confirm the change by its parent header.
    const echoState: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(sent)) if (known(k)) echoState[k] = v;
    const echoPaths: BufferPath[] = [];
    const echoBuffers: Uint8Array[] = [];
    paths.forEach((p, i) => {
      if (Array.isArray(p) && known(String(p[0])) && buffers[i]) {
        echoPaths.push(p);
        echoBuffers.push(buffers[i]);
      }
    });
    if (this._opened && !this._closed && (Object.keys(echoState).length || echoPaths.length)) {
      this._comms!.send(this.model_id, { method: "echo_update", state: echoState, buffer_paths: echoPaths }, echoBuffers);
    }
    const incoming = putBuffers(JSON.parse(JSON.stringify(echoState)), echoPaths, echoBuffers);
    const checked: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(incoming)) {
      try {
        checked[k] = this._checkKernelValue(k, v);
      } catch (e) {
        // A front-end value we cannot accept: report it; the kernel's value goes back below.
        this._report(`${this.spec.name} update from the front-end`, e);
      }
    }
    const done = this._commit(checked, "frontend");
    // Values the kernel adjusted (clamped) or rejected go back, so every view shows the truth.
    const back = Object.keys(incoming).filter((k) => k in this._state && !sameValue(this._state[k], incoming[k]));
    if (back.length) this._sync(back);
    await this._notify([...done, ...this._derive(done)]);
  }

  private _sendFullState(): void {
    if (!this._opened || this._closed) return;
    const { state, buffer_paths, buffers } = removeBuffers(this._state);
    this._comms!.send(this.model_id, { method: "update", state, buffer_paths }, buffers);
  }

  protected async _dispatchCustom(content: unknown, buffers: Uint8Array[]): Promise<void> {
    const pending: Promise<unknown>[] = [];
    for (const fn of [...this._customHandlers]) {
      const where = `${this.spec.name} custom message handler`;
      try {
        const r = fn(content, buffers, this);
        if (r && typeof (r as Promise<void>).then === "function") {
          pending.push(Promise.resolve(r).catch((e) => this._report(where, e)));
        }
      } catch (e) {
        this._report(where, e);
      }
    }
    await Promise.all(pending);
  }
}

/** Widgets named by "IPY_MODEL_" strings anywhere in `value` (children, link pairs, refs). */
export function referencedWidgets(value: unknown, out: Widget[] = []): Widget[] {
  if (typeof value === "string") {
    const w = resolveRef(value);
    if (w && !out.includes(w)) out.push(w);
  } else if (Array.isArray(value)) {
    for (const v of value) referencedWidgets(v, out);
  } else if (value !== null && typeof value === "object" && !ArrayBuffer.isView(value) && !(value instanceof ArrayBuffer)) {
    for (const v of Object.values(value)) referencedWidgets(v, out);
  }
  return out;
}

/** The state form of a widget reference. */
export function ref(w: Widget): string {
  return REF_PREFIX + w.model_id;
}

/**
 * Adds typed accessors (`get value() / set value(v)`) for `keys` to a widget class; the class
 * declares their types by merging an interface of the same name.
 */
export function defineAccessors(cls: { prototype: object }, keys: readonly string[]): void {
  for (const key of keys) {
    Object.defineProperty(cls.prototype, key, {
      configurable: true,
      enumerable: false,
      get(this: Widget) {
        return this.get(key);
      },
      set(this: Widget, v: unknown) {
        this.set(key, v);
      },
    });
  }
}

/** Closes every live widget (ipywidgets' `Widget.close_all`). */
export function closeAll(): void {
  for (const w of liveWidgets()) w.close();
}
