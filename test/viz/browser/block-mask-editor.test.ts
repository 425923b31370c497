/**
 * The block-mask editor's view module in headless Chromium: it draws the grid, a real mouse
 * click on a tile cycles its class through the anywidget model (set + save_changes), and the
 * edited classes, delivered to the kernel-side widget as the front-end would, make the
 * expected BlockMask. The model here is a minimal stand-in for anywidget's (get / set / on /
 * off / save_changes), which is all the view uses.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as sl from "../../../lib/index.js";
import * as w from "../../../widgets/index.js";
import { freshKernel, settle } from "../../widgets/fake-comms.js";
import { artifact, openBrowser } from "../../browser/chromium.js";

const PAGE = `<!doctype html><html><body><div id="host"></div><script>
window.makeModel = (state) => {
  const listeners = {};
  const saved = [];
  return {
    saved,
    get: (k) => state[k],
    set: (k, v) => { state[k] = v; (listeners["change:" + k] || []).forEach((f) => f()); },
    on: (ev, f) => { (listeners[ev] = listeners[ev] || []).push(f); },
    off: (ev, f) => { listeners[ev] = (listeners[ev] || []).filter((g) => g !== f); },
    save_changes: () => saved.push(JSON.parse(JSON.stringify(state.classes))),
  };
};
</script></body></html>`;

test("editor view in Chromium: draws the grid, clicks cycle empty -> full -> partial -> empty, edits round-trip to a BlockMask", async () => {
  const kern = freshKernel();
  const bm = sl.createBlockMask(sl.masks.causal(), { qLen: 128, kvLen: 128, blockSize: 32 }); // 4 x 4 tiles
  const ed = w.blockMaskEditor(bm, { cellPx: 40 });
  await settle();
  const state = kern.openOf(ed.model_id).data.state;
  const user = Object.fromEntries(Object.entries(state).filter(([k]) => !k.startsWith("_") && k !== "layout"));
  const br = await openBrowser();
  try {
    const { page } = br;
    await page.setContent(PAGE);
    await page.evaluate(async ({ esm, st }) => {
      const url = URL.createObjectURL(new Blob([esm], { type: "text/javascript" }));
      const mod = await import(url);
      const model = (window as any).makeModel(st);
      (window as any).model = model;
      mod.default.render({ model, el: document.getElementById("host") });
    }, { esm: state._esm as string, st: user });
    const info = await page.textContent(".sl-bm-editor-info");
    assert.match(info ?? "", /causal: block density 62\.50% \(computed tiles \/ all tiles\): 6 full, 4 partial, 6 empty of 16/);
    const box = (await page.locator("canvas.sl-bm-editor-grid").boundingBox())!;
    assert.deepEqual([Math.round(box.width), Math.round(box.height)], [4 * 40 + 2, 4 * 40 + 2], "4 x 4 tiles of 40 px plus the border");
    // tile (0, 3) is empty above the diagonal: one click -> full, a second -> partial, a third -> empty
    const click = (i: number, j: number) => page.mouse.click(box.x + 1 + j * 40 + 20, box.y + 1 + i * 40 + 20);
    const want = [2, 1, 0];
    for (const c of want) {
      await click(0, 3);
      const cls = await page.evaluate(() => (window as any).model.get("classes"));
      assert.equal(cls[3], c);
    }
    const saves = await page.evaluate(() => (window as any).model.saved.length);
    assert.equal(saves, 3, "every click is saved to the kernel");
    await click(0, 3);
    await click(3, 0); // full -> partial
    const cls = await page.evaluate(() => (window as any).model.get("classes"));
    const ds = await page.evaluate(() => ({ ...(document.querySelector(".sl-bm-editor") as HTMLElement).dataset }));
    assert.deepEqual(ds, { full: "6", partial: "5", empty: "5" }, "redrawn after the edits");
    await page.screenshot({ path: artifact("viz-block-mask-editor.png") });
    assert.deepEqual(br.errors, []);
    // what save_changes sends reaches the kernel as an update
    await kern.fromFrontend(ed.model_id, { method: "update", state: { classes: cls }, buffer_paths: [] });
    const edited = ed.blockMask();
    assert.deepEqual(Array.from(edited.tileClasses()), cls);
    assert.equal(edited.tileClasses()[3], 2);
    assert.equal(edited.tileClasses()[12], 1);
  } finally {
    await br.close();
  }
});
