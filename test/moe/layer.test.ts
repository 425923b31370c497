import { test } from "node:test";
import assert from "node:assert/strict";
import { gelu, silu, type Activation } from "../../lib/moe/activations.js";
import { expertsFromSafetensors } from "../../lib/moe/expert-weights.js";
import { layer, type MoeLayer } from "../../lib/moe/layer.js";
import { encodeSafetensors } from "../../lib/tensor/io/safetensors.js";
import { Tensor } from "../../lib/tensor/tensor.js";
import { ready } from "../../lib/backends/load.js";
import { backends, hasOp } from "../../lib/backends/registry.js";
import { freshSeed, randMatrix, relErr } from "./helpers.js";

/** The layer as a float64 loop over tokens and their kept experts (plus shared experts). */
function reference(m: MoeLayer, x: Float32Array, T: number, r: { indices: Int32Array; kept: Uint8Array; weights: Float32Array; k: number }): Float64Array {
  const d = m.dModel;
  const out = new Float64Array(T * d);
  const ffn = (xt: Float32Array, gate: Float32Array | null, up: Float32Array, down: Float32Array, e: number, f: number, act: Activation): Float64Array => {
    const h = new Float64Array(f);
    for (let j = 0; j < f; j++) {
      let u = 0, g = 0;
      for (let i = 0; i < d; i++) {
        u += xt[i] * up[e * d * f + i * f + j];
        if (gate) g += xt[i] * gate[e * d * f + i * f + j];
      }
      h[j] = act === "swiglu" ? silu(g) * u : act === "gelu" ? gelu(u) : Math.max(0, u);
    }
    const y = new Float64Array(d);
    for (let i = 0; i < d; i++) {
      let s = 0;
      for (let j = 0; j < f; j++) s += h[j] * down[e * f * d + j * d + i];
      y[i] = s;
    }
    return y;
  };
  const ex = m.experts;
  for (let t = 0; t < T; t++) {
    const xt = x.subarray(t * d, t * d + d);
    for (let s = 0; s < r.k; s++) {
      const a = t * r.k + s;
      if (!r.kept[a]) continue;
      const y = ffn(xt, ex.gate?.floatData() ?? null, ex.up.floatData(), ex.down.floatData(), r.indices[a], m.dFf, m.activation);
      for (let i = 0; i < d; i++) out[t * d + i] += r.weights[a] * y[i];
    }
    if (m.shared) {
      const sh = m.shared;
      const y = ffn(xt, sh.gate?.floatData() ?? null, sh.up.floatData(), sh.down.floatData(), 0, sh.dFf, m.activation);
      let g = 1;
      if (sh.gateVector) {
        let z = 0;
        for (let i = 0; i < d; i++) z += xt[i] * sh.gateVector.floatData()[i];
        g = 1 / (1 + Math.exp(-z));
      }
      for (let i = 0; i < d; i++) out[t * d + i] += g * y[i];
    }
  }
  return out;
}

test("MoE layer = a float64 per-token loop over its chosen experts (all activations, drops, shared, tiles)", async () => {
  const seed = freshSeed();
  const configs = [
    { activation: "swiglu" as const, router: "softmax-topk" as const, normalize: true },
    { activation: "gelu" as const, router: "topk-softmax" as const, capacityFactor: 0.8, tile: 8 },
    { activation: "relu" as const, router: "deepseek-v3" as const, nGroup: 2, topkGroup: 1, scale: 2.5, sharedExperts: { count: 1, gated: true } },
    { activation: "swiglu" as const, router: "softmax-topk" as const, capacityFactor: 1, dropPolicy: "probs" as const, sharedExperts: 2 },
  ];
  for (const c of configs) {
    // The JS reference GEMMs here (the cpu backend, loading in the background, has its own test below).
    const m = layer({ dModel: 24, dFf: 40, experts: 6, k: 2, seed: seed % 1000, backend: "js", ...c });
    const T = 37;
    const x = randMatrix(T, 24, seed);
    const { output, routing, expertFlops, backend } = await m.forward(x);
    assert.equal(backend, "js");
    const ref = reference(m, x.data as Float32Array, T, {
      indices: routing.indices.data as Int32Array,
      kept: routing.kept.data as Uint8Array,
      weights: routing.weights.data as Float32Array,
      k: routing.k,
    });
    const err = relErr(output.data as Float32Array, ref);
    assert.ok(err < 1e-5, `seed ${seed} ${JSON.stringify(c)}: rel err ${err}`);
    assert.ok(expertFlops > 0);
    if (c.capacityFactor) assert.ok(routing.capacity !== null);
  }
});

