/**
 * For clients without a widget front-end (the headless `sparselab run`, like nbclient's
 * output widget support): follows Output widgets' `msg_id` from the iopub stream and says which
 * outputs a live front-end would have drawn inside an Output instead of the cell, so the runner
 * can put them into that widget's `outputs` state.
 *
 * Usage: feed every iopub message to `route(msgType, content, parentMsgId)`; a returned model
 * id means "this output belongs to that Output widget" (it was appended to `outputsOf(id)`), and
 * the caller keeps it out of the cell's outputs.
 */
import type { OutputItem } from "./output.js";

export class OutputRouter {
  /** Output models by comm id, and the msg_id each currently captures ("" = none). */
  private readonly capturing = new Map<string, string>();
  private readonly outputs = new Map<string, OutputItem[]>();
  private readonly clearPending = new Set<string>();

  /** Outputs captured so far for an Output model (undefined for unknown ids). */
  outputsOf(modelId: string): OutputItem[] | undefined {
    return this.outputs.get(modelId);
  }

  /**
   * Feeds one iopub message. Returns the Output model id that captured it, if any.
   * comm_open / comm_msg / comm_close messages are tracked and never captured.
   */
  route(msgType: string, content: any, parentMsgId: string): string | undefined {
    if (msgType === "comm_open") {
      const st = content?.data?.state;
      if (st?._model_name === "OutputModel") {
        this.capturing.set(content.comm_id, String(st.msg_id ?? ""));
        this.outputs.set(content.comm_id, Array.isArray(st.outputs) ? [...st.outputs] : []);
      }
      return undefined;
    }
    if (msgType === "comm_msg") {
      const id = content?.comm_id;
      const d = content?.data;
      if (this.capturing.has(id) && (d?.method === "update" || d?.method === "echo_update") && d.state) {
        if ("msg_id" in d.state) this.capturing.set(id, String(d.state.msg_id ?? ""));
        if (Array.isArray(d.state.outputs)) this.outputs.set(id, [...d.state.outputs]);
      }
      return undefined;
    }
    if (msgType === "comm_close") {
      this.capturing.delete(content?.comm_id);
      return undefined;
    }
    if (!parentMsgId) return undefined;
    // The most recently opened capturing Output wins, as in ipywidgets' front-end.
    let target: string | undefined;
    for (const [id, msgId] of this.capturing) if (msgId === parentMsgId) target = id;
    if (!target) return undefined;
    const outs = this.outputs.get(target)!;
    if (msgType === "clear_output") {
      if (content?.wait) this.clearPending.add(target);
      else outs.length = 0;
      return target;
    }
    const item = toItem(msgType, content);
    if (!item) return undefined;
    if (this.clearPending.delete(target)) outs.length = 0;
    const last = outs.at(-1);
    if (item.output_type === "stream" && last?.output_type === "stream" && last.name === item.name) {
      outs[outs.length - 1] = { ...last, text: last.text + item.text };
    } else {
      outs.push(item);
    }
    return target;
  }
}

function toItem(msgType: string, c: any): OutputItem | undefined {
  if (msgType === "stream") return { output_type: "stream", name: c.name === "stderr" ? "stderr" : "stdout", text: String(c.text ?? "") };
  if (msgType === "display_data" || msgType === "execute_result") return { output_type: "display_data", data: c.data ?? {}, metadata: c.metadata ?? {} };
  if (msgType === "error") return { output_type: "error", ename: String(c.ename ?? ""), evalue: String(c.evalue ?? ""), traceback: Array.isArray(c.traceback) ? c.traceback : [] };
  return undefined;
}
