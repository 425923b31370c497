// Child process of isa.test.ts: runs a few ops on whichever kernel set SPARSELAB_ISA picked
// (and the pool size SPARSELAB_THREADS set) and checks them against the JS reference.
// Prints the ISA on the first line; exits non-zero on any mismatch.
import * as sl from "../../../lib/index.js";
import { attentionInto, loadAddon, matmulInto, softmaxInto } from "../../../lib/backends/cpu/index.js";
import { assertClose, freshSeed, randn } from "./helpers.js";

async function main(): Promise<void> {
  await sl.ready();
  const info = loadAddon().info();
  console.log(JSON.stringify(info));
  const seed = freshSeed();
  const S = 211;
  const q = randn([1, 4, S, 80], seed);
  const k = randn([1, 2, S, 80], seed + 1);
  const v = randn([1, 2, S, 80], seed + 2);
  const masks: (sl.BlockMask | undefined)[] = [
    undefined,
    sl.createBlockMask(sl.masks.causal(), { qLen: S, kvLen: S, blockSize: 64 }),
    sl.createBlockMask(sl.mask((_b, h, q, kv) => kv <= q && (q - kv) % (h + 2) !== 1), { H: 4, qLen: S, kvLen: S, blockSize: 32 }),
  ];
  for (const bm of masks) {
    const out = new Float32Array(4 * S * 80).fill(NaN);
    await attentionInto({ q, k, v, blockMask: bm, scoreMod: sl.scoreMods.softcap(3), scale: 0.1, returnLse: false }, out);
    const ref = await sl.attention(q, k, v, { blockMask: bm, scoreMod: sl.scoreMods.softcap(3), scale: 0.1, backend: "js" });
    assertClose(out, await ref.toTypedArray(), 2e-5, `${info.isa} attention ${bm ? bm.toString().split("\n")[0] : "dense"} (seed ${seed})`);
  }
  const a = randn([67, 129], seed + 3);
  const b = randn([129, 45], seed + 4);
  const mo = new Float32Array(67 * 45).fill(NaN);
  await matmulInto(a, b, {}, mo);
  assertClose(mo, await (await sl.matmul(a, b, { backend: "js" })).toTypedArray(), 2e-5, `${info.isa} matmul (seed ${seed})`);
  const so = new Float32Array(a.size).fill(NaN);
  await softmaxInto(a, {}, so);
  assertClose(so, await (await sl.softmax(a, { backend: "js" })).toTypedArray(), 1e-6, `${info.isa} softmax (seed ${seed})`);
}

main().catch((e) => {
  console.error(String((e as Error).stack ?? e));
  process.exit(1);
});
