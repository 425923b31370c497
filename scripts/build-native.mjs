#!/usr/bin/env node
// Builds the native CPU addon (build/Release/sparselab_cpu.node) with node-gyp. Runs from
// `npm install`; it must never fail the install: on any problem it prints one line saying why
// and exits 0, and sparselab runs on the JS reference backend (sl.backends() says so too).
//   SPARSELAB_SKIP_NATIVE=1   skip the build
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const say = (msg) => console.log(`sparselab: ${msg}`);

function findNodeGyp() {
  const require = createRequire(join(root, "package.json"));
  try {
    return require.resolve("node-gyp/bin/node-gyp.js");
  } catch {
    // npm bundles its own node-gyp next to itself.
    const npmDir = process.env.npm_execpath ? dirname(dirname(process.env.npm_execpath)) : "";
    const bundled = join(npmDir, "node_modules", "node-gyp", "bin", "node-gyp.js");
    return existsSync(bundled) ? bundled : null;
  }
}

function main() {
  if (process.env.SPARSELAB_SKIP_NATIVE === "1") return say("native CPU backend skipped (SPARSELAB_SKIP_NATIVE=1); using the JS backend");
  if (spawnSync("g++", ["--version"], { stdio: "ignore" }).status !== 0)
    return say("native CPU backend not built: g++ not found; using the JS backend");
  const gyp = findNodeGyp();
  if (!gyp) return say("native CPU backend not built: node-gyp not found; using the JS backend");
  const jobs = String(Math.max(1, Math.min(4, (globalThis.navigator?.hardwareConcurrency ?? 2))));
  const args = [gyp, "rebuild", "--release", "-j", jobs];
  // Use the headers of the running Node when they are installed beside it, so the build needs
  // no network (npm passes its own nodedir setting as npm_config_nodedir).
  const nodedir = process.env.npm_config_nodedir || dirname(dirname(process.execPath));
  if (existsSync(join(nodedir, "include", "node", "node_api.h"))) args.push(`--nodedir=${nodedir}`);
  const r = spawnSync(process.execPath, args, {
    cwd: root,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  const cpuAddon = join(root, "build", "Release", "sparselab_cpu.node");
  if (r.status !== 0) {
    const log = `${r.stdout ?? ""}\n${r.stderr ?? ""}`;
    const firstErr = (log.split("\n").find((l) => /error/i.test(l)) ?? r.error?.message ?? `exit ${r.status}`).trim().slice(0, 200);
    // Another target (the CUDA shim) may be what failed: build the CPU addon alone.
    if (!existsSync(cpuAddon) && existsSync(join(root, "build", "Makefile")))
      spawnSync("make", ["-C", join(root, "build"), "BUILDTYPE=Release", "-j", jobs, "sparselab_cpu"], { stdio: "ignore" });
    if (!existsSync(cpuAddon)) return say(`native CPU backend not built (${firstErr}); using the JS backend`);
    say(`native CPU backend built; another native target failed (${firstErr})`);
    return;
  }
  say("native CPU backend built (build/Release/sparselab_cpu.node)");
}

try {
  main();
} catch (e) {
  say(`native CPU backend not built (${e?.message ?? e}); using the JS backend`);
}
process.exit(0);
