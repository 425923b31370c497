import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as sl from "../../../lib/index.js";
import { freshSeed } from "./helpers.js";

test("llmLike: deterministic per seed, shaped as asked, and its planted structure shows in the attention", async () => {
  const seed = freshSeed();
  const a = sl.workloads.llmLike({ S: 512, H: 4, Hkv: 2, D: 32, seed });
  const b = sl.workloads.llmLike({ S: 512, H: 4, Hkv: 2, D: 32, seed });
  assert.deepEqual(a.q.shape, [1, 4, 512, 32]);
  assert.deepEqual(a.k.shape, [1, 2, 512, 32]);
  assert.deepEqual(Array.from(a.q.floatData().subarray(0, 1000)), Array.from(b.q.floatData().subarray(0, 1000)), `seed ${seed}`);
  assert.match(a.description, /SYNTHETIC/);
  // Sinks and stripes: the mean causal attention on those columns far exceeds a uniform share.
  const qs = a.q.floatData(), ks = a.k.floatData();
  for (const h of [0, 1]) {
    const pat = a.heads[h];
    const marked = new Set([0, 1, 2, 3, ...pat.stripeColumns]);
    let onMarked = 0, uniform = 0;
    for (let i = 256; i < 512; i += 16) {
      const s = Array.from({ length: i + 1 }, (_, j) => { let d = 0; for (let x = 0; x < 32; x++) d += qs[(h * 512 + i) * 32 + x] * ks[((h >> 1) * 512 + j) * 32 + x]; return d / Math.sqrt(32); });
      const m = Math.max(...s);
      const z = s.reduce((acc, x) => acc + Math.exp(x - m), 0);
      s.forEach((x, j) => { if (marked.has(j) && j <= i) { onMarked += Math.exp(x - m) / z; uniform += 1 / (i + 1); } });
    }
    assert.ok(onMarked > 2 * uniform, `seed ${seed}: head ${h} sinks+stripes mass ${onMarked} vs uniform ${uniform}`);
  }
  // Needles: at a needle's first query, its key gets clearly more than a uniform share. A needle
  // can land where a stronger planted pattern (a sink, the local band) wins for that one query,
  // so the check asks it of most needles, not every one (1 in ~150 seeds has one such needle).
  const needles = a.heads[2].needles;
  let clear = 0;
  for (const n of needles) {
    const i = n.qStart;
    const s = Array.from({ length: i + 1 }, (_, j) => { let d = 0; for (let x = 0; x < 32; x++) d += qs[(2 * 512 + i) * 32 + x] * ks[(1 * 512 + j) * 32 + x]; return d / Math.sqrt(32); });
    const m = Math.max(...s);
    const z = s.reduce((acc, x) => acc + Math.exp(x - m), 0);
    if (Math.exp(s[n.key] - m) / z > 10 / (i + 1)) clear++;
  }
  assert.ok(needles.length > 0 && clear * 2 > needles.length, `seed ${seed}: only ${clear} of ${needles.length} needles stand out`);
  assert.throws(() => sl.workloads.llmLike({ H: 4, Hkv: 3 }), /workloads\.llmLike: argument 'Hkv' must be a divisor of H = 4/);
});

test("loadQKV: reads safetensors and .npy written here, converts BSHD, and names what is wrong", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sl-qkv-"));
  try {
    const q = sl.randn([1, 4, 32, 8], { seed: 1 });
    const k = sl.randn([1, 2, 32, 8], { seed: 2 });
    const v = sl.randn([1, 2, 32, 8], { seed: 3 });
    await sl.saveSafetensors(join(dir, "a.safetensors"), { query: q, key: k, value: v });
    const r = await sl.workloads.loadQKV(join(dir, "a.safetensors"), { names: { q: "query", k: "key", v: "value" } });
    assert.deepEqual(Array.from(r.k.floatData()), Array.from(k.floatData()));
    await assert.rejects(sl.workloads.loadQKV(join(dir, "a.safetensors")), /no tensor 'q' for q; it holds: .*query/);
    // BSHD .npy: element (b, s, h, d) must land at (b, h, s, d).
    const bshd = sl.randn([1, 32, 4, 8], { seed: 4 });
    const kb = sl.randn([1, 32, 2, 8], { seed: 5 });
    await sl.saveNpy(join(dir, "q.npy"), bshd);
    await sl.saveNpy(join(dir, "k.npy"), kb);
    await sl.saveNpy(join(dir, "v.npy"), kb);
    const n = await sl.workloads.loadQKV({ q: join(dir, "q.npy"), k: join(dir, "k.npy"), v: join(dir, "v.npy") }, { layout: "BSHD" });
    assert.deepEqual(n.q.shape, [1, 4, 32, 8]);
    const src = bshd.floatData(), dst = n.q.floatData();
    for (const [s, h, d] of [[0, 0, 0], [5, 3, 7], [31, 2, 1]]) assert.equal(dst[(h * 32 + s) * 8 + d], src[(s * 4 + h) * 8 + d]);
    await sl.saveNpy(join(dir, "bad.npy"), sl.randn([1, 3, 32, 8], { seed: 6 }));
    await assert.rejects(sl.workloads.loadQKV({ q: join(dir, "q.npy"), k: join(dir, "bad.npy"), v: join(dir, "bad.npy") }, { layout: "BHSD" }), /workloads\.loadQKV: argument 'k'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
