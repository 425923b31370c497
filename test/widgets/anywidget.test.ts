import { test } from "node:test";
import assert from "node:assert/strict";
import * as w from "../../widgets/index.js";
import { freshKernel, settle } from "./fake-comms.js";

const ESM = `export default { render({ model, el }) { el.textContent = model.get("count"); } }`;

test("anywidget comm_open: AnyModel/AnyView of module anywidget (>=0.9.0, or moduleVersion), with _esm, _css, _anywidget_id and user state", async () => {
  const k = freshKernel();
  const x = w.widget({ esm: ESM, css: ".a{color:red}", state: { count: 1, label: "n" } });
  await settle();
  const s = k.openOf(x.model_id).data.state;
  assert.deepEqual(
    [s._model_name, s._model_module, s._model_module_version, s._view_name, s._view_module, s._view_module_version],
    ["AnyModel", "anywidget", ">=0.9.0", "AnyView", "anywidget", ">=0.9.0"],
  );
  const pinned = w.widget({ esm: ESM, moduleVersion: "~0.9.*" });
  await settle();
  const ps = k.openOf(pinned.model_id).data.state;
  assert.deepEqual([ps._model_module_version, ps._view_module_version], ["~0.9.*", "~0.9.*"]);
  assert.equal(s._esm, ESM);
  assert.equal(s._css, ".a{color:red}");
  assert.match(s._anywidget_id, /^sparselab\.[0-9a-f]{12}$/);
  assert.equal(s.count, 1);
  assert.equal(s.label, "n");
  assert.deepEqual(k.openOf(x.model_id).metadata, { version: "2.1.0" });
  const view = x[Symbol.for("Jupyter.display") as keyof typeof x] as unknown as () => any;
  assert.deepEqual(view.call(x)["application/vnd.jupyter.widget-view+json"], { model_id: x.model_id, version_major: 2, version_minor: 1 });
  assert.throws(() => w.widget({ esm: "" }), /AnyWidget: argument 'esm' must be ES module source text or a URL/);
  assert.throws(() => w.widget({ esm: ESM, state: { _esm: "x" } }), /AnyWidget: argument 'state._esm' must be a key that is not reserved/);
});

test("anywidget state both ways: model.set + save_changes arrive as update; kernel sets (and the state proxy) send update", async () => {
  const k = freshKernel();
  const x = w.widget<{ count: number; tags: string[] }>({ esm: ESM, state: { count: 0, tags: [] } });
  await settle();
  const seen: number[] = [];
  x.observe("count", (c) => {
    seen.push(c.new);
  });
  await k.fromFrontend(x.model_id, { method: "update", state: { count: 3 }, buffer_paths: [] });
  assert.equal(x.get("count"), 3);
  assert.equal(x.state.count, 3);
  assert.deepEqual(seen, [3]);
  assert.deepEqual(k.msgs(x.model_id).at(-1)!.data, { method: "echo_update", state: { count: 3 }, buffer_paths: [] });
  x.state.count += 1;
  assert.deepEqual(k.msgs(x.model_id).at(-1)!.data, { method: "update", state: { count: 4 }, buffer_paths: [] });
  x.set("tags", ["a"]);
  assert.deepEqual(k.msgs(x.model_id).at(-1)!.data.state, { tags: ["a"] });
  assert.deepEqual(seen, [3, 4]);
  // new keys set from either side are accepted (anywidget state is free-form)
  await k.fromFrontend(x.model_id, { method: "update", state: { extra: true }, buffer_paths: [] });
  assert.equal(x.get("extra" as any), true);
  assert.deepEqual(Object.keys(x.state).sort(), ["count", "extra", "tags"]);
});

test("anywidget custom messages with buffers both ways, and experimental.invoke commands", async () => {
  const k = freshKernel();
  const x = w.widget({ esm: ESM });
  await settle();
  const got: any[] = [];
  x.on("msg:custom", (content, buffers) => {
    got.push([content, buffers.map((b) => [...b])]);
  });
  await k.fromFrontend(x.model_id, { method: "custom", content: { type: "pick", row: 3 } }, [new Uint8Array([1, 2, 3])]);
  assert.deepEqual(got, [[{ type: "pick", row: 3 }, [[1, 2, 3]]]]);
  x.send({ type: "heatmap", shape: [2, 2] }, [new Float32Array([1, 2, 3, 4])]);
  const m = k.msgs(x.model_id).at(-1)!;
  assert.deepEqual(m.data, { method: "custom", content: { type: "heatmap", shape: [2, 2] } });
  assert.equal(m.buffers![0]!.byteLength, 16);
  x.command("sum", (msg: { xs: number[] }, bufs) => [{ total: msg.xs.reduce((a, b) => a + b, 0) + bufs.length }, [new Uint8Array([42])]]);
  await k.fromFrontend(x.model_id, { method: "custom", content: { id: "req-1", kind: "anywidget-command", name: "sum", msg: { xs: [1, 2, 3] } } }, [new Uint8Array([0])]);
  const reply = k.msgs(x.model_id).at(-1)!;
  assert.deepEqual(reply.data, { method: "custom", content: { id: "req-1", kind: "anywidget-command-response", response: { total: 7 } } });
  assert.deepEqual([...reply.buffers![0]!], [42]);
});
