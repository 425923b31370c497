import { test } from "node:test";
import assert from "node:assert/strict";
import * as w from "../../widgets/index.js";
import { freshKernel, settle } from "./fake-comms.js";

test("shorthands build the right controls", () => {
  w.setKernelComms(undefined);
  const ui = w.interactive(() => undefined, {
    a: [0, 1024, 16],
    b: 0.5,
    c: ["x", "y"],
    d: true,
    e: "text",
    f: [0, 1],
    g: [0.1, 0.9],
    h: 7,
    i: w.fixed({ big: "object" }),
    j: new w.IntText({ value: 3 }),
    k: [["one", 1], ["two", 2]],
  });
  const c = ui.controls as Record<string, any>;
  assert.ok(c.a instanceof w.IntSlider);
  assert.deepEqual([c.a.min, c.a.max, c.a.step, c.a.value, c.a.description], [0, 1024, 16, 512, "a"]);
  assert.ok(c.b instanceof w.FloatSlider && c.b.value === 0.5);
  assert.ok(c.c instanceof w.Dropdown && c.c.value === "x");
  assert.ok(c.d instanceof w.Checkbox && c.d.value === true);
  assert.ok(c.e instanceof w.Text && c.e.value === "text");
  assert.ok(c.f instanceof w.IntSlider);
  assert.ok(c.g instanceof w.FloatSlider);
  assert.ok(c.h instanceof w.IntSlider && c.h.value === 7 && c.h.max === 21);
  assert.ok(c.i instanceof w.Fixed);
  assert.ok(c.j instanceof w.IntText && c.j.description === "j");
  assert.ok(c.k instanceof w.Dropdown && c.k.value === 1);
  assert.deepEqual(ui.values().i, { big: "object" });
  assert.equal(ui.children.length, 11, "10 controls + the Output (fixed has none)");
  assert.ok(ui.children.at(-1) instanceof w.Output);
  assert.throws(() => w.interactive(() => 0, { z: null }), /interact: argument 'controls.z' must be a widget, \[min, max, step\?\]/);
});

test("runs on start and on every change, replacing the Output contents (headless outputs)", async () => {
  w.setKernelComms(undefined);
  const calls: any[] = [];
  const ui = w.interactive(({ n, on }: { n: number; on: boolean }) => {
    calls.push([n, on]);
    return `n=${n} on=${on}`;
  }, { n: [0, 10], on: false });
  await settle();
  assert.deepEqual(ui.output.outputs, [{ output_type: "display_data", data: { "text/plain": "n=5 on=false" }, metadata: {} }]);
  (ui.controls.n as w.IntSlider).value = 3;
  await settle();
  (ui.controls.on as w.Checkbox).value = true;
  await settle();
  assert.deepEqual(calls, [[5, false], [3, false], [3, true]]);
  assert.deepEqual(ui.output.outputs, [{ output_type: "display_data", data: { "text/plain": "n=3 on=true" }, metadata: {} }]);
});

test("rapid changes while an async run is in flight coalesce into one re-run with the latest values", async () => {
  w.setKernelComms(undefined);
  const started: number[] = [];
  const gates: (() => void)[] = [];
  const ui = w.interactive(async ({ x }: { x: number }) => {
    started.push(x);
    await new Promise<void>((r) => gates.push(r));
    return x * 2;
  }, { x: [0, 100] });
  await settle();
  assert.deepEqual(started, [50]);
  const slider = ui.controls.x as w.IntSlider;
  for (const v of [1, 2, 3, 4, 5]) slider.value = v;
  const idle = ui.update(); // joining the in-flight run, as a change would
  gates.shift()!();
  await settle();
  assert.deepEqual(started, [50, 5], "one re-run, with the latest value");
  gates.shift()!();
  await idle;
  assert.equal(ui.runs, 2);
  assert.equal(ui.result, 10);
  assert.deepEqual(ui.output.outputs, [{ output_type: "display_data", data: { "text/plain": "10" }, metadata: {} }]);
});

test("a throwing function shows its error in the Output and the next change runs normally", async () => {
  w.setKernelComms(undefined);
  const ui = w.interactive(({ x }: { x: number }) => {
    if (x > 5) throw new Error(`too big: ${x}`);
    return x;
  }, { x: [0, 10] });
  await ui.update();
  assert.equal(ui.output.outputs[0]!.output_type, "display_data");
  (ui.controls.x as w.IntSlider).value = 8;
  await ui.update();
  const o = ui.output.outputs;
  assert.equal(o.length, 1);
  assert.equal(o[0]!.output_type, "error");
  assert.equal((o[0] as any).evalue, "too big: 8");
  assert.match((ui.error as Error).message, /too big/);
  (ui.controls.x as w.IntSlider).value = 2;
  await ui.update();
  assert.deepEqual(ui.output.outputs, [{ output_type: "display_data", data: { "text/plain": "2" }, metadata: {} }]);
});

test("in a kernel: interact displays the VBox; each run clears and displays its result under the Output's msg_id", async () => {
  const k = freshKernel();
  k.parent = "exec-1";
  const h = w.interact(({ w: win }: { w: number }) => ({ "text/plain": `window ${win}`, "text/html": `<b>${win}</b>` }), { w: [0, 1024, 16] });
  await h.ready;
  const shown = k.log.find((x) => x.kind === "display")!;
  assert.equal((shown.data as any)["application/vnd.jupyter.widget-view+json"].model_id, h.widget.model_id);
  const outId = h.output.model_id;
  const msgIdAt = (i: number) => k.log.slice(0, i).filter((x) => x.kind === "msg" && x.commId === outId && "msg_id" in x.data.state).at(-1)?.data.state.msg_id;
  const result = k.log.filter((x) => x.kind === "display").at(-1)!;
  assert.deepEqual(result.data, { "text/plain": "window 512", "text/html": "<b>512</b>" }, "a MIME bundle result goes out as is");
  assert.equal(msgIdAt(k.log.indexOf(result)), "exec-1");
  const clear = k.log.find((x) => x.kind === "clear")!;
  assert.equal(clear.data.wait, true);
  assert.equal(msgIdAt(k.log.indexOf(clear)), "exec-1");
  assert.equal(h.output.msg_id, "");
  // a slider change from the front-end re-runs under that comm message
  const slider = h.controls.w as w.IntSlider;
  await k.fromFrontend(slider.model_id, { method: "update", state: { value: 64 }, buffer_paths: [] }, [], "comm-9");
  const r2 = k.log.filter((x) => x.kind === "display").at(-1)!;
  assert.equal(r2.parent, "comm-9");
  assert.equal((r2.data as any)["text/plain"], "window 64");
  assert.equal(msgIdAt(k.log.indexOf(r2)), "comm-9");
  // an error in the function goes to stderr while captured, never out of the handler
  const h2 = w.interact(() => {
    throw new Error("kaput");
  }, { a: true });
  await h2.ready;
  const err = k.log.filter((x) => x.kind === "stream").at(-1)!;
  assert.match(err.data.text, /interact function threw: Error: kaput/);
  assert.equal(k.log.slice(0, k.log.indexOf(err)).filter((x) => x.kind === "msg" && x.commId === h2.output.model_id && "msg_id" in x.data.state).at(-1)!.data.state.msg_id, "exec-1");
});
