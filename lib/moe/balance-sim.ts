import { table, type ColumnTable } from "arquero";
import { DISPLAY, type MimeBundle } from "../display.js";
import { argError } from "../errors.js";
import { checkInt, checkNumber } from "./input.js";
import { Rng } from "./rng.js";
import { sigmoid, topkIndices } from "./rowmath.js";

/** How the simulated router is balanced. */
export type BalanceMode = "aux-free" | "aux-loss" | "none";

export interface BalanceSimOptions {
  /** "aux-free": DeepSeek-V3's bias update on sigmoid scores; "aux-loss": gradient steps of coeff·LB on a learned per-expert logit offset; "none": the unbalanced router. */
  mode?: BalanceMode;
  numExperts?: number;
  k?: number;
  tokensPerStep?: number;
  steps?: number;
  /** Skew of the token stream: expert e's mean logit is −skew·ln(1 + e) (default 1.5). */
  skew?: number;
  /** Per-token logit noise std (default 1). */
  noise?: number;
  /** aux-free: bias step γ (default 1e-3, DeepSeek-V3's value). */
  gamma?: number;
  /** aux-loss: loss coefficient α (default 1e-2) and learning rate of the offsets (default 10). */
  auxCoeff?: number;
  lr?: number;
  seed?: number;
}

/** One step of the simulation (measured before that step's update). */
export interface BalanceStep {
  step: number;
  /** CV of tokens per expert (std / mean). */
  cv: number;
  maxOverMean: number;
  /** Megatron-normalized load-balancing loss of the step (unscaled). */
  lbLoss: number;
}

/** The simulation's trajectory; displays as a short text table.
 * @example
 * const sim = sl.moe.simulateBalance({ mode: "aux-loss", auxCoeff: 1e-2 });
 * sim.settledAt; sim.finalTrend; sim.steps[0].cv;
 */
export class BalanceSimResult {
  constructor(
    readonly mode: BalanceMode,
    readonly steps: BalanceStep[],
    /** The final per-expert bias (aux-free) or learned logit offset (aux-loss). */
    readonly bias: Float64Array,
  ) {}

  /** Mean CV over steps [a, b). */
  #meanCv(a: number, b: number): number {
    let s = 0;
    for (let i = a; i < b; i++) s += this.steps[i].cv;
    return s / Math.max(1, b - a);
  }

  /**
   * The relative change of the mean CV between the last two tenths of the run (−0.05 = still
   * falling 5% per tenth of the steps; near 0 = flat).
   */
  get finalTrend(): number {
    const n = this.steps.length;
    const tenth = Math.max(1, Math.floor(n / 10));
    if (n < 2 * tenth) return 0;
    const prev = this.#meanCv(n - 2 * tenth, n - tenth);
    return prev > 0 ? this.#meanCv(n - tenth, n) / prev - 1 : 0;
  }

  /**
   * The first step where the CV, averaged over a window of n/20 steps, is within 10% of the
   * final level (the mean CV of the last 10% of steps). Read it with `finalTrend`: when the CV
   * is still falling at the end, the final level is not the floor yet.
   */
  get settledAt(): number {
    const n = this.steps.length;
    const tail = this.#meanCv(n - Math.max(1, Math.floor(n / 10)), n);
    const w = Math.max(1, Math.floor(n / 20));
    for (let i = 0; i + w <= n; i++) if (this.#meanCv(i, i + w) <= 1.1 * tail + 1e-9) return this.steps[i].step;
    return this.steps[n - 1].step;
  }

  /** The trajectory as an arquero table (step, cv, maxOverMean, lbLoss). */
  table(): ColumnTable {
    return table({
      step: this.steps.map((s) => s.step),
      cv: this.steps.map((s) => s.cv),
      maxOverMean: this.steps.map((s) => s.maxOverMean),
      lbLoss: this.steps.map((s) => s.lbLoss),
    });
  }

  toString(): string {
    const n = this.steps.length;
    const pick = [...new Set([0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, n - 1].filter((i) => i < n))];
    const rows = pick.map((i) => `${String(this.steps[i].step).padStart(6)}  ${this.steps[i].cv.toFixed(4).padStart(8)}  ${this.steps[i].maxOverMean.toFixed(3).padStart(8)}  ${this.steps[i].lbLoss.toFixed(4).padStart(8)}`);
    const trend = this.finalTrend;
    return [`balance simulation (${this.mode}): CV ${this.steps[0].cv.toFixed(3)} -> ${this.steps[n - 1].cv.toFixed(3)}; within 10% of the final level from step ${this.settledAt}; ` +
      `last tenth vs the one before: ${(100 * trend).toFixed(1)}%${trend < -0.1 ? " (still falling: run more steps)" : ""}`, "  step        cv  max/mean    lbLoss", ...rows].join("\n");
  }

  [DISPLAY](): MimeBundle {
    return { "text/plain": this.toString() };
  }
}

