/**
 * `npm start`: runs every tutorial in notebooks/ headless, writes out/<name>.ipynb and
 * out/<name>.html, prints where they are, and registers the kernel with Jupyter if installed.
 */
import { readdirSync, existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { packageRoot } from "../paths.js";
import { runNotebooks } from "./run-notebook.js";
import { installKernelspec, jupyterPython } from "./install.js";

export async function start(): Promise<number> {
  const dir = join(packageRoot, "notebooks");
  const notebooks = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".ipynb")).sort().map((f) => join(dir, f)) : [];
  const outDir = resolve(packageRoot, "out");
  if (notebooks.length === 0) console.log(`no notebooks in ${dir}`);
  const results = await runNotebooks(notebooks, { outDir });
  console.log(`\nstatic pages (open in a browser, no server needed):`);
  for (const r of results) console.log(`  ${r.html}${r.ok ? "" : "   (had errors)"}`);
  if (jupyterPython()) {
    const r = installKernelspec({ where: "user" });
    console.log(`\nregistered the Jupyter kernel "${r.name}" in ${r.dir}; pick "TypeScript (sparselab)" in JupyterLab or Notebook.`);
  } else {
    console.log(`\nJupyter is not installed; to use the kernel in JupyterLab later: npx sparselab install --user`);
  }
  return results.every((r) => r.ok) ? 0 : 1;
}
