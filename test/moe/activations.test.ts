import { test } from "node:test";
import { erf, gelu, silu } from "../../lib/moe/activations.js";
import { close } from "./helpers.js";
import assert from "node:assert/strict";
import { Rng } from "../../lib/moe/rng.js";

test("erf / gelu / silu against known values", () => {
  // Values from the standard tables (erf) and torch.nn.GELU() / F.silu.
  const cases: [number, number][] = [[0, 0], [0.1, 0.1124629160182849], [0.5, 0.5204998778130465], [1, 0.8427007929497149], [2, 0.9953222650189527], [2.6, 0.9997639655834707], [3, 0.9999779095030014], [-1.5, -0.9661051464753108]];
  for (const [x, v] of cases) close(erf(x), v, 1e-12, `erf(${x})`);
  close(gelu(1), 0.8413447460685429, 1e-12, "gelu(1)");
  close(gelu(-2), -0.04550026389635842, 1e-10, "gelu(-2)");
  close(silu(1), 0.7310585786300049, 1e-12, "silu(1)");
});

test("Rng.fillUniform is the uniform() stream scaled to (−bound, bound)", () => {
  const a = new Rng(42), b = new Rng(42);
  const out = new Float32Array(1000);
  a.fillUniform(out, 0.5);
  for (let i = 0; i < out.length; i++) close(out[i], (2 * b.uniform() - 1) * 0.5, 1e-6, `draw ${i}`);
  assert.equal(a.uniform(), b.uniform(), "both streams continue in step");
});
