import { test } from "node:test";
import assert from "node:assert/strict";
import * as sl from "../../../lib/index.js";

test("sl.ready() resolves and sl.backends() lists js with its attention ops and a status for each native backend", async () => {
  await sl.ready();
  const all = sl.backends();
  const js = all.find((b) => b.name === "js");
  assert.ok(js?.loaded);
  assert.ok(js.ops.includes("attention") && js.ops.includes("decodeAttention"), `js ops: ${js.ops}`);
  for (const name of ["cpu", "cuda"] as const) {
    const st = all.find((b) => b.name === name);
    assert.ok(st, `${name} has a status`);
    if (!st.loaded) assert.ok(st.reason && st.reason.length > 0, `${name} says why it did not load`);
  }
});
