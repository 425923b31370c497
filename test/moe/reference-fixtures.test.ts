import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { route } from "../../lib/moe/route.js";
import { close } from "./helpers.js";

/**
 * Our routers and loss against Hugging Face transformers' own code, run on the device machine by
 * test/moe/fixtures/gen_reference.py (transformers 5.17, torch 2.11; the JSON records both). The
 * fixture stores the logits, so both sides see the same numbers. Regenerate with that script.
 */
const fixture = JSON.parse(readFileSync(new URL("../../../test/moe/fixtures/transformers-reference.json", import.meta.url), "utf8")) as {
  transformers: string;
  errors?: string[];
  cases: any[];
};

function sortedPicks(idx: Int32Array, w: Float32Array, t: number, k: number): [number[], number[]] {
  const pairs = Array.from({ length: k }, (_, i) => [idx[t * k + i], w[t * k + i]]).sort((a, b) => a[0] - b[0]);
  return [pairs.map((p) => p[0]), pairs.map((p) => p[1])];
}

test(`fixture covers every case it was asked for (transformers ${fixture.transformers})`, () => {
  assert.deepEqual(fixture.errors ?? [], []);
  const kinds = fixture.cases.map((c) => c.kind);
  assert.equal(kinds.filter((k) => k === "lb-loss").length, 4);
  assert.equal(kinds.filter((k) => k === "deepseek-v3").length, 3);
  assert.equal(kinds.filter((k) => k === "softmax-topk").length, 3);
});

test("load_balancing_loss_func (Mixtral, Qwen3-MoE) = our 'transformers' normalization", () => {
  for (const c of fixture.cases.filter((c) => c.kind === "lb-loss")) {
    const r = route(c.logits, { router: "softmax-topk", k: c.k, lossNormalization: "transformers" });
    close(r.losses.loadBalancing!.value, c.value, 1e-5, `${c.module} T ${c.T} E ${c.E} k ${c.k}`);
    close(r.losses.loadBalancing!.unscaled.megatron * c.k, c.value, 1e-5, `${c.module}: megatron = transformers / k`);
  }
});

test("DeepseekV3TopkRouter: same experts and weights (groups, bias incl. negative, scale)", () => {
  for (const c of fixture.cases.filter((c) => c.kind === "deepseek-v3")) {
    const r = route(c.logits, { router: "deepseek-v3", k: c.k, nGroup: c.nGroup, topkGroup: c.topkGroup, scale: c.scale, bias: c.bias });
    const idx = r.indices.data as Int32Array, w = r.weights.data as Float32Array;
    for (let t = 0; t < c.T; t++) {
      const [ids, ws] = sortedPicks(idx, w, t, c.k);
      const msg = `E ${c.E} groups ${c.nGroup}/${c.topkGroup} token ${t}`;
      assert.deepEqual(ids, c.indices[t], msg);
      for (let i = 0; i < c.k; i++) close(ws[i], c.weights[t][i], 1e-5, msg);
    }
  }
});

test("Qwen3-MoE and Mixtral top-k routers: same experts and weights (with and without norm_topk_prob)", () => {
  for (const c of fixture.cases.filter((c) => c.kind === "softmax-topk")) {
    const r = route(c.logits, { router: "softmax-topk", k: c.k, normalize: c.normalize });
    const idx = r.indices.data as Int32Array, w = r.weights.data as Float32Array;
    for (let t = 0; t < c.T; t++) {
      const [ids, ws] = sortedPicks(idx, w, t, c.k);
      const msg = `${c.module} normalize ${c.normalize} token ${t}`;
      assert.deepEqual(ids, c.indices[t], msg);
      for (let i = 0; i < c.k; i++) close(ws[i], c.weights[t][i], 1e-5, msg);
    }
  }
});
