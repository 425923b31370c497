// nbclient (Debian's python3-nbclient) executes every tutorial in notebooks/ with our kernelspec.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../../kernel/paths.js";
import { jupyterEnv, requirePython, PYTHON } from "./jupyter-server.js";

const SCRIPT = `
import sys, json, nbformat
from nbclient import NotebookClient
path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
client = NotebookClient(nb, kernel_name="sparselab", timeout=600, resources={"metadata": {"path": sys.argv[2]}})
client.execute()
counts = [c.get("execution_count") for c in nb.cells if c.cell_type == "code"]
outputs = sum(len(c.get("outputs", [])) for c in nb.cells if c.cell_type == "code")
print(json.dumps({"counts": counts, "outputs": outputs}))
`;

const notebooks = readdirSync(join(packageRoot, "notebooks")).filter((f) => f.endsWith(".ipynb")).sort();

test("there are tutorial notebooks", () => {
  assert.ok(notebooks.length > 0);
});

for (const name of notebooks) {
  test(`nbclient executes ${name}`, { timeout: 900_000 }, () => {
    requirePython(["nbformat", "nbclient", "jupyter_client"]);
    const { env, cleanup } = jupyterEnv();
    try {
      const dir = join(packageRoot, "notebooks");
      const r = spawnSync(PYTHON, ["-c", SCRIPT, join(dir, name), dir], { env, encoding: "utf8", timeout: 900_000 });
      assert.equal(r.status, 0, `nbclient failed on ${name}:\n${r.stderr.slice(-4000)}`);
      const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as { counts: number[]; outputs: number };
      assert.ok(out.counts.every((c, i) => c === i + 1), `execution counts ${out.counts}`);
      assert.ok(out.outputs > 0);
    } finally {
      cleanup();
    }
  });
}
