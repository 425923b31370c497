// The CLI: install writes a kernelspec Jupyter finds; run executes a notebook headless.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { cliPath } from "../../kernel/paths.js";

test("sparselab install --prefix writes kernel.json and logos", () => {
  const prefix = mkdtempSync(join(tmpdir(), "sparselab-install-"));
  const r = spawnSync(process.execPath, [cliPath, "install", "--prefix", prefix, "--name", "sl-test"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const dir = join(prefix, "share", "jupyter", "kernels", "sl-test");
  const spec = JSON.parse(readFileSync(join(dir, "kernel.json"), "utf8"));
  assert.deepEqual(spec.argv, [process.execPath, cliPath, "kernel", "--connection-file", "{connection_file}"]);
  assert.equal(spec.language, "typescript");
  assert.equal(spec.interrupt_mode, "message");
  assert.equal(spec.display_name, "TypeScript (sparselab)");
  for (const f of ["logo-32x32.png", "logo-64x64.png"]) assert.ok(existsSync(join(dir, f)));
  // When Jupyter is present the CLI checks `kernelspec list` finds it (JUPYTER_PATH=prefix).
  if (r.stdout.includes("kernelspec list")) assert.match(r.stdout, /finds it/);
  const bad = spawnSync(process.execPath, [cliPath, "install", "--prefix", prefix, "--name", "bad name"], { encoding: "utf8" });
  assert.notEqual(bad.status, 0);
});

test("sparselab run writes the executed notebook and an offline HTML page", { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "sparselab-run-"));
  const nb = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: [
      { cell_type: "markdown", metadata: {}, source: ["# Title\n", "some *text*"] },
      { cell_type: "code", metadata: {}, execution_count: null, outputs: [], source: "const n: number = 3;\nconsole.log('n is', n);\nn * 2" },
      { cell_type: "code", metadata: {}, execution_count: null, outputs: [], source: "({ data: [{ type: 'bar', x: ['a', 'b'], y: [1, n] }], layout: { title: 'bars' } })" },
      { cell_type: "code", metadata: {}, execution_count: null, outputs: [], source: "const s = new widgets.IntSlider({ value: 4 });\ns.value = 9;\ns" },
      { cell_type: "code", metadata: {}, execution_count: null, outputs: [], source: "const o = new widgets.Output();\ndisplay(o);\no.capture(() => console.log('inside the widget'));\nconsole.log('in the cell');" },
    ],
  };
  writeFileSync(join(dir, "t.ipynb"), JSON.stringify(nb));
  const r = spawnSync(process.execPath, [cliPath, "run", join(dir, "t.ipynb"), "--out", join(dir, "out")], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const out = JSON.parse(readFileSync(join(dir, "out", "t.ipynb"), "utf8"));
  const [, c1, c2, c3] = out.cells;
  assert.equal(c1.execution_count, 1);
  assert.deepEqual(c1.outputs[0], { output_type: "stream", name: "stdout", text: ["n is 3\n"] });
  assert.deepEqual(c1.outputs[1].data["text/plain"], ["6"]);
  assert.ok(c2.outputs[0].data["application/vnd.plotly.v1+json"]);
  const view = c3.outputs[0].data["application/vnd.jupyter.widget-view+json"];
  assert.ok(view, JSON.stringify(c3.outputs));
  const state = out.metadata.widgets["application/vnd.jupyter.widget-state+json"].state[view.model_id];
  assert.equal(state.model_name, "IntSliderModel");
  assert.equal(state.state.value, 9);
  // what the Output captured lands in its saved state, as a live front-end would show it
  const c4 = out.cells[4];
  assert.deepEqual(c4.outputs.map((o: any) => o.output_type), ["display_data", "stream"], JSON.stringify(c4.outputs));
  assert.deepEqual(c4.outputs[1].text, ["in the cell\n"]);
  const oid = c4.outputs[0].data["application/vnd.jupyter.widget-view+json"].model_id;
  const ostate = out.metadata.widgets["application/vnd.jupyter.widget-state+json"].state[oid];
  assert.equal(ostate.model_name, "OutputModel");
  assert.deepEqual(ostate.state.outputs, [{ output_type: "stream", name: "stdout", text: "inside the widget\n" }]);
  assert.equal(out.metadata.kernelspec.name, "sparselab");
  const html = readFileSync(join(dir, "out", "t.html"), "utf8");
  assert.match(html, /<h1>Title<\/h1>/);
  assert.match(html, /n is 3/);
  assert.equal(html.split("Plotly.newPlot").length - 1 >= 1, true);
  // plotly.js inlined exactly once (its bundle defines this banner once)
  assert.equal(html.split("plotly.js v").length - 1, 1);
});

test("interrupt by SIGINT to the kernel process breaks a busy loop", { timeout: 60_000 }, async () => {
  const { startKernel, sleep } = await import("./client.js");
  const k = await startKernel();
  try {
    await k.client.execute("1");
    const running = k.client.execute("while (true) {}");
    await sleep(300);
    k.child.kill("SIGINT");
    const r = await running;
    assert.equal(r.error?.ename, "KeyboardInterrupt");
    assert.equal((await k.client.execute("'alive'")).result?.["text/plain"], "'alive'");
  } finally {
    await k.shutdown();
  }
});

test("an interrupt while the cell is still being type-checked cancels it", { timeout: 60_000 }, async () => {
  const { startKernel } = await import("./client.js");
  const k = await startKernel();
  try {
    // SIGINT once the kernel has the request (execute_input), while the checker is still cold.
    const started = new Promise<void>((resolve) => {
      const off = k.client.onIopub((m) => m.header.msg_type === "execute_input" && (off(), resolve()));
    });
    const running = k.client.execute("(globalThis as any).ranAfterInterrupt = true;");
    await started;
    k.child.kill("SIGINT");
    const r = await running;
    assert.equal(r.error?.ename, "KeyboardInterrupt");
    assert.equal((await k.client.execute("(globalThis as any).ranAfterInterrupt === undefined")).result?.["text/plain"], "true");
  } finally {
    await k.shutdown();
  }
});

test("shutdown_request with restart answers and the process exits", { timeout: 60_000 }, async () => {
  const { startKernel } = await import("./client.js");
  const k = await startKernel();
  const exited = new Promise<number | null>((r) => k.child.once("exit", (code) => r(code)));
  const r = await k.client.request("control", "shutdown_request", { restart: true });
  assert.deepEqual(r.reply!.content, { status: "ok", restart: true });
  assert.equal(await exited, 0);
  await k.shutdown();
});
