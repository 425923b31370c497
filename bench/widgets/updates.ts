/**
 * Kernel-side cost of front-end widget updates, in process (no sockets): how fast the widget
 * layer applies `update` messages (check, echo_update, observers) and whether 10,000 of them
 * grow memory. The peer, measured in the same run, is the least any kernel must do per update:
 * copy the state and send the echo. The socket round trip is the kernel's benchmark
 * (bench/kernel-latency).
 *   npx tsc -p . && node dist/bench/widgets/updates.js [N]
 */
import { setKernelComms, type KernelComms } from "../../widgets/comm.js";
import { IntSlider, Dropdown, closeAll } from "../../widgets/index.js";

const N = Number(process.argv[2] ?? 10_000);

let sent = 0;
const handlers = new Map<string, (d: any, b: Uint8Array[], p: string) => void | Promise<void>>();
const sink: KernelComms = {
  open: () => {},
  send: (_id, data) => {
    sent += JSON.stringify(data).length > 0 ? 1 : 0; // serialise as the wire would
  },
  close: () => {},
  onMsg: (id, h) => void handlers.set(id, h),
  onClose: () => {},
  registerTarget: () => {},
  list: () => new Map(),
  display: () => {},
  clearOutput: () => {},
  currentParentMsgId: () => "bench",
};
setKernelComms(sink);

/** Best of 5 interleaved rounds (the box is shared and loaded: the minimum is the cost). */
async function timeRounds(variants: [string, (i: number) => void | Promise<void>][]): Promise<number[]> {
  const best = variants.map(() => Infinity);
  for (const [, fn] of variants) for (let i = 0; i < 500; i++) await fn(i); // warm-up
  for (let round = 0; round < 5; round++) {
    for (const [j, [, fn]] of variants.entries()) {
      const t0 = performance.now();
      for (let i = 0; i < N; i++) await fn(i);
      best[j] = Math.min(best[j]!, ((performance.now() - t0) * 1000) / N);
    }
  }
  variants.forEach(([label], j) => console.log(`${label.padEnd(44)} ${best[j]!.toFixed(2)} us/update (best of 5)`));
  return best;
}

const s = new IntSlider({ max: 1_000_000 });
const d = new Dropdown({ options: ["a", "b", "c", "d"] });
let observed = 0;
s.observe("value", () => void observed++);
d.observe("value", () => void observed++);
s.show();
d.show();
await new Promise((r) => setImmediate(r));
const hs = handlers.get(s.model_id)!;
const hd = handlers.get(d.model_id)!;

const [peer, slider, dropdown] = (await timeRounds([
  ["peer: copy state + send echo", (i) => {
    const data = { method: "update", state: { value: i }, buffer_paths: [] };
    const copy = JSON.parse(JSON.stringify(data.state));
    sink.send("x", { method: "echo_update", state: copy, buffer_paths: [] });
  }],
  ["IntSlider update (check, echo, observer)", (i) => hs({ method: "update", state: { value: i }, buffer_paths: [] }, [], "m")],
  ["Dropdown update (index -> value, label)", (i) => hd({ method: "update", state: { index: i % 4 }, buffer_paths: [] }, [], "m")],
])) as [number, number, number];

global.gc?.();
const rss0 = process.memoryUsage().rss;
const heap0 = process.memoryUsage().heapUsed;
for (let i = 0; i < N; i++) await hs({ method: "update", state: { value: i }, buffer_paths: [] }, [], "m");
global.gc?.();
const rss1 = process.memoryUsage().rss;
const heap1 = process.memoryUsage().heapUsed;
console.log(`ratio slider/peer ${(slider / peer).toFixed(1)}x, dropdown/peer ${(dropdown / peer).toFixed(1)}x`);
console.log(`${N} more updates: heap ${((heap1 - heap0) / 1024).toFixed(0)} KiB, rss ${((rss1 - rss0) / 1024).toFixed(0)} KiB (run with --expose-gc for exact heap)`);
console.log(`(${observed} observer calls, ${sent} messages sent)`);
closeAll();
