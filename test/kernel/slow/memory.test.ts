// 1,000 executes (and 10,000 comm updates) must not grow the kernel's RSS without bound.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { startKernel, type LaunchedKernel } from "../client.js";

let k: LaunchedKernel | undefined;
after(async () => {
  await k?.shutdown();
});

async function rssMb(k: LaunchedKernel): Promise<number> {
  const r = await k.client.execute("(globalThis as any).gc?.(); process.memoryUsage().rss / 1048576", { storeHistory: false });
  return Number(r.result?.["text/plain"]);
}

test("1,000 executes and 10,000 comm messages keep RSS bounded", { timeout: 300_000 }, async () => {
  k = await startKernel();
  const c = k.client;
  // RSS rises while V8's heaps size themselves; measure growth after that, over the rest.
  const run = async (i: number) => {
    const r = await c.execute(i % 2 ? `let v = ${i};\nv * 2` : `console.log("line", ${i});\n[${i}, "x".repeat(100)]`);
    assert.equal(r.reply.content.status, "ok");
  };
  for (let i = 0; i < 300; i++) await run(i);
  const base = await rssMb(k);
  for (let i = 300; i < 1000; i++) await run(i);
  const afterExec = await rssMb(k);
  console.log(`kernel RSS: ${base.toFixed(0)} MB after 300 executes, ${afterExec.toFixed(0)} MB after 1,000`);
  assert.ok(afterExec - base < 150, `RSS grew ${afterExec - base} MB from execute 300 to 1,000`);
  const setup = await c.execute(
    "import { getKernelComms } from 'sparselab/widgets';\nconst kc = getKernelComms()!;\nlet updates = 0;\n" +
      "kc.registerTarget('test.mem', (id) => kc.onMsg(id, (d) => { updates++; kc.send(id, { method: 'echo_update', state: d.state, buffer_paths: [] }); }));",
  );
  assert.equal(setup.reply.content.status, "ok", JSON.stringify(setup.error));
  await c.request("shell", "comm_open", { comm_id: "mem1", target_name: "test.mem", data: {} }, { needReply: false });
  for (let i = 0; i < 10_000; i++) await c.request("shell", "comm_msg", { comm_id: "mem1", data: { method: "update", state: { value: i }, buffer_paths: [] } }, { needReply: false });
  const afterComm = await rssMb(k);
  console.log(`kernel RSS after 10,000 comm updates: ${afterComm.toFixed(0)} MB`);
  assert.equal((await c.execute("updates")).result?.["text/plain"], "10000");
  assert.ok(afterComm - base < 200, `RSS grew ${afterComm - base} MB`);
});
