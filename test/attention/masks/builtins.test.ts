import { test } from "node:test";
import assert from "node:assert/strict";
import * as sl from "../../../lib/index.js";
import { compileProgram } from "../../../lib/attention/mask-ir-js.js";
import { windowStart } from "../../../lib/attention/masks/neighborhood.js";
import { SEED, bruteTile, randomBuiltins, rng } from "./helpers.js";

// Independent statements of each rule, written from the papers, not from the library code.
const refs: Record<string, (p: any, q: number, kv: number) => boolean> = {
  causal: (_p, q, kv) => q >= kv,
  slidingWindow: (p, q, kv) => (p.bidirectional ? Math.abs(q - kv) < p.w : q >= kv && q - kv < p.w),
  prefixLM: (p, q, kv) => kv < p.p || kv <= q,
  dilated: (p, q, kv) => Math.abs(q - kv) <= p.w && Math.abs(q - kv) % p.d === 0 && (!p.causal || q >= kv),
  sink: (p, q, kv) => kv <= q && (kv < p.n || q - kv < p.window),
  strided: (p, q, kv) => kv <= q && (q - kv < p.l || (q - kv) % p.l === 0),
  fixed: (p, q, kv) => kv <= q && (Math.trunc(q / p.l) === Math.trunc(kv / p.l) || kv % p.l >= p.l - p.c),
  power: (p, q, kv) => {
    if (kv > q) return false;
    const D = Math.trunc(q / p.block) - Math.trunc(kv / p.block);
    return D < p.window || Number.isInteger(Math.log2(D));
  },
};

test(`every built-in: IR closure == at(), reference rules, classifyTile sound (seed ${SEED})`, () => {
  const r = rng(SEED);
  for (let round = 0; round < 3; round++) {
    const n = r.int(40, 150);
    for (const m of randomBuiltins(r, n)) {
      const f = compileProgram(m.program!);
      const ref = refs[m.kind];
      for (let q = 0; q < n; q++)
        for (let kv = 0; kv < n; kv++) {
          const a = m.at(0, 0, q, kv);
          assert.equal(typeof a, "boolean");
          assert.equal(!!f(0, 0, q, kv, 0), a, `${m.name}: IR != at() at q=${q} kv=${kv} (seed ${SEED})`);
          if (ref) assert.equal(a, ref(m.params, q, kv), `${m.name}: at() != reference at q=${q} kv=${kv} (seed ${SEED})`);
        }
      for (let k = 0; k < 150; k++) {
        const q0 = r.int(0, n - 1), q1 = r.int(q0 + 1, Math.min(n, q0 + r.pick([1, 4, 16, 64, n])));
        const kv0 = r.int(0, n - 1), kv1 = r.int(kv0 + 1, Math.min(n, kv0 + r.pick([1, 4, 16, 64, n])));
        const c = m.classifyTile!(0, 0, q0, q1, kv0, kv1);
        if (c !== undefined)
          assert.equal(c, bruteTile(m, 0, 0, q0, q1, kv0, kv1), `${m.name}: classifyTile wrong on q[${q0},${q1}) kv[${kv0},${kv1}) (seed ${SEED})`);
      }
    }
  }
});

test("names carry parameters", () => {
  assert.equal(sl.masks.slidingWindow(256).name, "sliding_window_256");
  assert.equal(sl.masks.causal().name, "causal");
  assert.equal(sl.masks.prefixLM(64).name, "prefix_lm_64");
  assert.equal(sl.masks.sink(4, 1024).name, "sink_4_window_1024");
  assert.equal(sl.masks.dilated(8, 2).name, "dilated_8_2");
});

test("slidingWindow counts w keys per query, itself included", () => {
  const m = sl.masks.slidingWindow(5);
  for (const q of [10, 50]) {
    let k = 0;
    for (let kv = 0; kv < 100; kv++) if (m.at(0, 0, q, kv)) k++;
    assert.equal(k, 5);
  }
  assert.equal(m.at(0, 0, 10, 6), true);
  assert.equal(m.at(0, 0, 10, 5), false);
});

