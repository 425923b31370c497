/**
 * The widgets we build, rendered by the real ipywidgets 8 front-end code: their state snapshot
 * (widgetState()) is loaded by @jupyter-widgets/html-manager (the embed bundle of ipywidgets
 * 8 / controls 2.0.0) in headless Chromium. Proves that every control renders from our state
 * without Layout/Style models, that Dropdown's labels+index, styles, grid layout and Output
 * outputs are understood, and that a jslink works in the browser with no kernel.
 * Needs /usr/bin/chromium (or SPARSELAB_CHROMIUM) and the html-manager dev dependency.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { embedManagerScript, widgetStateScript, widgetViewScript } from "../../widgets/html-embed.js";
import * as w from "../../widgets/index.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const embed = join(root, "node_modules/@jupyter-widgets/html-manager/dist/embed.js");
// a description that would end a <script> early if the state were not escaped
const tricky = "</script><b>not markup</b>";
const chrome = process.env.SPARSELAB_CHROMIUM ?? "/usr/bin/chromium";

test("every control renders in the ipywidgets 8 front-end from our state, and jslink runs in the browser", { timeout: 90_000 }, async () => {
  assert.ok(existsSync(embed), `missing ${embed}: run npm install`);
  assert.ok(existsSync(chrome), `missing Chromium at ${chrome} (set SPARSELAB_CHROMIUM)`);
  w.setKernelComms(undefined);
  w.closeAll();
  const shown: w.Widget[] = [];
  const show = <T extends w.Widget>(x: T): T => (shown.push(x), x);
  show(new w.IntSlider({ value: 7, description: "int" }));
  show(new w.FloatSlider({ value: 0.5, description: "float" }));
  show(new w.FloatLogSlider({ value: 100, description: "log" }));
  show(new w.IntRangeSlider({ description: "irange" }));
  show(new w.FloatRangeSlider({ description: "frange" }));
  show(new w.Dropdown({ options: ["causal", "sliding"], value: "sliding", description: "dd" }));
  show(new w.Select({ options: ["a", "b", "c"], value: "c", description: "sel" }));
  show(new w.SelectMultiple({ options: ["m0", "m1", "m2"], value: ["m0", "m2"], description: "multi" }));
  show(new w.RadioButtons({ options: ["r1", "r2"], description: "radio" }));
  show(new w.ToggleButtons({ options: ["t1", "t2"], description: "tb" }));
  show(new w.ToggleButton({ description: "toggle" }));
  show(new w.SelectionSlider({ options: [16, 32, 64, 128], value: 64, description: "block" }));
  show(new w.Checkbox({ value: true, description: "check" }));
  show(new w.Text({ value: "hello", description: "text" }));
  show(new w.Textarea({ value: "area", description: "ta" }));
  show(new w.FloatText({ value: 3.5, description: "ft" }));
  show(new w.BoundedFloatText({ value: 3.5, description: "bft" }));
  show(new w.Button({ description: "btn", button_style: "primary", style: { button_color: "rgb(0, 128, 0)" } }));
  show(new w.Label("label-text"));
  show(new w.Label({ value: tricky }));
  show(new w.HTML("<b id='htmlw'>bold</b>"));
  show(new w.HTMLMath("math"));
  show(new w.Play({ max: 10 }));
  show(new w.IntProgress({ value: 30, description: "ip" }));
  show(new w.FloatProgress({ value: 0.3, max: 1, description: "fp" }));
  show(new w.HBox([new w.Label("in-hbox")]));
  show(new w.VBox([new w.Label("in-vbox")]));
  show(new w.GridBox([new w.Label("g1"), new w.Label("g2")], { layout: { grid_template_columns: "repeat(2, 100px)" } }));
  show(new w.Tab([new w.Label("tab-page-0"), new w.Label("tab-page-1")], { titles: ["T0", "T1"] }));
  show(new w.Accordion([new w.Label("acc-page")], { titles: ["A0"] }));
  const out = show(new w.Output());
  out.appendStdout("out-stdout-text\n");
  await out.appendDisplay({ "text/html": "<i id='outhtml'>rich</i>" });
  const src = show(new w.BoundedIntText({ value: 1, description: "src" }));
  const dst = show(new w.IntSlider({ value: 0, description: "dst" }));
  w.jslink([src, "value"], [dst, "value"]);

  const dir = mkdtempSync(join(tmpdir(), "sparselab-widgets-"));
  // the page is self-contained: manager inlined, state and views as script elements
  const manager = embedManagerScript();
  assert.ok(manager, "embedManagerScript() found the html-manager bundle");
  writeFileSync(
    join(dir, "page.html"),
    `<!doctype html><html><head><meta charset="utf-8">${manager}${widgetStateScript(w.widgetState())}</head>` +
      `<body>${shown.map((x) => widgetViewScript(x.model_id)).join("\n")}</body></html>`,
  );
  const browser = await chromium.launch({
    executablePath: chrome,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => {
      // font files the bundle references are not shipped beside embed.js; anything else counts
      if (m.type() === "error" && !/Failed to load resource/.test(m.text())) errors.push(m.text());
    });
    await page.goto(`file://${join(dir, "page.html")}`);
    await page.locator(".widget-gridbox").waitFor({ timeout: 30_000 });
    await page.locator("#outhtml").waitFor({ timeout: 10_000 });
    const n = (sel: string) => page.locator(sel).count();
    assert.equal(await n(".jupyter-widgets.widget-inline-hbox.widget-slider, .widget-hslider"), 7, "seven sliders");
    assert.equal(await n(".widget-readout >> text=64"), 1, "SelectionSlider reads out the label at index");
    assert.equal(await page.locator(".widget-dropdown select").inputValue(), "sliding", "Dropdown shows the label at index");
    assert.equal(await n(".widget-select select option"), 6, "Select + SelectMultiple options");
    assert.deepEqual(await page.locator(".widget-select-multiple select").evaluate((el: any) => Array.from(el.selectedOptions).map((o: any) => o.textContent)), ["m0", "m2"]);
    assert.equal(await n(".widget-radio-box input"), 2);
    assert.equal(await n(".widget-toggle-buttons button"), 2);
    assert.equal(await page.locator(".widget-checkbox input").isChecked(), true);
    assert.equal(await page.locator(".widget-text input").first().inputValue(), "hello");
    assert.equal(await page.locator(".widget-textarea textarea").inputValue(), "area");
    assert.equal(await page.locator("button.mod-primary").evaluate((el) => getComputedStyle(el).backgroundColor), "rgb(0, 128, 0)");
    assert.equal(await n("text=label-text"), 1);
    assert.equal(await n(`text=${tricky}`), 1, "state with </script> survives the page");
    assert.equal(await n("#htmlw"), 1);
    assert.equal(await n(".widget-play"), 1);
    assert.equal(await n(".progress"), 2);
    assert.equal(await page.locator(".widget-gridbox").evaluate((el) => getComputedStyle(el).gridTemplateColumns), "100px 100px");
    assert.equal(await n("text=tab-page-0"), 1);
    assert.equal(await n("text=A0"), 1);
    assert.equal(await n("text=out-stdout-text"), 1);
    // jslink: typing into the BoundedIntText moves the slider, in the browser alone
    const input = page.locator(".widget-text input").last();
    await input.fill("42");
    await input.press("Enter");
    await page.waitForFunction(() => Array.from(document.querySelectorAll(".widget-readout")).some((e) => e.textContent?.trim() === "42"), null, { timeout: 10_000 });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
