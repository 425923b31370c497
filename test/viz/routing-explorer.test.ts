/** The routing explorer: each view equals the sl.viz figure it wraps, controls shown per view, redraw on change. */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as sl from "../../lib/index.js";
import * as w from "../../widgets/index.js";
import { freshKernel, settle } from "../widgets/fake-comms.js";

const PLOTLY = "application/vnd.plotly.v1+json";

async function idle(ui: w.RoutingExplorer): Promise<void> {
  await settle();
  while ((ui as any)._running) await (ui as any)._running;
}

function layers(seed: number) {
  return [0, 1, 2].map((l) => {
    const r = sl.moe.route(sl.moe.randomLogits(80, 6, { seed: seed + l }), { router: "softmax-topk", k: 2, capacityFactor: 0.75 });
    (r as { layer?: number }).layer = l;
    return r;
  });
}

test("every view shows the sl.viz figure for the chosen layer, redrawn in place on each change (headless)", async () => {
  w.setKernelComms(undefined);
  const seed = 1 + Math.floor(Math.random() * 1e6);
  const ls = layers(seed);
  const ui = w.routingExplorer(ls);
  await idle(ui);
  const shown = () => (ui.output.outputs as any[]).map((o) => o.data[PLOTLY]);
  assert.deepEqual(shown(), [sl.viz.routingHeatmap(ls[0], { maxTokens: 80 })], `seed ${seed}`);
  ui.controls.layer.value = 2;
  await idle(ui);
  assert.deepEqual(shown(), [sl.viz.routingHeatmap(ls[2], { maxTokens: 80 })]);
  ui.controls.maxTokens.value = 10;
  await idle(ui);
  assert.equal(shown()[0].data[0].z.length, 10);
  assert.equal(ui.controls.bins.layout.display, "none");
  ui.controls.view.value = "drops";
  await idle(ui);
  assert.equal(ui.controls.bins.layout.display, null);
  assert.equal(ui.controls.maxTokens.layout.display, "none");
  ui.controls.bins.value = 5;
  await idle(ui);
  assert.deepEqual(shown(), [sl.viz.droppedByPosition(ls[2], { bins: 5 })]);
  ui.controls.view.value = "coactivation";
  await idle(ui);
  assert.deepEqual(shown(), [sl.viz.coactivation(ls[2])]);
  ui.controls.view.value = "load";
  await idle(ui);
  assert.deepEqual(shown(), [sl.viz.expertLoad(ls)]);
  assert.equal(ui.controls.layer.layout.display, "none", "load shows every layer");
  ui.controls.view.value = "flow";
  await idle(ui);
  assert.deepEqual(shown(), [sl.viz.routingSankey(ls)]);
  assert.equal(ui.runs, 8);
  assert.match((ui.output.outputs as any[])[0].data["text/plain"], /expert flow/);
});

test("one record: no flow view and no layer choice; in a kernel a front-end change redraws under its message", async () => {
  const kern = freshKernel();
  const ui = w.routingExplorer(layers(3)[0]);
  await idle(ui);
  assert.ok(!ui.controls.view.options.some(([, v]: any) => v === "flow"));
  assert.equal(ui.controls.layer.layout.display, "none");
  const idx = ui.controls.view.options.findIndex(([, v]: any) => v === "coactivation");
  await kern.fromFrontend(ui.controls.view.model_id, { method: "update", state: { index: idx }, buffer_paths: [] }, [], "pick-1");
  await idle(ui);
  const last = kern.log.filter((s) => s.kind === "display").at(-1)!;
  assert.equal(last.parent, "pick-1");
  assert.equal(last.data[PLOTLY].data[0].type, "heatmap");
  assert.match(last.data[PLOTLY].layout.title.text, /co-activation/);
  assert.throws(() => w.routingExplorer([]), /routingExplorer: argument 'records'/);
  assert.throws(() => w.routingExplorer([{} as any]), /routingExplorer: argument 'records\[0\]'/);
});
