/**
 * Live widgets in a static HTML page, offline: ipywidgets' own HTML manager
 * (@jupyter-widgets/html-manager's embed bundle, ipywidgets 8 / controls 2.0.0) reads a
 * widget-state script and draws each widget-view script where it stands, with no kernel;
 * browser-side links (jslink) keep working. `sparselab run` can use these for its pages.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { WidgetStateSnapshot } from "./state.js";
import { STATE_MIME, VIEW_MIME } from "./versions.js";

/** JSON that is safe inside a <script> element (no `</script>` or `<!--` can close it). */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

/** The script element that places the view of widget `modelId` (put it where it should show). */
export function widgetViewScript(modelId: string): string {
  return `<script type="${VIEW_MIME}">${scriptJson({ model_id: modelId, version_major: 2, version_minor: 0 })}</script>`;
}

/** The script element holding every widget's state (once per page, in <head> or before the views). */
export function widgetStateScript(snapshot: WidgetStateSnapshot): string {
  return `<script type="${STATE_MIME}">${scriptJson(snapshot)}</script>`;
}

/** Path of the HTML manager's embed bundle, or undefined when the package is not installed. */
export function embedBundlePath(): string | undefined {
  try {
    const p = createRequire(import.meta.url).resolve("@jupyter-widgets/html-manager/dist/embed.js");
    return existsSync(p) ? p : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The HTML manager inlined as one <script> (about 2.5 MB as base64), so the page needs no
 * network; undefined when @jupyter-widgets/html-manager is not installed. It goes in as a data:
 * URL because the bundle finds its public path from its own script's src (an inline script
 * has none and the bundle refuses to start). Icon fonts are not included.
 */
export function embedManagerScript(): string | undefined {
  const p = embedBundlePath();
  if (!p) return undefined;
  return `<script src="data:text/javascript;base64,${readFileSync(p).toString("base64")}"></script>`;
}
