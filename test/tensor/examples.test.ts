import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as sl from "../../lib/index.js";

/*
 * Every `@example` in lib/tensor is meant to be pasted into a notebook cell: run each one, with
 * `sl` bound to the package and a scratch directory as cwd (some write files), and require it
 * to finish without throwing.
 */
const root = new URL("../../../", import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : n.endsWith(".ts") ? [p] : [];
  });
}

function examples(file: string): { where: string; code: string }[] {
  const text = readFileSync(file, "utf8");
  const out: { where: string; code: string }[] = [];
  const re = /\/\*\*([\s\S]*?)\*\//g;
  for (let m; (m = re.exec(text)); ) {
    const body = m[1].split("\n").map((l) => l.replace(/^\s*\* ?/, ""));
    const joined = body.join("\n");
    const at = joined.indexOf("@example");
    if (at < 0) continue;
    const code = joined.slice(at + "@example".length).split(/\n@\w+/)[0].trim();
    const line = text.slice(0, m.index).split("\n").length;
    out.push({ where: `${file.slice(root.length)}:${line}`, code });
  }
  return out;
}

const all = sources(join(root, "lib", "tensor")).flatMap(examples);

test("lib/tensor has examples to run", () => {
  assert.ok(all.length > 60, `found ${all.length}`);
});

test("every @example in lib/tensor runs as written", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sl-ex-"));
  const cwd = process.cwd();
  process.chdir(dir);
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...a: string[]) => (s: typeof sl) => Promise<unknown>;
  const failures: string[] = [];
  try {
    for (const { where, code } of all) {
      try {
        await new AsyncFunction("sl", code)(sl);
      } catch (e) {
        failures.push(`${where}: ${(e as Error).message}\n    ${code.replace(/\n/g, "\n    ")}`);
      }
    }
  } finally {
    process.chdir(cwd);
    rmSync(dir, { recursive: true });
  }
  assert.equal(failures.length, 0, `examples that fail:\n${failures.join("\n")}`);
});
