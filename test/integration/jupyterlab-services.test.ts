// The client JupyterLab itself uses (@jupyterlab/services 7) against Debian's jupyter-server,
// which launches our kernel from the kernelspec and relays over ZeroMQ.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { KernelManager, ServerConnection, type Kernel, type KernelMessage } from "@jupyterlab/services";
import { startJupyterServer, type RunningServer } from "./jupyter-server.js";

let server: RunningServer;
let manager: KernelManager;
let kernel: Kernel.IKernelConnection;

before(async () => {
  server = await startJupyterServer();
  const serverSettings = ServerConnection.makeSettings({
    baseUrl: server.baseUrl,
    wsUrl: server.wsUrl,
    token: server.token,
    appendToken: true,
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    fetch,
    Request,
    Headers,
  });
  manager = new KernelManager({ serverSettings });
  kernel = await manager.startNew({ name: "sparselab" });
  await kernel.info;
});

after(async () => {
  try {
    await kernel?.shutdown();
  } catch {
    /* already gone */
  }
  manager?.dispose();
  await server?.stop();
});

async function run(code: string): Promise<{ reply: KernelMessage.IExecuteReplyMsg; iopub: KernelMessage.IIOPubMessage[] }> {
  const iopub: KernelMessage.IIOPubMessage[] = [];
  const future = kernel.requestExecute({ code, allow_stdin: false });
  future.onIOPub = (m) => void iopub.push(m);
  const reply = (await future.done) as KernelMessage.IExecuteReplyMsg;
  return { reply, iopub };
}

function resultText(iopub: KernelMessage.IIOPubMessage[]): string | undefined {
  const m = iopub.find((x) => x.header.msg_type === "execute_result") as KernelMessage.IExecuteResultMsg | undefined;
  return m?.content.data["text/plain"] as string | undefined;
}

test("kernel info through the server", async () => {
  const info = await kernel.info;
  assert.equal(info.language_info.name, "typescript");
  assert.equal(info.implementation, "sparselab");
});

test("execute, typed, with a result and a display", async () => {
  const r = await run("const n: number = 20;\ndisplay.html('<b>bold</b>');\nn + 22");
  assert.equal(r.reply.content.status, "ok");
  assert.equal(resultText(r.iopub), "42");
  const d = r.iopub.find((m) => m.header.msg_type === "display_data") as KernelMessage.IDisplayDataMsg;
  assert.equal(d.content.data["text/html"], "<b>bold</b>");
  const bad = await run("const s: string = n;");
  assert.equal(bad.reply.content.status, "error");
});

test("completion", async () => {
  const r = await kernel.requestComplete({ code: "sl.createBl", cursor_pos: 11 });
  assert.equal(r.content.status, "ok");
  assert.deepEqual((r.content as KernelMessage.ICompleteReplyMsg["content"] & { matches: string[] }).matches, ["createBlockMask"]);
});

test("widget round trip as the front-end drives it: update, echo_update, request_state, click", async () => {
  const comms = new Map<string, Kernel.IComm>();
  const received: KernelMessage.ICommMsgMsg[] = [];
  kernel.registerCommTarget("jupyter.widget", (comm, msg) => {
    const state = (msg.content.data as { state: Record<string, unknown> }).state;
    comms.set(String(state._model_name), comm);
    comm.onMsg = (m) => void received.push(m);
  });
  const setup = await run(
    "const slider = new widgets.IntSlider({ value: 3, min: 0, max: 10, description: 'k' });\nconst seen: number[] = [];\n" +
      "slider.observe('value', (c) => { seen.push(c.new as number); });\nconst go = new widgets.Button({ description: 'go' });\nlet clicks = 0;\n" +
      "go.onClick(() => { clicks++; });\ndisplay(slider);\ndisplay(go);",
  );
  assert.equal(setup.reply.content.status, "ok", JSON.stringify(setup.reply.content));
  const views = setup.iopub.filter((m) => m.header.msg_type === "display_data" && "application/vnd.jupyter.widget-view+json" in (m as KernelMessage.IDisplayDataMsg).content.data);
  assert.equal(views.length, 2);
  const slider = comms.get("IntSliderModel");
  const button = comms.get("ButtonModel");
  assert.ok(slider && button, `comms opened: ${[...comms.keys()].join(", ")}`);

  // The front-end sends one update and waits for idle before the next.
  await slider.send({ method: "update", state: { value: 7 }, buffer_paths: [] }).done;
  const echo = received.find((m) => (m.content.data as { method?: string }).method === "echo_update");
  assert.ok(echo, "echo_update after the front-end's update");
  assert.equal((echo.content.data as { state: { value: number } }).state.value, 7);
  assert.equal(resultText((await run("seen")).iopub), "[ 7 ]");

  received.length = 0;
  await slider.send({ method: "request_state" }).done;
  const full = received.find((m) => (m.content.data as { method?: string }).method === "update");
  assert.ok(full, "update in answer to request_state");
  const st = (full.content.data as { state: Record<string, unknown> }).state;
  assert.equal(st.value, 7);
  assert.equal(st._model_name, "IntSliderModel");

  await button.send({ method: "custom", content: { event: "click" } }).done;
  assert.equal(resultText((await run("clicks")).iopub), "1");
});

test("interrupt a busy loop through the server (interrupt_mode message)", async () => {
  const future = kernel.requestExecute({ code: "while (true) {}" });
  await new Promise((r) => setTimeout(r, 500));
  await kernel.interrupt();
  const reply = (await future.done) as KernelMessage.IExecuteReplyMsg;
  assert.equal(reply.content.status, "error");
  assert.equal((reply.content as KernelMessage.IReplyErrorContent).ename, "KeyboardInterrupt");
  assert.equal(resultText((await run("1 + 1")).iopub), "2");
});

test("restart: the kernel comes back with a fresh state", async () => {
  await run("const beforeRestart = 1;");
  await kernel.restart();
  await kernel.info;
  const r = await run("typeof (globalThis as any).beforeRestart");
  assert.equal(r.reply.content.status, "ok");
  const again = await run("const beforeRestart: string = 'redeclared after restart';\nbeforeRestart");
  assert.equal(resultText(again.iopub), "'redeclared after restart'");
  assert.equal(resultText((await run("1 + 2")).iopub), "3");
});
