// CUDA sparse-attention helpers against references on fresh random inputs: decode attention
// over selected tokens, block pooling, XAttention's antidiagonal scores, casts, and
// createBlockMask on the GPU against the host's createBlockMask.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as sl from "../../lib/index.js";
import { Tensor, type DeviceBuffer } from "../../lib/tensor/tensor.js";
import { DeviceBlockMask } from "../../lib/attention/block-mask.js";
import { toDevice, toHost } from "../../lib/backends/cuda/device-tensor.js";
import { castCuda, cudaAntidiagScores, cudaBlockMaskOnDevice, cudaBlockPool, cudaCreateBlockMask, cudaDecodeAttention } from "../../lib/backends/cuda/sparse.js";
import { gpuSkipReason, poison, randomTensor, relErr, widen } from "./gpu-helpers.js";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CODEGEN_PRELUDE, toCuda } from "../../lib/backends/cuda/codegen.js";
import { toCudaInterval } from "../../lib/backends/cuda/interval-codegen.js";
import type { MaskExpr, MaskProgram } from "../../lib/attention/mask-ir.js";

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

// ---- device block masks: FlexAttention's arrays kept on the GPU for attention ----

/** Device memory stand-in for the host-only checks of DeviceBlockMask (runs without a GPU). */
class MockDeviceBuffer implements DeviceBuffer {
  readonly device = "cuda" as const;
  readonly bytes: number;
  freed = false;
  constructor(readonly src: Int32Array) {
    this.bytes = src.byteLength;
  }
  async read(): Promise<Int32Array> {
    return this.src.slice();
  }
  free(): void {
    this.freed = true;
  }
}

const BM_FIELDS = ["kvNumBlocks", "kvIndices", "fullKvNumBlocks", "fullKvIndices"] as const;

test("DeviceBlockMask: lazy host view read once, async view, dispose, argument checks (mock device arrays)", async () => {
  const host = sl.createBlockMask(sl.masks.slidingWindow(100), { H: 2, qLen: 700, kvLen: 650, blockSize: [128, 64] });
  const onDevice = (t: Tensor<"i32">) => new Tensor(t.shape, "i32", new MockDeviceBuffer(t.data as Int32Array));
  let reads = 0;
  const reader = (t: Tensor<"i32">) => {
    reads++;
    return new Tensor(t.shape, "i32", (t.buffer as unknown as MockDeviceBuffer).src.slice());
  };
  const make = () =>
    new DeviceBlockMask({
      B: host.B, H: host.H, qLen: host.qLen, kvLen: host.kvLen, qBlockSize: host.qBlockSize, kvBlockSize: host.kvBlockSize,
      kvNumBlocks: onDevice(host.kvNumBlocks), kvIndices: onDevice(host.kvIndices),
      fullKvNumBlocks: onDevice(host.fullKvNumBlocks), fullKvIndices: onDevice(host.fullKvIndices), mask: host.mask!,
    }, reader);
  const dbm = make();
  assert.equal(dbm.device, "cuda");
  assert.equal(dbm.qBlocks, host.qBlocks);
  assert.equal(reads, 0, "nothing is read back before a host method is called");
  assert.equal(dbm.density({ level: "element" }), host.density({ level: "element" }));
  assert.equal(reads, 4, "the four arrays are read once");
  assert.deepEqual(dbm.blockCounts(), host.blockCounts());
  assert.deepEqual(dbm.tileClasses(0, 1), host.tileClasses(0, 1));
  assert.deepEqual(Array.from(dbm.toDense().data), Array.from(host.toDense().data));
  assert.deepEqual(dbm.slice({ h: 1 }).blockCounts(), host.slice({ h: 1 }).blockCounts());
  assert.equal(dbm.toString().split("\n").slice(1).join("\n"), host.toString());
  assert.match(dbm.toString(), /^DeviceBlockMask: arrays on cuda/);
  assert.equal(reads, 4, "the host view is kept");
  for (const f of BM_FIELDS) assert.equal(dbm.host()[f].device, "cpu");

  const second = make();
  const viaCpu = await second.cpu();
  assert.equal(reads, 4, "cpu() reads through the device buffers, not the synchronous reader");
  for (const f of BM_FIELDS) assert.deepEqual(Array.from(viaCpu[f].data), Array.from(host[f].data), f);
  assert.equal(second.host(), viaCpu, "host() returns the view cpu() read");
  assert.deepEqual(await second.toSafetensors(), await host.toSafetensors());

  const third = make();
  third.dispose();
  assert.ok(third.disposed);
  assert.throws(() => third.density(), /disposed/);
  assert.ok(BM_FIELDS.every((f) => (third[f].disposed)), "dispose frees the four arrays");

  const base = { B: 1, H: 2, qLen: 700, kvLen: 650, qBlockSize: 128, kvBlockSize: 64, mask: host.mask! };
  const dev = { kvNumBlocks: onDevice(host.kvNumBlocks), kvIndices: onDevice(host.kvIndices), fullKvNumBlocks: onDevice(host.fullKvNumBlocks), fullKvIndices: onDevice(host.fullKvIndices) };
  assert.throws(() => new DeviceBlockMask({ ...base, ...dev, kvIndices: host.kvIndices }, reader), /argument 'kvIndices' must be an i32 device Tensor \[1, 2, 6, 11\]/);
  assert.throws(() => new DeviceBlockMask({ ...base, ...dev, H: 3 }, reader), /argument 'kvNumBlocks' must be shape \[1, 3, 6\]/);
  assert.throws(() => new DeviceBlockMask({ ...base, ...dev, mask: undefined as unknown as sl.Mask }, reader), /argument 'mask'/);
  assert.throws(() => sl.createBlockMask(sl.masks.causal(), { qLen: 8, kvLen: 8, device: "gpu" as "cuda" }), /argument 'opts.device' must be "cpu" or "cuda"/);
  // device: "cpu" is the host path, unchanged
  assert.ok(sl.createBlockMask(sl.masks.causal(), { qLen: 256, kvLen: 256, device: "cpu" }) instanceof sl.BlockMask);
});

