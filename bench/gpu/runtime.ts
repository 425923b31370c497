// The CUDA runtime's figures: createBlockMask on the GPU against PyTorch's create_block_mask (peer
// figures from bench/gpu/peer_block_mask.py run in the same device call, passed as a JSONL file)
// and against the host's createBlockMask; and host<->device copy rates through pinned staging.
//   node .gpu-x/bench-gpu-runtime.mjs peer_block_mask.jsonl
import { readFileSync, existsSync } from "node:fs";
import * as sl from "../../lib/index.js";
import { Tensor } from "../../lib/tensor/tensor.js";
import { cudaRuntime, cudaFailure } from "../../lib/backends/cuda/runtime.js";
import { cudaBlockMaskOnDevice, cudaCreateBlockMask } from "../../lib/backends/cuda/sparse.js";
import { toDevice, toHost } from "../../lib/backends/cuda/device-tensor.js";

const rt = cudaRuntime();
if (!rt) {
  console.log(`no CUDA: ${cudaFailure()}`);
  process.exit(0);
}
const peerFile = process.argv[2];
const peer = new Map<string, number>();
if (peerFile && existsSync(peerFile))
  for (const line of readFileSync(peerFile, "utf8").split("\n"))
    if (line.startsWith("{")) {
      const r = JSON.parse(line) as { mask: string; ms: number };
      peer.set(r.mask, r.ms);
    }

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const S = 16384, H = 16;
const doc = new Int32Array(S).map((_, i) => Math.floor(i / 1024));
const masks: [string, sl.Mask][] = [
  ["window256", sl.masks.slidingWindow(256)],
  ["window1024", sl.masks.slidingWindow(1024)],
  ["window4096", sl.masks.slidingWindow(4096)],
  ["causal", sl.masks.causal()],
  ["document", sl.masks.document(doc)],
  ["head_dependent", sl.mask("q >= kv and q - kv < 256 * (h + 1)")],
];
console.log(`# ${rt.info.name} ${rt.arch}, driver ${rt.info.driverVersion}, NVRTC ${rt.info.nvrtcVersion}; S=${S}, H=${H}, B=1, 128x128 blocks`);
const rows: string[][] = [["mask", "GPU, arrays on device (ms)", "GPU -> host BlockMask (ms)", "host createBlockMask (ms)", "create_block_mask (ms)", "peer / ours (device)"]];
for (const [name, m] of masks) {
  const opts = { H, qLen: S, kvLen: S, blockSize: 128 };
  cudaBlockMaskOnDevice(m, opts).dispose(); // compile once
  const dev = rt.time(() => cudaBlockMaskOnDevice(m, opts).dispose(), 30, 5).median;
  const toHostMs: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    await cudaCreateBlockMask(m, opts);
    toHostMs.push(performance.now() - t0);
  }
  const hostMs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    sl.createBlockMask(m, opts);
    hostMs.push(performance.now() - t0);
  }
  const p = peer.get(name);
  rows.push([name, dev.toFixed(3), median(toHostMs).toFixed(2), median(hostMs).toFixed(2), p?.toFixed(1) ?? "-", p ? `${(p / dev).toFixed(0)}x` : "-"]);
}
for (const r of rows) console.log(r.join(" | "));

// Copies: 64 MiB each way, through the pinned staging pool (second and later runs reuse it).
const n = 16 << 20;
const host = new Tensor([n], "f32", new Float32Array(n).map((_, i) => i % 1000));
const rate = (ms: number) => `${((n * 4) / 1e6 / ms).toFixed(1)} GB/s`;
const h2d: number[] = [], d2h: number[] = [], h2dSync: number[] = [];
for (let i = 0; i < 5; i++) {
  rt.sync();
  let t0 = performance.now();
  const d = toDevice(host);
  await sl.cuda.synchronize();
  h2d.push(performance.now() - t0);
  t0 = performance.now();
  const back = await toHost(d);
  d2h.push(performance.now() - t0);
  if (i === 0 && (back.data as Float32Array)[12345] !== 345) throw new Error("copy round trip is wrong");
  t0 = performance.now();
  rt.b.htod(sl.cuda.devicePtr(d), host.data); // the synchronous pageable copy, for reference
  h2dSync.push(performance.now() - t0);
  d.dispose();
}
console.log(`copies 64 MiB: toDevice (pinned staging, async) ${median(h2d).toFixed(2)} ms = ${rate(median(h2d))}; ` +
  `toHost ${median(d2h).toFixed(2)} ms = ${rate(median(d2h))}; pageable cuMemcpyHtoD ${median(h2dSync).toFixed(2)} ms = ${rate(median(h2dSync))}`);
// Where copy time goes: the DMA alone (pinned staging <-> device), the host memcpy in and out
// of staging, and async copies straight from pageable memory.
{
  const bytes = n * 4;
  const st = rt.acquireStaging(bytes);
  const view = new Uint8Array(st, 0, bytes);
  const src = new Uint8Array(host.data.buffer, host.data.byteOffset, bytes);
  const d = toDevice(host);
  const ptr = sl.cuda.devicePtr(d);
  const t = { dmaH2D: [] as number[], dmaD2H: [] as number[], fill: [] as number[], slice: [] as number[], pageableAsyncH2D: [] as number[], pageableAsyncD2H: [] as number[], hostAlloc: [] as number[] };
  const pageable = new Uint8Array(bytes);
  for (let i = 0; i < 5; i++) {
    rt.sync();
    let t0 = performance.now();
    rt.b.htodAsync(ptr, view, 0);
    rt.sync();
    t.dmaH2D.push(performance.now() - t0);
    t0 = performance.now();
    rt.b.dtohAsync(view, ptr, 0);
    rt.sync();
    t.dmaD2H.push(performance.now() - t0);
    t0 = performance.now();
    view.set(src);
    t.fill.push(performance.now() - t0);
    t0 = performance.now();
    st.slice(0, bytes);
    t.slice.push(performance.now() - t0);
    t0 = performance.now();
    rt.b.htodAsync(ptr, pageable, 0);
    rt.sync();
    t.pageableAsyncH2D.push(performance.now() - t0);
    t0 = performance.now();
    rt.b.dtohAsync(pageable, ptr, 0);
    rt.sync();
    t.pageableAsyncD2H.push(performance.now() - t0);
    if (i < 2) {
      t0 = performance.now();
      rt.b.hostAlloc(bytes);
      t.hostAlloc.push(performance.now() - t0);
    }
  }
  d.dispose();
  console.log(`64 MiB breakdown (median ms): ${Object.entries(t).map(([k, v]) => `${k} ${median(v).toFixed(2)}`).join(", ")}`);
}
console.log(`memory: ${JSON.stringify(rt.memory())}`);
