import { test } from "node:test";
import assert from "node:assert/strict";
import * as w from "../../widgets/index.js";
import { freshKernel, settle } from "./fake-comms.js";

test("OutputRouter replays a kernel's iopub stream: outputs under a capturing Output's msg_id go into it", async () => {
  // record what a real interact run sends, then replay it as a headless client would
  const k = freshKernel();
  k.parent = "exec-1";
  const h = w.interact(({ n }: { n: number }) => {
    k.stream("stdout", `computing ${n}\n`);
    return `n=${n}`;
  }, { n: [0, 4] });
  await h.ready;
  await settle();
  const router = new w.OutputRouter();
  const cell: string[] = [];
  for (const m of k.log) {
    const type = { open: "comm_open", msg: "comm_msg", close: "comm_close", display: "display_data", clear: "clear_output", stream: "stream" }[m.kind];
    const content =
      m.kind === "open" ? { comm_id: m.commId, target_name: m.targetName, data: m.data }
      : m.kind === "msg" ? { comm_id: m.commId, data: m.data }
      : m.kind === "close" ? { comm_id: m.commId }
      : m.kind === "display" ? { data: m.data, metadata: {} }
      : m.kind === "clear" ? { wait: m.data.wait }
      : m.data;
    const to = router.route(type, content, m.parent);
    if (!to && (m.kind === "display" || m.kind === "stream")) cell.push(m.kind === "display" ? "widget-view" : m.data.text);
  }
  assert.deepEqual(cell, ["widget-view"], "only the interact view stays in the cell");
  assert.deepEqual(router.outputsOf(h.output.model_id), [
    { output_type: "stream", name: "stdout", text: "computing 2\n" },
    { output_type: "display_data", data: { "text/plain": "n=2" }, metadata: {} },
  ]);
});

test("OutputRouter: clear_output(wait) clears at the next output; no capture without a matching msg_id", () => {
  const r = new w.OutputRouter();
  r.route("comm_open", { comm_id: "o1", data: { state: { _model_name: "OutputModel", msg_id: "", outputs: [] } } }, "e");
  assert.equal(r.route("stream", { name: "stdout", text: "x" }, "e"), undefined);
  r.route("comm_msg", { comm_id: "o1", data: { method: "update", state: { msg_id: "m1" } } }, "m1");
  assert.equal(r.route("stream", { name: "stdout", text: "a" }, "m1"), "o1");
  assert.equal(r.route("stream", { name: "stdout", text: "b" }, "m1"), "o1");
  assert.deepEqual(r.outputsOf("o1"), [{ output_type: "stream", name: "stdout", text: "ab" }]);
  r.route("clear_output", { wait: true }, "m1");
  assert.equal(r.outputsOf("o1")!.length, 1, "wait: kept until the next output");
  r.route("display_data", { data: { "text/plain": "new" }, metadata: {} }, "m1");
  assert.deepEqual(r.outputsOf("o1"), [{ output_type: "display_data", data: { "text/plain": "new" }, metadata: {} }]);
  r.route("comm_msg", { comm_id: "o1", data: { method: "update", state: { msg_id: "" } } }, "m1");
  assert.equal(r.route("stream", { name: "stdout", text: "late" }, "m1"), undefined);
});