test("attention with a device block mask equals attention with the host block mask, bitwise (windows, causal, document, head-dependent)", { skip }, async () => {
  // Registers the CUDA ops for sl.attention (sl.ready() imports the backend by path, which a bundle cannot).
  (await import("../../lib/backends/cuda/index.js")).load();
  const seed = fresh();
  const B = 1, Hq = 4, Hkv = 2, S = 1357, D = 128;
  const q = toDevice(randomTensor([B, Hq, S, D], "bf16", seed)), k = toDevice(randomTensor([B, Hkv, S, D], "bf16", seed + 1)), v = toDevice(randomTensor([B, Hkv, S, D], "bf16", seed + 2));
  const docIds = new Int32Array(S).map((_, i) => Math.floor(i / 300) + (i > 1200 ? 1 : 0));
  const cases: [string, sl.Mask][] = [
    ["window 200", sl.masks.slidingWindow(200)],
    ["causal", sl.masks.causal()],
    ["document (tables)", sl.masks.document(docIds)],
    ["head-dependent", sl.mask("q >= kv and q - kv < 150 * (h + 1)")],
  ];
  const bytes = async (t: Tensor) => Buffer.from(new Uint8Array((await toHost(t)).data.buffer.slice(0)));
  for (const [name, m] of cases) {
    const opts = { H: Hq, qLen: S, kvLen: S };
    const hostBm = sl.createBlockMask(m, opts);
    const dbm = sl.createBlockMask(m, { ...opts, device: "cuda" });
    assert.ok(dbm instanceof DeviceBlockMask);
    for (const f of BM_FIELDS) assert.equal(dbm[f].device, "cuda", `${name}: ${f} stays on the GPU`);
    // The same arrays behind a reader that fails: attention must use them without a read-back.
    const strict = new DeviceBlockMask({
      B: dbm.B, H: dbm.H, qLen: dbm.qLen, kvLen: dbm.kvLen, qBlockSize: dbm.qBlockSize, kvBlockSize: dbm.kvBlockSize,
      kvNumBlocks: dbm.kvNumBlocks, kvIndices: dbm.kvIndices, fullKvNumBlocks: dbm.fullKvNumBlocks, fullKvIndices: dbm.fullKvIndices, mask: dbm.mask,
    }, () => { throw new Error("attention read the device block mask back to the host"); });
    poison(B * Hq * S * D * 2, B * Hq * S * 4);
    const ref = await sl.attention(q, k, v, { blockMask: hostBm, returnLse: true });
    poison(B * Hq * S * D * 2, B * Hq * S * 4);
    const got = await sl.attention(q, k, v, { blockMask: strict, returnLse: true });
    const [ro, go, rl, gl] = await Promise.all([bytes(ref.output), bytes(got.output), bytes(ref.lse), bytes(got.lse)]);
    const out = widen(await toHost(got.output));
    assert.ok(out.every(Number.isFinite), `seed ${seed}: ${name}: output not all written (poison left)`);
    assert.ok(ro.equals(go), `seed ${seed}: ${name}: output differs from the host block mask's`);
    assert.ok(rl.equals(gl), `seed ${seed}: ${name}: lse differs from the host block mask's`);
    // Lazy host fields (synchronous and async) equal the host createBlockMask's.
    const hv = dbm.host();
    for (const f of BM_FIELDS) assert.deepEqual(Array.from(hv[f].data), Array.from(hostBm[f].data), `seed ${seed}: ${name}: host view ${f}`);
    assert.equal(dbm.density(), hostBm.density());
    const other = sl.createBlockMask(m, { ...opts, device: "cuda" });
    const av = await other.cpu();
    for (const f of BM_FIELDS) assert.deepEqual(Array.from(av[f].data), Array.from(hostBm[f].data), `seed ${seed}: ${name}: cpu() view ${f}`);
    other.dispose();
    for (const t of [ref.output, ref.lse, got.output, got.lse]) t.dispose();
    dbm.dispose();
  }
  // A mask without IR cannot be classified on the GPU.
  assert.throws(() => sl.createBlockMask(sl.mask((_b, _h, qq, kv) => qq >= kv), { qLen: 256, kvLen: 256, device: "cuda" }), /has no IR/);
});

