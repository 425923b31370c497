/**
 * Kernel latency, driven over ZeroMQ as a front-end would:
 *   - start to ready: spawn -> first kernel_info_reply (median of 5 starts)
 *   - trivial typed cell p50/p90: execute_request -> reply + idle, for `1 + 1` repeated and
 *     for a fresh typed declaration per cell (each one a new program for the checker)
 *   - widget update round trip p50: comm_msg {method: "update"} on an IntSlider -> idle
 * Peers (tslab, Deno) are measured when installed; otherwise the anchors from anchors.md.
 * Run: npm run build && node dist/bench/kernel-latency/run.js [--iterations N]
 */
import { spawnSync } from "node:child_process";
import { loadavg, cpus } from "node:os";
import { launchKernel } from "../../kernel/client/launch.js";

const iterations = Number(process.argv[process.argv.indexOf("--iterations") + 1]) || 200;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

function installed(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

async function main(): Promise<void> {
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model}, node ${process.version}, load average ${loadavg().map((x) => x.toFixed(1)).join(" ")}`);
  const starts: number[] = [];
  for (let i = 0; i < 5; i++) {
    const k = await launchKernel();
    starts.push(k.startMs);
    await k.shutdown();
  }
  const k = await launchKernel();
  const c = k.client;
  const tFirst = performance.now();
  await c.execute("const warm: number = 1;\nwarm");
  const firstCell = performance.now() - tFirst;

  const time = async (code: (i: number) => string, n: number) => {
    const ts: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      const r = await c.execute(code(i));
      ts.push(performance.now() - t);
      if (r.reply.content.status !== "ok") throw new Error(`cell failed: ${JSON.stringify(r.error)}`);
    }
    return ts;
  };
  await time(() => "1 + 1", 20);
  const same = await time(() => "1 + 1", iterations);
  const fresh = await time((i) => `const v${i}: number = ${i};\nv${i} + 1`, Math.min(iterations, 100));

  const setup = await c.execute("const s = new widgets.IntSlider({ value: 0, min: 0, max: 1000000 });\ndisplay(s);\nlet changes = 0;\ns.observe('value', () => { changes++; });");
  if (setup.reply.content.status !== "ok") throw new Error(`widget setup failed: ${JSON.stringify(setup.error)}`);
  const open = setup.iopub.find((m) => m.header.msg_type === "comm_open" && (m.content as any).data?.state?._model_name === "IntSliderModel");
  if (!open) throw new Error("no IntSlider comm_open");
  const commId = (open.content as { comm_id: string }).comm_id;
  const rt: number[] = [];
  for (let i = 1; i <= iterations; i++) {
    const t = performance.now();
    await c.request("shell", "comm_msg", { comm_id: commId, data: { method: "update", state: { value: i }, buffer_paths: [] } }, { needReply: false });
    rt.push(performance.now() - t);
  }
  const changes = (await c.execute("changes")).result?.["text/plain"];
  if (changes !== String(iterations)) throw new Error(`observer saw ${changes} changes, expected ${iterations}`);
  await k.shutdown();

  const f = (x: number) => x.toFixed(1);
  console.log(`\n| kernel | start to ready (median of 5) | trivial cell p50 / p90 | typed fresh-declaration cell p50 / p90 | widget update round trip p50 / p90 | first cell (checker warm-up) |`);
  console.log(`|---|---|---|---|---|---|`);
  console.log(`| sparselab | ${(pct(starts, 50) / 1000).toFixed(2)} s | ${f(pct(same, 50))} / ${f(pct(same, 90))} ms | ${f(pct(fresh, 50))} / ${f(pct(fresh, 90))} ms | ${f(pct(rt, 50))} / ${f(pct(rt, 90))} ms | ${(firstCell / 1000).toFixed(2)} s |`);
  for (const [name, cmd, anchor] of [
    ["tslab", "tslab", "1.0 s, 9.9 / 14.8 ms (anchors.md; no comms)"],
    ["Deno", "deno", "0.57 s, 2.3 / 3.1 ms untyped (anchors.md; kernel -> front-end widgets only)"],
  ] as const) {
    console.log(`| ${name} | ${installed(cmd) ? "installed but not driven by this bench" : `not installed; anchor: ${anchor}`} | | | | |`);
  }
  console.log(`\ngoals: start <= 1.0 s, typed trivial cell p50 <= 10 ms, widget round trip p50 <= 5 ms`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
