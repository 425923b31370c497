import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { loadBackendModule, ready } from "../../../lib/backends/load.js";
import { backends, hasOp } from "../../../lib/backends/registry.js";

const dir = mkdtempSync(join(tmpdir(), "sparselab-load-"));
const registryUrl = new URL("../../../lib/backends/registry.js", import.meta.url).href;
const status = () => backends().find((b) => b.name === "cuda")!;

test("a missing backend module is reported as not built, not thrown", async () => {
  await ready();
  await loadBackendModule("cuda", pathToFileURL(join(dir, "absent", "index.js")).href);
  assert.equal(status().loaded, false);
  assert.match(status().reason!, /^not built/);
});

test("a backend module that throws on import is reported with its error", async () => {
  const f = join(dir, "throws.mjs");
  writeFileSync(f, 'throw new Error("no driver here");\n');
  await loadBackendModule("cuda", pathToFileURL(f).href);
  assert.equal(status().loaded, false);
  assert.match(status().reason!, /load failed: no driver here/);
});

test("a backend module whose load() registers ops shows up loaded with them", async () => {
  const f = join(dir, "ok.mjs");
  writeFileSync(
    f,
    `import { registerOp, setBackendStatus } from ${JSON.stringify(registryUrl)};\n` +
      `export async function load() { setBackendStatus({ name: "cuda", loaded: true, detail: "fake" }); registerOp("cuda", "testOnlyOp", () => 1); }\n`,
  );
  await loadBackendModule("cuda", pathToFileURL(f).href);
  assert.equal(status().loaded, true);
  assert.ok(status().ops.includes("testOnlyOp"));
  assert.ok(hasOp("cuda", "testOnlyOp"));
});
