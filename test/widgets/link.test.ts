import { test } from "node:test";
import assert from "node:assert/strict";
import * as w from "../../widgets/index.js";
import { freshKernel, settle } from "./fake-comms.js";

test("link keeps two widgets in sync both ways, including changes from the front-end; unlink stops it", async () => {
  const k = freshKernel();
  const a = new w.IntSlider({ value: 4 });
  const b = new w.IntText({ value: 0 });
  const l = w.link([a, "value"], [b, "value"]);
  assert.equal(b.value, 4, "target takes the source's value at once");
  a.value = 10;
  assert.equal(b.value, 10);
  b.value = 20;
  assert.equal(a.value, 20);
  await settle();
  await k.fromFrontend(a.model_id, { method: "update", state: { value: 33 }, buffer_paths: [] });
  assert.equal(b.value, 33);
  assert.deepEqual(k.msgs(b.model_id).at(-1)!.data.state, { value: 33 }, "the linked widget's views are updated");
  l.unlink();
  a.value = 1;
  assert.equal(b.value, 33);
});

test("dlink copies one way through a transform; a throwing transform is reported, not thrown", () => {
  freshKernel();
  const s = new w.IntSlider({ value: 2 });
  const lab = new w.Label();
  w.dlink([s, "value"], [lab, "value"], (v: number) => {
    if (v === 13) throw new Error("unlucky");
    return `window ${v * 128}`;
  });
  assert.equal(lab.value, "window 256");
  s.value = 3;
  assert.equal(lab.value, "window 384");
  lab.value = "x";
  assert.equal(s.value, 3);
  s.value = 13; // reported via stderr; the set itself succeeds
  assert.equal(s.value, 13);
  assert.throws(() => w.link([s, "nope"], [lab, "value"]), /link: argument 'source' must be a synced property of IntSlider, got "nope"/);
  assert.throws(() => w.link([s] as any, [lab, "value"]), /link: argument 'source' must be a \[widget, propertyName\] pair/);
});

test("jslink / jsdlink create LinkModel / DirectionalLinkModel comms referencing both widgets, opened after them", async () => {
  const k = freshKernel();
  const p = new w.Play({ max: 10 });
  const s = new w.IntSlider({ max: 10 });
  const l = w.jslink([p, "value"], [s, "value"]);
  const d = w.jsdlink([s, "value"], [p, "max"]);
  await settle();
  const ls = k.openOf(l.model_id).data.state;
  assert.deepEqual(
    [ls._model_name, ls._model_module, ls._model_module_version, ls._view_name],
    ["LinkModel", "@jupyter-widgets/controls", "2.0.0", null],
  );
  assert.deepEqual(ls.source, [`IPY_MODEL_${p.model_id}`, "value"]);
  assert.deepEqual(ls.target, [`IPY_MODEL_${s.model_id}`, "value"]);
  assert.equal(k.openOf(d.model_id).data.state._model_name, "DirectionalLinkModel");
  const order = k.opens().map((o) => o.commId);
  assert.ok(order.indexOf(l.model_id) > order.indexOf(s.model_id));
  l.unlink();
  assert.ok(k.log.some((x) => x.kind === "close" && x.commId === l.model_id));
});
