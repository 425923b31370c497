import { test } from "node:test";
import assert from "node:assert/strict";
import * as sl from "../../lib/index.js";
import type { DeviceBuffer } from "../../lib/tensor/tensor.js";
import { hasOp } from "../../lib/backends/registry.js";
import { expectError, expectReject } from "./helpers.js";

/** A stand-in for a CUDA allocation: holds host storage and counts reads and frees. */
function fakeDevice(storage: Float32Array | Uint16Array): { buf: DeviceBuffer; reads: () => number; freed: () => boolean } {
  let reads = 0;
  let freed = false;
  const buf: DeviceBuffer = {
    device: "cuda",
    bytes: storage.byteLength,
    async read() {
      reads++;
      return storage.slice();
    },
    free() {
      freed = true;
    },
  };
  return { buf, reads: () => reads, freed: () => freed };
}

test("device tensors: display and I/O read them back; host-only ops refuse them by name", async (tc) => {
  await sl.ready();
  const dev = fakeDevice(new Float32Array([1, 2, 3, 4]));
  const t = new sl.Tensor([2, 2], "f32", dev.buf);
  assert.equal(t.device, "cuda");
  const bundle = await t[sl.DISPLAY]();
  assert.equal(bundle["text/plain"], "Tensor(f32, [2, 2], cuda)\n[[1., 2.],\n [3., 4.]]");
  const bytes = await sl.encodeSafetensors({ t });
  const back = sl.decodeSafetensors(bytes).tensors.t;
  assert.deepEqual([back.device, Array.from(back.data)], ["cpu", [1, 2, 3, 4]]);
  const npy = sl.decodeNpy(await sl.encodeNpy(t));
  assert.deepEqual(Array.from(npy.data), [1, 2, 3, 4]);
  assert.ok(dev.reads() >= 3);
  expectError(() => sl.add(t, 1), "add", "'a'", "host tensor", "cuda");
  expectError(() => sl.reshape(t, [4]), "reshape", "'x'", "cuda");
  expectError(() => sl.sum(t), "sum", "cuda");
  // Without a cuda backend the heavy op says so instead of silently using JS. (With one, the
  // fake buffer must not reach a real kernel, so that check is left to the cuda tests.)
  if (!hasOp("cuda", "softmax")) await expectReject(() => sl.softmax(t), "softmax", "cuda");
  else tc.diagnostic("cuda backend loaded: the no-backend error path is not exercised here");
  await expectReject(() => sl.matmul(t, sl.zeros([2, 2])), "matmul", "'b'", "cuda");
  t.dispose();
  assert.ok(dev.freed());
});

test("bf16 device storage is written to safetensors as raw words", async () => {
  const words = new Uint16Array([0x3f80, 0x7f80, 0xc000]);
  const t = new sl.Tensor([3], "bf16", fakeDevice(words).buf);
  const back = sl.decodeSafetensors(await sl.encodeSafetensors({ t })).tensors.t;
  assert.deepEqual([back.dtype, Array.from(back.data)], ["bf16", [0x3f80, 0x7f80, 0xc000]]);
  t.dispose();
});
