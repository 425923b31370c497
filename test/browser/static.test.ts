/**
 * The static page `sparselab run` writes opens in headless Chromium and draws every plotly
 * figure of the notebook with the traces the notebook computed, without console errors.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { packageRoot } from "../../kernel/paths.js";
import { artifact, openBrowser } from "./chromium.js";

const NOTEBOOK = "04-moe-routing-and-load-balance";
const PLOTLY = "application/vnd.plotly.v1+json";

test(`the HTML page of ${NOTEBOOK} shows its figures in Chromium`, { timeout: 240_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), "sparselab-static-"));
  const browser = await openBrowser();
  try {
    const r = spawnSync(process.execPath, [join(packageRoot, "dist/kernel/cli.js"), "run", join(packageRoot, "notebooks", `${NOTEBOOK}.ipynb`), "--out", out], { encoding: "utf8", timeout: 180_000 });
    assert.equal(r.status, 0, `sparselab run failed:\n${r.stdout}\n${r.stderr.slice(-3000)}`);
    // What the notebook computed: trace count and title of each figure, in order.
    const nb = JSON.parse(readFileSync(join(out, `${NOTEBOOK}.ipynb`), "utf8")) as { cells: { outputs?: { data?: Record<string, any> }[] }[] };
    const figures = nb.cells.flatMap((c) => c.outputs ?? []).filter((o) => o.data?.[PLOTLY]).map((o) => o.data![PLOTLY] as { data: unknown[]; layout: { title: { text: string } } });
    assert.ok(figures.length >= 4, `expected at least 4 figures in ${NOTEBOOK}, the run produced ${figures.length}`);

    const { page, errors } = browser;
    await page.goto(pathToFileURL(join(out, `${NOTEBOOK}.html`)).href);
    await page.waitForFunction((n) => document.querySelectorAll(".sparselab-plotly .main-svg").length >= n, figures.length, { timeout: 60_000 });
    const drawn = await page.$$eval(".sparselab-plotly", (divs) =>
      divs.map((d) => ({
        svgs: d.querySelectorAll("svg.main-svg").length,
        // scatter and bar traces are g.trace groups; a heatmap is an image in g.hm
        traceGroups: d.querySelectorAll("g.trace, g.hm").length,
        data: ((d as unknown as { data?: unknown[] }).data ?? []).length,
        title: d.querySelector(".gtitle")?.textContent ?? "",
      })),
    );
    assert.equal(drawn.length, figures.length, "one plot div per figure output");
    drawn.forEach((d, i) => {
      const want = figures[i].data.length;
      assert.ok(d.svgs >= 1, `figure ${i + 1} has no .main-svg`);
      assert.equal(d.data, want, `figure ${i + 1}: plotly holds ${d.data} traces, the notebook made ${want}`);
      assert.equal(d.traceGroups, want, `figure ${i + 1}: ${d.traceGroups} trace groups drawn in the SVG, expected ${want}`);
      assert.ok(d.title.length > 0 && figures[i].layout.title.text.startsWith(d.title.replace(/…$/, "").slice(0, 20)), `figure ${i + 1} title drawn: "${d.title}"`);
    });
    await page.screenshot({ path: artifact(`static-${NOTEBOOK}.png`), fullPage: true });
    assert.deepEqual(errors, [], "no console errors on the page");
  } finally {
    await browser.close();
    rmSync(out, { recursive: true, force: true });
  }
});
