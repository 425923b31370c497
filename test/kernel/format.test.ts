// Value -> MIME bundle formatters, in-process.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as aq from "arquero";
import { formatValue, FormatState, isPlotlyFigure, TABLE_PAGE_ROWS, truncateText } from "../../kernel/display/format.js";

test("arquero tables: first page as HTML with a row count, markdown text fallback", async () => {
  const n = 250;
  const t = aq.table({ i: Array.from({ length: n }, (_, k) => k), sq: Array.from({ length: n }, (_, k) => k * k) });
  const b = await formatValue(t, new FormatState());
  const html = String(b["text/html"]);
  assert.equal((html.match(/<tr/g) ?? []).length, TABLE_PAGE_ROWS + 1); // header + one page
  assert.match(html, new RegExp(`rows 1–${TABLE_PAGE_ROWS} of ${n}`));
  assert.match(String(b["text/plain"]), /\|\s*i\s*\|\s*sq\s*\|/);
  assert.match(String(b["text/plain"]), /250 rows; first 20 shown/);
});

test("plotly figures: JSON bundle, HTML with plotly.js inlined only the first time", async () => {
  const state = new FormatState();
  const fig = { data: [{ type: "bar", x: ["a"], y: [1] }], layout: { title: { text: "t" } } };
  const a = await formatValue(fig, state);
  const b = await formatValue(fig, state);
  assert.deepEqual((a["application/vnd.plotly.v1+json"] as { data: unknown }).data, fig.data);
  assert.ok(String(a["text/html"]).length > 1_000_000);
  assert.ok(String(b["text/html"]).length < 10_000);
  assert.match(String(b["text/html"]), /Plotly\.newPlot/);
  assert.equal(a["text/plain"], 'Plotly figure "t": 1 trace(s) (bar)');
  assert.equal(isPlotlyFigure({ data: [1, 2, 3] }), false);
  assert.equal(isPlotlyFigure({ data: [{ name: "no coordinates" }] }), false);
});

test("Jupyter.display objects (sync and async), text fallback, truncation", async () => {
  const state = new FormatState();
  const sync = await formatValue({ [Symbol.for("Jupyter.display")]: () => ({ "text/html": "<p>x</p>" }) }, state);
  assert.equal(sync["text/html"], "<p>x</p>");
  assert.equal(typeof sync["text/plain"], "string");
  const asyncB = await formatValue({ [Symbol.for("Jupyter.display")]: async () => ({ "text/markdown": "**y**", "text/plain": "y" }) }, state);
  assert.deepEqual(asyncB, { "text/markdown": "**y**", "text/plain": "y" });
  assert.deepEqual(await formatValue(new Map([[1, "a"]]), state), { "text/plain": "Map(1) { 1 => 'a' }" });
  assert.match(truncateText("z".repeat(200), 100), /output truncated: 200 characters/);
});
