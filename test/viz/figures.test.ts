/**
 * The figure functions of lib/viz on small inputs: trace counts and types, axis titles, pooled
 * attention maps against a brute-force computation, densities in titles, colour-blind-safe
 * colours, and routing views against counts taken directly from the record.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as sl from "../../lib/index.js";
import type { Figure } from "../../lib/viz/index.js";
import { OKABE_ITO, TILE_COLOURS } from "../../lib/viz/index.js";

const SAFE_COLOURS = new Set<string>([...OKABE_ITO, ...Object.values(TILE_COLOURS)].map((c) => c.toUpperCase()));
const SAFE_SCALES = new Set(["Viridis", "Cividis"]);

function seedOf(): number {
  return 1 + Math.floor(Math.random() * 1e6);
}

/** Every axis of the layout that a trace uses has a non-empty title on at least one panel. */
function assertAxisTitles(fig: Figure, what: string): void {
  const titleOf = (k: string) => ((fig.layout[k] as any)?.title?.text ?? "") as string;
  const xs = Object.keys(fig.layout).filter((k) => /^xaxis\d*$/.test(k));
  const ys = Object.keys(fig.layout).filter((k) => /^yaxis\d*$/.test(k));
  assert.ok(xs.some((k) => titleOf(k).length > 0), `${what}: an x axis title`);
  assert.ok(ys.some((k) => titleOf(k).length > 0), `${what}: a y axis title`);
}

/** Colours used by traces: explicit colours from the safe palettes, scales named Viridis/Cividis. */
function assertSafeColours(fig: Figure, what: string): void {
  const axis = (fig.layout.coloraxis as any)?.colorscale;
  for (const t of [...(fig.data as any[]), ...(axis ? [{ colorscale: axis }] : [])]) {
    const cs = t.colorscale;
    if (typeof cs === "string") assert.ok(SAFE_SCALES.has(cs), `${what}: colour scale ${cs}`);
    else if (Array.isArray(cs)) for (const [, c] of cs) assert.ok(SAFE_COLOURS.has(String(c).toUpperCase()), `${what}: colour ${c}`);
    const mc = t.marker?.color;
    if (typeof mc === "string") assert.ok(SAFE_COLOURS.has(mc.toUpperCase()), `${what}: marker colour ${mc}`);
    const nc = t.node?.color;
    if (Array.isArray(nc)) for (const c of nc) assert.ok(SAFE_COLOURS.has(String(c).toUpperCase()), `${what}: node colour ${c}`);
  }
}

function titleText(fig: Figure): string {
  return ((fig.layout.title as any)?.text ?? "") as string;
}

/** Brute force: the (b, h) map in f64, masked cells -Infinity, then pooled as the view documents. */
function bruteMap(q: sl.Tensor, k: sl.Tensor, b: number, h: number, o: { kind: "probs" | "scores"; pool: "max" | "mean"; maxCells: number; mask?: sl.Mask }): (number | null)[][] {
  const [, Hq, Sq, D] = q.shape;
  const [, Hkv, Skv] = k.shape;
  const hk = Math.floor(h / (Hq / Hkv));
  const qf = q.floatData(), kf = k.floatData();
  const scale = 1 / Math.sqrt(D);
  const full: number[][] = [];
  for (let i = 0; i < Sq; i++) {
    const row: number[] = [];
    for (let j = 0; j < Skv; j++) {
      if (o.mask && !o.mask.at(b, h, i, j)) {
        row.push(-Infinity);
        continue;
      }
      let s = 0;
      for (let d = 0; d < D; d++) s += qf[((b * Hq + h) * Sq + i) * D + d] * kf[((b * Hkv + hk) * Skv + j) * D + d];
      row.push(s * scale);
    }
    if (o.kind === "probs") {
      const m = Math.max(...row);
      const z = row.reduce((a, v) => a + (v === -Infinity ? 0 : Math.exp(v - m)), 0);
      for (let j = 0; j < Skv; j++) row[j] = row[j] === -Infinity ? -Infinity : Math.exp(row[j] - m) / z;
    }
    full.push(row);
  }
  const pq = Math.max(1, Math.ceil(Sq / o.maxCells)), pk = Math.max(1, Math.ceil(Skv / o.maxCells));
  const out: (number | null)[][] = [];
  for (let I = 0; I < Math.ceil(Sq / pq); I++) {
    const r: (number | null)[] = [];
    for (let J = 0; J < Math.ceil(Skv / pk); J++) {
      const vals: number[] = [];
      for (let i = I * pq; i < Math.min(Sq, (I + 1) * pq); i++)
        for (let j = J * pk; j < Math.min(Skv, (J + 1) * pk); j++) if (full[i][j] !== -Infinity) vals.push(full[i][j]);
      r.push(vals.length === 0 ? null : o.pool === "max" ? Math.max(...vals) : vals.reduce((a, v) => a + v, 0) / vals.length);
    }
    out.push(r);
  }
  return out;
}

