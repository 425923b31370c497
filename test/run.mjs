#!/usr/bin/env node
// Runs the compiled test files (dist/test/**/*.test.js) with node's test runner.
//   node test/run.mjs            the whole suite
//   node test/run.mjs --quick    unit tests only: skips the slow folders (browser, notebooks,
//                                jupyter-server clients, fuzzing) that a developer runs less often
//   node test/run.mjs PATTERN    only files whose path contains PATTERN
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { spawnSync } from "node:child_process";

const root = new URL("..", import.meta.url).pathname;
const dist = join(root, "dist", "test");
const args = process.argv.slice(2);
const quick = args.includes("--quick");
const patterns = args.filter((a) => !a.startsWith("--"));
const SLOW = ["/browser/", "/notebooks/", "/integration/", "/slow/"];

function walk(dir) {
  let out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(walk(p));
    else if (name.endsWith(".test.js")) out.push(p);
  }
  return out;
}

let files = walk(dist).sort();
if (quick) files = files.filter((f) => !SLOW.some((s) => f.includes(s)));
if (patterns.length) files = files.filter((f) => patterns.some((p) => relative(root, f).includes(p)));
if (files.length === 0) {
  console.error("test/run.mjs: no test files matched");
  process.exit(1);
}
const conc = process.env.SPARSELAB_TEST_CONCURRENCY ?? "2";
const r = spawnSync(process.execPath, ["--test", `--test-concurrency=${conc}`, ...files], { stdio: "inherit" });
process.exit(r.status ?? 1);
