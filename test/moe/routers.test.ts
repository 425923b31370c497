import { test } from "node:test";
import assert from "node:assert/strict";
import { route } from "../../lib/moe/route.js";
import { updateExpertBias } from "../../lib/moe/routers/deepseek-v3.js";
import { sinkhornBalance } from "../../lib/moe/routers/sinkhorn.js";
import { sigmoid, softplus } from "../../lib/moe/rowmath.js";
import { Rng } from "../../lib/moe/rng.js";
import { Tensor } from "../../lib/tensor/tensor.js";
import { close, freshSeed, randMatrix, softmax } from "./helpers.js";

const arr = (t: Tensor) => Array.from(t.data as ArrayLike<number>);

test("softmax-topk: hand case, with and without renormalization", () => {
  const logits = [[1, 2, 3, 0], [0, 0, 5, 0]];
  const r = route(logits, { router: "softmax-topk", k: 2 });
  const p0 = softmax(logits[0]);
  assert.deepEqual(arr(r.indices), [2, 1, 2, 0]); // row 1: ties 0,1,3 -> lowest index first
  close(arr(r.weights)[0], p0[2], 1e-6, "w00");
  close(arr(r.weights)[1], p0[1], 1e-6, "w01");
  const n = route(logits, { router: "softmax-topk", k: 2, normalize: true });
  close(arr(n.weights)[0], 1 / (1 + Math.exp(-1)), 1e-6, "normalized w00");
  close(arr(n.weights)[0] + arr(n.weights)[1], 1, 1e-6, "sum");
});

test("topk-softmax equals softmax-topk with renormalization (random)", () => {
  const seed = freshSeed();
  const logits = randMatrix(64, 16, seed);
  const a = route(logits, { router: "topk-softmax", k: 4 });
  const b = route(logits, { router: "softmax-topk", k: 4, normalize: true });
  assert.deepEqual(arr(a.indices), arr(b.indices), `seed ${seed}`);
  const wa = arr(a.weights), wb = arr(b.weights);
  for (let i = 0; i < wa.length; i++) close(wa[i], wb[i], 1e-5, `seed ${seed} weight ${i}`);
  for (let t = 0; t < 64; t++) close(wa[t * 4] + wa[t * 4 + 1] + wa[t * 4 + 2] + wa[t * 4 + 3], 1, 1e-5, `seed ${seed} row ${t} sums to 1`);
});

test("noisy-topk: seeded, reproducible, std 0 is plain top-k", () => {
  const seed = freshSeed();
  const logits = randMatrix(32, 8, seed);
  const a = route(logits, { router: "noisy-topk", k: 2, seed: 5 });
  const b = route(logits, { router: "noisy-topk", k: 2, seed: 5 });
  const c = route(logits, { router: "noisy-topk", k: 2, seed: 6 });
  assert.deepEqual(arr(a.indices), arr(b.indices));
  assert.notDeepEqual(arr(a.weights), arr(c.weights), `seed ${seed}: another noise seed changes the weights`);
  const z = route(logits, { router: "noisy-topk", k: 2, noiseStd: 0 });
  const ref = route(logits, { router: "topk-softmax", k: 2 });
  assert.deepEqual(arr(z.indices), arr(ref.indices));
});

