// The CUDA runtime's figures: createBlockMask on the GPU against PyTorch's create_block_mask (peer
// figures from bench/gpu/peer_block_mask.py run in the same device call, passed as a JSONL file)
// and against the host's createBlockMask; the document mask's time taken apart; "mask + attention"
// end to end with host, round-tripped and device block masks; host<->device copy rates.
//   node .gpu-x/bench-gpu-runtime.mjs peer_block_mask.jsonl
import { readFileSync, existsSync } from "node:fs";
import * as sl from "../../lib/index.js";
import { Tensor } from "../../lib/tensor/tensor.js";
import { cudaRuntime, cudaFailure } from "../../lib/backends/cuda/runtime.js";
import { blockMaskDefines, cudaBlockMaskOnDevice, cudaCreateBlockMask } from "../../lib/backends/cuda/sparse.js";
import { toDevice, toHost } from "../../lib/backends/cuda/device-tensor.js";

const rt = cudaRuntime();
if (!rt) {
  console.log(`no CUDA: ${cudaFailure()}`);
  process.exit(0);
}
// Registers the CUDA ops for sl.attention (sl.ready() imports the backend by path, which a bundle cannot).
(await import("../../lib/backends/cuda/index.js")).load();
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
const rows: string[][] = [["mask", "GPU, arrays on device (ms)", "p90 (ms)", "GPU -> host BlockMask (ms)", "host createBlockMask (ms)", "create_block_mask (ms)", "peer / ours (device)"]];
const quantile = (a: number[], p: number) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(a.length * p))];
for (const [name, m] of masks) {
  const opts = { H, qLen: S, kvLen: S, blockSize: 128 };
  cudaBlockMaskOnDevice(m, opts).dispose(); // compile once, tables uploaded once per mask
  // CUDA events around the whole call (host work included: the GPU is idle when the first event is recorded).
  const dev = rt.time(() => cudaBlockMaskOnDevice(m, opts).dispose(), 30, 5);
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
  rows.push([name, dev.median.toFixed(3), quantile(dev.all, 0.9).toFixed(3), median(toHostMs).toFixed(2), median(hostMs).toFixed(2), p?.toFixed(1) ?? "-", p ? `${(p / dev.median).toFixed(0)}x` : "-"]);
}
for (const r of rows) console.log(r.join(" | "));

// Where the document mask's time went before per-mask caching: each call printed the kernel
// source (codegen) and uploaded the mask's two 16384-entry tables through pinned staging. A fresh
// mask object each call takes that path again (plus one device sync after the upload).
{
  const opts = { H, qLen: S, kvLen: S, blockSize: 128 };
  const docMask = () => sl.masks.document(doc);
  const cached = docMask();
  cudaBlockMaskOnDevice(cached, opts).dispose();
  const rounds = [0, 1, 2].map(() => rt.time(() => cudaBlockMaskOnDevice(cached, opts).dispose(), 30, 3).median);
  const freshMasks = Array.from({ length: 17 }, docMask);
  const fresh = rt.time(() => cudaBlockMaskOnDevice(freshMasks.pop()!, opts).dispose(), 15, 2);
  const gen: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t0 = performance.now();
    blockMaskDefines(cached.program!);
    gen.push(performance.now() - t0);
  }
  const upload = rt.time(() => {
    for (const t of cached.program!.tables) toDevice(new Tensor([t.length], "i32", t as Int32Array)).dispose();
  }, 30, 3);
  console.log(`document mask, CUDA-event ms of the whole call: cached (3 rounds of 30) ${rounds.map((x) => x.toFixed(3)).join(" / ")}; ` +
    `uncached (fresh mask object: codegen + 2 table uploads + sync + launch) median ${fresh.median.toFixed(3)}, max ${Math.max(...fresh.all).toFixed(3)}; ` +
    `codegen alone (host) ${median(gen).toFixed(3)}; 2 table uploads alone ${upload.median.toFixed(3)} (max ${Math.max(...upload.all).toFixed(3)})`);
}

// End to end, "build the mask, then attention", S=16384 H=16 D=128 bf16, wall clock from idle
// GPU to finished output: the host mask (attention uploads its arrays), the GPU mask copied back
// to a host BlockMask (then uploaded again), and the device mask (arrays stay on the GPU).
{
  const D = 128;
  const x = sl.randn([1, H, S, D], { seed: 7 }).astype("bf16");
  const q = toDevice(x);
  x.dispose();
  const e2e: [string, sl.Mask][] = [["window1024", sl.masks.slidingWindow(1024)], ["document", sl.masks.document(doc)]];
  const e2eRows: string[] = [];
  for (const [name, m] of e2e) {
    const opts = { H, qLen: S, kvLen: S, blockSize: 128 };
    // `owned`: the mask is built per call and freed after it; a prebuilt one is kept (attention
    // refuses a disposed device mask: its arrays would be freed memory).
    const run = async (build: () => sl.BlockMaskFields | Promise<sl.BlockMaskFields>, owned = true, reps = 15) => {
      const all: number[] = [];
      for (let i = 0; i < reps + 3; i++) {
        rt.sync();
        const t0 = performance.now();
        const bm = await build();
        const out = await sl.attention(q, q, q, { blockMask: bm });
        rt.sync();
        const dt = performance.now() - t0;
        out.dispose();
        if (owned && bm instanceof sl.DeviceBlockMask) bm.dispose();
        if (i >= 3) all.push(dt);
      }
      return median(all);
    };
    const hostPath = await run(() => sl.createBlockMask(m, opts));
    const roundTrip = await run(() => cudaCreateBlockMask(m, opts));
    const devicePath = await run(() => sl.createBlockMask(m, { ...opts, device: "cuda" }));
    const prebuilt = sl.createBlockMask(m, { ...opts, device: "cuda" });
    const attnOnly = await run(() => prebuilt, false);
    e2eRows.push(`${name} | ${hostPath.toFixed(3)} | ${roundTrip.toFixed(3)} | ${devicePath.toFixed(3)} | ${attnOnly.toFixed(3)} | ${(hostPath / devicePath).toFixed(2)}x`);
    prebuilt.dispose();
  }
  q.dispose();
  console.log(`mask + attention, S=${S} H=${H} D=128 bf16, wall ms (median of 15, synchronised):`);
  console.log("mask | host createBlockMask + attention | GPU mask -> host BlockMask + attention | device mask + attention | attention alone (mask built, plan cached) | host path / device path");
  for (const r of e2eRows) console.log(r);
}

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
