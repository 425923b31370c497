/**
 * Turns a cell's iopub messages into nbformat outputs the way a front-end does: coalesced
 * streams, clear_output (wait), update_display_data across cells, and widget state from
 * jupyter.widget comm traffic for metadata.widgets. Outputs produced while an Output widget
 * captures (its msg_id is the request's) go into that widget's saved `outputs`, not the cell, as
 * a live front-end would draw them.
 */
import type { Message } from "../protocol/message.js";
import type { NbOutput } from "./notebook.js";
import { OutputRouter } from "../../widgets/output-router.js";

export interface WidgetModelState {
  model_name: string;
  model_module: string;
  model_module_version: string;
  state: Record<string, unknown>;
  buffers?: { path: (string | number)[]; data: string; encoding: "base64" }[];
}

function setPath(obj: any, path: (string | number)[], value: unknown): void {
  let o = obj;
  for (let i = 0; i < path.length - 1; i++) o = o[path[i]] ??= typeof path[i + 1] === "number" ? [] : {};
  o[path[path.length - 1]] = value;
}

export class OutputCollector {
  private readonly byDisplayId = new Map<string, NbOutput[]>();
  readonly widgets = new Map<string, WidgetModelState>();
  private clearPending = false;
  private readonly router = new OutputRouter();

  /** Applies one iopub message to `outputs` (the running cell's list). */
  apply(outputs: NbOutput[], m: Message, executionCount: number | null): void {
    const c = m.content as any;
    const t = m.header.msg_type;
    if (this.router.route(t, c, String(m.parent_header?.msg_id ?? "")) !== undefined) return;
    if (t === "comm_open" || t === "comm_msg" || t === "comm_close") return this.widget(m);
    if (t === "clear_output") {
      if (c.wait) this.clearPending = true;
      else outputs.length = 0;
      return;
    }
    if (t === "update_display_data") {
      const id = c.transient?.display_id;
      for (const o of (id && this.byDisplayId.get(id)) || []) {
        o.data = c.data;
        o.metadata = c.metadata ?? {};
      }
      return;
    }
    if (!["stream", "display_data", "execute_result", "error"].includes(t)) return;
    if (this.clearPending) {
      outputs.length = 0;
      this.clearPending = false;
    }
    if (t === "stream") {
      const last = outputs[outputs.length - 1];
      if (last?.output_type === "stream" && last.name === c.name) last.text += c.text;
      else outputs.push({ output_type: "stream", name: c.name, text: c.text });
    } else if (t === "display_data") {
      const o: NbOutput = { output_type: "display_data", data: c.data, metadata: c.metadata ?? {} };
      outputs.push(o);
      const id = c.transient?.display_id;
      if (id) this.byDisplayId.set(id, [...(this.byDisplayId.get(id) ?? []), o]);
    } else if (t === "execute_result") {
      outputs.push({ output_type: "execute_result", data: c.data, metadata: c.metadata ?? {}, execution_count: executionCount });
    } else {
      outputs.push({ output_type: "error", ename: c.ename, evalue: c.evalue, traceback: c.traceback });
    }
  }

  private widget(m: Message): void {
    const c = m.content as any;
    const t = m.header.msg_type;
    if (t === "comm_close") return void this.widgets.delete(c.comm_id);
    if (t === "comm_open" && c.target_name !== "jupyter.widget") return;
    const data = c.data ?? {};
    let model = this.widgets.get(c.comm_id);
    if (t === "comm_open") {
      const st = data.state ?? {};
      model = { model_name: st._model_name, model_module: st._model_module, model_module_version: st._model_module_version, state: {} };
      this.widgets.set(c.comm_id, model);
    }
    if (!model) return;
    if (t === "comm_open" || data.method === "update" || data.method === "echo_update") {
      const state = { ...(data.state ?? {}) };
      const paths: (string | number)[][] = data.buffer_paths ?? [];
      const buffers = (model.buffers ?? []).filter((b) => !paths.some((p) => JSON.stringify(p) === JSON.stringify(b.path)));
      paths.forEach((p, i) => {
        const buf = m.buffers[i];
        if (buf) buffers.push({ path: p, data: Buffer.from(buf).toString("base64"), encoding: "base64" });
        setPath(state, p, null);
      });
      Object.assign(model.state, state);
      if (buffers.length) model.buffers = buffers;
    }
  }

  /** metadata.widgets for the executed notebook. */
  widgetState(): Record<string, unknown> | undefined {
    if (this.widgets.size === 0) return undefined;
    for (const [id, model] of this.widgets) {
      const captured = this.router.outputsOf(id);
      if (captured) model.state.outputs = captured;
    }
    return { "application/vnd.jupyter.widget-state+json": { version_major: 2, version_minor: 0, state: Object.fromEntries(this.widgets) } };
  }
}