test("noisy-topk follows Shazeer's rule: H = logits + N(0,1)·softplus(x·W_noise), softmax over the top k of H", () => {
  const seed = freshSeed();
  const T = 12, E = 6, d = 5;
  const x = randMatrix(T, d, seed), wg = randMatrix(d, E, seed + 1), wn = randMatrix(d, E, seed + 2);
  const r = route(x, { router: "noisy-topk", k: 2, gateWeight: wg, noiseWeight: wn, seed: 11 });
  const rng = new Rng(11); // the same draws, in the same order (row-major over [T, E])
  const X = x.data as Float32Array, G = wg.data as Float32Array, N = wn.data as Float32Array;
  for (let t = 0; t < T; t++) {
    const H: number[] = [];
    for (let e = 0; e < E; e++) {
      let g = 0, n = 0;
      for (let i = 0; i < d; i++) {
        g += X[t * d + i] * G[i * E + e];
        n += X[t * d + i] * N[i * E + e];
      }
      H.push(g + rng.normal() * softplus(n));
    }
    const order = H.map((v, e) => [v, e]).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    const top = order.slice(0, 2).map((p) => p[1]);
    assert.deepEqual(arr(r.indices).slice(t * 2, t * 2 + 2), top, `seed ${seed} token ${t}`);
    const w = softmax(top.map((e) => H[e]));
    close(arr(r.weights)[t * 2], w[0], 1e-4, `seed ${seed} token ${t} weight`);
  }
});

test("noisy-topk: noise logits of −60 add no noise; a noise weight needs x", () => {
  const logits = randMatrix(16, 8, 3);
  const nl = Array.from({ length: 16 }, () => new Array(8).fill(-60));
  const q = route(logits, { router: "noisy-topk", k: 2, seed: 1, noiseLogits: nl });
  assert.deepEqual(arr(q.indices), arr(route(logits, { router: "topk-softmax", k: 2 }).indices));
  assert.throws(() => route(logits, { router: "noisy-topk", noiseWeight: [[1]] }), /noiseWeight/);
});

test("switch: top-1 weighted by its probability; jitter is seeded", () => {
  const logits = [[0, 1, 2], [3, 0, 0]];
  const r = route(logits, { router: "switch" });
  assert.equal(r.k, 1);
  assert.deepEqual(arr(r.indices), [2, 0]);
  close(arr(r.weights)[0], softmax([0, 1, 2])[2], 1e-6, "weight = prob, not renormalized");
  assert.throws(() => route(logits, { router: "switch", k: 2 }), /k/);
  const seed = freshSeed();
  const big = randMatrix(64, 8, seed);
  const j1 = route(big, { router: "switch", jitter: 0.5, seed: 3 });
  const j2 = route(big, { router: "switch", jitter: 0.5, seed: 3 });
  assert.deepEqual(arr(j1.weights), arr(j2.weights));
});

test("gshard: second expert masks the first; policies all / threshold / random", () => {
  const logits = [[2, 1, 0, -1], [0, 0.1, 3, 0]];
  const all = route(logits, { router: "gshard" });
  assert.deepEqual(arr(all.indices), [0, 1, 2, 1]);
  const p = softmax(logits[0]);
  close(arr(all.weights)[0], p[0] / (p[0] + p[1]), 1e-6, "renormalized g1");
  // Row 0: g2n = 1/(1+e) = 0.269; row 1: g2n = e^0.1/(e^3+e^0.1) = 0.052
  const th = route(logits, { router: "gshard", secondPolicy: "threshold", threshold: 0.2 });
  assert.deepEqual(arr(th.indices), [0, 1, 2, -1]);
  assert.equal(th.details.secondSkipped, 1);
  close(arr(th.weights)[2], 1, 1e-6, "a lone first expert gets weight 1");
  assert.equal(th.assignments, 3);
  // random: kept with probability min(1, 2·g2n); over many tokens the rate matches.
  const seed = freshSeed();
  const T = 4000;
  const many = randMatrix(T, 8, seed, 2);
  const rnd = route(many, { router: "gshard", secondPolicy: "random", seed: 9 });
  let expected = 0;
  const probs = rnd.probs!.data as Float32Array;
  const idx = arr(rnd.indices);
  for (let t = 0; t < T; t++) {
    const row = Array.from(probs.subarray(t * 8, t * 8 + 8));
    const sorted = [...row].sort((a, b) => b - a);
    expected += Math.min(1, (2 * sorted[1]) / (sorted[0] + sorted[1]));
  }
  const kept = idx.filter((e, i) => i % 2 === 1 && e >= 0).length;
  assert.ok(Math.abs(kept - expected) < 4 * Math.sqrt(T), `seed ${seed}: kept ${kept}, expected ≈ ${expected}`);
});

