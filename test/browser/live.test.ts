/**
 * Live, end to end: a page bundled from @jupyterlab/services, @jupyter-widgets/html-manager and
 * plotly.js, served by Debian's jupyter-server, runs our kernel; a real mouse drags the mask
 * explorer's slider and the kernel's recomputed figure replaces the old one; a Button click runs
 * a kernel callback whose output lands in an Output widget.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { bundleLivePage } from "./bundle.js";
import { startLiveServer, type LiveServer } from "./live-server.js";
import { artifact, openBrowser, type Browser } from "./chromium.js";

let pageDir: string;
let server: LiveServer;
let browser: Browser;
let page: Page;

before(async () => {
  pageDir = mkdtempSync(join(tmpdir(), "sparselab-live-page-"));
  await bundleLivePage(pageDir);
  server = await startLiveServer(pageDir);
  browser = await openBrowser();
  page = browser.page;
  await page.goto(server.pageUrl);
  try {
    await page.locator("#status", { hasText: "ready" }).waitFor({ timeout: 30_000 });
    await page.evaluate(() => (window as any).sparselab.start());
  } catch (e) {
    throw new Error(`the live page did not start: ${(e as Error).message}\npage errors: ${browser.errors.join("\n")}\nserver log: ${server.log().slice(-2000)}`);
  }
});

after(async () => {
  try {
    await page?.evaluate(() => (window as any).sparselab.stop());
  } catch {
    /* the page or kernel is already gone */
  }
  await browser?.close();
  await server?.stop();
  rmSync(pageDir, { recursive: true, force: true });
});

const run = (code: string) => page.evaluate((c) => (window as any).sparselab.run(c) as Promise<string>, code);

/** The title texts of the plotly figures inside the n-th cell. */
const titles = (cell: number) => page.locator(".cell").nth(cell).locator(".live-plotly .gtitle").allTextContents();

test("mask explorer: a mouse drag on the window slider makes the kernel recompute the figure", { timeout: 120_000 }, async () => {
  const status = await run(`const q = sl.randn([1, 1, 512, 32], { seed: 1 }), k = sl.randn([1, 1, 512, 32], { seed: 2 });
const explorer = widgets.maskExplorer({ q, k, masks: ["slidingWindow"], blockSizes: [32] });
// As a user writes it: the explorer is the cell's result while its first recomputation may still
// be capturing this request (the page routes captured output by msg_id as JupyterLab does).
explorer`);
  assert.equal(status, "ok", server.log().slice(-2000));
  const cell = page.locator(".cell").nth(0);
  // the first recomputation arrives through the Output widget (captured by msg_id)
  await cell.locator(".live-plotly .main-svg").first().waitFor({ timeout: 60_000 });
  assert.equal(await cell.locator(".live-plotly").count(), 1, "one figure in the explorer's Output");
  const before = (await titles(0)).join("|");
  const slider = cell.locator(".widget-slider", { hasText: "window" }).first();
  const readoutBefore = (await slider.locator(".widget-readout").textContent())?.trim();
  const handle = slider.locator(".noUi-handle");
  const box = (await handle.boundingBox())!;
  assert.ok(box, "the slider handle is on screen");
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2 + 60, box.y + box.height / 2, { steps: 8 });
  await page.mouse.up();
  const readoutAfter = (await slider.locator(".widget-readout").textContent())?.trim();
  assert.notEqual(readoutAfter, readoutBefore, "the drag moved the slider");
  await page.waitForFunction(
    ([prev]) => {
      const t = Array.from(document.querySelectorAll(".cell")[0].querySelectorAll(".live-plotly .gtitle")).map((e) => e.textContent).join("|");
      return t !== "" && t !== prev;
    },
    [before],
    { timeout: 60_000 },
  );
  const after = (await titles(0)).join("|");
  assert.notEqual(after, before, "the figure changed");
  // A drag sends several values; the explorer recomputes the latest one after the one in flight,
  // so the first new figure may show an intermediate window: wait for the released value's.
  const finalValue = readoutAfter!.replace(/,/g, "");
  await page.waitForFunction(
    ([v]) => Array.from(document.querySelectorAll(".cell")[0].querySelectorAll(".live-plotly .gtitle")).some((e) => (e.textContent ?? "").includes(`_${v}`)),
    [finalValue],
    { timeout: 60_000 },
  );
  // The kernel's own state followed the slider: its latest view used the new window.
  const kernelSide = await run(`console.log(explorer.view!.mask.name)`);
  assert.equal(kernelSide, "ok");
  const printed = await page.locator(".cell").nth(1).textContent();
  assert.ok(printed?.includes(readoutAfter!.replace(/,/g, "")), `kernel mask "${printed}" uses the slider's value ${readoutAfter}`);
  assert.equal(await cell.locator(".live-plotly").count(), 1, "the Output shows the new figure in place of the old one");
  await page.screenshot({ path: artifact("live-mask-explorer.png"), fullPage: true });
});

test("a Button click runs the kernel callback, which writes to an Output widget", { timeout: 60_000 }, async () => {
  const status = await run(`const out = new widgets.Output();
const button = new widgets.Button({ description: "recompute" });
let clicks = 0;
button.onClick(() => out.capture(() => {
  clicks++;
  const bm = sl.createBlockMask(sl.masks.slidingWindow(64 * clicks), { qLen: 1024, kvLen: 1024, blockSize: 64 });
  console.log(\`click \${clicks}: density \${bm.density().toFixed(4)}\`);
}));
new widgets.VBox([button, out])`);
  assert.equal(status, "ok");
  const cell = page.locator(".cell").nth(2);
  const button = cell.locator("button", { hasText: "recompute" });
  await button.waitFor({ timeout: 30_000 });
  const out = cell.locator(".widget-output");
  for (const n of [1, 2]) {
    const b = (await button.boundingBox())!;
    await page.mouse.click(b.x + b.width / 2, b.y + b.height / 2);
    await out.getByText(`click ${n}: density`).waitFor({ timeout: 30_000 });
  }
  const text = await out.textContent();
  const d = [...text!.matchAll(/click \d: density ([0-9.]+)/g)].map((m) => Number(m[1]));
  assert.equal(d.length, 2, text!);
  assert.ok(d[1] > d[0], `a wider window is denser: ${d}`);
  const counted = await run(`console.log("clicks", clicks)`);
  assert.equal(counted, "ok");
  assert.match((await page.locator(".cell").nth(3).textContent())!, /clicks 2/);
  await page.screenshot({ path: artifact("live-button-output.png"), fullPage: true });
  assert.deepEqual(browser.errors.filter((e) => !/Failed to load resource/.test(e)), []);
});
