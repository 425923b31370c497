import { test } from "node:test";
import assert from "node:assert/strict";
import { combine, dispatch, unpermute } from "../../lib/moe/dispatch.js";
import { route } from "../../lib/moe/route.js";
import { freshSeed, randMatrix } from "./helpers.js";

test("dispatch is a stable grouping; unpermute(dispatch(x)) = x on every kept slot", () => {
  const seed = freshSeed();
  for (const tile of [1, 4, 16])
    for (const cf of [undefined, 0.7]) {
      const T = 53, E = 6, d = 5;
      const x = randMatrix(T, d, seed);
      const r = route(randMatrix(T, E, seed + 1), { k: 2, capacityFactor: cf });
      const { permuted, plan } = dispatch(x, r, { tile });
      const msg = `seed ${seed} tile ${tile} cf ${cf}`;
      for (let e = 0; e < E; e++) {
        assert.equal((plan.offsets[e + 1] - plan.offsets[e]) % tile, 0, msg);
        assert.equal(plan.sizes[e], r.counts[e], msg);
        let prev = -1;
        for (let row = plan.offsets[e]; row < plan.offsets[e] + plan.sizes[e]; row++) {
          const t = plan.rowToken[row];
          assert.ok(t > prev, `${msg}: expert ${e} rows in token order`);
          prev = t;
          assert.equal((r.indices.data as Int32Array)[t * 2 + plan.rowSlot[row]], e, msg);
        }
        for (let row = plan.offsets[e] + plan.sizes[e]; row < plan.offsets[e + 1]; row++) {
          assert.equal(plan.rowToken[row], -1, msg);
          for (let j = 0; j < d; j++) assert.equal((permuted.data as Float32Array)[row * d + j], 0, `${msg}: padding is zero`);
        }
      }
      const back = unpermute(permuted, plan).data as Float32Array;
      const kept = r.kept.data as Uint8Array;
      const xd = x.data as Float32Array;
      for (let t = 0; t < T; t++)
        for (let s = 0; s < 2; s++)
          for (let j = 0; j < d; j++) assert.equal(back[(t * 2 + s) * d + j], kept[t * 2 + s] ? xd[t * d + j] : 0, msg);
      // Combine of the identity "experts" = Σ kept weights · x.
      const y = combine(permuted, plan, r.weights).data as Float32Array;
      const w = r.weights.data as Float32Array;
      for (let t = 0; t < T; t++) {
        const ws = w[t * 2] + w[t * 2 + 1];
        for (let j = 0; j < d; j++) assert.ok(Math.abs(y[t * d + j] - ws * xd[t * d + j]) < 1e-5, msg);
      }
    }
});

test("dispatch rejects a mismatched x", () => {
  const r = route(randMatrix(4, 3, 1), { k: 1 });
  assert.throws(() => dispatch(randMatrix(5, 2, 1), r), /moe\.dispatch: argument 'x' must be 4 rows/);
});