test("neighborhood: every query sees exactly kernel^d keys, window centred where it fits (NATTEN)", () => {
  const r = rng(SEED + 1);
  for (let round = 0; round < 6; round++) {
    const nd = r.int(1, 3);
    const shape = Array.from({ length: nd }, () => r.int(5, nd === 1 ? 60 : 9));
    const kernel = shape.map((n) => 2 * r.int(0, Math.min(3, Math.floor((n - 1) / 2))) + 1);
    const dilation = shape.map((n, i) => r.int(1, Math.max(1, Math.floor(n / kernel[i]))));
    const m = sl.masks[`neighborhood${nd}d` as "neighborhood1d"]({ shape, kernel, dilation });
    const N = shape.reduce((a, b) => a * b, 1);
    const want = kernel.reduce((a, b) => a * b, 1);
    for (let q = 0; q < N; q++) {
      let k = 0;
      for (let kv = 0; kv < N; kv++) if (m.at(0, 0, q, kv)) k++;
      assert.equal(k, want, `query ${q} of ${m.name} sees ${k} keys, expected ${want} (seed ${SEED})`);
    }
    assert.equal(m.at(0, 0, N, 0), false, "outside the grid is false");
  }
  // 1-D, no dilation: the window is the k consecutive keys containing q, as centred as possible
  for (let n = 5; n < 30; n++)
    for (const k of [1, 3, 5]) {
      if (k > n) continue;
      for (let x = 0; x < n; x++) {
        let best = -1;
        for (let s = 0; s + k <= n; s++) if (s <= x && x < s + k && (best < 0 || Math.abs(s + (k - 1) / 2 - x) < Math.abs(best + (k - 1) / 2 - x))) best = s;
        assert.equal(windowStart(x, n, k, 1, false), best, `n=${n} k=${k} x=${x}`);
      }
    }
  // tiled layout: same neighbourhoods, tokens renumbered tile by tile
  const plain = sl.masks.neighborhood2d({ shape: [6, 8], kernel: 3 });
  const tiled = sl.masks.neighborhood2d({ shape: [6, 8], kernel: 3, tile: [3, 4] });
  const pos = (t: number) => {
    // token t of the tiled order -> row-major position
    const T = Math.floor(t / 12), w = t % 12;
    const y = Math.floor(T / 2) * 3 + Math.floor(w / 4), x = (T % 2) * 4 + (w % 4);
    return y * 8 + x;
  };
  for (let q = 0; q < 48; q++) for (let kv = 0; kv < 48; kv++) assert.equal(tiled.at(0, 0, q, kv), plain.at(0, 0, pos(q), pos(kv)), `tiled q=${q} kv=${kv}`);
  assert.throws(() => sl.masks.neighborhood2d({ shape: [6, 8], kernel: 3, tile: [4, 4] }), /tile\[0\].*divisor/);
  // dilation: the window stays in the query's group (same remainder)
  const m = sl.masks.neighborhood1d({ shape: [20], kernel: 3, dilation: 3 });
  for (let q = 0; q < 20; q++) for (let kv = 0; kv < 20; kv++) if (m.at(0, 0, q, kv)) assert.equal(q % 3, kv % 3);
  // causal axis: the kernel keys ending at the query
  const c = sl.masks.neighborhood1d({ shape: [20], kernel: 4, causal: true });
  assert.deepEqual([...Array(20).keys()].filter((kv) => c.at(0, 0, 10, kv)), [7, 8, 9, 10]);
  assert.deepEqual([...Array(20).keys()].filter((kv) => c.at(0, 0, 1, kv)), [0, 1]);
});