// ---- the GPU createBlockMask's interval classifier, checked on the CPU ----
// The generated interval function and the element expression compile as host C++ (g++), with the
// same float arithmetic the kernel uses; every tile the bounds call empty or full must be so
// element by element. Random programs cover every IR op; the built-ins must be decided wherever
// a tile is not partial.

const gxx = ["g++", "c++"].find((p) => spawnSync(p, ["--version"], { stdio: "ignore" }).status === 0);
const HOST_PRELUDE = `
#include <cmath>
#include <cstdio>
#include <cstring>
#include <algorithm>
#define __device__
#define __forceinline__ inline
#define __restrict__
using std::min; using std::max;
static inline float __int_as_float(unsigned x) { float f; std::memcpy(&f, &x, 4); return f; }
inline int sl_floordiv_i(int a, int d) { const int q = a / d; return (a % d != 0 && ((a < 0) != (d < 0))) ? q - 1 : q; }
inline int sl_ceildiv_i(int a, int d) { const int q = a / d; return (a % d != 0 && ((a < 0) == (d < 0))) ? q + 1 : q; }
template <typename T> inline bool sl_range(const T* t, int a, int z, float* lo, float* hi) {
  float mn = INFINITY, mx = -INFINITY; bool nan = false;
  for (int i = a; i <= z; i++) { float v = (float)t[i]; nan |= v != v; mn = fminf(mn, v); mx = fmaxf(mx, v); }
  *lo = mn; *hi = mx; return nan;
}
inline bool sl_range_i(const int* t, int a, int z, float* lo, float* hi) { return sl_range(t, a, z, lo, hi); }
inline bool sl_range_f(const float* t, int a, int z, float* lo, float* hi) { return sl_range(t, a, z, lo, hi); }
`;

