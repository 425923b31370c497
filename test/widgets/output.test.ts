import { test } from "node:test";
import assert from "node:assert/strict";
import * as w from "../../widgets/index.js";
import { freshKernel, settle } from "./fake-comms.js";

test("capture sets msg_id to the current parent message, outputs happen under it, then msg_id is reset", async () => {
  const k = freshKernel();
  const out = new w.Output();
  await settle();
  k.parent = "exec-42";
  const r = out.capture(() => {
    k.display({ "text/plain": "inside" });
    return 5;
  });
  assert.equal(r, 5);
  const seq = k.log.filter((x) => (x.kind === "msg" && x.commId === out.model_id) || x.kind === "display");
  assert.deepEqual(
    seq.map((x) => (x.kind === "display" ? `display:${x.parent}` : `msg_id=${x.data.state.msg_id}`)),
    ["msg_id=exec-42", "display:exec-42", "msg_id="],
  );
  assert.equal(out.msg_id, "");
});

test("async capture keeps msg_id until the promise settles; nested captures restore the outer id", async () => {
  const k = freshKernel();
  const out = new w.Output();
  await settle();
  k.parent = "comm-7";
  let release!: () => void;
  const p = out.capture(() => new Promise<string>((r) => (release = () => r("done"))));
  assert.equal(out.msg_id, "comm-7");
  k.parent = "comm-8";
  out.capture(() => assert.equal(out.msg_id, "comm-8"));
  assert.equal(out.msg_id, "comm-7", "inner capture restores the outer one");
  release();
  assert.equal(await p, "done");
  assert.equal(out.msg_id, "");
});

test("an error inside capture is shown in the Output (stderr while capturing), not thrown", async () => {
  const k = freshKernel();
  const out = new w.Output();
  await settle();
  k.parent = "exec-1";
  const r = out.capture(() => {
    throw new TypeError("bad shape");
  });
  assert.equal(r, undefined);
  const err = k.log.find((x) => x.kind === "stream")!;
  assert.match(err.data.text, /TypeError: bad shape/);
  const idx = k.log.indexOf(err);
  const before = k.log.slice(0, idx).filter((x) => x.kind === "msg" && x.commId === out.model_id).at(-1)!;
  assert.equal(before.data.state.msg_id, "exec-1", "the error went out while msg_id pointed at its parent");
  const ar = await out.capture(async () => {
    throw new Error("async bad");
  });
  assert.equal(ar, undefined);
  assert.ok(k.log.some((x) => x.kind === "stream" && /async bad/.test(x.data.text)));
});

test("append*/clear fill the outputs state itself (headless), in nbformat shape", async () => {
  w.setKernelComms(undefined);
  const out = new w.Output();
  out.appendStdout("hello\n");
  out.appendStderr("warn\n");
  await out.appendDisplay({ "text/html": "<b>x</b>", "text/plain": "x" });
  await out.append({ a: 1 });
  out.appendError(new RangeError("nope"));
  const o = out.outputs;
  assert.deepEqual(o[0], { output_type: "stream", name: "stdout", text: "hello\n" });
  assert.deepEqual(o[1], { output_type: "stream", name: "stderr", text: "warn\n" });
  assert.deepEqual(o[2], { output_type: "display_data", data: { "text/html": "<b>x</b>", "text/plain": "x" }, metadata: {} });
  assert.deepEqual(o[3], { output_type: "display_data", data: { "text/plain": "{ a: 1 }" }, metadata: {} });
  assert.equal(o[4]!.output_type, "error");
  assert.deepEqual([(o[4] as any).ename, (o[4] as any).evalue], ["RangeError", "nope"]);
  out.clear();
  assert.deepEqual(out.outputs, []);
});

test("clear() inside a kernel sends clear_output routed to the Output and empties outputs", async () => {
  const k = freshKernel();
  const out = new w.Output();
  await settle();
  out.appendStdout("x");
  out.clear();
  const clear = k.log.find((x) => x.kind === "clear")!;
  const i = k.log.indexOf(clear);
  const msgIdBefore = k.log.slice(0, i).filter((x) => x.kind === "msg" && x.commId === out.model_id && "msg_id" in x.data.state).at(-1)!;
  assert.equal(msgIdBefore.data.state.msg_id, k.parent);
  assert.deepEqual(out.outputs, []);
});

test("errorsTo(out): a throwing click handler's error shows in the Output (routed by msg_id, or as an error output headless)", async () => {
  const k = freshKernel();
  const out = new w.Output();
  const b = new w.Button({ description: "x" }).errorsTo(out);
  b.onClick(() => {
    throw new Error("handler broke");
  });
  await settle();
  await k.fromFrontend(b.model_id, { method: "custom", content: { event: "click" } }, [], "click-1");
  const err = k.log.find((x) => x.kind === "stream" && /handler broke/.test(x.data.text))!;
  assert.equal(err.parent, "click-1");
  const idx = k.log.indexOf(err);
  const msgIds = k.log.filter((x, i) => x.kind === "msg" && x.commId === out.model_id && "msg_id" in x.data.state && Math.abs(i - idx) <= 2).map((x) => x.data.state.msg_id);
  assert.deepEqual(msgIds, ["click-1", ""], "captured: msg_id set around the error");
  w.setKernelComms(undefined);
  const out2 = new w.Output();
  const b2 = new w.Button().errorsTo(out2);
  b2.onClick(async () => {
    throw new RangeError("async broke");
  });
  await b2.click();
  assert.equal(out2.outputs.length, 1);
  assert.deepEqual([(out2.outputs[0] as any).output_type, (out2.outputs[0] as any).ename, (out2.outputs[0] as any).evalue], ["error", "RangeError", "async broke"]);
});