/**
 * Simulates load balancing over training steps on a skewed synthetic token stream and reports
 * how the load's CV converges per step. "aux-free" routes on sigmoid(logits) + b and applies
 * b_i += γ·sign(mean load − load_i) after every step; "aux-loss" routes on softmax(logits + β)
 * and takes a gradient step on coeff · E · Σ f_e·P_e (f from the step's top-k counts, P the
 * mean probability) with respect to the learned offsets β.
 * @example
 * const sim = sl.moe.simulateBalance({ mode: "aux-free", numExperts: 16, k: 2, steps: 300, gamma: 1e-2 });
 * display(sim);          // CV per step
 * sim.table().print();
 */
export function simulateBalance(o: BalanceSimOptions = {}): BalanceSimResult {
  const op = "moe.simulateBalance";
  const mode = o.mode ?? "aux-free";
  if (!["aux-free", "aux-loss", "none"].includes(mode)) argError(op, "mode", `"aux-free", "aux-loss" or "none"`, JSON.stringify(mode));
  const E = checkInt(op, "numExperts", o.numExperts ?? 16, 2);
  const k = checkInt(op, "k", o.k ?? 2, 1, E);
  const T = checkInt(op, "tokensPerStep", o.tokensPerStep ?? 512, 1);
  const steps = checkInt(op, "steps", o.steps ?? 300, 1);
  const skew = checkNumber(op, "skew", o.skew ?? 1.5, 0);
  const noise = checkNumber(op, "noise", o.noise ?? 1, 0);
  const gamma = checkNumber(op, "gamma", o.gamma ?? 1e-3, 0);
  const alpha = checkNumber(op, "auxCoeff", o.auxCoeff ?? 1e-2, 0);
  const lr = checkNumber(op, "lr", o.lr ?? 10, 0);
  const rng = new Rng(o.seed ?? 0);
  const mu = Array.from({ length: E }, (_, e) => -skew * Math.log1p(e));
  const bias = new Float64Array(E);
  const logits = new Float64Array(T * E);
  const score = new Float64Array(E);
  const probs = new Float64Array(T * E);
  const pick = new Int32Array(k);
  const out: BalanceStep[] = [];
  for (let step = 0; step < steps; step++) {
    for (let t = 0; t < T; t++) for (let e = 0; e < E; e++) logits[t * E + e] = mu[e] + noise * rng.normal();
    const counts = new Float64Array(E);
    const P = new Float64Array(E);
    for (let t = 0; t < T; t++) {
      const o2 = t * E;
      if (mode === "aux-free") {
        let s = 0;
        for (let e = 0; e < E; e++) {
          const v = sigmoid(logits[o2 + e]);
          probs[o2 + e] = v;
          s += v;
          score[e] = v + bias[e];
        }
        for (let e = 0; e < E; e++) probs[o2 + e] /= s;
      } else {
        let m = -Infinity;
        for (let e = 0; e < E; e++) m = Math.max(m, logits[o2 + e] + bias[e]);
        let s = 0;
        for (let e = 0; e < E; e++) s += probs[o2 + e] = Math.exp(logits[o2 + e] + bias[e] - m);
        for (let e = 0; e < E; e++) score[e] = probs[o2 + e] /= s;
      }
      topkIndices((e) => score[e], E, k, pick);
      for (const e of pick) counts[e]++;
      for (let e = 0; e < E; e++) P[e] += probs[o2 + e] / T;
    }
    const mean = (T * k) / E;
    let v = 0;
    let mx = 0;
    let lb = 0;
    for (let e = 0; e < E; e++) {
      v += (counts[e] - mean) ** 2;
      mx = Math.max(mx, counts[e]);
      lb += (counts[e] / (T * k)) * P[e];
    }
    out.push({ step, cv: Math.sqrt(v / E) / mean, maxOverMean: mx / mean, lbLoss: E * lb });
    if (mode === "aux-free") {
      for (let e = 0; e < E; e++) bias[e] += gamma * Math.sign(mean - counts[e]);
    } else if (mode === "aux-loss") {
      // d(E Σ f_e P_e)/dβ_j = E/T Σ_t p_tj (f_j − Σ_e f_e p_te)
      const f = Array.from(counts, (c) => c / (T * k));
      const grad = new Float64Array(E);
      for (let t = 0; t < T; t++) {
        let fp = 0;
        for (let e = 0; e < E; e++) fp += f[e] * probs[t * E + e];
        for (let j = 0; j < E; j++) grad[j] += probs[t * E + j] * (f[j] - fp);
      }
      for (let j = 0; j < E; j++) bias[j] -= lr * alpha * ((E * grad[j]) / T);
    }
  }
  return new BalanceSimResult(mode, out, bias);
}
