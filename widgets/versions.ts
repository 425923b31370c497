/**
 * The front-end packages our models name, and the versions ipywidgets 8 registers them under.
 * A front-end looks models up by (module, version range), so these must match exactly.
 */
export const BASE = { module: "@jupyter-widgets/base", version: "2.0.0" } as const;
export const CONTROLS = { module: "@jupyter-widgets/controls", version: "2.0.0" } as const;
export const OUTPUT = { module: "@jupyter-widgets/output", version: "1.0.0" } as const;
/**
 * anywidget's Python package sends "~<major>.<minor>.*" of itself, and front-ends pick a
 * registered module version satisfying the range (semver maxSatisfying). Current anywidget is
 * 0.11, and a "~0.9.*" model finds no module there, so we ask for any release since the
 * front-end module format (AFM) settled in 0.9. SPARSELAB_ANYWIDGET_VERSION overrides it
 * (e.g. "~0.9.*" to pin an old front-end).
 */
export const ANYWIDGET = { module: "anywidget", version: process.env.SPARSELAB_ANYWIDGET_VERSION ?? ">=0.9.0" } as const;

/** The comm target every widget model opens on. */
export const WIDGET_TARGET = "jupyter.widget";
/** The comm target front-ends open to fetch every widget's state in one message. */
export const CONTROL_TARGET = "jupyter.widget.control";
/** Widgets protocol version sent in comm_open metadata. */
export const PROTOCOL_VERSION = "2.1.0";
/** MIME type of a widget view in display_data. */
export const VIEW_MIME = "application/vnd.jupyter.widget-view+json";
/** MIME type of the widget-state snapshot in notebook metadata. */
export const STATE_MIME = "application/vnd.jupyter.widget-state+json";
