/**
 * Synthetic attention that looks like an LLM's, built from seeds. SYNTHETIC: no model was run;
 * Q and K are constructed so that their scores contain the structures the sparse-attention
 * papers report (sinks, a local band, vertical stripes, slash lines, retrieval needles).
 */
import { argError } from "../../errors.js";
import { Tensor } from "../../tensor/tensor.js";
import { SeededRandom } from "../dynamic/rng.js";

/** Options of {@link llmLike}. */
export interface LlmLikeOptions {
  /** Batch. Default 1. */
  B?: number;
  /** Query heads. Default 8. */
  H?: number;
  /** KV heads (divides H). Default H. */
  Hkv?: number;
  /** Sequence length. Default 4096. */
  S?: number;
  /** Head dim (>= 32). Default 64. */
  D?: number;
  /** Seed of everything. Default 0. */
  seed?: number;
  /** Attention sinks: the first `sinks` keys. Default 4. */
  sinks?: number;
  /** Key columns that form vertical stripes, per KV head. Default 16. */
  stripes?: number;
  /** Slash lines (diagonal offsets) per query head, besides the local band. Default 3. */
  slashLines?: number;
  /** Planted retrieval needles per KV head (fewer when two draw the same query start). Default 4. */
  needles?: number;
  /** Width (in tokens) of the local band's decay. Default 64. */
  localWidth?: number;
}

/** What was planted in each head, so that tests and users can check an estimator finds it. */
export interface HeadPattern {
  /** Query head. */
  head: number;
  /** Relative strengths (logits added on the structure) of each component in this head. */
  strengths: { sink: number; local: number; stripes: number; slash: number; needle: number };
  /** Vertical-stripe key columns (of this head's KV head). */
  stripeColumns: number[];
  /** Slash-line offsets q − kv. */
  slashOffsets: number[];
  /** Needles: queries in [qStart, qEnd) look up key `key`. */
  needles: { key: number; qStart: number; qEnd: number }[];
}

/** A synthetic workload: tensors and the planted structure. */
export interface LlmLikeWorkload {
  /** f32 [B, H, S, D] */
  q: Tensor<"f32">;
  /** f32 [B, Hkv, S, D] */
  k: Tensor<"f32">;
  /** f32 [B, Hkv, S, D] */
  v: Tensor<"f32">;
  heads: HeadPattern[];
  /** One line: what this is and how it was made. */
  description: string;
}

/**
 * Builds synthetic LLM-like Q, K, V whose causal attention has, per head, a mixture of
 * attention sinks, a local band, vertical stripes, slash lines and planted retrieval needles.
 *
 * How: D is split into subspaces. Sinks and stripes: marked keys carry a large component on a
 * shared direction that the head's queries also carry (score = a fixed bonus on those
 * columns). Local band and slash lines: rotary-like phases: key j holds (cos ω_f j, sin ω_f j)
 * and query i holds Σ_lines w·(cos ω_f (i − δ), sin ω_f (i − δ)), so q_i · k_j peaks where
 * i − j = δ (δ = 0 for the band, with frequencies drawn for a decay width `localWidth`; random
 * high frequencies for the sharp slash lines). Needles: a query range and one key share a
 * random direction. The rest of D is Gaussian noise. Per-head strengths are drawn from the
 * seed, so heads differ (sink-heavy, local, vertical-slash, retrieval) as in real models.
 * The same options and seed give the same tensors on every machine.
 *
 * @example
 * const w = sl.workloads.llmLike({ S: 4096, H: 8, D: 64, seed: 1 });
 * const bm = await sl.dynamic.verticalSlash(w.q, w.k);
 * w.heads[0].stripeColumns;   // the planted vertical stripes of head 0
 */
