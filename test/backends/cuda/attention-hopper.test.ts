// The Hopper attention kernels' build-time guarantees, checked where nvcc is (CI, no GPU): the
// default variants compile for sm_90a with no spills, without ptxas serialising the wgmma
// pipeline (C7514) and with setmaxnreg honoured (no C7508), because any of those silently costs a
// large part of the kernel's speed on the device. Also the host-side choice of kernel and its
// shared-memory budget, which need no GPU.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as sl from "../../../lib/index.js";
import { attentionDefines, cudaAttentionSync, headGroup, hopperSmem, maxHopperStages, useHopper } from "../../../lib/backends/cuda/attention.js";
import { DeviceBlockMask } from "../../../lib/attention/block-mask.js";
import { Tensor, type DeviceBuffer } from "../../../lib/tensor/tensor.js";
import { CODEGEN_PRELUDE, toCuda } from "../../../lib/backends/cuda/codegen.js";
import { readKernelSource } from "../../../lib/backends/cuda/runtime.js";
import type { Mask } from "../../../lib/attention/types.js";

const root = new URL("../../../../", import.meta.url).pathname;
const nvcc = ["nvcc", "/usr/local/cuda/bin/nvcc"].find((p) => spawnSync(p, ["--version"], { stdio: "ignore" }).status === 0);
const skip = nvcc ? undefined : "nvcc not found (CUDA toolkit not installed here); CI and the device machine have it";
if (skip && process.env.CI) throw new Error(`CI must compile the CUDA kernels but ${skip}`);

test("compute capability 9.x takes the Hopper kernels for D 64 / 128 and 128-multiple mask blocks only", () => {
  assert.equal(useHopper(9, 128, undefined), true);
  assert.equal(useHopper(9, 64, { qBlockSize: 128, kvBlockSize: 256 }), true);
  assert.equal(useHopper(9, 80, undefined), false);
  assert.equal(useHopper(9, 128, { qBlockSize: 128, kvBlockSize: 64 }), false);
  assert.equal(useHopper(9, 128, { qBlockSize: 64, kvBlockSize: 128 }), false);
  assert.equal(useHopper(8, 128, undefined), false);
});

test("the TMA kernel's stages fit shared memory: 3 at D = 128, up to 6 at D = 64", () => {
  assert.equal(maxHopperStages(128), 3);
  assert.equal(maxHopperStages(64), 6);
  for (const D of [64, 128]) assert.ok(hopperSmem(D, true, maxHopperStages(D)) + 1024 <= 232448);
});

test("the TMA kernel's item order groups heads whose K and V fit 32 MB of L2", () => {
  assert.equal(headGroup(16384, 128, 16), 4); // 8 MB of K and V a head
  assert.equal(headGroup(16384, 64, 16), 8);
  assert.equal(headGroup(4096, 128, 16), 16);
  assert.equal(headGroup(4096, 128, 6), 4); // a power of two no larger than the heads
  assert.equal(headGroup(1 << 20, 128, 16), 1); // one head's K and V exceed L2
});

test("attention's mask code compares positions in int arithmetic (no int-to-float conversions)", () => {
  const gen = toCuda([sl.masks.slidingWindow(256).program], { intOps: true });
  assert.doesNotMatch(gen.exprs[0]!, /\(float\)/, gen.exprs[0]);
  const doc = toCuda([sl.masks.document(new Int32Array([0, 0, 1])).program], { intOps: true });
  assert.match(doc.exprs[0]!, /t0\[min\(max\(\(q\), 0\), 2\)\]/, doc.exprs[0]);
});

/** Device memory stand-in (no GPU here): enough for a DeviceBlockMask to hold and free. */
class MockDeviceBuffer implements DeviceBuffer {
  readonly device = "cuda" as const;
  readonly bytes: number;
  constructor(readonly src: Int32Array) {
    this.bytes = src.byteLength;
  }
  async read(): Promise<Int32Array> {
    return this.src.slice();
  }
  free(): void {}
}

