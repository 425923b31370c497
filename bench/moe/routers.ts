/**
 * Routing time of every router kind on T = 4096 tokens, E = 64 experts (k = 6 where the router
 * takes a k), dropless, through `sl.moe.route` (JS: router + capacity bookkeeping + losses).
 * Peer, in the same run: the bare softmax and top-k over the same logits on the fastest backend
 * (native cpu when loaded): the least work any softmax-topk router must do.
 *
 *   npx tsc -p . && node dist/bench/moe/routers.js [--runs N]
 */
import * as sl from "../../lib/index.js";
import { resolveOp } from "../../lib/backends/registry.js";
import type { SoftmaxImpl, TopkImpl } from "../../lib/backends/ops.js";

const argv = process.argv.slice(2);
const runsArg = argv.indexOf("--runs");
const RUNS = runsArg >= 0 ? Number(argv[runsArg + 1]) : 5;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

await sl.ready();
const T = 4096, E = 64, k = 6;
const logits = sl.moe.randomLogits(T, E, { seed: 1, skew: 0.3 });
const tokenIds = Array.from({ length: T }, (_, i) => (i * 7919) % 50000);
const softmax = resolveOp<SoftmaxImpl>("softmax");
const topk = resolveOp<TopkImpl>("topk");
const peer: number[] = [];
for (let i = 0; i <= RUNS; i++) {
  const t0 = performance.now();
  const p = await softmax.impl(logits, {});
  const r = await topk.impl(p, k, {});
  if (i > 0) peer.push(performance.now() - t0);
  p.dispose();
  r.values.dispose();
  r.indices.dispose();
}
const peerMs = median(peer);
console.log(`T ${T}, E ${E}, k ${k} (switch 1, gshard 2), median of ${RUNS}; peer: ${softmax.backend} softmax + ${topk.backend} topk = ${peerMs.toFixed(2)} ms`);
const cases: [string, sl.moe.RouteOptions][] = [
  ["softmax-topk", { router: "softmax-topk", k, normalize: true }],
  ["topk-softmax", { router: "topk-softmax", k }],
  ["noisy-topk", { router: "noisy-topk", k, seed: 1 }],
  ["switch", { router: "switch" }],
  ["gshard", { router: "gshard", secondPolicy: "random", seed: 1 }],
  ["deepseek-v3 (8 groups, 4 kept)", { router: "deepseek-v3", k, nGroup: 8, topkGroup: 4, scale: 2.5 }],
  ["expert-choice (CF k)", { router: "expert-choice", capacityFactor: k }],
  ["hash", { router: "hash", k, tokenIds }],
  ["sinkhorn (tol 1e-4)", { router: "sinkhorn", k }],
  ["softmax-topk, CF 1.0, probs policy", { router: "softmax-topk", k, capacityFactor: 1, dropPolicy: "probs" }],
];
for (const [name, opts] of cases) {
  const times: number[] = [];
  let rec: sl.moe.RoutingRecord | null = null;
  for (let i = 0; i <= RUNS; i++) {
    const t0 = performance.now();
    rec = sl.moe.route(logits, opts);
    if (i > 0) times.push(performance.now() - t0);
  }
  const ms = median(times);
  const extra = rec!.details.iterations !== undefined ? `, ${rec!.details.iterations} iterations` : "";
  console.log(`  ${name.padEnd(36)} ${ms.toFixed(2).padStart(8)} ms  ${(ms / peerMs).toFixed(1).padStart(6)}x peer  (dropped ${rec!.dropped.length}${extra})`);
}