export function llmLike(opts: LlmLikeOptions = {}): LlmLikeWorkload {
  const op = "workloads.llmLike";
  const int = (name: string, v: unknown, d: number, min: number) => {
    const x = v === undefined ? d : v;
    if (typeof x !== "number" || !Number.isInteger(x) || x < min) argError(op, name, `an integer >= ${min}`, String(x));
    return x;
  };
  const B = int("B", opts.B, 1, 1);
  const H = int("H", opts.H, 8, 1);
  const Hkv = int("Hkv", opts.Hkv, H, 1);
  if (H % Hkv !== 0) argError(op, "Hkv", `a divisor of H = ${H}`, String(Hkv));
  const S = int("S", opts.S, 4096, 2);
  const D = int("D", opts.D, 64, 32);
  const seed = int("seed", opts.seed, 0, 0);
  const nSink = Math.min(S, int("sinks", opts.sinks, 4, 0));
  const nStripe = Math.min(S, int("stripes", opts.stripes, 16, 0));
  const nSlash = int("slashLines", opts.slashLines, 3, 0);
  const nNeedle = int("needles", opts.needles, 4, 0);
  const width = int("localWidth", opts.localWidth, 64, 1);
  const group = H / Hkv;
  const rng = new SeededRandom(seed);

  // Subspaces of D: [sink 1][stripe 1][needle nd][local 2·lp][slash 2·sp][noise rest].
  const nd = 4;
  const lp = Math.floor((D - 6) / 8);
  const sp = Math.floor((D - 6) / 6);
  const oSink = 0;
  const oStripe = 1;
  const oNeedle = 2;
  const oLocal = oNeedle + nd;
  const oSlash = oLocal + 2 * lp;
  const oNoise = oSlash + 2 * sp;
  const sqrtD = Math.sqrt(D);
  // Frequencies: local band ~ |N(0, 1/width)| (a Gaussian kernel by random features); slash
  // lines uniform in (0.2π, π) (sharp peaks).
  const wLocal = Array.from({ length: lp }, () => Math.abs(rng.normal()) / width);
  const wSlash = Array.from({ length: sp }, () => (0.2 + 0.8 * rng.next()) * Math.PI);

  const q = new Float32Array(B * H * S * D);
  const k = new Float32Array(B * Hkv * S * D);
  const v = new Float32Array(B * Hkv * S * D);
  const heads: HeadPattern[] = [];
  const kvInfo: { stripes: number[]; needles: { key: number; qStart: number; qEnd: number; dir: number[] }[] }[] = [];
  for (let kh = 0; kh < Hkv; kh++) {
    const stripes = new Set<number>();
    while (stripes.size < Math.min(nStripe, Math.max(0, S - nSink))) stripes.add(nSink + rng.int(S - nSink));
    const needles = Array.from({ length: nNeedle }, () => {
      const key = rng.int(Math.max(1, Math.floor(S * 0.8)));
      const qStart = Math.min(S - 1, key + 1 + rng.int(Math.max(1, S - key - 1)));
      const qEnd = Math.min(S, qStart + 1 + rng.int(Math.max(1, Math.floor(S / 8))));
      const dir = Array.from({ length: nd }, () => rng.normal());
      const n = Math.hypot(...dir);
      return { key, qStart, qEnd, dir: dir.map((x) => x / n) };
    });
    // Query ranges must not overlap (a query looks up one needle): clip each at the next start.
    needles.sort((a, b) => a.qStart - b.qStart);
    const kept = needles.filter((n, i) => i === 0 || n.qStart !== needles[i - 1].qStart);
    for (let i = 0; i + 1 < kept.length; i++) kept[i].qEnd = Math.min(kept[i].qEnd, kept[i + 1].qStart);
    kvInfo.push({ stripes: [...stripes].sort((a, b) => a - b), needles: kept });
  }
  for (let h = 0; h < H; h++) {
    const kind = h % 4; // 0 sink+local, 1 vertical-slash, 2 retrieval, 3 mixed; strengths jittered by the seed
    const j = () => 0.75 + 0.5 * rng.next();
    const strengths = {
      sink: (kind === 2 ? 6 : 10) * j(),
      local: (kind === 0 ? 8 : kind === 1 ? 5 : 6) * j(),
      stripes: (kind === 1 ? 7 : kind === 3 ? 5 : 2) * j(),
      slash: (kind === 1 ? 8 : kind === 3 ? 5 : 0) * j(),
      needle: (kind === 2 ? 16 : 10) * j(),
    };
    const slashOffsets = Array.from({ length: nSlash }, () => 8 + rng.int(Math.max(1, Math.min(S - 8, 2048))));
    const info = kvInfo[Math.floor(h / group)];
    heads.push({ head: h, strengths, stripeColumns: info.stripes, slashOffsets, needles: info.needles.map(({ key, qStart, qEnd }) => ({ key, qStart, qEnd })) });
  }
  // Logits come out as (q part)·(k part)/√D: keys carry D^(1/4)·√share on each direction and
  // queries strength·D^(1/4)·√share, so a planted structure adds `strength` to the logit (split
  // evenly over the frequency pairs of the band and slash subspaces).
  const r4 = Math.sqrt(sqrtD);
  const side = (share: number) => r4 * Math.sqrt(share);
  for (let b = 0; b < B; b++)
    for (let kh = 0; kh < Hkv; kh++) {
      const info = kvInfo[kh];
      const isStripe = new Uint8Array(S);
      for (const c of info.stripes) isStripe[c] = 1;
      const base = (b * Hkv + kh) * S * D;
      for (let t = 0; t < S; t++) {
        const o = base + t * D;
        k[o + oSink] = t < nSink ? side(1) : 0;
        k[o + oStripe] = isStripe[t] ? side(1) : 0;
        for (let f = 0; f < lp; f++) {
          k[o + oLocal + 2 * f] = Math.cos(wLocal[f] * t) * side(1 / lp);
          k[o + oLocal + 2 * f + 1] = Math.sin(wLocal[f] * t) * side(1 / lp);
        }
        for (let f = 0; f < sp; f++) {
          k[o + oSlash + 2 * f] = Math.cos(wSlash[f] * t) * side(1 / sp);
          k[o + oSlash + 2 * f + 1] = Math.sin(wSlash[f] * t) * side(1 / sp);
        }
        for (let d = oNoise; d < D; d++) k[o + d] = rng.normal();
        for (let d = 0; d < D; d++) v[o + d] = rng.normal();
      }
      for (const n of info.needles) for (let d = 0; d < nd; d++) k[base + n.key * D + oNeedle + d] = n.dir[d] * side(1);
    }
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const p = heads[h];
      const st = p.strengths;
      const info = kvInfo[Math.floor(h / group)];
      const base = (b * H + h) * S * D;
      for (let t = 0; t < S; t++) {
        const o = base + t * D;
        q[o + oSink] = st.sink * side(1);
        q[o + oStripe] = st.stripes * side(1);
        for (let f = 0; f < lp; f++) {
          q[o + oLocal + 2 * f] = Math.cos(wLocal[f] * t) * st.local * side(1 / lp);
          q[o + oLocal + 2 * f + 1] = Math.sin(wLocal[f] * t) * st.local * side(1 / lp);
        }
        // Slash lines: Σ over offsets δ of the phase-shifted rotation (one unit of strength split over the lines).
        for (let f = 0; f < sp; f++) {
          let c = 0;
          let s = 0;
          for (const dlt of p.slashOffsets) {
            c += Math.cos(wSlash[f] * (t - dlt));
            s += Math.sin(wSlash[f] * (t - dlt));
          }
          const a = p.slashOffsets.length ? st.slash * side(1 / sp) : 0;
          q[o + oSlash + 2 * f] = c * a;
          q[o + oSlash + 2 * f + 1] = s * a;
        }
        for (let d = oNoise; d < D; d++) q[o + d] = 0.5 * rng.normal();
      }
      for (const n of info.needles) for (let t = n.qStart; t < n.qEnd; t++) for (let d = 0; d < nd; d++) q[base + t * D + oNeedle + d] = n.dir[d] * st.needle * side(1);
    }
  return {
    q: new Tensor([B, H, S, D], "f32", q),
    k: new Tensor([B, Hkv, S, D], "f32", k),
    v: new Tensor([B, Hkv, S, D], "f32", v),
    heads,
    description: `SYNTHETIC LLM-like attention (seed ${seed}, B ${B}, H ${H}, Hkv ${Hkv}, S ${S}, D ${D}): constructed Q/K with sinks, local band, vertical stripes, slash lines and needles; not from a model`,
  };
}
