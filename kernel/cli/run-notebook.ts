/**
 * `sparselab run`: executes notebooks headless through our kernel (a child process driven over
 * ZeroMQ, as a front-end would) and writes the executed .ipynb and a static HTML page.
 */
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { launchKernel } from "../client/launch.js";
import { cellSource, KERNELSPEC_METADATA, toLines, type Notebook, type NbOutput } from "./notebook.js";
import { OutputCollector } from "./outputs.js";
import { notebookHtml } from "./html.js";

export interface RunResult {
  notebook: string;
  ok: boolean;
  ipynb: string;
  html: string;
  /** Cells that ended in an error (1-based code-cell numbers) with their error text. */
  errors: { cell: number; ename: string; evalue: string }[];
  ms: number;
}

/** nbformat stores text as line lists; Jupyter readers accept both, we write lists. */
function normaliseOutputs(outputs: NbOutput[]): NbOutput[] {
  return outputs.map((o) => {
    if (o.output_type === "stream") return { ...o, text: toLines(o.text) };
    if (o.data) {
      const data: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(o.data)) data[k] = typeof v === "string" && (k.startsWith("text/") || k === "image/svg+xml") ? toLines(v) : v;
      return { ...o, data };
    }
    return o;
  });
}

/** Executes one notebook; outputs go to outDir/<name>.ipynb and .html. */
export async function runNotebook(path: string, opts: { outDir: string; quiet?: boolean; timeoutMs?: number }): Promise<RunResult> {
  const t0 = performance.now();
  const abs = resolve(path);
  const nb = JSON.parse(readFileSync(abs, "utf8")) as Notebook;
  const kernel = await launchKernel({ cwd: dirname(abs) });
  const collector = new OutputCollector();
  const errors: RunResult["errors"] = [];
  let current: { outputs: NbOutput[]; count: number | null } | undefined;
  const off = kernel.client.onIopub((m) => {
    if (m.header.msg_type === "status" || m.header.msg_type === "execute_input") return;
    // update_display_data may target an earlier cell; apply() finds it by display_id.
    if (current) collector.apply(current.outputs, m, current.count);
  });
  try {
    let codeIndex = 0;
    for (const cell of nb.cells) {
      if (cell.cell_type !== "code") continue;
      codeIndex++;
      const outputs: NbOutput[] = [];
      current = { outputs, count: null };
      const r = await kernel.client.execute(cellSource(cell), { stopOnError: false, allowStdin: false, timeoutMs: opts.timeoutMs ?? 600_000 });
      const count = (r.reply.content as { execution_count?: number }).execution_count ?? null;
      current.count = count;
      for (const o of outputs) if (o.output_type === "execute_result") o.execution_count = count;
      cell.outputs = outputs;
      cell.execution_count = count;
      if (r.reply.content.status !== "ok" && !(cell.metadata?.tags ?? []).includes("raises-exception")) {
        const e = r.error ?? { ename: String(r.reply.content.ename), evalue: String(r.reply.content.evalue) };
        errors.push({ cell: codeIndex, ename: e.ename, evalue: e.evalue });
      }
    }
    // Let late widget echoes and display updates land before saving.
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    off();
    await kernel.shutdown();
  }
  for (const cell of nb.cells) if (cell.outputs) cell.outputs = normaliseOutputs(cell.outputs);
  nb.metadata = { ...nb.metadata, ...KERNELSPEC_METADATA };
  const ws = collector.widgetState();
  if (ws) nb.metadata.widgets = ws;
  mkdirSync(opts.outDir, { recursive: true });
  const name = basename(abs).replace(/\.ipynb$/, "");
  const ipynb = join(opts.outDir, `${name}.ipynb`);
  const html = join(opts.outDir, `${name}.html`);
  writeFileSync(ipynb, JSON.stringify(nb, null, 1) + "\n");
  writeFileSync(html, notebookHtml(nb, name));
  const result = { notebook: abs, ok: errors.length === 0, ipynb, html, errors, ms: performance.now() - t0 };
  if (!opts.quiet) {
    const status = result.ok ? "ok" : `FAILED (${errors.map((e) => `cell ${e.cell}: ${e.ename}: ${e.evalue}`).join("; ")})`;
    console.log(`${basename(abs)}: ${status} in ${(result.ms / 1000).toFixed(1)} s -> ${html}`);
  }
  return result;
}

/** Runs notebooks one after another (each in a fresh kernel). */
export async function runNotebooks(paths: string[], opts: { outDir: string; quiet?: boolean }): Promise<RunResult[]> {
  const results: RunResult[] = [];
  for (const p of paths) results.push(await runNotebook(p, opts));
  return results;
}