test("cuda attention refuses a disposed device block mask before touching the GPU", () => {
  const host = sl.createBlockMask(sl.masks.causal(), { qLen: 256, kvLen: 256, blockSize: 128 });
  const dev = (t: Tensor<"i32">) => new Tensor(t.shape, "i32", new MockDeviceBuffer(t.data as Int32Array));
  const dbm = new DeviceBlockMask({
    B: 1, H: 1, qLen: 256, kvLen: 256, qBlockSize: 128, kvBlockSize: 128, mask: host.mask!,
    kvNumBlocks: dev(host.kvNumBlocks), kvIndices: dev(host.kvIndices), fullKvNumBlocks: dev(host.fullKvNumBlocks), fullKvIndices: dev(host.fullKvIndices),
  }, (t) => t);
  dbm.dispose();
  const q = sl.randn([1, 1, 256, 64], { seed: 1 });
  assert.throws(() => cudaAttentionSync({ q, k: q, v: q, blockMask: dbm, scale: 0.125, returnLse: false }), /attention \(cuda\).*argument 'blockMask' was disposed/);
});

test("the Hopper kernels' shared memory fits an H100 block (227 KB, 1 KB static barriers aside)", () => {
  for (const D of [64, 128])
    for (const overlap of [false, true]) assert.ok(hopperSmem(D, overlap) + 1024 <= 232448, `D ${D} overlap ${overlap}: ${hopperSmem(D, overlap)} bytes`);
  assert.equal(hopperSmem(128, true), 1024 + 32768 + 3 * 65536);
});

interface Build { name: string; file: string; D: number; dtype: string; mask?: Mask; defines?: string[] }
const builds: Build[] = [];
for (const file of ["attention_hopper_tma.cu", "attention_hopper.cu"])
  for (const D of [64, 128])
    builds.push({ name: `${file} D${D} bf16`, file, D, dtype: "bf16", defines: [`#define PINGPONG ${D === 64 ? 1 : 0}`] });
builds.push({ name: "attention_hopper_tma.cu D128 f16 sliding window", file: "attention_hopper_tma.cu", D: 128, dtype: "f16", mask: sl.masks.slidingWindow(256) });
builds.push({ name: "attention_hopper_tma.cu D64 bf16 causal, 6 stages", file: "attention_hopper_tma.cu", D: 64, dtype: "bf16", mask: sl.masks.causal(), defines: ["#define PINGPONG 1", "#define STAGES 6"] });

for (const b of builds) {
  test(`nvcc -Xptxas -v: ${b.name} has no spills, no serialised wgmma, setmaxnreg honoured`, { skip, timeout: 120_000 }, () => {
    const gen = toCuda([b.mask?.program], { intOps: true });
    const defs = [...attentionDefines({ D: b.D, warps: 8, dtype: b.dtype, maskExpr: gen.exprs[0], tableParams: gen.tableParams, tableArgs: gen.tableArgs }), ...(b.defines ?? [])];
    const src = `${defs.join("\n")}\n${CODEGEN_PRELUDE}\n${readKernelSource(join(root, "lib", "backends", "cuda", "kernels"), b.file)}`;
    const dir = mkdtempSync(join(tmpdir(), "sl-hopper-"));
    try {
      const file = join(dir, "k.cu");
      writeFileSync(file, src);
      const r = spawnSync(nvcc!, ["-cubin", "-gencode=arch=compute_90a,code=sm_90a", "-std=c++17", "--use_fast_math", "-Xptxas", "-v", "-o", join(dir, "k.cubin"), file], { encoding: "utf8" });
      const log = `${r.stdout}${r.stderr}`;
      assert.equal(r.status, 0, log.slice(0, 3000));
      assert.match(log, /0 bytes spill stores, 0 bytes spill loads/, log);
      assert.doesNotMatch(log, /C7514|serialized/, "ptxas serialised the wgmma pipeline:\n" + log);
      assert.doesNotMatch(log, /C7508/, "ptxas ignored setmaxnreg:\n" + log);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
