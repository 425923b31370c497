/**
 * Snapshots of every live widget's state: for a notebook's metadata
 * (application/vnd.jupyter.widget-state+json, so saved pages and nbconvert show widgets without
 * a kernel) and for the `jupyter.widget.control` comm's `update_states` reply (one message that
 * restores all widgets after a page reload).
 */
import { onKernelComms, type KernelComms } from "./comm.js";
import { removeBuffers, toBase64, type BufferPath } from "./buffers.js";
import { liveWidgets } from "./registry.js";
import { reportCallbackError } from "./report.js";
import { CONTROL_TARGET } from "./versions.js";

export interface WidgetStateEntry {
  model_name: string;
  model_module: string;
  model_module_version: string;
  state: Record<string, unknown>;
  /** Binary values, base64, and where they go in `state`. */
  buffers?: { path: BufferPath; data: string; encoding: "base64" }[];
}

/** The notebook metadata value for "application/vnd.jupyter.widget-state+json". */
export interface WidgetStateSnapshot {
  version_major: 2;
  version_minor: 0;
  state: Record<string, WidgetStateEntry>;
}

/**
 * Every live widget's full state, in the notebook widget-state format (version 2.0).
 * `sparselab run` stores it under `metadata.widgets["application/vnd.jupyter.widget-state+json"]`.
 * @example
 * const s = new widgets.IntSlider({ value: 3 });
 * widgets.widgetState().state[s.model_id].state.value; // 3
 */
export function widgetState(): WidgetStateSnapshot {
  const state: Record<string, WidgetStateEntry> = {};
  for (const w of liveWidgets()) {
    const { state: s, buffer_paths, buffers } = removeBuffers(w.getState());
    const entry: WidgetStateEntry = {
      model_name: w.spec.model.name,
      model_module: w.spec.model.module,
      model_module_version: w.spec.model.version,
      state: s,
    };
    if (buffers.length) entry.buffers = buffers.map((b, i) => ({ path: buffer_paths[i]!, data: toBase64(b), encoding: "base64" }));
    state[w.model_id] = entry;
  }
  return { version_major: 2, version_minor: 0, state };
}

/** The `update_states` message of the control comm, with its buffers. */
export function updateStatesMessage(): { data: { method: "update_states"; states: Record<string, unknown>; buffer_paths: BufferPath[] }; buffers: Uint8Array[] } {
  const states: Record<string, unknown> = {};
  for (const w of liveWidgets()) {
    states[w.model_id] = {
      model_name: w.spec.model.name,
      model_module: w.spec.model.module,
      model_module_version: w.spec.model.version,
      state: w.getState(),
    };
  }
  const { state, buffer_paths, buffers } = removeBuffers(states);
  return { data: { method: "update_states", states: state, buffer_paths }, buffers };
}

/**
 * Registers the `jupyter.widget.control` comm target with `k`: a front-end (JupyterLab after a
 * page reload) opens it and sends `request_states`; we answer with every widget's state.
 */
export function installControlTarget(k: KernelComms): void {
  k.registerTarget(CONTROL_TARGET, (commId) => {
    k.onMsg(commId, (data) => {
      if (data?.method !== "request_states") {
        reportCallbackError("jupyter.widget.control comm", new Error(`unknown method ${JSON.stringify(data?.method)}`));
        return;
      }
      const { data: reply, buffers } = updateStatesMessage();
      k.send(commId, reply, buffers);
    });
  });
}

// Whenever the kernel installs its comms, the control target comes with them.
onKernelComms(installControlTarget);
