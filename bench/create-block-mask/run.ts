/**
 * createBlockMask benchmark: sliding window 256, causal and a 16-document (causal inside each
 * document) mask, H = 16, block 128, at qLen = kvLen = 16384 / 65536 / 131072.
 *
 *   npx tsc -p . && node --expose-gc dist/bench/create-block-mask/run.js [--quick] [--json out.json]
 *
 * Reports the median time of several runs, and memory: the bytes the BlockMask holds (its four
 * int32 arrays: FlexAttention's layout is [B, H, qBlocks, kvBlocks] per index list), and the
 * growth of process arrayBuffers / RSS across the call (after a GC). Also times the same masks
 * with B / H omitted (one broadcast row set) to separate tile classification from the copies,
 * and the expression-language version of the window. Anchor: PyTorch create_block_mask, sliding
 * window, S = 16384, H = 16: 37.7 ms on an H100 (shared/docs/anchors.md).
 */
import { writeFileSync } from "node:fs";
// Imports the modules it measures directly (not lib/index.js), so it runs with no other package installed.
import * as masks from "../../lib/attention/masks/index.js";
import { mask } from "../../lib/attention/dsl/mask.js";
import { createBlockMask } from "../../lib/attention/create-block-mask.js";
import type { Mask } from "../../lib/attention/types.js";

const sl = { masks, mask, createBlockMask };

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const jsonOut = args.includes("--json") ? args[args.indexOf("--json") + 1] : undefined;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function docIds(n: number, docs: number): Int32Array {
  const ids = new Int32Array(n);
  for (let i = 0; i < n; i++) ids[i] = Math.floor((i * docs) / n);
  return ids;
}

interface Row {
  mask: string;
  S: number;
  H: number | "broadcast";
  medianMs: number;
  runs: number;
  heldMiB: number;
  arrayBuffersMiB: number;
  rssMiB: number;
  blockDensity: number;
}

const sizes = quick ? [16384] : [16384, 65536, 131072];
const rows: Row[] = [];
for (const S of sizes) {
  const masks: [string, () => Mask][] = [
    ["sliding_window_256", () => sl.masks.slidingWindow(256)],
    ["causal", () => sl.masks.causal()],
    ["document_16_causal", () => sl.masks.document(docIds(S, 16), sl.masks.causal())],
    ["expr: q >= kv and q - kv < 256", () => sl.mask("q >= kv and q - kv < w", { w: 256 })],
  ];
  for (const [name, make] of masks) {
    const m = make();
    for (const H of [16, undefined]) {
      const runs = S <= 16384 ? 7 : S <= 65536 ? 5 : 3;
      const times: number[] = [];
      let mem = { ab: 0, rss: 0, held: 0, density: 0 };
      for (let r = 0; r < runs; r++) {
        gc();
        const before = process.memoryUsage();
        const t0 = performance.now();
        const bm = sl.createBlockMask(m, { H, qLen: S, kvLen: S, blockSize: 128 });
        const t1 = performance.now();
        times.push(t1 - t0);
        if (r === 0) {
          const after = process.memoryUsage();
          const held = bm.kvNumBlocks.nbytes + bm.kvIndices.nbytes + bm.fullKvNumBlocks.nbytes + bm.fullKvIndices.nbytes;
          mem = { ab: after.arrayBuffers - before.arrayBuffers, rss: after.rss - before.rss, held, density: bm.density({ level: "block", denominator: "full" }) };
        }
        for (const t of [bm.kvNumBlocks, bm.kvIndices, bm.fullKvNumBlocks, bm.fullKvIndices]) t.dispose();
      }
      const row: Row = {
        mask: name,
        S,
        H: H ?? "broadcast",
        medianMs: +median(times).toFixed(3),
        runs,
        heldMiB: +(mem.held / 2 ** 20).toFixed(2),
        arrayBuffersMiB: +(mem.ab / 2 ** 20).toFixed(2),
        rssMiB: +(mem.rss / 2 ** 20).toFixed(2),
        blockDensity: +mem.density.toFixed(5),
      };
      rows.push(row);
      console.log(
        `${name.padEnd(32)} S=${String(S).padStart(6)} H=${String(row.H).padEnd(9)} median ${row.medianMs.toFixed(2).padStart(9)} ms (${runs} runs)  held ${row.heldMiB} MiB  arrayBuffers +${row.arrayBuffersMiB} MiB  rss +${row.rssMiB} MiB  block density ${(row.blockDensity * 100).toFixed(3)}%`,
      );
    }
  }
}
const sw = rows.find((r) => r.mask === "sliding_window_256" && r.S === 16384 && r.H === 16);
if (sw) console.log(`\nsliding window 256, S=16384, H=16: ${sw.medianMs} ms here vs 37.7 ms PyTorch create_block_mask on H100 (anchor): ratio ${(37.7 / sw.medianMs).toFixed(1)}x`);
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(rows, null, 1));
