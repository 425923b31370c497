/**
 * The mask explorer: its first run, recomputation on control changes (headless and through a
 * fake kernel, as a front-end slider drag arrives), expressions, visibility of the sliders,
 * and coalescing of rapid changes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as sl from "../../lib/index.js";
import * as w from "../../widgets/index.js";
import { freshKernel, settle } from "../widgets/fake-comms.js";

const PLOTLY = "application/vnd.plotly.v1+json";

/** Waits until no recomputation is running or queued. */
async function idle(ui: w.MaskExplorer): Promise<void> {
  await settle();
  while ((ui as any)._running) await (ui as any)._running;
}

function inputs(seed: number) {
  return { q: sl.randn([1, 2, 128, 16], { seed }), k: sl.randn([1, 2, 128, 16], { seed: seed + 1 }) };
}

const titleOf = (fig: any) => String(fig.layout.title.text);

test("first run: the first kind's block mask, its density, recall and time, shown as a plotly figure (headless)", async () => {
  w.setKernelComms(undefined);
  const seed = 1 + Math.floor(Math.random() * 1e6);
  const { q, k } = inputs(seed);
  const ui = w.maskExplorer({ q, k, repeats: 1 });
  assert.throws(() => ui.view, /maskExplorer: no recomputation has finished yet: await ui.ready first/);
  assert.equal(ui.result, undefined);
  await ui.ready;
  const v = ui.view!;
  assert.ok(v, `seed ${seed}: a view after the first run (${JSON.stringify(ui.output.outputs).slice(0, 300)})`);
  assert.equal(v.kind, "causal");
  assert.equal(ui.controls.blockSize.value, 32, "the largest block size <= S/4");
  const bm = sl.createBlockMask(sl.masks.causal(), { qLen: 128, kvLen: 128, blockSize: 32 });
  assert.equal(v.density, bm.density({ level: "block", denominator: "full" }));
  const rec = await sl.metrics.recall(q, k, { blockMask: bm, causal: true });
  assert.ok(Math.abs(v.recall.value - rec.value) < 1e-6, `seed ${seed}: recall ${v.recall.value} vs ${rec.value}`);
  assert.ok(Math.abs(v.recall.value - 1) < 1e-5, "the causal mask keeps all of the causal softmax");
  assert.ok(v.ms > 0 && Number.isFinite(v.ms));
  const outs = ui.output.outputs;
  assert.equal(outs.length, 1);
  const item = outs[0] as any;
  assert.equal(item.output_type, "display_data");
  const fig = item.data[PLOTLY];
  assert.equal(fig.data[0].type, "heatmap");
  assert.match(titleOf(fig), /block density 62\.5% \(computed tiles \/ all tiles\)/);
  assert.match(titleOf(fig), /recall 1\.0000 of the causal softmax mass/);
  assert.match(titleOf(fig), new RegExp(`ms on ${v.backend}`));
  assert.match(item.data["text/plain"], /causal: block density 62\.5%/);
  // causal reads no parameter: every slider hidden, and the expression Text too
  for (const s of ["window", "sink", "dilation", "stride", "prefix", "expression"] as const) assert.equal(ui.controls[s].layout.display, "none", s);
});

test("changing the kind and a slider recomputes in place: the Output's figure changes and matches the new mask", async () => {
  w.setKernelComms(undefined);
  const seed = 1 + Math.floor(Math.random() * 1e6);
  const { q, k } = inputs(seed);
  const ui = w.maskExplorer({ q, k, repeats: 1, masks: ["slidingWindow", "sink", "expression"] });
  await idle(ui);
  const before = JSON.stringify(ui.output.outputs);
  assert.equal(ui.controls.window.layout.display, null, "slidingWindow shows its window slider");
  assert.equal(ui.controls.sink.layout.display, "none");
  ui.controls.window.value = 20;
  await idle(ui);
  const after = ui.output.outputs as any[];
  assert.equal(after.length, 1, "replaced, not appended");
  assert.notEqual(JSON.stringify(after), before, "the Output's contents changed");
  const bm = sl.createBlockMask(sl.masks.slidingWindow(20), { qLen: 128, kvLen: 128, blockSize: 32 });
  assert.equal(ui.view!.mask.name, "sliding_window_20");
  assert.equal(ui.view!.density, bm.density({ level: "block", denominator: "full" }));
  assert.deepEqual(after[0].data[PLOTLY].data[0].z, Array.from({ length: 4 }, (_, i) => Array.from(bm.tileClasses(0, 0).subarray(i * 4, i * 4 + 4))));
  const rec = await sl.metrics.recall(q, k, { blockMask: bm, causal: true });
  assert.ok(Math.abs(ui.view!.recall.value - rec.value) < 1e-6, `seed ${seed}`);

  ui.controls.kind.value = "sink";
  await idle(ui);
  assert.equal(ui.view!.kind, "sink");
  assert.equal(ui.controls.sink.layout.display, null);
  ui.controls.sink.value = 8;
  await idle(ui);
  assert.equal(ui.view!.mask.name, sl.masks.sink(8, 20).name);
  assert.equal(ui.view!.density, sl.createBlockMask(sl.masks.sink(8, 20), { qLen: 128, kvLen: 128, blockSize: 32 }).density());
});

