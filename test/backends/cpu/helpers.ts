// Shared by the cpu backend tests: the addon must be there (CI builds it: a missing addon is a
// failure, never a skip), fresh seeds printed on failure, NaN-poisoned outputs, relative errors.
import assert from "node:assert/strict";
import * as sl from "../../../lib/index.js";
import { loadAddon } from "../../../lib/backends/cpu/index.js";

/** Throws (fails the test) with the reason when the native addon did not build or load. */
export async function requireAddon(): Promise<void> {
  await sl.ready();
  try {
    loadAddon();
  } catch (e) {
    assert.fail(`native CPU addon unavailable: ${(e as Error).message}. Build it with \`node scripts/build-native.mjs\` (npm install runs it).`);
  }
  const st = sl.backends().find((b) => b.name === "cpu");
  assert.ok(st?.loaded, `cpu backend not loaded: ${st?.reason}`);
}

/** A fresh seed per run; tests put it in every assertion message. */
export function freshSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}

export function randn(shape: number[], seed: number, dtype: sl.DType = "f32"): sl.Tensor {
  return sl.randn(shape, { seed, dtype });
}

/** NaN-filled storage of `dtype` (f16/bf16 as NaN bit patterns). */
export function poisoned(dtype: sl.DType, n: number): Float32Array | Uint16Array {
  if (dtype === "f32") return new Float32Array(n).fill(NaN);
  return new Uint16Array(n).fill(dtype === "f16" ? 0x7e00 : 0x7fc0);
}

/** Storage widened to f32. */
export function widen(dtype: sl.DType, data: Float32Array | Uint16Array): Float32Array {
  if (dtype === "f32") return data as Float32Array;
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = dtype === "f16" ? sl.f16ToF32(data[i]) : sl.bf16ToF32(data[i]);
  return out;
}

/**
 * Asserts every element of `got` was written (no NaN unless the reference has NaN there too,
 * -inf only where the reference has it) and ‖got − ref‖ / ‖ref‖ <= tol.
 */
export function assertClose(got: ArrayLike<number>, ref: ArrayLike<number>, tol: number, what: string): number {
  assert.equal(got.length, ref.length, `${what}: length`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    const g = got[i];
    const r = ref[i];
    if (Number.isNaN(r)) {
      assert.ok(Number.isNaN(g), `${what}: element ${i} is ${g}, reference NaN`);
      continue;
    }
    assert.ok(!Number.isNaN(g), `${what}: element ${i} is NaN (not written?), reference ${r}`);
    if (!Number.isFinite(r) || !Number.isFinite(g)) {
      assert.equal(g, r, `${what}: element ${i} is ${g}, reference ${r}`);
      continue;
    }
    num += (g - r) ** 2;
    den += r * r;
  }
  const err = Math.sqrt(num / Math.max(den, 1e-30));
  assert.ok(err <= tol, `${what}: relative error ${err.toExponential(2)} > ${tol}`);
  return err;
}

/** Tolerance on ‖out − ref‖ / ‖ref‖ by input dtype (anchors.md). */
export function tolFor(dtype: sl.DType): number {
  return dtype === "f32" ? 2e-5 : dtype === "f16" ? 4e-3 : 1.5e-2;
}
