/**
 * A widget round trip through the real kernel, driven as JupyterLab drives it: a Debian
 * jupyter-server on loopback launches our kernel, and @jupyterlab/services (the client
 * JupyterLab itself uses) plays the front-end over WebSocket: it receives comm_open, sends
 * `update` / `request_state` / custom clicks, and checks echo_update, state and callback output.
 */
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import WebSocket from "ws";
import { KernelManager, ServerConnection, type Kernel, type KernelMessage } from "@jupyterlab/services";

const root = fileURLToPath(new URL("../../..", import.meta.url));
// Debian's python3-jupyter-server ships the module, not always a jupyter-server script
const PYTHON = process.env.SPARSELAB_JUPYTER_PYTHON ?? "/usr/bin/python3";

let server: ChildProcess | undefined;
let dir = "";
let serverLog = "";
let kernel: Kernel.IKernelConnection;
let manager: KernelManager;
const iopub: KernelMessage.IIOPubMessage[] = [];
const comms = new Map<string, Kernel.IComm>();

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

async function waitFor<T>(what: string, fn: () => T | undefined, ms = 15_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}\nserver log:\n${serverLog.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function exec(code: string): Promise<{ reply: KernelMessage.IExecuteReplyMsg; msgId: string }> {
  const future = kernel.requestExecute({ code, stop_on_error: false });
  const reply = (await future.done) as KernelMessage.IExecuteReplyMsg;
  if (reply.content.status !== "ok") throw new Error(`cell failed: ${JSON.stringify(reply.content)}\n${code}`);
  return { reply, msgId: future.msg.header.msg_id };
}

/** The text a request printed (stream messages whose parent is msgId). */
function printed(msgId: string): string {
  return iopub
    .filter((m) => m.header.msg_type === "stream" && (m.parent_header as any).msg_id === msgId)
    .map((m) => (m.content as any).text)
    .join("");
}

/** comm_open data.state of the widget a cell stored in globalThis.__ids[name]. */
async function idOf(name: string): Promise<string> {
  const { msgId } = await exec(`console.log("ID:" + (globalThis as any).__ids.${name})`);
  const m = /ID:(\w+)/.exec(printed(msgId));
  assert.ok(m, `no id printed for ${name}`);
  return m[1]!;
}

function openOf(commId: string): KernelMessage.ICommOpenMsg {
  const m = iopub.find((x) => x.header.msg_type === "comm_open" && (x.content as any).comm_id === commId);
  assert.ok(m, `no comm_open for ${commId}`);
  return m as KernelMessage.ICommOpenMsg;
}

function commMsgs(commId: string, parent?: string): KernelMessage.ICommMsgMsg[] {
  return iopub.filter(
    (x) => x.header.msg_type === "comm_msg" && (x.content as any).comm_id === commId && (parent === undefined || (x.parent_header as any).msg_id === parent),
  ) as KernelMessage.ICommMsgMsg[];
}

/** Sends a comm_msg as the front-end does; resolves at the kernel's idle for it. */
async function frontendSend(commId: string, data: any, buffers: ArrayBuffer[] = []): Promise<string> {
  const comm = comms.get(commId);
  assert.ok(comm, `front-end has no comm ${commId}`);
  const future = comm.send(data, undefined, buffers);
  await future.done;
  return future.msg.header.msg_id;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "sparselab-widgets-int-"));
  const spec = join(dir, "data", "kernels", "sparselab-widgets-test");
  mkdirSync(spec, { recursive: true });
  writeFileSync(
    join(spec, "kernel.json"),
    JSON.stringify({
      argv: [process.execPath, join(root, "dist/kernel/cli.js"), "kernel", "--connection-file", "{connection_file}"],
      display_name: "sparselab (widgets test)",
      language: "typescript",
      interrupt_mode: "message",
    }),
  );
  const port = await freePort();
  const token = randomBytes(12).toString("hex");
  server = spawn(PYTHON, ["-m", "jupyter_server", "--allow-root", "--no-browser", "--ip", "127.0.0.1", "--port", String(port), `--ServerApp.token=${token}`, `--ServerApp.root_dir=${dir}`], {
    env: { ...process.env, JUPYTER_PATH: join(dir, "data"), JUPYTER_DATA_DIR: join(dir, "data"), JUPYTER_CONFIG_DIR: join(dir, "config"), JUPYTER_RUNTIME_DIR: join(dir, "runtime"), HOME: dir },
    stdio: ["ignore", "pipe", "pipe"],
  });
  server.on("error", (e) => (serverLog += `spawn failed: ${e.message}`));
  server.stdout!.on("data", (d) => (serverLog += d));
  server.stderr!.on("data", (d) => (serverLog += d));
  const baseUrl = `http://127.0.0.1:${port}/`;
  await waitFor("jupyter-server to listen", () => {
    if (/spawn failed/.test(serverLog)) throw new Error(serverLog);
    return /is running at|Jupyter Server .* is running/i.test(serverLog) || undefined;
  }, 30_000);
  const serverSettings = ServerConnection.makeSettings({
    baseUrl,
    wsUrl: `ws://127.0.0.1:${port}/`,
    token,
    WebSocket: WebSocket as any,
    fetch: fetch as any,
    Request: Request as any,
    Headers: Headers as any,
    init: { cache: "no-store" } as any,
  });
  manager = new KernelManager({ serverSettings });
  await manager.ready;
  kernel = await manager.startNew({ name: "sparselab-widgets-test" });
  kernel.iopubMessage.connect((_k, msg) => {
    iopub.push(msg);
  });
  // What @jupyter-widgets/base's manager does: every kernel-opened widget comm gets a model.
  kernel.registerCommTarget("jupyter.widget", (comm, msg) => {
    comms.set(msg.content.comm_id, comm);
  });
  await kernel.info;
});

