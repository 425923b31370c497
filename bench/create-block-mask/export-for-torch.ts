/**
 * Writes block masks as safetensors for torch_check.py, which rebuilds them with PyTorch's
 * BlockMask.from_kv_blocks and compares them with PyTorch's own create_block_mask.
 *
 *   npx tsc -p . && node dist/bench/create-block-mask/export-for-torch.js OUT_DIR
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as masks from "../../lib/attention/masks/index.js";
import { createBlockMask } from "../../lib/attention/create-block-mask.js";

const out = process.argv[2] ?? ".cache/masks-bench/export";
mkdirSync(out, { recursive: true });
const docIds = (n: number, docs: number) => Int32Array.from({ length: n }, (_, i) => Math.floor((i * docs) / n));
const cases = [
  { file: "causal_1000.safetensors", mask: masks.causal(), qLen: 1000, kvLen: 1000, blockSize: 128 as const },
  { file: "sliding_window_256_4096.safetensors", mask: masks.slidingWindow(256), qLen: 4096, kvLen: 4096, blockSize: [128, 64] as [number, number] },
  { file: "document_16_causal_3000.safetensors", mask: masks.document(docIds(3000, 16), masks.causal()), qLen: 3000, kvLen: 3000, blockSize: 128 as const },
  { file: "prefix_lm_300_2000.safetensors", mask: masks.prefixLM(300), qLen: 2000, kvLen: 2000, blockSize: 128 as const },
];
for (const c of cases) {
  const bm = createBlockMask(c.mask, { H: 2, qLen: c.qLen, kvLen: c.kvLen, blockSize: c.blockSize });
  writeFileSync(join(out, c.file), await bm.toSafetensors());
  console.log(`${c.file}: ${bm.toString().split("\n")[0]}`);
}
