/**
 * The JS references for the estimator primitives (antidiagScores, colDiagSums): hand cases,
 * invariants, and agreement with the native cpu backend (an independent implementation) when
 * it is loaded.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../../lib/tensor/tensor.js";
import { jsAntidiagScores } from "../../../lib/backends/js/antidiag-scores.js";
import { jsColDiagSums } from "../../../lib/backends/js/col-diag-sums.js";
import { ready } from "../../../lib/backends/load.js";
import { backends, resolveOp } from "../../../lib/backends/registry.js";
import type { AntidiagScoresImpl, ColDiagSumsImpl } from "../../../lib/backends/ops.js";
import { freshSeed, randTensor, relErr, rng } from "../../attention/attention/helpers.js";

const t = (shape: number[], xs: number[]) => new Tensor(shape, "f32", Float32Array.from(xs));

test("antidiagScores on a hand case: stride 2, ragged last cell", async () => {
  // D = 1, q = [1, 2, 3], k = [10, 20, 30]: cells over stride 2, grid 2 x 2.
  // (0,0): q0·k1 + q1·k0 = 20 + 20 = 40;  (0,1): q0·k3 (absent) + q1·k2 = 60
  // (1,0): q2·k1 + q3 (absent) = 60;       (1,1): q2·k3 (absent) = 0
  const out = await jsAntidiagScores(t([1, 1, 3, 1], [1, 2, 3]), t([1, 1, 3, 1], [10, 20, 30]), 2, 0.5, {});
  assert.deepEqual(out.shape, [1, 1, 2, 2]);
  assert.deepEqual(Array.from(out.data), [20, 30, 30, 0]);
});

test("colDiagSums on a hand case: causal, qOffset, mass per column and per diagonal", async () => {
  // One query at absolute position 2 (qOffset 2), D = 1, q = 1, k = [0, ln 2, ln 3, 5]: causal
  // keys 0..2 with softmax [1/6, 2/6, 3/6]; key 3 is in the future.
  const q = t([1, 1, 1, 1], [1]);
  const k = t([1, 1, 4, 1], [0, Math.log(2), Math.log(3), 5]);
  const { cols, diags } = await jsColDiagSums(q, k, { scale: 1, qOffset: 2, causal: true });
  const c = Array.from(cols.data as Float32Array);
  const d = Array.from(diags.data as Float32Array);
  [1 / 6, 2 / 6, 3 / 6, 0].forEach((x, j) => assert.ok(Math.abs(c[j] - x) < 1e-7, `col ${j}: ${c[j]}`));
  // diagonal o = 2 - j: o0 <- key 2, o1 <- key 1, o2 <- key 0
  [3 / 6, 2 / 6, 1 / 6, 0].forEach((x, o) => assert.ok(Math.abs(d[o] - x) < 1e-7, `diag ${o}: ${d[o]}`));
  // Non-causal: key 3 takes mass, and being above the diagonal it is in no diagonal.
  const nc = await jsColDiagSums(q, k, { scale: 1, qOffset: 2, causal: false });
  const cs = Array.from(nc.cols.data as Float32Array);
  const ds = Array.from(nc.diags.data as Float32Array);
  assert.ok(Math.abs(cs.reduce((a, x) => a + x, 0) - 1) < 1e-6);
  assert.ok(ds.reduce((a, x) => a + x, 0) < 1 - 0.9, "most mass sits on the future key, in no diagonal");
});

test("colDiagSums invariants on random inputs: each visible row adds 1 to the columns; causal diagonals hold it all", async () => {
  const seed = freshSeed();
  const r = rng(seed);
  const [B, Hq, Hkv, Sq, Skv, D] = [2, 4, 2, 5, 40, 8];
  const q = randTensor([B, Hq, Sq, D], r);
  const k = randTensor([B, Hkv, Skv, D], r);
  const qOffset = Skv - Sq; // the last Sq queries, as vertical-slash uses it
  const { cols, diags } = await jsColDiagSums(q, k, { scale: 0.3, qOffset, causal: true });
  const c = cols.data as Float32Array;
  const d = diags.data as Float32Array;
  for (let row = 0; row < B * Hq; row++) {
    let sc = 0;
    let sd = 0;
    for (let j = 0; j < Skv; j++) {
      sc += c[row * Skv + j];
      sd += d[row * Skv + j];
    }
    assert.ok(Math.abs(sc - Sq) < 1e-5 && Math.abs(sd - Sq) < 1e-5, `seed ${seed} row ${row}: cols ${sc}, diags ${sd}`);
  }
});

test("the JS references agree with the native cpu backend on random inputs (when it is loaded)", async (tt) => {
  await ready();
  const cpu = backends().find((b) => b.name === "cpu");
  if (!cpu?.loaded || !cpu.ops.includes("antidiagScores") || !cpu.ops.includes("colDiagSums")) {
    tt.skip(`cpu backend not loaded: ${cpu?.reason ?? "no status"}`);
    return;
  }
  const seed = freshSeed();
  const r = rng(seed);
  const q = randTensor([1, 2, 45, 16], r);
  const k = randTensor([1, 2, 61, 16], r);
  const cpuAnti = resolveOp<AntidiagScoresImpl>("antidiagScores", { backend: "cpu" }).impl;
  for (const stride of [1, 4, 8]) {
    const a = await jsAntidiagScores(q, k, stride, 0.2, {});
    const b = await cpuAnti(q, k, stride, 0.2, {});
    const e = relErr(b.data as Float32Array, a.data as Float32Array);
    assert.ok(e < 1e-5, `seed ${seed} stride ${stride}: ${e}`);
  }
  const cpuCds = resolveOp<ColDiagSumsImpl>("colDiagSums", { backend: "cpu" }).impl;
  const kk = randTensor([1, 1, 61, 16], r); // GQA 2:1
  for (const causal of [true, false]) {
    const a = await jsColDiagSums(q, kk, { scale: 0.25, qOffset: 16, causal });
    const b = await cpuCds(q, kk, { scale: 0.25, qOffset: 16, causal });
    assert.ok(relErr(b.cols.data as Float32Array, a.cols.data as Float32Array) < 1e-5, `seed ${seed} cols causal=${causal}`);
    assert.ok(relErr(b.diags.data as Float32Array, a.diags.data as Float32Array) < 1e-5, `seed ${seed} diags causal=${causal}`);
  }
});