after(async () => {
  try {
    await kernel?.shutdown();
  } catch {}
  manager?.dispose();
  server?.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 300));
  if (server && server.exitCode === null) server.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

test("comm_open, front-end update -> observer + echo_update, request_state, comm_info", { timeout: 120_000 }, async () => {
  const { msgId: cell } = await exec(`
    const s = new widgets.IntSlider({ value: 3, max: 10, description: "n" });
    s.observe("value", (c) => console.log("changed", c.old, "->", c.new));
    (globalThis as any).__ids = { s: s.model_id };
    s`);
  const sid = await idOf("s");
  const open = openOf(sid);
  assert.equal((open.parent_header as any).msg_id, cell);
  assert.equal(open.content.target_name, "jupyter.widget");
  assert.deepEqual(open.metadata, { version: "2.1.0" });
  const st = (open.content.data as any).state;
  assert.deepEqual([st._model_name, st._model_module, st._model_module_version, st.value, st.max], ["IntSliderModel", "@jupyter-widgets/controls", "2.0.0", 3, 10]);
  const shown = iopub.find((m) => m.header.msg_type === "execute_result" && (m.parent_header as any).msg_id === cell);
  assert.deepEqual((shown!.content as any).data["application/vnd.jupyter.widget-view+json"], { model_id: sid, version_major: 2, version_minor: 1 });
  await waitFor("the front-end comm", () => comms.get(sid));

  const up = await frontendSend(sid, { method: "update", state: { value: 7 }, buffer_paths: [] });
  const echo = commMsgs(sid, up);
  assert.equal(echo.length, 1, JSON.stringify(echo.map((m) => m.content.data)));
  assert.deepEqual(echo[0]!.content.data, { method: "echo_update", state: { value: 7 }, buffer_paths: [] });
  assert.match(printed(up), /changed 3 -> 7/);
  // services resolves `done` on the idle before re-emitting it on iopubMessage: wait for it there
  const states = () => iopub.filter((m) => m.header.msg_type === "status" && (m.parent_header as any).msg_id === up).map((m) => (m.content as any).execution_state);
  await waitFor("idle for the comm_msg", () => states().includes("idle") || undefined);
  assert.deepEqual(states(), ["busy", "idle"], "comm_msg bracketed by busy/idle");
  const { msgId: check } = await exec(`console.log("value is", s.value)`);
  assert.match(printed(check), /value is 7/);

  const rs = await frontendSend(sid, { method: "request_state" });
  const full = commMsgs(sid, rs);
  assert.equal(full.length, 1);
  assert.equal((full[0]!.content.data as any).method, "update");
  assert.equal((full[0]!.content.data as any).state.value, 7);
  assert.equal((full[0]!.content.data as any).state._model_name, "IntSliderModel");

  const info = await kernel.requestCommInfo({ target_name: "jupyter.widget" });
  assert.ok(sid in (info.content as any).comms, "comm_info lists the live widget");
});

