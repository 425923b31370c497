// The live test page (bundled by test/browser/bundle.ts with esbuild): a minimal notebook front
// end. It talks to a Jupyter server through @jupyterlab/services, renders widget views with
// @jupyter-widgets/html-manager wired to the kernel's comms, routes captured output (msg_id) into
// Output widgets as JupyterLab does, and draws plotly outputs with plotly.js.
// Plain JS (not TS) because it only exists inside the bundle.
import { KernelManager, ServerConnection } from "@jupyterlab/services";
import { HTMLManager } from "@jupyter-widgets/html-manager";
import { shims } from "@jupyter-widgets/base";
import { Widget } from "@lumino/widgets";
import Plotly from "plotly.js-dist-min";
import "@jupyter-widgets/controls/css/widgets-base.css";

const PLOTLY = "application/vnd.plotly.v1+json";
const WIDGET = "application/vnd.jupyter.widget-view+json";
window.Plotly = Plotly;

/** Draws plotly outputs inside output areas (Output widgets). */
class PlotlyRenderer extends Widget {
  async renderModel(model) {
    const fig = model.data[PLOTLY];
    this.addClass("live-plotly");
    await Plotly.newPlot(this.node, fig.data, fig.layout ?? {}, { responsive: false });
  }
}

/** The html-manager, given what a live front end has: comms through the kernel. */
class LiveManager extends HTMLManager {
  constructor(kernel) {
    super();
    this.kernel = kernel;
    this.renderMime.addFactory({ safe: true, mimeTypes: [PLOTLY], createRenderer: () => new PlotlyRenderer() }, -1);
    kernel.registerCommTarget(this.comm_target_name, async (comm, msg) => {
      await this.handle_comm_open(new shims.services.Comm(comm), msg);
    });
  }
  async _create_comm(target, modelId, data, metadata, buffers) {
    const comm = this.kernel.createComm(target, modelId);
    if (data || metadata) comm.open(data, metadata, buffers);
    return new shims.services.Comm(comm);
  }
  async _get_comm_info() {
    const reply = await this.kernel.requestCommInfo({ target_name: this.comm_target_name });
    return reply.content.status === "ok" ? reply.content.comms : {};
  }
}

const params = new URLSearchParams(location.search);
const serverSettings = ServerConnection.makeSettings({ baseUrl: `${location.origin}/`, wsUrl: `ws://${location.host}/`, token: params.get("token"), appendToken: true });
const kernelManager = new KernelManager({ serverSettings });
let kernel, manager;
const cellRequests = new Set();

/** Output widgets capturing a request: parent msg_id -> OutputModel. */
async function captureTarget(msg) {
  const parent = msg.parent_header?.msg_id;
  if (!parent) return undefined;
  for (const p of Object.values(manager._models ?? {})) {
    const m = await p;
    if (m.get("_model_name") === "OutputModel" && m.get("msg_id") === parent) return m;
  }
  return undefined;
}

async function routeCaptured(msg) {
  const t = msg.header.msg_type;
  if (!["stream", "display_data", "execute_result", "error", "clear_output"].includes(t)) return false;
  const out = await captureTarget(msg);
  if (!out) return false;
  if (t === "clear_output") out.clear_output(msg.content.wait);
  else out.outputs.add({ ...msg.content, output_type: t });
  return true;
}

async function renderOutput(area, msg) {
  const t = msg.header.msg_type;
  if (!["stream", "error", "display_data", "execute_result"].includes(t)) return;
  const div = document.createElement("div");
  div.className = `output ${t}`;
  area.appendChild(div);
  if (t === "stream") div.textContent = msg.content.text;
  else if (t === "error") div.textContent = `${msg.content.ename}: ${msg.content.evalue}`;
  else if (t === "display_data" || t === "execute_result") {
    const data = msg.content.data;
    if (data[WIDGET]) {
      const model = await manager.get_model(data[WIDGET].model_id);
      const view = await manager.create_view(model);
      await manager.display_view(view, div);
    } else if (data[PLOTLY]) await Plotly.newPlot(div, data[PLOTLY].data, data[PLOTLY].layout ?? {});
    else div.textContent = data["text/plain"] ?? "";
  }
}

window.sparselab = {
  async start() {
    kernel = await kernelManager.startNew({ name: "sparselab" });
    await kernel.info;
    manager = new LiveManager(kernel);
    // Output widgets capture by msg_id whatever request produced the message (cells and widget callbacks alike).
    kernel.iopubMessage.connect((_, msg) => {
      if (!cellRequests.has(msg.parent_header?.msg_id)) void routeCaptured(msg);
    });
    return kernel.id;
  },
  /** Executes a cell; its outputs render into a new .cell div; resolves with the reply status. */
  async run(code) {
    const area = document.createElement("div");
    area.className = "cell";
    document.getElementById("cells").appendChild(area);
    let chain = Promise.resolve();
    const future = kernel.requestExecute({ code, allow_stdin: false });
    cellRequests.add(future.msg.header.msg_id);
    // In order: a message captured by an Output widget goes there, not into the cell.
    future.onIOPub = (msg) => void (chain = chain.then(async () => (await routeCaptured(msg)) || renderOutput(area, msg)));
    const reply = await future.done;
    await chain;
    return reply.content.status === "ok" ? "ok" : `${reply.content.ename}: ${reply.content.evalue}`;
  },
  async stop() {
    await kernel?.shutdown();
  },
};
document.getElementById("status").textContent = "ready";
