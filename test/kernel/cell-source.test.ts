// Cell rewriting and position maps, without a kernel.
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildCellSources } from "../../kernel/exec/cell-source.js";
import { codePointToUtf16, utf16ToCodePoint, EditedText } from "../../kernel/exec/edits.js";
import { decodeMappings } from "../../kernel/exec/source-map.js";
import { renderMarkdown } from "../../kernel/cli/markdown.js";
import { OutputCollector } from "../../kernel/cli/outputs.js";
import { logoPng } from "../../kernel/cli/png.js";
import { makeMessage } from "../../kernel/protocol/message.js";
import type { NbOutput } from "../../kernel/cli/notebook.js";

test("top-level declarations are exported, earlier names imported on one header line", () => {
  const scope = new Map([["a", { cell: "__cell_1", isConst: false }], ["T", { cell: "__cell_2", isConst: true }], ["b", { cell: "__cell_1", isConst: true }]]);
  const src = buildCellSources("const b = a + 1;\nfunction f(x: T) { return x }\nimport y from 'pkg';\nb", scope, (s) => s);
  const header = src.checked.text.split("\n")[0];
  assert.match(header, /import \{ a \} from "\.\/__cell_1";/);
  assert.match(header, /import \{ T \} from "\.\/__cell_2";/);
  assert.doesNotMatch(header, /\bb\b/); // re-declared here: not imported
  assert.match(src.checked.text, /export const b = a \+ 1;/);
  assert.match(src.checked.text, /export function f/);
  assert.match(src.checked.text, /export \{ y \};\n$/);
  assert.match(src.runtime.text, /const __sl_m0 = await import\("pkg"\); export var y = __sl_m0.default;/);
  assert.match(src.runtime.text, /return \(b\)/);
  assert.deepEqual([...src.analysis.declared.keys()].sort(), ["b", "f", "y"]);
  // lines survive every rewrite: cell line L is line L + 1 of both sources
  assert.equal(src.checked.text.split("\n")[4], "b");
  assert.equal(src.runtime.text.split("\n").length, 5);
});

test("offset maps: edited <-> original", () => {
  const e = new EditedText("let x = 1;\nx", [{ pos: 0, remove: 0, insert: "HEADER\n" }, { pos: 0, remove: 0, insert: "export " }, { pos: 12, remove: 0, insert: "\nFOOT", cursorBefore: true }]);
  assert.equal(e.text, "HEADER\nexport let x = 1;\nx\nFOOT");
  assert.equal(e.toOriginal(e.text.indexOf("x =")), 4);
  assert.equal(e.toOriginal(2), 0); // inside the header
  assert.equal(e.toEdited(11), e.text.lastIndexOf("x"));
  assert.equal(e.toEdited(12), e.text.indexOf("\nFOOT")); // the cursor stays before the footer
});

test("code points vs UTF-16", () => {
  const s = "a😀b𝛼c";
  assert.equal(codePointToUtf16(s, 2), 3);
  assert.equal(codePointToUtf16(s, 4), 6);
  assert.equal(utf16ToCodePoint(s, 6), 4);
  assert.equal(utf16ToCodePoint(s, s.length), [...s].length);
});

test("source map VLQ decoding", () => {
  // "AAAA;AACA,IAAI" : line 0 -> (0,0); line 1 -> (0, src 1:0) and (4, src 1:4)
  const lines = decodeMappings("AAAA;AACA,IAAI");
  assert.deepEqual(lines[0], [[0, 0, 0]]);
  assert.deepEqual(lines[1], [[0, 1, 0], [4, 1, 4]]);
});

test("markdown renders the common subset and escapes text", () => {
  const html = renderMarkdown("# T\n\nsome **bold** and `<code>` [l](http://x)\n\n- a\n- b\n\n```ts\nlet x = 1 < 2;\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |");
  assert.match(html, /<h1>T<\/h1>/);
  assert.match(html, /<strong>bold<\/strong>/);
  assert.match(html, /<code>&lt;code&gt;<\/code>/);
  assert.match(html, /<a href="http:\/\/x">l<\/a>/);
  assert.match(html, /<ul><li>a<\/li><li>b<\/li><\/ul>/);
  assert.match(html, /let x = 1 &lt; 2;/);
  assert.match(html, /<td>1<\/td><td>2<\/td>/);
});

test("output collector: streams coalesce, clear_output(wait), display updates, widget state with buffers", () => {
  const col = new OutputCollector();
  const out: NbOutput[] = [];
  const m = (t: string, c: unknown, buffers: Uint8Array[] = []) => ({ ...makeMessage(t, c, "s"), buffers });
  col.apply(out, m("stream", { name: "stdout", text: "a" }), 1);
  col.apply(out, m("stream", { name: "stdout", text: "b" }), 1);
  assert.deepEqual(out, [{ output_type: "stream", name: "stdout", text: "ab" }]);
  col.apply(out, m("display_data", { data: { "text/plain": "1" }, metadata: {}, transient: { display_id: "d" } }), 1);
  col.apply(out, m("update_display_data", { data: { "text/plain": "2" }, metadata: {}, transient: { display_id: "d" } }), 1);
  assert.equal(out[1].data["text/plain"], "2");
  col.apply(out, m("clear_output", { wait: true }), 1);
  assert.equal(out.length, 2);
  col.apply(out, m("execute_result", { data: { "text/plain": "r" }, metadata: {} }), 1);
  assert.deepEqual(out.map((o) => o.output_type), ["execute_result"]);
  col.apply(out, m("comm_open", { comm_id: "w", target_name: "jupyter.widget", data: { state: { _model_name: "IntSliderModel", _model_module: "@jupyter-widgets/controls", _model_module_version: "2.0.0", value: 1, arr: null }, buffer_paths: [["arr"]] } }, [new Uint8Array([7])]), 1);
  col.apply(out, m("comm_msg", { comm_id: "w", data: { method: "echo_update", state: { value: 5 }, buffer_paths: [] } }), 1);
  const ws = col.widgetState() as any;
  const st = ws["application/vnd.jupyter.widget-state+json"].state.w;
  assert.equal(st.model_name, "IntSliderModel");
  assert.equal(st.state.value, 5);
  assert.deepEqual(st.buffers, [{ path: ["arr"], data: Buffer.from([7]).toString("base64"), encoding: "base64" }]);
});

test("logo PNGs have the PNG signature and the right size", () => {
  const png = logoPng(64);
  assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10]);
  assert.equal(png.readUInt32BE(16), 64);
  assert.equal(png.readUInt32BE(20), 64);
});
