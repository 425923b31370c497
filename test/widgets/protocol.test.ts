import { test } from "node:test";
import assert from "node:assert/strict";
import * as w from "../../widgets/index.js";
import { DISPLAY } from "../../lib/display.js";
import { FakeComms, freshKernel, settle } from "./fake-comms.js";

const C = { module: "@jupyter-widgets/controls", version: "2.0.0" };

// [factory, model name, view name] per the @jupyter-widgets/controls 2.0.0 schema
const CONTROLS: [string, () => w.Widget, string, string][] = [
  ["IntSlider", () => new w.IntSlider(), "IntSliderModel", "IntSliderView"],
  ["FloatSlider", () => new w.FloatSlider(), "FloatSliderModel", "FloatSliderView"],
  ["FloatLogSlider", () => new w.FloatLogSlider(), "FloatLogSliderModel", "FloatLogSliderView"],
  ["IntRangeSlider", () => new w.IntRangeSlider(), "IntRangeSliderModel", "IntRangeSliderView"],
  ["FloatRangeSlider", () => new w.FloatRangeSlider(), "FloatRangeSliderModel", "FloatRangeSliderView"],
  ["Dropdown", () => new w.Dropdown({ options: ["a", "b"] }), "DropdownModel", "DropdownView"],
  ["Select", () => new w.Select({ options: ["a", "b"] }), "SelectModel", "SelectView"],
  ["RadioButtons", () => new w.RadioButtons({ options: ["a", "b"] }), "RadioButtonsModel", "RadioButtonsView"],
  ["ToggleButtons", () => new w.ToggleButtons({ options: ["a", "b"] }), "ToggleButtonsModel", "ToggleButtonsView"],
  ["SelectMultiple", () => new w.SelectMultiple({ options: ["a", "b"] }), "SelectMultipleModel", "SelectMultipleView"],
  ["SelectionSlider", () => new w.SelectionSlider({ options: [16, 32] }), "SelectionSliderModel", "SelectionSliderView"],
  ["ToggleButton", () => new w.ToggleButton(), "ToggleButtonModel", "ToggleButtonView"],
  ["Checkbox", () => new w.Checkbox(), "CheckboxModel", "CheckboxView"],
  ["Text", () => new w.Text(), "TextModel", "TextView"],
  ["Textarea", () => new w.Textarea(), "TextareaModel", "TextareaView"],
  ["IntText", () => new w.IntText(), "IntTextModel", "IntTextView"],
  ["FloatText", () => new w.FloatText(), "FloatTextModel", "FloatTextView"],
  ["BoundedIntText", () => new w.BoundedIntText(), "BoundedIntTextModel", "IntTextView"],
  ["BoundedFloatText", () => new w.BoundedFloatText(), "BoundedFloatTextModel", "FloatTextView"],
  ["Button", () => new w.Button(), "ButtonModel", "ButtonView"],
  ["Label", () => new w.Label(), "LabelModel", "LabelView"],
  ["HTML", () => new w.HTML(), "HTMLModel", "HTMLView"],
  ["HTMLMath", () => new w.HTMLMath(), "HTMLMathModel", "HTMLMathView"],
  ["Play", () => new w.Play(), "PlayModel", "PlayView"],
  ["IntProgress", () => new w.IntProgress(), "IntProgressModel", "ProgressView"],
  ["FloatProgress", () => new w.FloatProgress(), "FloatProgressModel", "ProgressView"],
  ["Box", () => new w.Box(), "BoxModel", "BoxView"],
  ["HBox", () => new w.HBox(), "HBoxModel", "HBoxView"],
  ["VBox", () => new w.VBox(), "VBoxModel", "VBoxView"],
  ["GridBox", () => new w.GridBox(), "GridBoxModel", "GridBoxView"],
  ["Tab", () => new w.Tab(), "TabModel", "TabView"],
  ["Accordion", () => new w.Accordion(), "AccordionModel", "AccordionView"],
];

test("comm_open of every control names its controls 2.0.0 model and view exactly", async () => {
  const k = freshKernel();
  for (const [name, make, model, view] of CONTROLS) {
    const x = make();
    await settle();
    const open = k.openOf(x.model_id);
    assert.equal(open.targetName, "jupyter.widget", name);
    assert.deepEqual(open.metadata, { version: "2.1.0" }, name);
    assert.deepEqual(open.data.buffer_paths, [], name);
    const s = open.data.state;
    assert.equal(s._model_name, model, name);
    assert.equal(s._model_module, C.module, name);
    assert.equal(s._model_module_version, C.version, name);
    assert.equal(s._view_name, view, name);
    assert.equal(s._view_module, C.module, name);
    assert.equal(s._view_module_version, C.version, name);
    // layout/style are left to the front-end's defaults until a user sets them
    assert.ok(!("layout" in s) && !("style" in s), `${name} sent layout/style: ${Object.keys(s)}`);
    assert.deepEqual(s._dom_classes, [], name);
    assert.equal(x.model_id.length, 32, "uuid4 hex model id");
  }
  assert.equal(new Set(k.opens().map((o) => o.commId)).size, CONTROLS.length, "one comm per widget");
});