test("expression kind: the Text's expression with the sliders it names; a bad expression shows an error in the Output", async () => {
  w.setKernelComms(undefined);
  const { q, k } = inputs(3);
  const ui = w.maskExplorer({ q, k, repeats: 1, masks: ["expression"], blockSizes: [16] });
  await idle(ui);
  ui.controls.window.value = 40;
  await idle(ui);
  const want = sl.createBlockMask(sl.masks.slidingWindow(40), { qLen: 128, kvLen: 128, blockSize: 16 });
  assert.equal(ui.view!.density, want.density());
  assert.deepEqual(ui.view!.blockMask.tileClasses(), want.tileClasses());
  assert.equal(ui.controls.window.layout.display, null, "w is used");
  assert.equal(ui.controls.prefix.layout.display, "none", "p is not");
  ui.controls.expression.value = "kv < p or q >= kv";
  await idle(ui);
  assert.equal(ui.controls.prefix.layout.display, null, "now p is used");
  assert.equal(ui.controls.window.layout.display, "none");
  const prefixBm = sl.createBlockMask(sl.masks.prefixLM(ui.controls.prefix.value), { qLen: 128, kvLen: 128, blockSize: 16 });
  assert.equal(ui.view!.density, prefixBm.density());
  const dense = await sl.metrics.recall(q, k, { blockMask: prefixBm });
  assert.ok(Math.abs(ui.view!.recall.value - dense.value) < 1e-6, "an expression's recall is against the dense softmax");
  assert.match(String((ui.output.outputs as any[])[0].data["application/vnd.plotly.v1+json"].layout.title.text), /of the dense softmax mass/);
  ui.controls.expression.value = "q >= kv and";
  await idle(ui);
  const out = ui.output.outputs as any[];
  assert.equal(out.length, 1);
  assert.equal(out[0].output_type, "error");
  assert.match(out[0].evalue, /syntax error/);
  assert.throws(() => ui.view, /maskExplorer: the last recomputation failed: .*syntax error/);
});

test("in a kernel: a front-end slider drag recomputes, and the new figure is displayed routed to the Output", async () => {
  const kern = freshKernel();
  const { q, k } = inputs(5);
  const ui = w.maskExplorer({ q, k, repeats: 1, masks: ["slidingWindow"] });
  await idle(ui);
  const displays = () => kern.log.filter((s) => s.kind === "display");
  assert.equal(displays().length, 1);
  assert.match(titleOf(displays()[0].data[PLOTLY]), /sliding_window_32/);
  await kern.fromFrontend(ui.controls.window.model_id, { method: "update", state: { value: 64 }, buffer_paths: [] }, [], "drag-1");
  await idle(ui);
  assert.equal(displays().length, 2);
  const last = displays().at(-1)!;
  assert.match(titleOf(last.data[PLOTLY]), /sliding_window_64/);
  assert.equal(last.parent, "drag-1", "displayed under the comm message, which the Output captures");
  const clears = kern.log.filter((s) => s.kind === "clear");
  assert.ok(clears.length >= 2 && clears.every((c) => c.data.wait === true), "clear(wait) before each redraw");
});

test("rapid slider moves coalesce: at most one extra run, with the latest value", async () => {
  w.setKernelComms(undefined);
  const { q, k } = inputs(7);
  const ui = w.maskExplorer({ q, k, repeats: 1, masks: ["slidingWindow"] });
  await idle(ui);
  const runs = ui.runs;
  for (const x of [5, 9, 13, 17, 21, 25]) ui.controls.window.value = x;
  await idle(ui);
  assert.ok(ui.runs - runs <= 2, `${ui.runs - runs} runs for 6 moves`);
  assert.equal(ui.view!.mask.name, "sliding_window_25");
});

test("maskExplorer rejects bad inputs naming the argument", () => {
  w.setKernelComms(undefined);
  const { q, k } = inputs(9);
  assert.throws(() => w.maskExplorer({ q: sl.randn([2, 3], { seed: 1 }), k }), /maskExplorer: argument 'q'/);
  assert.throws(() => w.maskExplorer({ q, k: sl.randn([1, 3, 128, 16], { seed: 1 }) }), /maskExplorer: argument 'k'/);
  assert.throws(() => w.maskExplorer({ q, k, masks: ["nope"] }), /maskExplorer: argument 'masks'/);
  assert.throws(() => w.maskExplorer({ q, k, repeats: 0 }), /maskExplorer: argument 'repeats'/);
});

test("in a kernel the explorer's own display waits for the first run, so the cell's result is not captured by its Output", async () => {
  const kern = freshKernel();
  const { q, k } = inputs(11);
  const ui = w.maskExplorer({ q, k, repeats: 1, masks: ["slidingWindow"] });
  assert.equal(ui.output.msg_id, "execute-1", "the first run captures the cell");
  const captured: string[] = [];
  ui.output.observe("msg_id", (c) => {
    captured.push(c.new as string);
  });
  const bundle = await (ui as any)[Symbol.for("Jupyter.display")]();
  assert.ok(ui.result, "the first run finished before the display bundle was made");
  assert.equal(ui.output.msg_id, "", "the Output no longer captures the cell when its result is shown");
  assert.deepEqual(captured, [""], "released once, before the display");
  assert.deepEqual(bundle["application/vnd.jupyter.widget-view+json"], { model_id: ui.model_id, version_major: 2, version_minor: 1 });
  ui.show();
  await settle();
  await settle();
  const last = kern.log.filter((s) => s.kind === "display").at(-1)!;
  assert.deepEqual(last.data["application/vnd.jupyter.widget-view+json"]?.model_id, ui.model_id, "show() displays the widget view");
});