test("document: inner mask runs on in-document positions", () => {
  const ids = [0, 0, 0, 1, 1, 1, 1, 2];
  const m = sl.masks.document(ids, sl.mask("kv == 0"));
  // each query sees only its document's first token
  for (let q = 0; q < 8; q++) for (let kv = 0; kv < 8; kv++) assert.equal(m.at(0, 0, q, kv), kv === [0, 0, 0, 3, 3, 3, 3, 7][q]);
  assert.throws(() => m.at(0, 0, 8, 0), /document.*\[0, 8\)/);
  assert.throws(() => sl.masks.document([0.5]), /ids\[0\].*int32/);
  const t = sl.tensor([0, 0, 1], { dtype: "i32" });
  assert.equal(sl.masks.document(t).at(0, 0, 2, 1), false);
});

test("bigBird: seeded, window + global + exactly `random` extra blocks per row", () => {
  const a = sl.masks.bigBird({ seqLen: 1024, block: 64, window: 3, global: 1, random: 2, seed: 7 });
  const b = sl.masks.bigBird({ seqLen: 1024, block: 64, window: 3, global: 1, random: 2, seed: 7 });
  const c = sl.masks.bigBird({ seqLen: 1024, block: 64, window: 3, global: 1, random: 2, seed: 8 });
  const ta = a.params.blocks as Int32Array;
  assert.deepEqual(ta, b.params.blocks);
  assert.notDeepEqual(ta, c.params.blocks);
  for (let i = 1; i < 16; i++) {
    let fixedCount = 0, total = 0;
    for (let j = 0; j < 16; j++) {
      total += ta[i * 16 + j];
      if (Math.abs(i - j) <= 1 || j < 1) fixedCount++;
    }
    assert.equal(total, fixedCount + 2, `row ${i}`);
  }
  assert.throws(() => a.at(0, 0, 1024, 0), /bigBird/);
});

test("radial: full band for adjacent frames, sink frame always visible, narrower far away", () => {
  const m = sl.masks.radial({ frames: 16, tokensPerFrame: 256, minWidth: 16 });
  const T = 256;
  assert.equal(m.at(0, 0, 5 * T + 3, 4 * T + 250), true); // adjacent frame: whole frame
  assert.equal(m.at(0, 0, 15 * T + 3, 0 * T + 200), true); // sink frame
  const w = m.params.width as Int32Array;
  for (let r = 2; r < 15; r++) if (w[r] >= 0 && w[r + 1] >= 0) assert.ok(w[r + 1] <= w[r]);
  assert.equal(m.at(0, 0, 12 * T + 10, 4 * T + 10 + w[8] + 1), false);
  assert.equal(m.at(0, 0, 16 * T, 5), true, "tokens after the video (text) see everything");
});

test("bad parameters name the op, the argument and the value", () => {
  assert.throws(() => sl.masks.slidingWindow(0), /slidingWindow: argument 'w' must be an integer >= 1, got 0/);
  assert.throws(() => sl.masks.slidingWindow(2.5), /got 2.5/);
  assert.throws(() => sl.masks.neighborhood1d({ shape: [10], kernel: 4 }), /odd/);
  assert.throws(() => sl.masks.neighborhood2d({ shape: [10, 10], kernel: 5, dilation: 3 }), /kernel\[0\] \* dilation\[0\]/);
  assert.throws(() => sl.masks.fixed(8, 9), /fixed: argument 'c'/);
  assert.throws(() => sl.masks.globalTokens([-1], 3), /set\[0\]/);
});

test("masks display as a small picture of their top-left corner", () => {
  const show = (m: unknown) => { assert.ok(sl.isDisplayable(m)); return m[sl.DISPLAY]() as Record<string, string>; };
  const b = show(sl.masks.slidingWindow(2));
  const lines = b["text/plain"].split("\n");
  assert.match(lines[0], /sliding_window_2/);
  assert.equal(lines[1], "█" + "·".repeat(31));
  assert.equal(lines[3], "·██" + "·".repeat(29));
  assert.match(b["text/html"], /<pre/);
  const d = sl.masks.document([0, 1]).toString();
  assert.equal(d, "Mask(document_2)");
  const pic = show(sl.masks.document([0, 0, 1]))["text/plain"];
  assert.match(pic, /outside the mask's range/);
});
