/**
 * Our anywidget models, drawn by the real anywidget front-end (npm anywidget, the module its
 * JupyterLab extension loads) inside ipywidgets' HTML manager in headless Chromium: the ESM
 * loads, state (including a binary buffer) reaches `model.get`, the CSS applies (it needs
 * `_anywidget_id`), and `model.set` from the view re-renders. No network: the AMD embed bundle,
 * require.js and anywidget come from node_modules.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { widgetStateScript, widgetViewScript } from "../../widgets/html-embed.js";
import * as w from "../../widgets/index.js";

const require = createRequire(import.meta.url);
const chrome = process.env.SPARSELAB_CHROMIUM ?? "/usr/bin/chromium";

test("anywidget front-end renders our AnyModel: esm, state with buffers, css, model.set", { timeout: 90_000 }, async () => {
  assert.ok(existsSync(chrome), `missing Chromium at ${chrome} (set SPARSELAB_CHROMIUM)`);
  const files = {
    requirejs: require.resolve("requirejs/require.js"),
    embed: require.resolve("@jupyter-widgets/html-manager/dist/embed-amd.js"),
    anywidget: require.resolve("anywidget"),
  };
  w.setKernelComms(undefined);
  w.closeAll();
  const x = w.widget({
    esm: `export default {
      render({ model, el }) {
        const b = document.createElement("button");
        b.id = "anybtn";
        const draw = () => (b.textContent = "count " + model.get("count") + " bytes " + Array.from(new Uint8Array(model.get("raw").buffer)).join(","));
        b.onclick = () => model.set("count", model.get("count") + 1);
        model.on("change:count", draw);
        draw();
        el.append(b);
      } }`,
    css: "#anybtn { color: rgb(255, 0, 0); }",
    state: { count: 5, raw: new Uint8Array([7, 8, 9]) },
  });
  const dir = mkdtempSync(join(tmpdir(), "sparselab-anywidget-"));
  copyFileSync(files.requirejs, join(dir, "require.js"));
  copyFileSync(files.embed, join(dir, "embed-amd.js"));
  // anywidget's bundle is an anonymous AMD module; name it so require.js serves it locally
  const any = readFileSync(files.anywidget, "utf8").replace(/define\(\["@jupyter-widgets\/base"\]/, 'define("anywidget", ["@jupyter-widgets/base"]');
  assert.ok(any.includes('define("anywidget"'), "anywidget bundle shape changed: expected define([\"@jupyter-widgets/base\"], ...)");
  writeFileSync(join(dir, "anywidget.js"), any);
  writeFileSync(
    join(dir, "page.html"),
    `<!doctype html><html><head><meta charset="utf-8"><script src="require.js"></script><script src="embed-amd.js"></script>` +
      `<script src="anywidget.js"></script>${widgetStateScript(w.widgetState())}</head><body>${widgetViewScript(x.model_id)}</body></html>`,
  );
  const browser = await chromium.launch({
    executablePath: chrome,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    const remote: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("request", (r) => {
      if (!/^(file|blob|data):/.test(r.url())) remote.push(r.url());
    });
    await page.goto(`file://${join(dir, "page.html")}`);
    const btn = page.locator("#anybtn");
    await btn.waitFor({ timeout: 30_000 });
    assert.equal(await btn.textContent(), "count 5 bytes 7,8,9");
    assert.equal(await btn.evaluate((el) => getComputedStyle(el).color), "rgb(255, 0, 0)", "_css applied");
    await btn.click();
    await page.waitForFunction(() => document.querySelector("#anybtn")?.textContent?.startsWith("count 6"), null, { timeout: 10_000 });
    assert.deepEqual(errors, []);
    assert.deepEqual(remote, [], "nothing fetched from the network");
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