test("deepseek-v3: group-limited top-k, bias only selects, weights = renormalized s × scale", () => {
  // 8 experts, 4 groups of 2, keep 2 groups, k 2.
  const logits = [[0.5, 0.4, 3, -2, 2, 1.9, -1, -1]];
  const bias = [0, 0, 0, 0, 0, 0, 0, 0.0];
  const r = route(logits, { router: "deepseek-v3", k: 2, nGroup: 4, topkGroup: 2, scale: 2.5, bias });
  // group scores (sum of the two sigmoids): g0 1.22, g1 1.07, g2 1.75, g3 0.54 -> keep g2, g0.
  // Best inside: expert 4 (s 0.881), expert 5 (0.870); expert 2 (0.953) is in dropped group g1.
  assert.deepEqual(arr(r.indices), [4, 5]);
  const s4 = sigmoid(2), s5 = sigmoid(1.9);
  close(arr(r.weights)[0], (2.5 * s4) / (s4 + s5), 1e-6, "w0");
  // A bias on expert 7 makes it chosen, but its weight must come from the unbiased sigmoid.
  const b2 = [0, 0, 0, 0, 0, 0, 0, 10];
  const r2 = route(logits, { router: "deepseek-v3", k: 2, nGroup: 4, topkGroup: 2, scale: 1, bias: b2 });
  assert.ok(arr(r2.indices).includes(7), "bias steers selection");
  const i7 = arr(r2.indices).indexOf(7);
  const other = arr(r2.indices)[1 - i7];
  const s7 = sigmoid(-1), so = sigmoid(logits[0][other]);
  close(arr(r2.weights)[i7], s7 / (s7 + so), 1e-6, "no bias in the combine weight");
});

test("deepseek-v3: masked groups are −∞, not 0 (a case where 0 would pick a masked expert)", () => {
  // With negative biases every s + b in the kept groups is negative; a 0-filled mask would
  // make the masked experts (score 0) win.
  const logits = [[1, 1, 0, 0, -3, -3, -3, -3]];
  const bias = [-2, -2, -2, -2, -2, -2, -2, -2];
  const r = route(logits, { router: "deepseek-v3", k: 2, nGroup: 4, topkGroup: 1, bias });
  assert.deepEqual(arr(r.indices), [0, 1]);
  // What the 0-fill bug would produce, computed by hand: any expert outside group 0 scores 0
  // > s + b ≈ −1.27, so the picks would be outside group 0.
  const buggy = [0, 1, 2, 3, 4, 5, 6, 7].map((j) => (j < 2 ? sigmoid(logits[0][j]) - 2 : 0));
  const buggyTop = buggy.map((v, j) => [v, j]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 2).map((x) => x[1]);
  assert.notDeepEqual(arr(r.indices), buggyTop, "the test case separates −∞ from 0");
});

test("deepseek-v3: aux-loss-free bias update moves toward the mean load", () => {
  const b = updateExpertBias([0, 0, 0, 0], [10, 2, 4, 4], 1e-3);
  assert.deepEqual(Array.from(b), [-1e-3, 1e-3, 1e-3, 1e-3]); // mean load 5
  const c = updateExpertBias([1, 1], [3, 3], 0.5);
  assert.deepEqual(Array.from(c), [1, 1], "balanced load leaves the bias");
});

