// CUDA sparse-attention helpers against references on fresh random inputs: decode attention
// over selected tokens, block pooling, XAttention's antidiagonal scores, casts, and
// createBlockMask on the GPU against the host's createBlockMask.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as sl from "../../lib/index.js";
import { Tensor } from "../../lib/tensor/tensor.js";
import { toDevice, toHost } from "../../lib/backends/cuda/device-tensor.js";
import { castCuda, cudaAntidiagScores, cudaBlockMaskOnDevice, cudaBlockPool, cudaCreateBlockMask, cudaDecodeAttention } from "../../lib/backends/cuda/sparse.js";
import { gpuSkipReason, poison, randomTensor, relErr, widen } from "./gpu-helpers.js";

const skip = gpuSkipReason();
if (skip) console.log(`# skipping CUDA sparse-op tests: ${skip}`);
const fresh = () => (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0;

test("cuda decodeAttention over selected indices (bf16, GQA, padding)", { skip }, async () => {
  const seed = fresh();
  const B = 2, Hq = 8, Hkv = 2, Sq = 2, Skv = 3000, D = 128, n = 300;
  const q = randomTensor([B, Hq, Sq, D], "bf16", seed), k = randomTensor([B, Hkv, Skv, D], "bf16", seed + 1), v = randomTensor([B, Hkv, Skv, D], "bf16", seed + 2);
  const ix = new Int32Array(B * Hkv * n);
  for (let i = 0; i < ix.length; i++) ix[i] = i % n >= n - 5 ? -1 : (i * 7919 + seed) % Skv;
  poison(B * Hq * Sq * D * 2);
  const r = await cudaDecodeAttention({ q: toDevice(q), kCache: toDevice(k), vCache: toDevice(v), indices: new Tensor([B, Hkv, n], "i32", ix), scale: 1 / Math.sqrt(D), returnLse: true });
  const out = widen(await toHost(r.output));
  const Q = widen(q), K = widen(k), V = widen(v);
  const ref = new Float64Array(out.length);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++)
      for (let s = 0; s < Sq; s++) {
        const hk = Math.floor(h / (Hq / Hkv));
        const sel = Array.from(ix.subarray((b * Hkv + hk) * n, (b * Hkv + hk + 1) * n)).filter((t) => t >= 0);
        const qo = ((b * Hq + h) * Sq + s) * D;
        const sc = sel.map((t) => {
          let a = 0;
          for (let d = 0; d < D; d++) a += Q[qo + d] * K[((b * Hkv + hk) * Skv + t) * D + d];
          return a / Math.sqrt(D);
        });
        const m = Math.max(...sc);
        const p = sc.map((x) => Math.exp(x - m));
        const z = p.reduce((a, c) => a + c, 0);
        sel.forEach((t, i) => {
          for (let d = 0; d < D; d++) ref[qo + d] += (p[i] / z) * V[((b * Hkv + hk) * Skv + t) * D + d];
        });
      }
  const e = relErr(out, ref);
  assert.ok(e < 1e-2, `seed ${seed}: rel err ${e}`);
});

test("cuda blockPool and antidiagScores match the JS reference", { skip }, async () => {
  const seed = fresh();
  const q = randomTensor([1, 4, 333, 64], "f16", seed), k = randomTensor([1, 2, 333, 64], "f16", seed + 1);
  for (const reduce of ["mean", "max", "min"] as const) {
    const got = await (await cudaBlockPool(toDevice(q), 64, reduce)).toTypedArray();
    const ref = await (await sl.blockPool(q, 64, reduce, { backend: "js" })).toTypedArray();
    assert.ok(relErr(got, ref) < 1e-5, `seed ${seed}: blockPool ${reduce}`);
  }
  const stride = 8, scale = 0.125;
  const got = await (await cudaAntidiagScores(toDevice(q), toDevice(k), stride, scale)).toTypedArray();
  const Q = widen(q), K = widen(k);
  const nq = Math.ceil(333 / stride);
  const ref = new Float64Array(got.length);
  for (let h = 0; h < 4; h++)
    for (let i = 0; i < nq; i++)
      for (let j = 0; j < nq; j++) {
        let a = 0;
        for (let t = 0; t < stride; t++) {
          const qi = i * stride + t, kj = j * stride + stride - 1 - t;
          if (qi >= 333 || kj >= 333) continue;
          for (let d = 0; d < 64; d++) a += Q[(h * 333 + qi) * 64 + d] * K[(Math.floor(h / 2) * 333 + kj) * 64 + d];
        }
        ref[(h * nq + i) * nq + j] = a * scale;
      }
  assert.ok(relErr(got, ref) < 1e-5, `seed ${seed}: antidiag`);
});