type E = MaskExpr;
function randomProgram(rnd: () => number, tables: (Int32Array | Float32Array)[], depth = 0): E {
  const pick = <T>(a: T[]) => a[Math.floor(rnd() * a.length)];
  const leaf = (): E => {
    const r = rnd();
    if (r < 0.3) return { t: "var", name: "q" };
    if (r < 0.6) return { t: "var", name: "kv" };
    if (r < 0.7) return { t: "var", name: pick(["b", "h"] as const) };
    return { t: "num", v: rnd() < 0.85 ? Math.floor(rnd() * 200) - 60 : pick([0.5, 1.3, -2.25, 7.75]) };
  };
  if (depth >= 4 || rnd() < 0.15) return leaf();
  const sub = () => randomProgram(rnd, tables, depth + 1);
  const r = rnd();
  if (r < 0.1) return { t: "un", op: pick(["neg", "not", "abs", "floor", "ceil", "sign"] as const), a: sub() };
  if (r < 0.17 && tables.length) return { t: "idx", table: Math.floor(rnd() * tables.length), index: sub() };
  if (r < 0.22) return { t: "sel", c: sub(), a: sub(), b: sub() };
  const op = pick(["add", "sub", "mul", "div", "mod", "floordiv", "min", "max", "lt", "le", "gt", "ge", "eq", "ne", "and", "or", "xor", "add", "sub", "le", "lt", "and"] as const);
  const b = (op === "mod" || op === "floordiv" || op === "div") && rnd() < 0.8 ? { t: "num" as const, v: pick([1, 2, 3, 5, 7, 16, 64, -3, -16, 0.5]) } : sub();
  return { t: "bin", op, a: sub(), b };
}

