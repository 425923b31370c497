import { test } from "node:test";
import assert from "node:assert/strict";
import * as sl from "../../../lib/index.js";
import { freshSeed } from "./helpers.js";

test("compare: one row per method plus dense; a mask keeping every causal tile has recall 1 and no error", async () => {
  const seed = freshSeed();
  const w = sl.workloads.llmLike({ S: 256, H: 2, D: 32, seed });
  const t = await sl.compare(
    {
      everything: (q, k) => sl.dynamic.minferenceBlockSparse(q, k, { blockSize: 32, topK: 8 }),
      sparse: (q, k) => sl.dynamic.aShape(q, k, { sink: 4, local: 32, blockSize: 32 }),
    },
    w.q, w.k, w.v,
  );
  const rows = t.objects() as Record<string, number | string>[];
  assert.deepEqual(rows.map((r) => r.method), ["dense", "everything", "sparse"]);
  for (const c of ["density_block_causal", "density_element_causal", "recall", "rel_l1", "cosine", "flops_ratio", "estimator_ms", "attention_ms", "total_ms", "speedup"])
    assert.ok(t.columnNames().includes(c), `column ${c}`);
  const all = rows[1];
  assert.ok(Math.abs((all.recall as number) - 1) < 1e-5, `seed ${seed}: recall ${all.recall}`);
  assert.ok((all.rel_l1 as number) < 1e-5, `seed ${seed}: rel_l1 ${all.rel_l1}`);
  assert.equal(all.density_element_causal, 1);
  const sp = rows[2];
  assert.ok((sp.recall as number) < 1 && (sp.recall as number) > 0, `seed ${seed}: sparse recall ${sp.recall}`);
  assert.ok((sp.density_element_causal as number) < 0.5, `seed ${seed}: density ${sp.density_element_causal}`);
  // Recall equals the metric computed directly against the causal softmax (brute force here).
  const bm = await sl.dynamic.aShape(w.q, w.k, { sink: 4, local: 32, blockSize: 32 });
  const qs = w.q.floatData(), ks = w.k.floatData();
  let tot = 0;
  for (let h = 0; h < 2; h++)
    for (let i = 0; i < 256; i++) {
      const s = Array.from({ length: i + 1 }, (_, j) => { let d = 0; for (let x = 0; x < 32; x++) d += qs[(h * 256 + i) * 32 + x] * ks[(h * 256 + j) * 32 + x]; return d / Math.sqrt(32); });
      const m = Math.max(...s);
      const z = s.reduce((a, x) => a + Math.exp(x - m), 0);
      tot += s.reduce((a, x, j) => a + (bm.mask!.at(0, h, i, j) ? Math.exp(x - m) / z : 0), 0);
    }
  assert.ok(Math.abs(tot / 512 - (sp.recall as number)) < 1e-4, `seed ${seed}: recall ${sp.recall} vs brute force ${tot / 512}`);
  await assert.rejects(sl.compare({}, w.q, w.k, w.v), /compare: argument 'methods'/);
});