test("cuda casts f32 <-> bf16 round to nearest even like the host", { skip }, async () => {
  const x = randomTensor([1000], "f32", fresh(), 100);
  const viaGpu = await toHost(castCuda(toDevice(x), "bf16"));
  const host = sl.astype(x, "bf16");
  assert.deepEqual(Array.from(viaGpu.data), Array.from(host.data));
  const back = await castCuda(castCuda(toDevice(x), "f16"), "f32").toTypedArray();
  assert.ok(relErr(back, x.data as Float32Array) < 1e-3);
});

test("cuda createBlockMask equals the host's arrays exactly (built-ins, tables, b/h-dependent, ragged)", { skip }, async () => {
  const seed = fresh();
  const docIds = new Int32Array(1000).map((_, i) => Math.floor(((i * 2654435761) % 7919 + seed % 97) / 800) + Math.floor(i / 300));
  docIds.sort();
  const cases: [sl.Mask, { B?: number; H?: number; qLen: number; kvLen: number; blockSize?: number | [number, number] }][] = [
    [sl.mask("(q * 7 + kv * 3) % 11 < 5"), { H: 2, qLen: 1000, kvLen: 900, blockSize: [128, 64] }],
    [sl.masks.causal(), { qLen: 1000, kvLen: 1000 }],
    [sl.masks.slidingWindow(300), { H: 3, qLen: 2049, kvLen: 2049, blockSize: 128 }],
    [sl.masks.document(docIds), { qLen: 1000, kvLen: 1000, blockSize: [64, 64] }],
    [sl.and(sl.masks.slidingWindow(300), sl.mask("(q + kv) % 5 != 0")), { qLen: 777, kvLen: 1300, blockSize: [128, 32] }],
    [sl.mask("(q + 3*h + b) % 4 != 0 and kv <= q + 50"), { B: 2, H: 3, qLen: 300, kvLen: 250, blockSize: [64, 32] }],
    [sl.mask("kv < 0"), { qLen: 100, kvLen: 100, blockSize: 16 }],
  ];
  for (const [m, opts] of cases) {
    const host = sl.createBlockMask(m, opts);
    poison(...[host.kvIndices.size, host.kvIndices.size, host.kvNumBlocks.size, host.kvNumBlocks.size].map((n) => n * 4));
    const gpu = await cudaCreateBlockMask(m, opts);
    for (const f of ["kvNumBlocks", "kvIndices", "fullKvNumBlocks", "fullKvIndices"] as const) {
      assert.deepEqual(gpu[f].shape, host[f].shape, `seed ${seed}: mask ${m.name} ${f} shape`);
      assert.deepEqual(Array.from(gpu[f].data), Array.from(host[f].data), `seed ${seed}: mask ${m.name} ${JSON.stringify(opts)} ${f}`);
    }
  }
  assert.throws(() => cudaBlockMaskOnDevice(sl.masks.causal(), { qLen: 0, kvLen: 10 }), /argument 'qLen' must be an integer >= 1/);
});

test("cuda blockMaskOnDevice keeps the arrays on the GPU, queued on the current stream", { skip }, async () => {
  const { Stream } = await import("../../lib/backends/cuda/stream.js");
  const s = new Stream();
  const opts = { H: 4, qLen: 4096, kvLen: 4096, blockSize: 128 };
  const dbm = s.run(() => cudaBlockMaskOnDevice(sl.masks.slidingWindow(512), opts));
  assert.equal(dbm.kvIndices.device, "cuda");
  const back = await dbm.toBlockMask();
  const host = sl.createBlockMask(sl.masks.slidingWindow(512), opts);
  assert.deepEqual(Array.from(back.toDense().data), Array.from(host.toDense().data));
  dbm.dispose();
  s.dispose();
});