test("the interval classifier is sound against the element code (host C++, random programs and built-ins)", { skip: gxx ? undefined : "no g++ here" }, () => {
  const seed = fresh();
  let st = seed || 1;
  const rnd = () => ((st = (Math.imul(st, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const docIds = new Int32Array(2048).map((_, i) => Math.floor(i / 300));
  const builtins: [string, MaskProgram][] = [
    ["causal", sl.masks.causal().program!],
    ["window", sl.masks.slidingWindow(200).program!],
    ["document", sl.masks.document(docIds).program!],
    ["head_dependent", sl.mask("q >= kv and q - kv < 100 * (h + 1)").program!],
    ["blocky", sl.mask("floor(q / 64) == floor(kv / 64) or kv < 4").program!],
  ];
  const progs: [string, MaskProgram][] = [...builtins];
  for (let i = 0; i < 150; i++) {
    const tables = rnd() < 0.4 ? [Int32Array.from({ length: 64 }, () => Math.floor(rnd() * 9) - 2)] : rnd() < 0.5 ? [Float32Array.from({ length: 40 }, () => rnd() * 4 - 1)] : [];
    progs.push([`random${i}`, { expr: randomProgram(rnd, tables), tables }]);
  }
  let src = HOST_PRELUDE + CODEGEN_PRELUDE.replace(/__device__ __forceinline__/g, "inline");
  const calls: string[] = [];
  progs.forEach(([name, p], i) => {
    const gen = toCuda([p]);
    const fnText = toCudaInterval(p, gen.tableParams, `cls${i}`).source;
    const tableDefs = p.tables.map((t, k) => `static const ${t instanceof Float32Array ? "float" : "int"} T${i}_${k}[] = {${Array.from(t).map((x) => (t instanceof Float32Array ? `${x}f` : `${x}`)).join(",")}};`).join("\n");
    const args = p.tables.map((_, k) => `, T${i}_${k}`).join("");
    src += `\n${tableDefs}\n${fnText}\nstatic inline bool el${i}(float b, float h, float q, float kv${gen.tableParams}) { return (${gen.exprs[0]}) != 0.f; }\n`;
    src += `static void run${i}(int qLen, int kvLen, int qbs, int kvbs) {
  long bad = 0, undecided = 0, partial = 0;
  for (int b = 0; b < 2; b++) for (int h = 0; h < 3; h++) for (int q0 = 0; q0 < qLen; q0 += qbs) for (int k0 = 0; k0 < kvLen; k0 += kvbs) {
    const int q1 = min(qLen, q0 + qbs), k1 = min(kvLen, k0 + kvbs);
    bool any = false, all = true;
    for (int q = q0; q < q1; q++) for (int kv = k0; kv < k1; kv++) { bool m = el${i}(b, h, q, kv${args}); any |= m; all &= m; }
    const int exact = all ? 2 : any ? 1 : 0;
    const int c = cls${i}(b, h, q0, q1 - 1, k0, k1 - 1${args});
    if (c != 1 && c != exact) { if (bad < 3) printf("BAD ${name} b%d h%d q[%d,%d) kv[%d,%d): bounds %d exact %d\\n", b, h, q0, q1, k0, k1, c, exact); bad++; }
    if (c == 1) undecided++;
    if (exact == 1) partial++;
  }
  printf("${name} bad=%ld undecided=%ld partial=%ld\\n", bad, undecided, partial);
}\n`;
    calls.push(`run${i}(${i < builtins.length ? "2048, 2048, 128, 64" : "300, 260, 32, 16"});`);
  });
  src += `int main() {\n${calls.join("\n")}\nreturn 0;\n}\n`;
  const dir = mkdtempSync(join(tmpdir(), "sl-interval-"));
  try {
    writeFileSync(join(dir, "t.cc"), src);
    const cc = spawnSync(gxx!, ["-O1", "-std=c++17", "-w", "-o", join(dir, "t"), join(dir, "t.cc")], { encoding: "utf8" });
    assert.equal(cc.status, 0, cc.stderr.slice(0, 3000));
    const run = spawnSync(join(dir, "t"), { encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
    const lines = run.stdout.trim().split("\n");
    const bad = lines.filter((l) => l.startsWith("BAD"));
    assert.equal(bad.length, 0, `seed ${seed}: unsound bounds:\n${bad.join("\n")}`);
    for (const [name] of builtins) {
      const m = /undecided=(\d+) partial=(\d+)/.exec(lines.find((l) => l.startsWith(`${name} `))!)!;
      // The built-ins' bounds decide every tile that is not partial.
      assert.equal(Number(m[1]), Number(m[2]), `${name}: ${lines.find((l) => l.startsWith(`${name} `))}`);
    }
    assert.equal(lines.filter((l) => l.startsWith("random")).length, 150, "every random program ran");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a GPU-built block mask runs on host backends through its host view (attention, decodeAttention; mock device arrays)", async () => {
  const onDevice = (t: Tensor<"i32">) => new Tensor(t.shape, "i32", new MockDeviceBuffer(t.data as Int32Array));
  const reader = (t: Tensor<"i32">) => new Tensor(t.shape, "i32", (t.buffer as unknown as MockDeviceBuffer).src.slice());
  const asDevice = (host: sl.BlockMask) =>
    new DeviceBlockMask({
      B: host.B, H: host.H, qLen: host.qLen, kvLen: host.kvLen, qBlockSize: host.qBlockSize, kvBlockSize: host.kvBlockSize,
      kvNumBlocks: onDevice(host.kvNumBlocks), kvIndices: onDevice(host.kvIndices),
      fullKvNumBlocks: onDevice(host.fullKvNumBlocks), fullKvIndices: onDevice(host.fullKvIndices), mask: host.mask!,
    }, reader);
  const S = 300;
  const q = sl.randn([1, 2, S, 32], { seed: 11 }), k = sl.randn([1, 2, S, 32], { seed: 12 }), v = sl.randn([1, 2, S, 32], { seed: 13 });
  const host = sl.createBlockMask(sl.masks.slidingWindow(100), { H: 2, qLen: S, kvLen: S, blockSize: 64 });
  for (const backend of ["js", "cpu"] as const) {
    if (!sl.backends().some((b) => b.name === backend && b.loaded)) continue;
    const viaDevice = await sl.attention(q, k, v, { blockMask: asDevice(host), backend });
    const viaHost = await sl.attention(q, k, v, { blockMask: host, backend });
    assert.deepEqual(Array.from(viaDevice.data), Array.from(viaHost.data), backend);
  }
  const q1 = sl.randn([1, 2, 1, 32], { seed: 14 });
  const decodeMask = sl.createBlockMask(sl.mask("kv < 200"), { H: 2, qLen: 1, kvLen: S, blockSize: [1, 50] });
  const viaDevice = await sl.decodeAttention(q1, k, v, { blockMask: asDevice(decodeMask) });
  const viaHost = await sl.decodeAttention(q1, k, v, { blockMask: decodeMask });
  assert.deepEqual(Array.from(viaDevice.data), Array.from(viaHost.data));
});