test("weights loaded from safetensors (torch [out, in] layout, Qwen2 shared gate) give the same layer", async () => {
  const seed = freshSeed();
  const src = layer({ dModel: 8, dFf: 12, experts: 4, k: 2, seed: seed % 1000, sharedExperts: { count: 1, gated: true }, normalize: true });
  const t = (x: Tensor, e?: number): Tensor => {
    // [E, in, out] slice e (or [in, out]) -> torch's [out, in]
    const [rows, cols] = e === undefined ? x.shape : x.shape.slice(1);
    const s = x.floatData().subarray((e ?? 0) * rows * cols);
    const o = new Float32Array(rows * cols);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) o[j * rows + i] = s[i * cols + j];
    return new Tensor([cols, rows], "f32", o);
  };
  const named: Record<string, Tensor> = { "mlp.gate.weight": t(src.gateWeight) };
  for (let e = 0; e < 4; e++) {
    named[`mlp.experts.${e}.gate_proj.weight`] = t(src.experts.gate!, e);
    named[`mlp.experts.${e}.up_proj.weight`] = t(src.experts.up, e);
    named[`mlp.experts.${e}.down_proj.weight`] = t(src.experts.down, e);
  }
  const sh = src.shared!;
  named["mlp.shared_expert.gate_proj.weight"] = t(sh.gate!, 0);
  named["mlp.shared_expert.up_proj.weight"] = t(sh.up, 0);
  named["mlp.shared_expert.down_proj.weight"] = t(sh.down, 0);
  named["mlp.shared_expert_gate.weight"] = t(sh.gateVector!);
  const bytes = await encodeSafetensors(named);
  const loaded = layer({ k: 2, normalize: true, weights: expertsFromSafetensors(bytes, { prefix: "mlp.", naming: "qwen" }) });
  const x = randMatrix(9, 8, seed);
  const a = (await src.forward(x)).output.data as Float32Array;
  const b = (await loaded.forward(x)).output.data as Float32Array;
  assert.ok(relErr(b, a) < 1e-6, `seed ${seed}`);
  assert.throws(() => expertsFromSafetensors(bytes, { prefix: "model.", naming: "qwen" }), /model\.experts\.0\.gate_proj\.weight/);
  // Mixtral's names (w1 gate, w3 up, w2 down), no shared expert.
  const mixtral: Record<string, Tensor> = { "block_sparse_moe.gate.weight": named["mlp.gate.weight"] };
  for (let e = 0; e < 4; e++) {
    mixtral[`block_sparse_moe.experts.${e}.w1.weight`] = named[`mlp.experts.${e}.gate_proj.weight`];
    mixtral[`block_sparse_moe.experts.${e}.w3.weight`] = named[`mlp.experts.${e}.up_proj.weight`];
    mixtral[`block_sparse_moe.experts.${e}.w2.weight`] = named[`mlp.experts.${e}.down_proj.weight`];
  }
  const mx = expertsFromSafetensors(await encodeSafetensors(mixtral), { prefix: "block_sparse_moe.", naming: "mixtral" });
  assert.equal(mx.shared, null);
  assert.equal(mx.experts.numExperts, 4);
  assert.deepEqual(Array.from(mx.experts.down.data as Float32Array), Array.from(src.experts.down.data as Float32Array));
});

test("deepseek-v3 layer keeps a selection bias that updateBias moves toward balance", async () => {
  const m = layer({ dModel: 8, dFf: 8, experts: 4, k: 1, router: "deepseek-v3", seed: 1 });
  const x = randMatrix(64, 8, 5);
  const { routing } = await m.forward(x);
  const b = m.updateBias(routing, 0.5);
  const mean = 16;
  for (let e = 0; e < 4; e++) assert.equal(b[e], 0.5 * Math.sign(mean - routing.routedCounts[e]));
  // The bias now steers the next forward (same x): the busiest expert loses tokens.
  const busiest = Array.from(routing.routedCounts).indexOf(Math.max(...routing.routedCounts));
  const again = await m.forward(x);
  assert.ok(again.routing.routedCounts[busiest] < routing.routedCounts[busiest]);
  assert.throws(() => layer({ dModel: 8, dFf: 8, experts: 4 }).updateBias(routing), /deepseek-v3/);
});

test("layer options are validated", () => {
  assert.throws(() => layer({ dModel: 8, dFf: 8, experts: 4, k: 5 }), /moe\.layer: argument 'k'/);
  assert.throws(() => layer({ dModel: 8, dFf: 8, experts: 4, activation: "tanh" as any }), /activation/);
});

test("MoE layer on the native cpu backend matches the float64 loop", async (t) => {
  await ready();
  if (!hasOp("cpu", "groupedGemm")) {
    const st = backends().find((b) => b.name === "cpu");
    t.skip(`cpu backend has no groupedGemm here: ${st?.loaded ? "op not registered" : st?.reason}`);
    return;
  }
  const seed = freshSeed();
  for (const c of [{ activation: "swiglu" as const, tile: 16 }, { activation: "gelu" as const, capacityFactor: 0.9, sharedExperts: { count: 1, gated: true } }]) {
    const m = layer({ dModel: 40, dFf: 72, experts: 8, k: 3, seed: seed % 1000, backend: "cpu", normalize: true, ...c });
    const T = 61;
    const x = randMatrix(T, 40, seed);
    const { output, routing, backend } = await m.forward(x);
    assert.equal(backend, "cpu");
    const ref = reference(m, x.data as Float32Array, T, {
      indices: routing.indices.data as Int32Array,
      kept: routing.kept.data as Uint8Array,
      weights: routing.weights.data as Float32Array,
      k: routing.k,
    });
    const err = relErr(output.data as Float32Array, ref);
    assert.ok(err < 1e-5, `seed ${seed} ${JSON.stringify(c)}: rel err ${err}`);
  }
});
