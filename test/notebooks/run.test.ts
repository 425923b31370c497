/**
 * Executes every tutorial in notebooks/ through our headless runner (`sparselab run`, the same
 * path as `npm start`) in a fresh kernel, fails on any error output, and holds each notebook to
 * the budget of two minutes on the 2-core CI machine. nbclient runs the same notebooks
 * through Jupyter's own client in test/integration/nbclient.test.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { packageRoot } from "../../kernel/paths.js";

const BUDGET_MS = 120_000;
const cli = join(packageRoot, "dist", "kernel", "cli.js");
const dir = join(packageRoot, "notebooks");
const notebooks = readdirSync(dir).filter((f) => f.endsWith(".ipynb")).sort();

interface Output { output_type: string; ename?: string; evalue?: string; name?: string; text?: string | string[] }
interface Cell { cell_type: string; source: string | string[]; outputs?: Output[]; execution_count?: number | null }

test("the six tutorials are present", () => {
  for (const n of ["01-", "02-", "03-", "04-", "05-", "06-"]) assert.ok(notebooks.some((f) => f.startsWith(n)), `no notebooks/${n}*.ipynb`);
});

test("tutorials are committed without outputs", () => {
  for (const name of notebooks) {
    const nb = JSON.parse(readFileSync(join(dir, name), "utf8")) as { cells: Cell[] };
    for (const c of nb.cells) if (c.cell_type === "code") assert.equal(c.outputs?.length ?? 0, 0, `${name} has committed outputs`);
  }
});

for (const name of notebooks) {
  test(`sparselab run executes ${name} without errors in under 2 minutes`, { timeout: BUDGET_MS + 60_000 }, () => {
    const out = mkdtempSync(join(tmpdir(), "sparselab-nb-"));
    try {
      const t0 = performance.now();
      const r = spawnSync(process.execPath, [cli, "run", join(dir, name), "--out", out], { encoding: "utf8", timeout: BUDGET_MS + 30_000 });
      const ms = performance.now() - t0;
      console.log(`# ${name}: ${(ms / 1000).toFixed(1)} s through sparselab run`);
      assert.equal(r.status, 0, `sparselab run failed on ${name}:\n${r.stdout}\n${r.stderr.slice(-4000)}`);
      const nb = JSON.parse(readFileSync(join(out, name), "utf8")) as { cells: Cell[] };
      const code = nb.cells.filter((c) => c.cell_type === "code");
      code.forEach((c, i) => {
        const src = Array.isArray(c.source) ? c.source.join("") : c.source;
        assert.equal(c.execution_count, i + 1, `${name} cell ${i + 1} did not run`);
        for (const o of c.outputs ?? []) {
          assert.notEqual(o.output_type, "error", `${name} code cell ${i + 1} raised ${o.ename}: ${o.evalue}\n${src}`);
          // A rejected promise or a failed display lands on stderr without an error output.
          if (o.output_type === "stream" && o.name === "stderr") assert.fail(`${name} code cell ${i + 1} wrote to stderr: ${[o.text].flat().join("")}`);
        }
      });
      assert.ok(code.some((c) => (c.outputs ?? []).length > 0), `${name} produced no output at all`);
      assert.ok(ms < BUDGET_MS, `${name} took ${(ms / 1000).toFixed(1)} s (budget ${BUDGET_MS / 1000} s)`);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
}
