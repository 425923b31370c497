/**
 * Peak memory of the native attention at long sequences: O(S·D) working space, never S×S.
 *
 *   node dist/bench/cpu-attention/rss.js [S=65536] [mask=dense|window]
 *
 * Allocates q, k, v (B1 H2 D64 f32) and the output first, records the RSS, runs one attention
 * (sliding window 1024 by default: the memory does not depend on the mask, the time does),
 * and reports the peak RSS (getrusage maxrss) above that baseline next to S×S×4 bytes (what
 * one materialised f32 score matrix per head would take).
 */
import { resourceUsage } from "node:process";
import * as sl from "../../lib/index.js";
import { attentionInto } from "../../lib/backends/cpu/index.js";

async function main(): Promise<void> {
  await sl.ready();
  const S = Number(process.argv[2] ?? 65536);
  const which = process.argv[3] ?? "window";
  const [H, D] = [2, 64];
  const q = sl.randn([1, H, S, D], { seed: 1 });
  const k = sl.randn([1, H, S, D], { seed: 2 });
  const v = sl.randn([1, H, S, D], { seed: 3 });
  const out = new Float32Array(H * S * D);
  out.fill(0); // touch it so it counts in the baseline
  const bm = which === "dense" ? undefined : sl.createBlockMask(sl.masks.slidingWindow(1024), { qLen: S, kvLen: S });
  const mb = (x: number): string => `${(x / 2 ** 20).toFixed(1)} MiB`;
  const base = process.memoryUsage().rss;
  const peakBefore = resourceUsage().maxRSS * 1024;
  const t0 = performance.now();
  await attentionInto({ q, k, v, blockMask: bm, scale: 1 / Math.sqrt(D), returnLse: true }, out, new Float32Array(H * S));
  const ms = performance.now() - t0;
  const peak = resourceUsage().maxRSS * 1024;
  console.log(`S ${S} H ${H} D ${D} ${which === "dense" ? "dense" : "sliding window 1024"}: ${ms.toFixed(0)} ms`);
  console.log(`inputs+output ${mb(4 * H * S * D * 4)}; RSS before ${mb(base)} (peak so far ${mb(peakBefore)}); peak RSS after ${mb(peak)}; growth ${mb(Math.max(0, peak - Math.max(base, peakBefore)))}`);
  console.log(`one f32 S x S score matrix would be ${mb(S * S * 4)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