test("comm_open state carries the schema defaults of representative models", async () => {
  const k = freshKernel();
  const s = new w.IntSlider({ value: 3 });
  const f = new w.FloatSlider();
  const d = new w.Dropdown({ options: ["x", "y"], value: "y" });
  const out = new w.Output();
  const box = new w.VBox([s, out]);
  await settle();
  const st = (x: w.Widget) => k.openOf(x.model_id).data.state;
  assert.deepEqual(
    { v: st(s).value, min: st(s).min, max: st(s).max, step: st(s).step, fmt: st(s).readout_format, cu: st(s).continuous_update, o: st(s).orientation, b: st(s).behavior },
    { v: 3, min: 0, max: 100, step: 1, fmt: "d", cu: true, o: "horizontal", b: "drag-tap" },
  );
  assert.equal(st(f).step, 0.1);
  assert.equal(st(f).readout_format, ".2f");
  assert.deepEqual(st(d)._options_labels, ["x", "y"]);
  assert.equal(st(d).index, 1);
  assert.ok(!("value" in st(d)) && !("options" in st(d)), "Dropdown sends labels + index only");
  assert.equal(st(out)._model_module, "@jupyter-widgets/output");
  assert.equal(st(out)._model_module_version, "1.0.0");
  assert.equal(st(out)._model_name, "OutputModel");
  assert.equal(st(out)._view_name, "OutputView");
  assert.equal(st(out).msg_id, "");
  assert.deepEqual(st(out).outputs, []);
  assert.deepEqual(st(box).children, [`IPY_MODEL_${s.model_id}`, `IPY_MODEL_${out.model_id}`]);
  // children are opened before the box that references them
  const order = k.opens().map((o) => o.commId);
  assert.ok(order.indexOf(box.model_id) > order.indexOf(s.model_id));
  assert.ok(order.indexOf(box.model_id) > order.indexOf(out.model_id));
});

test("display bundle is a widget view (2.1) with a text/plain fallback", async () => {
  freshKernel();
  const s = new w.IntSlider({ value: 7, description: "k" });
  const b = s[DISPLAY]() as Record<string, any>;
  assert.deepEqual(b["application/vnd.jupyter.widget-view+json"], { model_id: s.model_id, version_major: 2, version_minor: 1 });
  assert.equal(b["text/plain"], 'IntSlider(value=7, description="k")');
});

test("kernel-side set sends update with only the changed keys; holdSync batches; no-op sets send nothing", async () => {
  const k = freshKernel();
  const s = new w.IntSlider();
  await settle();
  s.value = 42;
  let m = k.msgs(s.model_id);
  assert.equal(m.length, 1);
  assert.deepEqual(m[0]!.data, { method: "update", state: { value: 42 }, buffer_paths: [] });
  s.value = 42;
  assert.equal(k.msgs(s.model_id).length, 1, "unchanged value is not resent");
  s.holdSync(() => {
    s.max = 500;
    s.value = 300;
    s.description = "n";
  });
  m = k.msgs(s.model_id);
  assert.equal(m.length, 2);
  assert.deepEqual(m[1]!.data.state, { max: 500, value: 300, description: "n" });
});

test("front-end update: observers fire with {name, old, new, owner}, echo_update carries what was sent, first", async () => {
  const k = freshKernel();
  const s = new w.IntSlider({ value: 1 });
  await settle();
  const seen: any[] = [];
  s.observe("value", (c) => {
    seen.push({ ...c });
    // the echo already went out when observers run (ipywidgets 8 order)
    assert.equal(k.msgs(s.model_id).at(-1)!.data.method, "echo_update");
  });
  await k.fromFrontend(s.model_id, { method: "update", state: { value: 9 }, buffer_paths: [] });
  assert.equal(s.value, 9);
  assert.equal(seen.length, 1);
  assert.deepEqual([seen[0].name, seen[0].old, seen[0].new], ["value", 1, 9]);
  assert.equal(seen[0].owner, s);
  const m = k.msgs(s.model_id);
  assert.equal(m.length, 1, "only the echo: the kernel does not bounce the value back as an update");
  assert.deepEqual(m[0]!.data, { method: "echo_update", state: { value: 9 }, buffer_paths: [] });
  assert.match(m[0]!.parent, /^comm-msg-/, "echo is sent while handling the front-end's message");
});

