import assert from "node:assert/strict";
import { Rng } from "../../lib/moe/rng.js";
import { Tensor } from "../../lib/tensor/tensor.js";

/** A fresh seed per run, printed by the assertion messages so a failure can be replayed. */
export function freshSeed(): number {
  const env = process.env.SPARSELAB_TEST_SEED;
  return env ? Number(env) : Math.floor(Math.random() * 2 ** 31);
}

export function randMatrix(rows: number, cols: number, seed: number, std = 1): Tensor<"f32"> {
  const rng = new Rng(seed);
  const d = new Float32Array(rows * cols);
  for (let i = 0; i < d.length; i++) d[i] = rng.normal() * std;
  return new Tensor([rows, cols], "f32", d);
}

export function close(a: number, b: number, tol: number, msg: string): void {
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${msg}: ${a} vs ${b} (tol ${tol})`);
}

/** ‖a − b‖ / ‖b‖, NaN-failing. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i])) return NaN;
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-300));
}

export function softmax(row: number[]): number[] {
  const m = Math.max(...row);
  const e = row.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}
