/**
 * What a view costs beside the computation it shows, on the current backend:
 *  - mask explorer: one recomputation (block mask, density, recall, one timed attention, the
 *    figure) against its peer, the one sl.attention call it times;
 *  - attentionMap: one head's pooled probability map (row chunks through sl.matmul) against
 *    its peer, sl.attention over the same single head;
 *  - blockMaskView on a 128×128-tile mask against createBlockMask of that mask.
 * Best of `rounds` interleaved rounds.
 *
 *   node dist/bench/viz/views.js [S=2048] [rounds=3]
 */
import * as sl from "../../lib/index.js";
import * as w from "../../widgets/index.js";

async function best(rounds: number, fns: Record<string, () => Promise<unknown> | unknown>): Promise<Record<string, number>> {
  const out: Record<string, number> = Object.fromEntries(Object.keys(fns).map((k) => [k, Infinity]));
  for (let r = 0; r < rounds; r++)
    for (const [k, fn] of Object.entries(fns)) {
      const t0 = performance.now();
      await fn();
      out[k] = Math.min(out[k], performance.now() - t0);
    }
  return out;
}

async function main(): Promise<void> {
  await sl.ready();
  const S = Number(process.argv[2] ?? 2048), rounds = Number(process.argv[3] ?? 3);
  const H = 4, D = 64;
  const q = sl.randn([1, H, S, D], { seed: 1 }), k = sl.randn([1, H, S, D], { seed: 2 }), v = sl.randn([1, H, S, D], { seed: 3 });
  const q1 = sl.randn([1, 1, S, D], { seed: 4 }), k1 = sl.randn([1, 1, S, D], { seed: 5 }), v1 = sl.randn([1, 1, S, D], { seed: 6 });
  const backend = sl.backends().filter((b) => (b as any).available !== false).map((b) => b.name);
  w.setKernelComms(undefined);
  const ui = w.maskExplorer({ q, k, v, repeats: 1, masks: ["slidingWindow"], blockSizes: [64] });
  const settleUi = async () => {
    await new Promise((r) => setImmediate(r));
    while ((ui as any)._running) await (ui as any)._running;
  };
  await settleUi();
  let win = 256;
  const bm = sl.createBlockMask(sl.masks.slidingWindow(S / 8), { qLen: S, kvLen: S, blockSize: 64 });
  const big = sl.masks.slidingWindow(S / 4);
  const bigBm = sl.createBlockMask(big, { qLen: 128 * 16, kvLen: 128 * 16, blockSize: 16 });
  const t = await best(rounds, {
    explorer: async () => {
      win = win === S / 8 ? S / 8 + 1 : S / 8; // a real change each round
      ui.controls.window.value = win;
      await settleUi();
    },
    explorerPeer: async () => (await sl.attention(q, k, v, { blockMask: bm })).dispose(),
    attentionMap: () => sl.viz.attentionMap(q1, k1, { maxCells: 256 }),
    attentionMapPeer: async () => (await sl.attention(q1, k1, v1)).dispose(),
    blockMaskView: () => sl.viz.blockMaskView(bigBm),
    blockMaskViewPeer: () => sl.createBlockMask(big, { qLen: 128 * 16, kvLen: 128 * 16, blockSize: 16 }),
  });
  const view = ui.view!;
  console.log(`S=${S} H=${H} D=${D}, explorer backend ${view.backend}; backends ${backend.join(", ")}; best of ${rounds}`);
  const row = (name: string, a: number, b: number, peer: string) => console.log(`| ${name} | ${a.toFixed(1)} | ${peer} | ${b.toFixed(1)} | ${(a / b).toFixed(2)}x |`);
  console.log("| view | ms | peer | peer ms | ratio |\n|---|---|---|---|---|");
  row(`maskExplorer recompute (window ${S / 8}, blocks 64)`, t.explorer, t.explorerPeer, "sl.attention with that block mask");
  row(`attentionMap, 1 head, ${S}² → 256² max-pooled`, t.attentionMap, t.attentionMapPeer, "sl.attention, 1 head, dense");
  row("blockMaskView, 128×128 tiles", t.blockMaskView, t.blockMaskViewPeer, "createBlockMask of that mask");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
