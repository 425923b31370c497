import { test } from "node:test";
import assert from "node:assert/strict";
import * as w from "../../widgets/index.js";
import { putBuffers, removeBuffers } from "../../widgets/buffers.js";
import { freshKernel, settle } from "./fake-comms.js";

function seeded(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

test("removeBuffers / putBuffers round trip nested binary values (random layouts)", () => {
  for (let seed = 1; seed <= 50; seed++) {
    const rnd = seeded(seed);
    const bytes = () => new Uint8Array(Array.from({ length: 1 + Math.floor(rnd() * 8) }, () => Math.floor(rnd() * 256)));
    const state: Record<string, unknown> = {
      plain: rnd(),
      top: new Float32Array([rnd(), rnd()]),
      list: [1, bytes(), "x", [bytes(), 2]],
      nested: { a: bytes(), b: { c: new DataView(bytes().buffer), d: "keep" } },
    };
    const { state: json, buffer_paths, buffers } = removeBuffers(state);
    const text = JSON.stringify(json);
    assert.ok(!text.includes("\"0\":"), `seed ${seed}: binary leaked into JSON: ${text}`);
    assert.equal(buffers.length, 5, `seed ${seed}`);
    assert.deepEqual((json.list as unknown[])[1], null, "array slots keep a null placeholder");
    assert.ok(!("a" in (json.nested as any)), "object keys are removed");
    assert.ok(state.top instanceof Float32Array, "input not modified");
    const back = putBuffers(JSON.parse(text), buffer_paths, buffers.map((b) => b.slice()));
    const bytesOf = (x: any) => [...new Uint8Array(x.buffer, x.byteOffset, x.byteLength)];
    assert.deepEqual(bytesOf(back.top), bytesOf(state.top), `seed ${seed}`);
    assert.deepEqual(bytesOf((back.list as any)[1]), bytesOf((state.list as any)[1]), `seed ${seed}`);
    assert.deepEqual(bytesOf((back.list as any)[3][0]), bytesOf((state.list as any)[3][0]), `seed ${seed}`);
    assert.deepEqual(bytesOf((back.nested as any).b.c), bytesOf((state.nested as any).b.c), `seed ${seed}`);
    assert.equal((back.nested as any).b.d, "keep");
  }
});

test("binary state travels as buffers with buffer_paths both ways (comm_open, update, echo_update)", async () => {
  const k = freshKernel();
  const data = new Float32Array([0.5, 1.5, 2.5]);
  const x = w.widget<Record<string, unknown>>({ esm: "export default { render() {} }", state: { data, meta: { shape: [3] } } });
  await settle();
  const open = k.openOf(x.model_id);
  assert.deepEqual(open.data.buffer_paths, [["data"]]);
  assert.ok(!("data" in open.data.state));
  assert.deepEqual([...new Float32Array(open.buffers![0]!.slice().buffer)], [0.5, 1.5, 2.5]);
  // kernel-side update
  x.set("data", new Uint8Array([1, 2, 3]));
  const up = k.msgs(x.model_id).at(-1)!;
  assert.deepEqual(up.data, { method: "update", state: {}, buffer_paths: [["data"]] });
  assert.deepEqual([...up.buffers![0]!], [1, 2, 3]);
  // front-end update with a buffer
  const seen: number[][] = [];
  x.observe("data", (c) => {
    seen.push([...(c.new as unknown as Uint8Array)]);
  });
  await k.fromFrontend(x.model_id, { method: "update", state: { meta: { shape: [2] } }, buffer_paths: [["data"]] }, [new Uint8Array([9, 8])]);
  assert.deepEqual(seen, [[9, 8]]);
  assert.deepEqual(x.get("meta"), { shape: [2] });
  const echo = k.msgs(x.model_id).at(-1)!;
  assert.equal(echo.data.method, "echo_update");
  assert.deepEqual(echo.data.buffer_paths, [["data"]]);
  assert.deepEqual([...echo.buffers![0]!], [9, 8]);
  // request_state: full state with the buffer
  await k.fromFrontend(x.model_id, { method: "request_state" });
  const full = k.msgs(x.model_id).at(-1)!;
  assert.deepEqual(full.data.buffer_paths, [["data"]]);
  assert.deepEqual([...full.buffers![0]!], [9, 8]);
});
