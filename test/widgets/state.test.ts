import { test } from "node:test";
import assert from "node:assert/strict";
import * as w from "../../widgets/index.js";
import { FakeComms, freshKernel, settle } from "./fake-comms.js";

test("widgetState() snapshots every live widget in the notebook widget-state 2.0 format, buffers base64", () => {
  w.setKernelComms(undefined);
  w.closeAll();
  const s = new w.IntSlider({ value: 9 });
  const a = w.widget({ esm: "export default {}", state: { bytes: new Uint8Array([255, 0, 1]) } });
  const box = new w.HBox([s]);
  const snap = w.widgetState();
  assert.equal(snap.version_major, 2);
  assert.equal(snap.version_minor, 0);
  assert.deepEqual(Object.keys(snap.state).sort(), [s.model_id, a.model_id, box.model_id].sort());
  const e = snap.state[s.model_id]!;
  assert.deepEqual([e.model_name, e.model_module, e.model_module_version], ["IntSliderModel", "@jupyter-widgets/controls", "2.0.0"]);
  assert.equal(e.state.value, 9);
  assert.equal(e.state._view_name, "IntSliderView");
  const ae = snap.state[a.model_id]!;
  assert.deepEqual(ae.buffers, [{ path: ["bytes"], data: Buffer.from([255, 0, 1]).toString("base64"), encoding: "base64" }]);
  assert.ok(!("bytes" in ae.state));
  assert.deepEqual(snap.state[box.model_id]!.state.children, [`IPY_MODEL_${s.model_id}`]);
  JSON.parse(JSON.stringify(snap)); // serialisable as notebook metadata
  s.close();
  assert.ok(!(s.model_id in w.widgetState().state), "closed widgets leave the snapshot");
});

test("jupyter.widget.control: request_states answers update_states with every widget and its buffers", async () => {
  const k = freshKernel();
  assert.ok(k.targets.has("jupyter.widget.control"), "registered when the kernel installs its comms");
  const s = new w.IntSlider({ value: 2 });
  const a = w.widget({ esm: "export default {}", state: { raw: new Uint8Array([5, 6]) } });
  await settle();
  k.targets.get("jupyter.widget.control")!("ctl-1", {}, []);
  await k.fromFrontend("ctl-1", { method: "request_states" });
  const m = k.msgs("ctl-1").at(-1)!;
  assert.equal(m.data.method, "update_states");
  assert.deepEqual(m.data.states[s.model_id].state.value, 2);
  assert.equal(m.data.states[s.model_id].model_name, "IntSliderModel");
  assert.deepEqual(m.data.buffer_paths, [[a.model_id, "state", "raw"]]);
  assert.deepEqual([...m.buffers![0]!], [5, 6]);
  // a second kernel installation registers again
  const k2 = new FakeComms();
  w.setKernelComms(k2);
  assert.ok(k2.targets.has("jupyter.widget.control"));
});

test("progress(): throttled updates, done() turns the bar green, track() iterates with a bar", async () => {
  const k = freshKernel();
  let now = 0;
  const p = w.progress(100, { description: "heads", now: () => now });
  await settle();
  assert.ok(k.log.some((x) => x.kind === "display"), "shown at once");
  const barMsgs = () => k.msgs(p.bar.model_id).filter((m) => m.data.method === "update" && "value" in m.data.state).length;
  for (let i = 0; i < 50; i++) {
    now += 1; // 1 ms per step: within one 100 ms interval
    p.tick();
  }
  assert.equal(p.count, 50);
  assert.ok(barMsgs() <= 1, `throttled: ${barMsgs()} updates for 50 ticks`);
  now += 200;
  p.tick();
  assert.equal(p.bar.value, 51);
  p.done();
  assert.equal(p.bar.value, 100);
  assert.equal(p.bar.bar_style, "success");
  assert.match(p.label.value, /^100\/100/);
  const seen: number[] = [];
  for (const x of w.track([1, 2, 3], { show: false })) seen.push(x);
  assert.deepEqual(seen, [1, 2, 3]);
  assert.throws(() => w.progress(-1), /progress: argument 'total' must be a non-negative integer, got -1/);
});
