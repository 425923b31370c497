/**
 * Keeping properties of two widgets equal.
 * - `link` / `dlink` run in the kernel: observers copy values (through an optional transform).
 * - `jslink` / `jsdlink` run in the browser: a LinkModel / DirectionalLinkModel
 *   (@jupyter-widgets/controls 2.0.0) that the front-end enforces with no kernel round trip,
 *   so they keep working in a saved page without a kernel.
 */
import { argError } from "../lib/errors.js";
import { sameValue } from "./buffers.js";
import { reportCallbackError } from "./report.js";
import { show, type Trait } from "./traits.js";
import { controlsSpec } from "./dom-widget.js";
import { ref, Widget, type ModelSpec } from "./widget.js";

/** A (widget, property name) pair. */
export type WidgetTrait = readonly [Widget, string];

function checkPair(op: string, arg: string, p: unknown): WidgetTrait {
  if (!Array.isArray(p) || p.length !== 2 || !(p[0] instanceof Widget) || typeof p[1] !== "string") {
    return argError(op, arg, "a [widget, propertyName] pair", show(p));
  }
  const [w, name] = p as [Widget, string];
  if (!(name in w.getState()) && !(name in w.spec.traits) && !w.spec.openState) {
    argError(op, arg, `a synced property of ${w.spec.name}`, JSON.stringify(name));
  }
  return [w, name];
}

/** A live kernel-side link; `unlink()` stops it. */
export interface Link {
  unlink(): void;
}

function copy(op: string, from: WidgetTrait, to: WidgetTrait, transform: (v: any) => any, busy: { on: boolean }): () => void {
  return from[0].observe(from[1], (c) => {
    if (busy.on) return;
    busy.on = true;
    try {
      const v = transform(c.new);
      if (!sameValue(to[0].get(to[1]), v)) to[0].set(to[1], v);
    } catch (e) {
      reportCallbackError(`${op} ${from[0].spec.name}.${from[1]} -> ${to[0].spec.name}.${to[1]}`, e);
    } finally {
      busy.on = false;
    }
  });
}

/**
 * Keeps `source[1]` of `source[0]` and `target[1]` of `target[0]` equal, both ways, in the
 * kernel. The target takes the source's value at once.
 * @example
 * const a = new widgets.IntSlider(), b = new widgets.IntText();
 * const l = widgets.link([a, "value"], [b, "value"]);
 * a.value = 5; // b.value is 5 too
 * l.unlink();
 */
export function link(source: WidgetTrait, target: WidgetTrait): Link {
  const s = checkPair("link", "source", source);
  const t = checkPair("link", "target", target);
  t[0].set(t[1], s[0].get(s[1]));
  const busy = { on: false };
  const offs = [copy("link", s, t, (v) => v, busy), copy("link", t, s, (v) => v, busy)];
  return { unlink: () => offs.forEach((f) => f()) };
}

/**
 * Copies `source` to `target` (one way) in the kernel, through `transform` if given.
 * @example
 * const win = new widgets.IntSlider({ value: 128, max: 4096 });
 * const info = new widgets.Label();
 * widgets.dlink([win, "value"], [info, "value"], (w) => `window ${w} tokens`);
 */
export function dlink(source: WidgetTrait, target: WidgetTrait, transform: (v: any) => any = (v) => v): Link {
  const s = checkPair("dlink", "source", source);
  const t = checkPair("dlink", "target", target);
  if (typeof transform !== "function") argError("dlink", "transform", "a function", show(transform));
  t[0].set(t[1], transform(s[0].get(s[1])));
  const off = copy("dlink", s, t, transform, { on: false });
  return { unlink: off };
}

/** A [widget reference, property] pair in state. */
function pairTrait(): Trait<[string, string]> {
  return {
    default: () => ["", ""],
    check: (v, ctx) => {
      if (Array.isArray(v) && v.length === 2 && v[0] instanceof Widget && typeof v[1] === "string") return [ref(v[0]), v[1]];
      if (Array.isArray(v) && v.length === 2 && typeof v[0] === "string" && typeof v[1] === "string") return [v[0], v[1]];
      return argError(ctx.widget, ctx.name, "a [widget, propertyName] pair", show(v));
    },
  };
}

function linkSpec(name: string, model: string): ModelSpec {
  const s = controlsSpec(name, model, "", { source: pairTrait(), target: pairTrait() });
  return { ...s, view: { ...s.view, name: null } };
}
const LINK = linkSpec("JsLink", "LinkModel");
const DIRECTIONAL_LINK = linkSpec("JsDirectionalLink", "DirectionalLinkModel");

/** A browser-side link widget (LinkModel or DirectionalLinkModel); `unlink()` closes it. */
export class JsLink extends Widget {
  constructor(source: WidgetTrait, target: WidgetTrait, directional = false) {
    const op = directional ? "jsdlink" : "jslink";
    const s = checkPair(op, "source", source);
    const t = checkPair(op, "target", target);
    super(directional ? DIRECTIONAL_LINK : LINK, { source: s, target: t });
  }
  unlink(): void {
    this.close();
  }
}

/**
 * Links two properties in the browser (both ways): no kernel round trip, works in saved pages.
 * @example
 * const play = new widgets.Play({ max: 10 }), s = new widgets.IntSlider({ max: 10 });
 * widgets.jslink([play, "value"], [s, "value"]);
 */
export function jslink(source: WidgetTrait, target: WidgetTrait): JsLink {
  return new JsLink(source, target, false);
}

/**
 * Copies source to target in the browser (one way).
 * @example
 * const a = new widgets.FloatSlider(), b = new widgets.FloatProgress();
 * widgets.jsdlink([a, "value"], [b, "value"]);
 */
export function jsdlink(source: WidgetTrait, target: WidgetTrait): JsLink {
  return new JsLink(source, target, true);
}