test("front-end value out of range is clamped and the kernel's value sent back; bad types reported, not thrown", async () => {
  const k = freshKernel();
  const s = new w.IntSlider({ value: 5, max: 10 });
  await settle();
  await k.fromFrontend(s.model_id, { method: "update", state: { value: 50 }, buffer_paths: [] });
  assert.equal(s.value, 10);
  assert.deepEqual(k.msgs(s.model_id).map((m) => m.data.method), ["echo_update", "update"]);
  assert.deepEqual(k.msgs(s.model_id)[1]!.data.state, { value: 10 });
  await k.fromFrontend(s.model_id, { method: "update", state: { value: "seven" }, buffer_paths: [] });
  assert.equal(s.value, 10);
  const err = k.log.filter((x) => x.kind === "stream").at(-1)!;
  assert.match(err.data.text, /IntSlider: argument 'value' must be an integer, got "seven"/);
  assert.deepEqual(k.msgs(s.model_id).at(-1)!.data, { method: "update", state: { value: 10 }, buffer_paths: [] });
});

test("request_state answers with a full update", async () => {
  const k = freshKernel();
  const s = new w.FloatSlider({ value: 2.5, description: "t" });
  await settle();
  await k.fromFrontend(s.model_id, { method: "request_state" });
  const m = k.msgs(s.model_id).at(-1)!;
  assert.equal(m.data.method, "update");
  assert.deepEqual(m.data.state, k.openOf(s.model_id).data.state);
  assert.equal(m.data.state.value, 2.5);
});

test("Button click custom message runs handlers; a throwing handler is reported and others still run", async () => {
  const k = freshKernel();
  const b = new w.Button({ description: "go" });
  await settle();
  const clicks: string[] = [];
  b.onClick(() => {
    throw new Error("boom");
  });
  b.onClick(async (btn) => {
    await new Promise((r) => setTimeout(r, 5));
    clicks.push(btn.description);
  });
  await k.fromFrontend(b.model_id, { method: "custom", content: { event: "click" } });
  assert.deepEqual(clicks, ["go"]);
  assert.ok(k.log.some((x) => x.kind === "stream" && /Button custom message handler threw: Error: boom/.test(x.data.text)));
  await k.fromFrontend(b.model_id, { method: "custom", content: { event: "something-else" } });
  assert.deepEqual(clicks, ["go"]);
});

test("kernel send() is a custom message with buffers; on('msg:custom') gets content and buffers", async () => {
  const k = freshKernel();
  const x = new w.HTML();
  await settle();
  x.send({ hello: 1 }, [new Float32Array([1, 2])]);
  const m = k.msgs(x.model_id).at(-1)!;
  assert.deepEqual(m.data, { method: "custom", content: { hello: 1 } });
  assert.deepEqual([...new Float32Array(m.buffers![0]!.buffer.slice(m.buffers![0]!.byteOffset, m.buffers![0]!.byteOffset + 8))], [1, 2]);
  const got: any[] = [];
  x.on("msg:custom", (c, bufs) => {
    got.push([c, bufs.map((b) => [...b])]);
  });
  await k.fromFrontend(x.model_id, { method: "custom", content: { ping: true } }, [new Uint8Array([7, 8])]);
  assert.deepEqual(got, [[{ ping: true }, [[7, 8]]]]);
});

test("validation errors name the widget, the argument, what was expected and what was given", () => {
  freshKernel();
  assert.throws(() => new w.IntSlider({ value: 1.5 }), /IntSlider: argument 'value' must be an integer, got 1.5/);
  assert.throws(() => new w.IntSlider({ valeu: 1 } as any), /IntSlider: argument 'valeu' must be one of its properties \(.*value.*\), got unknown property "valeu"/);
  assert.throws(() => new w.IntSlider({ min: 10, max: 5 }), /IntSlider: argument '(min|max)'/);
  assert.throws(() => new w.Dropdown({ options: ["a"], value: "b" }), /Dropdown: argument 'value' must be one of the options \("a"\), got "b"/);
  assert.throws(() => new w.ToggleButtons({ options: ["a"], button_style: "loud" as any }), /ToggleButtons: argument 'button_style' must be one of/);
  assert.throws(() => new w.VBox([1 as any]), /VBox: argument 'children\[0\]' must be a widget, got 1/);
  const s = new w.IntSlider();
  assert.throws(() => ((s as any).value = "3"), /IntSlider: argument 'value' must be an integer, got "3"/);
  assert.throws(() => s.observe("nope", () => {}), /IntSlider.observe: argument 'names'/);
});