function assertMapClose(got: (number | null)[][], want: (number | null)[][], tol: number, ctx: string): void {
  assert.equal(got.length, want.length, `${ctx}: rows`);
  for (let i = 0; i < want.length; i++) {
    assert.equal(got[i].length, want[i].length, `${ctx}: cols of row ${i}`);
    for (let j = 0; j < want[i].length; j++) {
      const g = got[i][j], w = want[i][j];
      if (w === null) {
        assert.equal(g, null, `${ctx}: cell (${i}, ${j}) should be blank (masked)`);
        continue;
      }
      assert.ok(g !== null && Math.abs(g - w) <= tol * Math.max(1, Math.abs(w)), `${ctx}: cell (${i}, ${j}) ${g} vs ${w}`);
    }
  }
}

for (const kind of ["probs", "scores"] as const)
  for (const pool of ["max", "mean"] as const)
    test(`attentionMap ${kind}, ${pool}-pooled with a causal mask: within maxCells and equal to brute force`, async () => {
      const seed = seedOf();
      const ctx = `seed ${seed}`;
      // 37 x 29: ragged pools on both sides (ceil(37/8) = 5 rows per cell, ceil(29/8) = 4 cols)
      const q = sl.randn([2, 2, 37, 8], { seed });
      const k = sl.randn([2, 1, 29, 8], { seed: seed + 1 });
      const mask = sl.masks.causal();
      const fig = await sl.viz.attentionMap(q, k, { b: 1, h: 1, kind, pool, maxCells: 8, mask });
      assert.equal(fig.data.length, 1);
      const t = fig.data[0] as any;
      assert.equal(t.type, "heatmap");
      assert.ok(t.z.length <= 8 && t.z.every((r: unknown[]) => r.length <= 8), `${ctx}: at most maxCells per side`);
      assertMapClose(t.z, bruteMap(q, k, 1, 1, { kind, pool, maxCells: 8, mask }), 1e-4, ctx);
      assert.match(titleText(fig), new RegExp(`${pool}-pooled over 5×4 cells`), "the pooling is said in the title");
      assert.match(titleText(fig), /mask causal/);
      assert.match(t.hovertemplate, /%\{z/, "hover shows the exact value");
      assert.equal(t.text[1][7], `q 5–9<br>kv 28–28`, "pooled hover gives the exact token ranges (ragged last cell)");
      assert.match(t.hovertemplate, new RegExp(`^%\\{text\\}<br>${pool} `));
      assertAxisTitles(fig, "attentionMap");
      assertSafeColours(fig, "attentionMap");
    });

test("attentionMap unpooled probabilities: rows sum to 1; the log scale is log10 of them; no pooling in the title", async () => {
  const seed = seedOf();
  const q = sl.randn([1, 1, 12, 4], { seed });
  const k = sl.randn([1, 1, 12, 4], { seed: seed + 1 });
  const fig = await sl.viz.attentionMap(q, k, {});
  const z = (fig.data[0] as any).z as number[][];
  assert.equal(z.length, 12);
  for (const r of z) assert.ok(Math.abs(r.reduce((a, v) => a + v, 0) - 1) < 1e-5, `seed ${seed}: row sums to 1`);
  assert.doesNotMatch(titleText(fig), /pooled/);
  const lg = await sl.viz.attentionMap(q, k, { logScale: true });
  const zl = (lg.data[0] as any).z as number[][];
  for (let i = 0; i < 12; i++) for (let j = 0; j < 12; j++) assert.ok(Math.abs(zl[i][j] - Math.log10(z[i][j])) < 1e-9);
  assert.equal((lg.data[0] as any).colorbar.title.text, "log10 p");
});

test("attentionMap small multiples: one heatmap per head on its own axes, each equal to the single-head map", async () => {
  const seed = seedOf();
  const q = sl.randn([1, 4, 16, 8], { seed });
  const k = sl.randn([1, 2, 16, 8], { seed: seed + 1 });
  const fig = await sl.viz.attentionMap(q, k, { heads: [0, 1, 3], kind: "scores" });
  assert.equal(fig.data.length, 3);
  assert.deepEqual(fig.data.map((t: any) => [t.xaxis, t.yaxis]), [["x", "y"], ["x2", "y2"], ["x3", "y3"]]);
  assert.deepEqual((fig.layout.grid as any).rows * (fig.layout.grid as any).columns >= 3, true);
  assert.deepEqual((fig.layout.annotations as any[]).map((a) => a.text), ["head 0", "head 1", "head 3"]);
  const single = await sl.viz.attentionMap(q, k, { h: 3, kind: "scores" });
  assert.deepEqual((fig.data[2] as any).z, (single.data[0] as any).z);
  assert.ok(fig.data.every((t: any) => t.coloraxis === "coloraxis" && t.colorbar === undefined), "one shared colour axis");
  assert.equal((fig.layout.coloraxis as any).colorbar.title.text, "score");
  assertAxisTitles(fig, "attentionMap heads");
  assertSafeColours(fig, "attentionMap heads");
});

test("attentionMap rejects bad inputs naming the argument", async () => {
  const q = sl.randn([1, 2, 8, 4], { seed: 1 });
  await assert.rejects(sl.viz.attentionMap(q, sl.randn([1, 3, 8, 4], { seed: 2 })), /viz\.attentionMap: argument 'k'/);
  await assert.rejects(sl.viz.attentionMap(q, q, { h: 2 }), /viz\.attentionMap: argument 'h'/);
  await assert.rejects(sl.viz.attentionMap(q, q, { maxCells: 1 }), /viz\.attentionMap: argument 'maxCells'/);
});

/** The density printed in the title, as a fraction. */
function titleDensity(fig: Figure): number {
  const m = /block density ([\d.e+-]+)%/.exec(titleText(fig));
  assert.ok(m, `a block density in the title: ${titleText(fig)}`);
  return Number(m[1]) / 100;
}

test("blockMaskView: tile classes as z, density in the title matches BlockMask.density, three colour bands", () => {
  const bm = sl.createBlockMask(sl.masks.slidingWindow(40), { qLen: 200, kvLen: 200, blockSize: 16 });
  const fig = sl.viz.blockMaskView(bm);
  assert.equal(fig.data.length, 1);
  const t = fig.data[0] as any;
  assert.equal(t.type, "heatmap");
  const cls = bm.tileClasses(0, 0);
  const nk = bm.kvBlocks;
  assert.deepEqual(t.z, Array.from({ length: bm.qBlocks }, (_, i) => Array.from(cls.subarray(i * nk, (i + 1) * nk))));
  const d = bm.density({ level: "block", denominator: "full" });
  assert.ok(Math.abs(titleDensity(fig) - d) < 0.0005 * Math.max(1, d * 100), `${titleDensity(fig)} vs ${d}`);
  assert.match(titleText(fig), /computed tiles \/ all tiles/, "the density's definition");
  assert.deepEqual(t.colorbar.ticktext, ["empty", "partial", "full"], "a legend naming the classes");
  assert.ok(t.text[0][0].includes("kv 0–15"), "hover gives the tile's exact range");
  assert.deepEqual(t.x, [...Array.from({ length: 13 }, (_, j) => j * 16), 200], "cell edges in tokens, the ragged last tile ending at kvLen");
  assert.deepEqual(t.y, t.x);
  assertAxisTitles(fig, "blockMaskView");
  assertSafeColours(fig, "blockMaskView");
});

test("blockMaskView pools large grids by the max class, within maxCells", () => {
  const bm = sl.createBlockMask(sl.masks.causal(), { qLen: 1000, kvLen: 1000, blockSize: 8 }); // 125 x 125 tiles
  const fig = sl.viz.blockMaskView(bm, { maxCells: 32 });
  const z = (fig.data[0] as any).z as number[][];
  const pool = Math.ceil(125 / 32);
  assert.equal(z.length, Math.ceil(125 / pool));
  assert.ok(z.length <= 32 && z.every((r) => r.length <= 32));
  const cls = bm.tileClasses(0, 0);
  for (let I = 0; I < z.length; I++)
    for (let J = 0; J < z[I].length; J++) {
      let m = 0;
      for (let i = I * pool; i < Math.min(125, (I + 1) * pool); i++) for (let j = J * pool; j < Math.min(125, (J + 1) * pool); j++) m = Math.max(m, cls[i * 125 + j]);
      assert.equal(z[I][J], m, `cell (${I}, ${J})`);
    }
  assert.match(titleText(fig), new RegExp(`pooled ${pool}×${pool} tiles per cell`));
});

test("blockMaskView per-head small multiples from an estimator's block mask (heads differ)", async () => {
  const seed = seedOf();
  const q = sl.randn([1, 2, 256, 16], { seed });
  const k = sl.randn([1, 2, 256, 16], { seed: seed + 1 });
  const bm = await sl.dynamic.moba(q, k, { mobaBlock: 32, blockSize: 32, topK: 2 });
  const fig = sl.viz.blockMaskView(bm, { heads: [0, 1] });
  assert.equal(fig.data.length, 2);
  for (let h = 0; h < 2; h++) {
    const cls = bm.tileClasses(0, h);
    const nk = bm.kvBlocks;
    assert.deepEqual((fig.data[h] as any).z, Array.from({ length: bm.qBlocks }, (_, i) => Array.from(cls.subarray(i * nk, (i + 1) * nk))), `seed ${seed}: head ${h}`);
  }
  assert.ok(Math.abs(titleDensity(fig) - bm.density({ level: "block", denominator: "full" })) < 0.0005);
  assert.throws(() => sl.viz.blockMaskView({} as any), /viz\.blockMaskView: argument 'bm'/);
  assert.throws(() => sl.viz.blockMaskView(bm, { heads: [0, 2] }), /viz\.blockMaskView: argument 'h' must be a head index in \[0, 2\)/);
  assert.throws(() => sl.viz.blockMaskView(bm, { b: -1 }), /viz\.blockMaskView: argument 'b'/);
});

function record(seed: number, opts: Record<string, unknown> = {}) {
  return sl.moe.route(sl.moe.randomLogits(64, 8, { seed }), { router: "softmax-topk", k: 2, capacityFactor: 1, ...opts } as any);
}

test("routingHeatmap: token x expert weights equal the kept weights, with exact hover text", () => {
  const seed = seedOf();
  const r = record(seed);
  const fig = sl.viz.routingHeatmap(r);
  const t = fig.data[0] as any;
  assert.equal(t.type, "heatmap");
  assert.equal(t.z.length, 64);
  const idx = r.indices.data as Int32Array, w = r.weights.data as Float32Array, kept = r.kept.data as Uint8Array;
  for (let tok = 0; tok < 64; tok++) {
    const want = new Array(8).fill(0);
    for (let j = 0; j < 2; j++) if (kept[tok * 2 + j] && idx[tok * 2 + j] >= 0) want[idx[tok * 2 + j]] = w[tok * 2 + j];
    assert.deepEqual(t.z[tok], want, `seed ${seed}: token ${tok}`);
  }
  if (r.dropped.length > 0) assert.ok(t.text.flat().some((s: string) => s.includes("DROPPED")), "drops named in hover");
  assertAxisTitles(fig, "routingHeatmap");
  assertSafeColours(fig, "routingHeatmap");
  assert.equal(sl.viz.routingHeatmap(r, { maxTokens: 10 }).data[0].z instanceof Array && (sl.viz.routingHeatmap(r, { maxTokens: 10 }).data[0] as any).z.length, 10);
});

test("expertLoad: bars per layer sum to the kept counts, plus the even-share line", () => {
  const seed = seedOf();
  const layers = [record(seed), record(seed + 1), record(seed + 2)];
  const fig = sl.viz.expertLoad(layers);
  assert.equal(fig.data.length, 4);
  assert.deepEqual(fig.data.map((t: any) => t.type), ["bar", "bar", "bar", "scatter"]);
  layers.forEach((r, i) => assert.deepEqual((fig.data[i] as any).y, Array.from(r.counts), `seed ${seed}: layer ${i}`));
  assert.equal((fig.data[3] as any).y[0], layers[0].assignments / 8);
  assertAxisTitles(fig, "expertLoad");
  assertSafeColours(fig, "expertLoad");
  assert.throws(() => sl.viz.expertLoad([]), /viz\.expertLoad: argument 'records'/);
});

test("droppedByPosition: the bins add up to the record's drops", () => {
  const seed = seedOf();
  const r = record(seed, { capacityFactor: 0.5 });
  assert.ok(r.dropped.length > 0, "capacity factor 0.5 drops assignments");
  const fig = sl.viz.droppedByPosition(r, { bins: 8 });
  const y = (fig.data[0] as any).y as number[];
  assert.equal(y.length, 8);
  assert.equal(y.reduce((a, v) => a + v, 0), r.dropped.length);
  const perBin = new Array(8).fill(0);
  for (const d of r.dropped as any[]) perBin[Math.floor((d.token * 8) / 64)]++;
  assert.deepEqual(y, perBin, `seed ${seed}`);
  assertAxisTitles(fig, "droppedByPosition");
  assertSafeColours(fig, "droppedByPosition");
});

test("coactivation: symmetric E x E counts equal to a brute-force pair count", () => {
  const seed = seedOf();
  const r = record(seed);
  const fig = sl.viz.coactivation(r);
  const z = (fig.data[0] as any).z as number[][];
  const want = Array.from({ length: 8 }, () => new Array(8).fill(0));
  const idx = r.indices.data as Int32Array;
  for (let t = 0; t < 64; t++) {
    const a = idx[t * 2], b = idx[t * 2 + 1];
    want[a][a]++;
    want[b][b]++;
    want[a][b]++;
    want[b][a]++;
  }
  assert.deepEqual(z, want, `seed ${seed}`);
  assertAxisTitles(fig, "coactivation");
  assertSafeColours(fig, "coactivation");
});

test("routingSankey: links between consecutive layers count every token once", () => {
  const seed = seedOf();
  const layers = [record(seed), record(seed + 1), record(seed + 2)];
  const fig = sl.viz.routingSankey(layers, { topLinks: 64 });
  const t = fig.data[0] as any;
  assert.equal(t.type, "sankey");
  assert.equal(t.node.label.length, 3 * 8);
  const { source, target, value } = t.link as { source: number[]; target: number[]; value: number[] };
  for (let l = 0; l < 2; l++) {
    let sum = 0;
    for (let i = 0; i < source.length; i++) if (Math.floor(source[i] / 8) === l) {
      assert.equal(Math.floor(target[i] / 8), l + 1);
      sum += value[i];
    }
    assert.equal(sum, 64, `seed ${seed}: layer ${l} -> ${l + 1}`);
  }
  const top1 = (r: any, tok: number) => (r.indices.data as Int32Array)[tok * 2];
  let n01 = 0;
  for (let tok = 0; tok < 64; tok++) if (top1(layers[0], tok) === 3 && top1(layers[1], tok) === 5) n01++;
  const i = source.findIndex((s, j) => s === 3 && target[j] === 8 + 5);
  assert.equal(i < 0 ? 0 : value[i], n01);
  assertSafeColours(fig, "routingSankey");
  assert.throws(() => sl.viz.routingSankey([layers[0]]), /viz\.routingSankey: argument 'layers'/);
});

test("recallVsDensity and timeVsDensity: one trace per method / label with the exact values", () => {
  const rows = [
    { method: "window", density_element_full: 0.25, recall: 0.8 },
    { method: "moba", density_element_full: 0.125, recall: 0.9 },
  ];
  const f = sl.viz.recallVsDensity(rows);
  assert.equal(f.data.length, 2);
  assert.deepEqual(f.data.map((t: any) => [t.name, t.x[0], t.y[0]]), [["window", 0.25, 0.8], ["moba", 0.125, 0.9]]);
  assert.match(String((f.layout.xaxis as any).title.text), /element, full/);
  assertAxisTitles(f, "recallVsDensity");
  assertSafeColours(f, "recallVsDensity");
  const g = sl.viz.timeVsDensity([
    { label: "cpu", density: 0.5, ms: 20 },
    { label: "cpu", density: 0.1, ms: 4 },
    { label: "flex", density: 0.1, ms: 9, peer: true },
  ], { logY: true });
  assert.equal(g.data.length, 2);
  assert.deepEqual(g.data.map((t: any) => [t.name, t.line.dash]), [["cpu", "solid"], ["flex (peer)", "dash"]], "peers dashed and named");
  assert.deepEqual([(g.data[0] as any).x, (g.data[0] as any).y], [[0.1, 0.5], [4, 20]], "sorted by density");
  assert.equal((g.layout.yaxis as any).type, "log");
  assert.match(String((g.layout.yaxis as any).title.text), /ms/, "units on the axis");
  assertAxisTitles(g, "timeVsDensity");
  assertSafeColours(g, "timeVsDensity");
  assert.throws(() => sl.viz.timeVsDensity([]), /viz\.timeVsDensity: argument 'rows'/);
  assert.throws(() => sl.viz.timeVsDensity([{ label: "x", density: 0.1 } as any]), /viz\.timeVsDensity: argument 'rows\[0\]'/);
});

test("blockMaskView draws the output of every prefill estimator: per-head classes and the density in the title", async () => {
  const seed = seedOf();
  const q = sl.randn([1, 2, 512, 32], { seed }), k = sl.randn([1, 2, 512, 32], { seed: seed + 1 });
  const d = sl.dynamic as Record<string, any>;
  const estimators: Record<string, () => Promise<sl.BlockMask>> = {
    verticalSlash: () => d.verticalSlash(q, k),
    minferenceBlockSparse: () => d.minferenceBlockSparse(q, k),
    aShape: () => d.aShape(q, k),
    streaming: () => d.streaming(q, k),
    xattention: () => d.xattention(q, k),
    flexPrefill: () => d.flexPrefill(q, k),
    moba: () => d.moba(q, k),
    seerAttention: () => d.seerAttention(q, k),
    nsaSelection: () => d.nsaSelection(q, k),
    hip: () => d.hip(q, k),
    routingTransformer: () => d.routingTransformer(q, k),
    biformer: () => d.biformer(q, k),
    duoAttentionPrefill: () => d.duoAttentionPrefill(q, k, { alpha: [0.9, 0.1] }),
  };
  for (const [name, run] of Object.entries(estimators)) {
    const bm = await run();
    const fig = sl.viz.blockMaskView(bm, { heads: [0, 1] });
    assert.equal(fig.data.length, 2, name);
    for (let h = 0; h < 2; h++) {
      const cls = bm.tileClasses(0, bm.H === 1 ? 0 : h);
      const nk = bm.kvBlocks;
      assert.deepEqual((fig.data[h] as any).z, Array.from({ length: bm.qBlocks }, (_, i) => Array.from(cls.subarray(i * nk, (i + 1) * nk))), `${name}, seed ${seed}: head ${h}`);
    }
    const want = bm.density({ level: "block", denominator: "full" });
    assert.ok(Math.abs(titleDensity(fig) - want) < 0.0005 * Math.max(1, want * 100), `${name}: title density ${titleDensity(fig)} vs ${want}`);
  }
});

test("recallVsDensity on a real sl.compare table: one point per method at its element density and recall", async () => {
  const seed = seedOf();
  const q = sl.randn([1, 2, 256, 16], { seed }), k = sl.randn([1, 2, 256, 16], { seed: seed + 1 });
  const t = await sl.compare({ moba: (a: sl.Tensor, b: sl.Tensor) => sl.dynamic.moba(a, b, { mobaBlock: 64, blockSize: 64, topK: 2 }) }, q, k, k);
  const rows = t.objects() as Record<string, any>[];
  const f = sl.viz.recallVsDensity(t);
  assert.equal(f.data.length, rows.length);
  const col = Object.keys(rows[0]).find((c) => c.startsWith("density_element_"))!;
  assert.deepEqual(f.data.map((d: any) => [d.name, d.x[0], d.y[0]]), rows.map((r) => [r.method, r[col], r.recall]), `seed ${seed}`);
  assert.match(String((f.layout.xaxis as any).title.text), new RegExp(col.replace("density_", "").replace("_", ", ")));
});
