/**
 * Live widgets by model id, so state references ("IPY_MODEL_<id>") resolve to objects and
 * the kernel can list, snapshot and restore every widget. A closed widget leaves the registry.
 */
import type { Widget } from "./widget.js";

const live = new Map<string, Widget>();

export const REF_PREFIX = "IPY_MODEL_";

export function register(w: Widget): void {
  live.set(w.model_id, w);
}

export function unregister(w: Widget): void {
  live.delete(w.model_id);
}

/** The live widget with this model id, if any. */
export function lookup(modelId: string): Widget | undefined {
  return live.get(modelId);
}

/** Every live widget, in creation order. */
export function liveWidgets(): Widget[] {
  return [...live.values()];
}

/** The widget a `"IPY_MODEL_<id>"` string names, if it is live. */
export function resolveRef(ref: unknown): Widget | undefined {
  return typeof ref === "string" && ref.startsWith(REF_PREFIX) ? live.get(ref.slice(REF_PREFIX.length)) : undefined;
}