test("Button click (custom) runs the kernel handler, which prints into an Output via msg_id capture", { timeout: 60_000 }, async () => {
  await exec(`
    const out = new widgets.Output();
    const b = new widgets.Button({ description: "go" });
    let clicks = 0;
    b.onClick(() => out.capture(() => console.log("clicked", ++clicks)));
    (globalThis as any).__ids = { out: out.model_id, b: b.model_id };
    new widgets.VBox([b, out])`);
  const bid = await idOf("b");
  const oid = await idOf("out");
  await waitFor("the button comm", () => comms.get(bid));
  const click = await frontendSend(bid, { method: "custom", content: { event: "click" } });
  // The Output's msg_id goes to the click message, the print follows with that parent, then back to ""
  const seq = iopub.filter((m) => (m.parent_header as any).msg_id === click && (m.header.msg_type === "stream" || (m.header.msg_type === "comm_msg" && (m.content as any).comm_id === oid)));
  const shape = seq.map((m) => (m.header.msg_type === "stream" ? `stream:${(m.content as any).text.trim()}` : `msg_id=${(m.content as any).data.state.msg_id}`));
  assert.deepEqual(shape, [`msg_id=${click}`, "stream:clicked 1", "msg_id="]);
});

test("the jupyter.widget.control comm answers request_states with every widget", { timeout: 60_000 }, async () => {
  const sid = await idOf("b");
  const comm = kernel.createComm("jupyter.widget.control");
  let reply: any;
  comm.onMsg = (msg) => {
    reply = msg.content.data;
  };
  await comm.open({}).done;
  await comm.send({ method: "request_states" }).done;
  await waitFor("update_states", () => reply);
  assert.equal(reply.method, "update_states");
  assert.equal(reply.states[sid].model_name, "ButtonModel");
  assert.equal(reply.states[sid].state.description, "go");
});

test("interact: a slider change from the front-end re-runs fn; its result lands in the Output by msg_id", { timeout: 60_000 }, async () => {
  await exec(`
    const h = interact(({ n }: { n: number }) => n * 2, { n: [0, 10] });
    (globalThis as any).__ids = { n: h.controls.n.model_id, out: h.output.model_id };
    await h.ready;`);
  const nid = await idOf("n");
  const oid = await idOf("out");
  await waitFor("the slider comm", () => comms.get(nid));
  const up = await frontendSend(nid, { method: "update", state: { value: 3 }, buffer_paths: [] });
  const seq = iopub
    .filter((m) => (m.parent_header as any).msg_id === up)
    .filter((m) => ["clear_output", "display_data", "stream"].includes(m.header.msg_type) || (m.header.msg_type === "comm_msg" && (m.content as any).comm_id === oid));
  const shape = seq.map((m) =>
    m.header.msg_type === "comm_msg" ? `msg_id=${(m.content as any).data.state.msg_id}` : m.header.msg_type === "display_data" ? `display:${(m.content as any).data["text/plain"]}` : m.header.msg_type,
  );
  assert.deepEqual(shape, [`msg_id=${up}`, "clear_output", "display:6", "msg_id="]);
});

test("anywidget through the kernel: state both ways, custom messages with binary buffers both ways", { timeout: 60_000 }, async () => {
  await exec(`
    const aw = widgets.widget({ esm: "export default { render({ model, el }) { el.textContent = model.get('count'); } }", state: { count: 0 } });
    aw.observe("count", (c) => console.log("count now", c.new));
    aw.on("msg:custom", (content, buffers) => aw.send({ got: content.kind, n: buffers[0].length }, [new Float32Array([1.5, 2.5])]));
    (globalThis as any).__ids = { aw: aw.model_id };
    aw`);
  const id = await idOf("aw");
  const st = (openOf(id).content.data as any).state;
  assert.deepEqual([st._model_name, st._model_module, st._view_name, st.count], ["AnyModel", "anywidget", "AnyView", 0]);
  await waitFor("the anywidget comm", () => comms.get(id));
  const up = await frontendSend(id, { method: "update", state: { count: 5 }, buffer_paths: [] });
  assert.deepEqual(commMsgs(id, up)[0]!.content.data, { method: "echo_update", state: { count: 5 }, buffer_paths: [] });
  assert.match(printed(up), /count now 5/);
  const { msgId: set } = await exec(`aw.state.count = 11`);
  assert.deepEqual(commMsgs(id, set).at(-1)!.content.data, { method: "update", state: { count: 11 }, buffer_paths: [] });
  const custom = await frontendSend(id, { method: "custom", content: { kind: "ping" } }, [new Uint8Array([1, 2, 3, 4]).buffer]);
  const reply = commMsgs(id, custom).at(-1)!;
  assert.deepEqual(reply.content.data, { method: "custom", content: { got: "ping", n: 4 } });
  const buf = reply.buffers![0] as ArrayBuffer | ArrayBufferView;
  const bytes = ArrayBuffer.isView(buf) ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) : new Uint8Array(buf);
  assert.deepEqual([...new Float32Array(bytes.slice().buffer)], [1.5, 2.5]);
});