test("sliders clamp the value into [min, max]; FloatLogSlider clamps into [base^min, base^max]", () => {
  freshKernel();
  const s = new w.IntSlider({ value: 500, min: 0, max: 1000 });
  assert.equal(s.value, 500, "options apply together, not one by one");
  s.max = 100;
  assert.equal(s.value, 100);
  s.value = -5;
  assert.equal(s.value, 0);
  const l = new w.FloatLogSlider({ value: 1e9, min: -2, max: 3 });
  assert.equal(l.value, 1000);
  const r = new w.IntRangeSlider({ value: [-10, 20], min: 0, max: 10 });
  assert.deepEqual(r.value, [0, 10]);
  assert.deepEqual(new w.IntRangeSlider({ min: 0, max: 8 }).value, [2, 6], "default: the middle half");
  assert.deepEqual(new w.FloatRangeSlider({ min: 1, max: 3 }).value, [1.5, 2.5]);
});

test("close() sends comm_close and the widget leaves the registry; a front-end close does the same", async () => {
  const k = freshKernel();
  const s = new w.IntSlider();
  const t = new w.Text();
  await settle();
  s.close();
  assert.ok(k.log.some((x) => x.kind === "close" && x.commId === s.model_id));
  assert.equal(w.widgetById(s.model_id), undefined);
  assert.ok(s.closed);
  s.value = 3; // a closed widget keeps its state but sends nothing
  assert.equal(k.msgs(s.model_id).length, 0);
  k.closeHandlers.get(t.model_id)!();
  assert.ok(t.closed);
  assert.equal(w.widgetById(t.model_id), undefined);
});

test("layout and style are created on first use, opened before the update that references them", async () => {
  const k = freshKernel();
  const s = new w.IntSlider();
  await settle();
  s.layout.width = "300px";
  const layoutId = s.layout.model_id;
  const lo = k.openOf(layoutId);
  assert.equal(lo.data.state._model_name, "LayoutModel");
  assert.equal(lo.data.state._model_module, "@jupyter-widgets/base");
  assert.equal(lo.data.state._model_module_version, "2.0.0");
  assert.equal(lo.data.state._view_name, "LayoutView");
  const idxOpen = k.log.indexOf(lo);
  const idxRef = k.log.findIndex((x) => x.kind === "msg" && x.commId === s.model_id && x.data.state?.layout === `IPY_MODEL_${layoutId}`);
  assert.ok(idxOpen >= 0 && idxRef > idxOpen, "Layout comm_open precedes the slider's update referencing it");
  assert.deepEqual(k.msgs(layoutId).at(-1)!.data.state, { width: "300px" });
  const b = new w.Button({ style: { button_color: "red" }, layout: { border: "1px solid" } });
  await settle();
  const st = k.openOf(b.model_id).data.state;
  const style = k.openOf(st.style.slice("IPY_MODEL_".length)).data.state;
  assert.deepEqual([style._model_name, style._model_module, style._view_name, style._view_module, style._view_module_version, style.button_color], ["ButtonStyleModel", "@jupyter-widgets/controls", "StyleView", "@jupyter-widgets/base", "2.0.0", "red"]);
  const layout = k.openOf(st.layout.slice("IPY_MODEL_".length)).data.state;
  assert.equal(layout.border_left, "1px solid");
  assert.throws(() => new w.Button({ style: { handle_color: "x" } as any }), /ButtonStyle: argument 'handle_color'/);
});

test("outside a kernel widgets are plain objects: state, observe and custom handlers work, nothing is sent", async () => {
  w.setKernelComms(undefined);
  const s = new w.IntSlider({ value: 1 });
  const seen: number[] = [];
  s.observe("value", (c) => {
    seen.push(c.new);
  });
  s.value = 2;
  await settle();
  assert.deepEqual(seen, [2]);
  const b = new w.Button();
  let n = 0;
  b.onClick(() => {
    n++;
  });
  await b.click();
  assert.equal(n, 1);
  // displayed later inside a kernel: it opens then, with its current state
  const k = installFake();
  const bundle = s[DISPLAY]();
  assert.ok(bundle["application/vnd.jupyter.widget-view+json"]);
  assert.equal(k.openOf(s.model_id).data.state.value, 2);
});

function installFake(): FakeComms {
  const k = new FakeComms();
  w.setKernelComms(k);
  return k;
}
