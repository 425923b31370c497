/**
 * Every @example in lib/viz and widgets/views, run in the real kernel through `sparselab run`
 * (type-checked like a notebook cell, then executed). Each example gets its own block with a
 * few shared fixtures (q, k, v, bm, record, layers) that examples may refer to.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { packageRoot } from "../../../kernel/paths.js";

const FIXTURES = [
  "const q = sl.randn([1, 2, 256, 32], { seed: 1 }), k = sl.randn([1, 2, 256, 32], { seed: 2 }), v = sl.randn([1, 2, 256, 32], { seed: 3 });",
  "const bm = sl.createBlockMask(sl.masks.causal(), { qLen: 256, kvLen: 256, blockSize: 32 });",
  "const record = sl.moe.route(sl.moe.randomLogits(64, 8, { seed: 1 }), { k: 2 });",
  "const layers = [1, 2].map((seed) => sl.moe.route(sl.moe.randomLogits(64, 8, { seed }), { k: 2 }));",
].join("\n");

function examples(): { where: string; code: string }[] {
  const out: { where: string; code: string }[] = [];
  for (const dir of ["lib/viz", "widgets/views"]) {
    for (const f of readdirSync(join(packageRoot, dir)).filter((n) => n.endsWith(".ts")).sort()) {
      const src = readFileSync(join(packageRoot, dir, f), "utf8");
      for (const m of src.matchAll(/@example\n((?:[ \t]*\*(?!\/).*\n)+)/g)) {
        const lines = m[1].split("\n").map((l) => l.replace(/^\s*\* ?/, "")).filter((l) => l && !l.startsWith("@"));
        out.push({ where: `${dir}/${f}`, code: lines.join("\n") });
      }
    }
  }
  return out;
}

test("every viz and views @example runs in the kernel (sparselab run)", { timeout: 180_000 }, () => {
  const ex = examples();
  assert.ok(ex.length >= 20, `found ${ex.length} examples`);
  const dir = mkdtempSync(join(tmpdir(), "sparselab-viz-examples-"));
  try {
    const nb = {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { kernelspec: { name: "sparselab", display_name: "TypeScript (sparselab)", language: "typescript" } },
      cells: ex.map((e, i) => ({ cell_type: "code", id: `ex${i}`, metadata: {}, execution_count: null, outputs: [], source: `// ${e.where}\n{\n${FIXTURES}\n{\n${e.code}\n}\n}` })),
    };
    const path = join(dir, "examples.ipynb");
    writeFileSync(path, JSON.stringify(nb));
    const r = spawnSync(process.execPath, [join(packageRoot, "dist/kernel/cli.js"), "run", path, "--out", join(dir, "out")], { encoding: "utf8", timeout: 170_000 });
    const said = `${r.stdout}\n${r.stderr}`;
    assert.equal(r.status, 0, said);
    assert.match(said, /examples\.ipynb: ok/);
    const done = JSON.parse(readFileSync(join(dir, "out", "examples.ipynb"), "utf8"));
    const errors = done.cells.flatMap((c: any, i: number) => (c.outputs ?? []).filter((o: any) => o.output_type === "error").map((o: any) => `${ex[i].where}: ${o.evalue}`));
    assert.deepEqual(errors, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