test("expert-choice: each expert takes exactly c tokens by probability", () => {
  const seed = freshSeed();
  const T = 40, E = 8;
  const logits = randMatrix(T, E, seed);
  const r = route(logits, { router: "expert-choice", capacityFactor: 2 });
  const c = Math.ceil((T * 2) / E);
  assert.deepEqual(Array.from(r.counts), new Array(E).fill(c), `seed ${seed}`);
  const probs = r.probs!.data as Float32Array;
  const idx = arr(r.indices), w = arr(r.weights);
  for (let e = 0; e < E; e++) {
    const col = Array.from({ length: T }, (_, t) => probs[t * E + e]).sort((a, b) => b - a);
    const mine: number[] = [];
    for (let a = 0; a < idx.length; a++) if (idx[a] === e) mine.push(w[a]);
    mine.sort((a, b) => b - a);
    for (let i = 0; i < c; i++) close(mine[i], col[i], 1e-6, `seed ${seed} expert ${e} rank ${i}`);
  }
  assert.equal(r.dropped.length, 0);
});

test("hash: deterministic per token id, k distinct experts, no logits needed", () => {
  const ids = [5, 9, 5, 1234567, 9];
  const r = route(null, { router: "hash", tokenIds: ids, numExperts: 4, k: 2, seed: 1 });
  const idx = arr(r.indices);
  assert.deepEqual(idx.slice(4, 6), idx.slice(0, 2), "same id, same experts");
  assert.deepEqual(idx.slice(8, 10), idx.slice(2, 4), "same id, same experts");
  for (let t = 0; t < ids.length; t++) assert.notEqual(idx[2 * t], idx[2 * t + 1]);
  const big = route(null, { router: "hash", tokenIds: Array.from({ length: 8000 }, (_, i) => i), numExperts: 8, k: 1 });
  for (const c of big.counts) assert.ok(Math.abs(c - 1000) < 150, `hash spreads ids: ${Array.from(big.counts)}`);
  assert.throws(() => route(null, { router: "softmax-topk" }), /logits/);
});

test("sinkhorn: balanced plan, converges, spreads skewed logits", () => {
  const seed = freshSeed();
  const T = 256, E = 8;
  const base = randMatrix(T, E, seed);
  const d = base.data as Float32Array;
  for (let t = 0; t < T; t++) d[t * E] += 3; // expert 0 is everyone's favourite
  const { plan, converged, iterations } = sinkhornBalance({ T, E, data: d }, 1e-6, 5000);
  assert.ok(converged, `seed ${seed}: ${iterations} iterations`);
  for (let e = 0; e < E; e++) {
    let s = 0;
    for (let t = 0; t < T; t++) s += plan[t * E + e];
    close(s, 1 / E, 1e-4, `seed ${seed} column ${e}`);
  }
  const sk = route(base, { router: "sinkhorn", k: 1 });
  const greedy = route(base, { router: "softmax-topk", k: 1 });
  assert.ok(Math.max(...sk.counts) < Math.max(...greedy.counts), `seed ${seed}: sinkhorn ${Array.from(sk.counts)} vs greedy ${Array.from(greedy.counts)}`);
  assert.equal(sk.details.converged, true);
  const w = arr(sk.weights), idx = arr(sk.indices);
  for (let t = 0; t < 4; t++) close(w[t], sigmoid(d[t * E + idx[t]]), 1e-6, "k=1 weight is the sigmoid of its logit");
});

test("bad inputs name the op, the argument and what was expected", () => {
  assert.throws(() => route([[1, 2]], { router: "nope" as any }), /moe\.route: argument 'router'/);
  assert.throws(() => route([[1, 2]], { k: 3 }), /argument 'k' must be an integer in \[1, 2\], got 3/);
  assert.throws(() => route([[1, NaN]], {}), /argument 'logits'.*NaN/);
  assert.throws(() => route([[1, 2, 3]], { router: "deepseek-v3", nGroup: 2 }), /nGroup/);
  assert.throws(() => route([[1, 2]], { capacityFactor: -1 }), /capacityFactor/);
  // −∞ logits are allowed: "never pick".
  const r = route([[0, -Infinity, 1]], { k: 2 });
  assert.deepEqual(arr(r.indices), [2, 0]);
});
