import { test } from "node:test";
import assert from "node:assert/strict";
import * as w from "../../widgets/index.js";
import { freshKernel, settle } from "./fake-comms.js";

test("Dropdown maps value/label/options in the kernel to _options_labels + index on the wire", async () => {
  const k = freshKernel();
  const d = new w.Dropdown<number>({ options: [["one", 1], ["two", 2], ["three", 3]], value: 2 });
  await settle();
  assert.deepEqual(k.openOf(d.model_id).data.state._options_labels, ["one", "two", "three"]);
  assert.equal(k.openOf(d.model_id).data.state.index, 1);
  assert.equal(d.value, 2);
  assert.equal(d.label, "two");
  d.value = 3;
  assert.deepEqual(k.msgs(d.model_id).at(-1)!.data.state, { index: 2 });
  d.label = "one";
  assert.equal(d.value, 1);
  assert.deepEqual(d.options, [["one", 1], ["two", 2], ["three", 3]]);
});

test("Dropdown: a front-end index change fires value and label observers with old and new", async () => {
  const k = freshKernel();
  const d = new w.Dropdown({ options: { causal: "c", sliding: "s" } });
  await settle();
  assert.equal(d.value, "c", "first option selected by default");
  const seen: any[] = [];
  d.observe(["value", "label", "index"], (c) => {
    seen.push([c.name, c.old, c.new]);
  });
  await k.fromFrontend(d.model_id, { method: "update", state: { index: 1 }, buffer_paths: [] });
  assert.deepEqual(seen, [["index", 0, 1], ["value", "c", "s"], ["label", "causal", "sliding"]]);
  assert.deepEqual(k.msgs(d.model_id).at(-1)!.data, { method: "echo_update", state: { index: 1 }, buffer_paths: [] });
  // an out-of-range index from a front-end is ignored and the kernel's index sent back
  await k.fromFrontend(d.model_id, { method: "update", state: { index: 7 }, buffer_paths: [] });
  assert.equal(d.index, 1);
  assert.deepEqual(k.msgs(d.model_id).at(-1)!.data, { method: "update", state: { index: 1 }, buffer_paths: [] });
});

test("changing options keeps the value when still offered, else selects the first", async () => {
  const k = freshKernel();
  const d = new w.Select({ options: ["a", "b", "c"], value: "b", rows: 3 });
  await settle();
  const values: unknown[] = [];
  d.observe("value", (c) => {
    values.push(c.new);
  });
  d.options = ["z", "b"];
  assert.equal(d.value, "b");
  assert.deepEqual(k.msgs(d.model_id).at(-1)!.data.state, { _options_labels: ["z", "b"] }, "index 1 is unchanged");
  d.options = ["x", "y"];
  assert.equal(d.value, "x");
  assert.deepEqual(values, ["x"], "value observers fire only when the value changes");
  d.options = [];
  assert.equal(d.value, null);
  assert.equal(d.index, null);
});

test("RadioButtons and ToggleButtons share the mapping; non-string values are labelled by String()", async () => {
  freshKernel();
  const r = new w.RadioButtons({ options: [1, 2, 4] , value: 4});
  assert.deepEqual(r.get("_options_labels"), ["1", "2", "4"]);
  assert.equal(r.index, 2);
  const t = new w.ToggleButtons({ options: ["f32", "bf16"], tooltips: ["full", "half"], button_style: "info" });
  assert.equal(t.value, "f32");
  assert.deepEqual(t.tooltips, ["full", "half"]);
  assert.throws(() => (t.value = "f8"), /ToggleButtons: argument 'value' must be one of the options \("f32", "bf16"\), got "f8"/);
});

test("Tab pads titles to its children and selects the first page; setTitle updates one", async () => {
  const k = freshKernel();
  const a = new w.Label("a");
  const b = new w.Label("b");
  const tab = new w.Tab([a, b], { titles: ["A"] });
  await settle();
  const s = k.openOf(tab.model_id).data.state;
  assert.deepEqual(s.titles, ["A", ""]);
  assert.equal(s.selected_index, 0);
  tab.setTitle(1, "B");
  assert.deepEqual(k.msgs(tab.model_id).at(-1)!.data.state, { titles: ["A", "B"] });
  const acc = new w.Accordion([a]);
  assert.equal(acc.selected_index, null);
  assert.throws(() => (acc.selected_index = 3), /Accordion: argument 'selected_index' must be an index in \[0, 1\) or null, got 3/);
  tab.children = [a];
  assert.deepEqual(tab.titles, ["A"]);
  assert.deepEqual(tab.children, [a]);
});

test("SelectMultiple: value arrays <-> index arrays, derived value observers, front-end changes", async () => {
  const k = freshKernel();
  const m = new w.SelectMultiple<number>({ options: [["h0", 0], ["h1", 1], ["h2", 2]], value: [2, 0] });
  await settle();
  assert.deepEqual(k.openOf(m.model_id).data.state.index, [2, 0]);
  assert.deepEqual(m.label, ["h2", "h0"]);
  const seen: unknown[] = [];
  m.observe("value", (c) => {
    seen.push(c.new);
  });
  await k.fromFrontend(m.model_id, { method: "update", state: { index: [1] }, buffer_paths: [] });
  assert.deepEqual(m.value, [1]);
  assert.deepEqual(seen, [[1]]);
  m.value = [0, 1];
  assert.deepEqual(k.msgs(m.model_id).at(-1)!.data.state, { index: [0, 1] });
  m.options = [["h1", 1], ["h9", 9]];
  assert.deepEqual(m.value, [1]);
  assert.throws(() => (m.value = [5]), /SelectMultiple: argument 'value' must be entries among the options \("h1", "h9"\), got 5/);
  await k.fromFrontend(m.model_id, { method: "update", state: { index: [0, 7] }, buffer_paths: [] });
  assert.deepEqual(m.value, [1], "out-of-range indices from a front-end are ignored");
});
