import { argError } from "../errors.js";
import { hasOp, resolveOp, type BackendName } from "../backends/registry.js";
import type { MatmulImpl } from "../backends/ops.js";
import { throwIfCancelled } from "../cancel.js";
import { Tensor } from "../tensor/tensor.js";
import { activateInPlace, ACTIVATIONS, type Activation } from "./activations.js";
import { combineRows, dispatchPlan, permuteRows } from "./dispatch.js";
import { initExperts, initMatrix, type ExpertWeights, type LoadedMoeWeights } from "./expert-weights.js";
import { groupedGemm } from "../tensor/ops/grouped-gemm.js";
import { checkInt, readMatrix, type MatrixLike } from "./input.js";
import type { RoutingRecord } from "./record.js";
import { route, type RouteOptions } from "./route.js";
import { updateExpertBias } from "./routers/deepseek-v3.js";
import { matmulRows, sigmoid } from "./rowmath.js";

const OP = "moe.layer";

/** Always-on experts, folded into one FFN of width count·dFf (as DeepSeek does), optionally sigmoid-gated per token (Qwen2). */
export interface SharedExperts {
  dFf: number;
  /** [1, d, dFf] (swiglu only), [1, d, dFf], [1, dFf, d]: one group, so the grouped GEMM runs them. */
  gate: Tensor<"f32"> | null;
  up: Tensor<"f32">;
  down: Tensor<"f32">;
  /** [d, 1]: output scaled by sigmoid(x · gateVector); null = ungated. */
  gateVector: Tensor<"f32"> | null;
}

export interface MoeLayerOptions extends Omit<RouteOptions, "gateWeight" | "layer" | "k"> {
  /** Model width (taken from `weights` when given). */
  dModel?: number;
  /** Expert hidden width (taken from `weights` when given). */
  dFf?: number;
  /** Number of routed experts (taken from `weights` when given). */
  experts?: number;
  /** Experts per token (default 2). */
  k?: number;
  /** Expert FFN kind (default "swiglu"). */
  activation?: Activation;
  /** Shared experts: a count (width count·dFf, ungated), or { count, dFf?, gated? }. */
  sharedExperts?: number | { count: number; dFf?: number; gated?: boolean };
  /** Seed for the initial weights (default 0). */
  seed?: number;
  /** Loaded weights (see expertsFromSafetensors) instead of a seeded init. */
  weights?: LoadedMoeWeights;
  /** Pad each expert's run to a multiple of this many rows (default 1: no padding). */
  tile?: number;
  /** Backend for the expert GEMMs (default: the fastest that has groupedGemm). */
  backend?: BackendName;
  /** Layer index stored on routing records. */
  layer?: number;
}

/** Where the time of one forward went, in milliseconds. */
export interface MoeTimings {
  /** x · W_gate (the router logits). */
  gateMs: number;
  /** The router, capacity and losses. */
  routeMs: number;
  /** Building the permutation and gathering rows. */
  dispatchMs: number;
  /** The grouped GEMMs of the routed experts. */
  expertGemmMs: number;
  /** The activation between the GEMMs. */
  activationMs: number;
  /** The weighted combine back to token order. */
  combineMs: number;
  /** Shared experts (0 when none). */
  sharedMs: number;
  totalMs: number;
}

/** The result of `forward`: output [T, d], the routing, the timings and the FLOPs of the expert GEMMs. */
export interface MoeForward {
  output: Tensor<"f32">;
  routing: RoutingRecord;
  timings: MoeTimings;
  /** 2·rows·d·dFf per projection over the permuted rows (padding included). */
  expertFlops: number;
  /** The backend that ran the grouped GEMMs. */
  backend: BackendName;
}

/**
 * A Mixture-of-Experts FFN layer: gate -> route -> dispatch -> grouped GEMMs over each
 * expert's rows -> combine (+ shared experts). Build one with `sl.moe.layer(...)`.
 * @example
 * const moe = sl.moe.layer({ dModel: 64, dFf: 128, experts: 8, k: 2 });
 * String(moe);   // "MoeLayer(8 experts, k 2, swiglu 64->128->64, router softmax-topk)"
 */
export class MoeLayer {
  readonly dModel: number;
  readonly dFf: number;
  readonly numExperts: number;
  readonly k: number;
  readonly activation: Activation;
  /** [d, E]: logits = x · gateWeight. */
  readonly gateWeight: Tensor<"f32">;
  readonly experts: ExpertWeights;
  readonly shared: SharedExperts | null;
  readonly options: MoeLayerOptions;
  /**
   * deepseek-v3's selection bias [E] (starts from `options.bias`, else zeros); forward uses it
   * and `updateBias` moves it. Null for the other routers.
   */
  bias: Float64Array | null;

  constructor(o: MoeLayerOptions) {
    this.options = o;
    this.k = o.k ?? 2;
    if (o.weights) {
      this.experts = o.weights.experts;
      this.gateWeight = o.weights.gateWeight;
      const s = o.weights.shared;
      this.shared = s
        ? { dFf: s.up.shape[1], gate: s.gate ? reshape3(s.gate) : null, up: reshape3(s.up), down: reshape3(s.down), gateVector: s.gateVector }
        : null;
    } else {
      const E = checkInt(OP, "experts", o.experts, 1);
      const d = checkInt(OP, "dModel", o.dModel, 1);
      const f = checkInt(OP, "dFf", o.dFf, 1);
      const activation = o.activation ?? "swiglu";
      if (!ACTIVATIONS.includes(activation)) argError(OP, "activation", ACTIVATIONS.join(", "), JSON.stringify(activation));
      const seed = o.seed ?? 0;
      this.gateWeight = initMatrix(d, E, seed * 7 + 1);
      this.experts = initExperts({ numExperts: E, dModel: d, dFf: f, activation, seed: seed * 7 + 2 });
      this.shared = null;
      if (o.sharedExperts !== undefined) {
        const se = typeof o.sharedExperts === "number" ? { count: o.sharedExperts } : o.sharedExperts;
        const count = checkInt(OP, "sharedExperts.count", se.count, 0);
        if (count > 0) {
          const sf = checkInt(OP, "sharedExperts.dFf", se.dFf ?? count * f, 1);
          const w = initExperts({ numExperts: 1, dModel: d, dFf: sf, activation, seed: seed * 7 + 3 });
          this.shared = { dFf: sf, gate: w.gate, up: w.up, down: w.down, gateVector: se.gated ? initMatrix(d, 1, seed * 7 + 4) : null };
        }
      }
    }
    this.dModel = this.experts.dModel;
    this.dFf = this.experts.dFf;
    this.numExperts = this.experts.numExperts;
    this.activation = this.experts.activation;
    checkInt(OP, "k", this.k, 1, this.numExperts);
    this.bias = null;
    if (o.router === "deepseek-v3") {
      this.bias = new Float64Array(this.numExperts);
      if (o.bias !== undefined) this.bias.set(Array.from(o.bias instanceof Tensor ? (o.bias.floatData() as ArrayLike<number>) : o.bias));
    }
  }

  /**
   * The aux-loss-free balancing step after a forward (deepseek-v3 router only):
   * b_i += γ·sign(mean load − load_i) with the loads of `routing` (before capacity).
   * @example
   * const moe = sl.moe.layer({ dModel: 64, dFf: 128, experts: 16, k: 2, router: "deepseek-v3" });
   * for (const x of batches) { const { routing } = await moe.forward(x); moe.updateBias(routing, 1e-3); }
   */
  updateBias(routing: RoutingRecord, gamma = 1e-3): Float64Array {
    if (!this.bias) argError(`${OP}.updateBias`, "router", `"deepseek-v3" (the only router with a selection bias)`, JSON.stringify(this.options.router ?? "softmax-topk"));
    this.bias = updateExpertBias(this.bias, routing.routedCounts, gamma);
    return this.bias;
  }

  /**
   * Runs the layer on x [T, dModel].
   * @example
   * const moe = sl.moe.layer({ dModel: 64, dFf: 128, experts: 8, k: 2, seed: 0 });
   * const { output, routing } = await moe.forward(sl.moe.randomLogits(32, 64, { seed: 1 }));
   * display(routing);
   */
  async forward(x: MatrixLike, opts: { signal?: AbortSignal } = {}): Promise<MoeForward> {
    const t0 = performance.now();
    const xm = readMatrix(`${OP}.forward`, "x", x, { cols: this.dModel });
    const T = xm.rows;
    const d = this.dModel;
    const E = this.numExperts;
    const xt = new Tensor([T, d], "f32", xm.data);

    const logits = await gateLogits(xt, this.gateWeight, this.options.backend);
    const t1 = performance.now();
    const { dModel: _d, dFf: _f, experts: _e, activation: _a, sharedExperts: _s, seed: _seed, weights: _w, tile: _t, backend: _b, ...routeOpts } = this.options;
    const logitsT = new Tensor([T, E], "f32", logits);
    const routing = route(logitsT, { ...routeOpts, ...(this.bias ? { bias: this.bias } : {}), k: this.k, layer: this.options.layer });
    logitsT.dispose();
    const t2 = performance.now();
    throwIfCancelled(`${OP}.forward`, opts.signal);

    const plan = dispatchPlan(routing, { tile: this.options.tile });
    const xp = new Tensor([plan.rows, d], "f32", permuteRows(xm.data, d, plan));
    const offsets = new Tensor([E + 1], "i32", plan.offsets);
    const t3 = performance.now();

    const ex = await this.#ffn(xp, this.experts.gate, this.experts.up, this.experts.down, offsets, opts.signal);
    const t4 = performance.now();
    xp.dispose();
    const out = combineRows(ex.out.floatData(), d, plan, routing.weights.floatData());
    ex.out.dispose();
    const t5 = performance.now();

    let sharedMs = 0;
    if (this.shared) {
      const s = this.shared;
      const one = new Tensor([2], "i32", new Int32Array([0, T]));
      const yt = (await this.#ffn(xt, s.gate, s.up, s.down, one, opts.signal)).out;
      const y = yt.floatData();
      const gv = s.gateVector ? matmulRows(xm.data, s.gateVector.floatData(), T, d, 1) : null;
      for (let t = 0; t < T; t++) {
        const g = gv ? sigmoid(gv[t]) : 1;
        for (let j = 0; j < d; j++) out[t * d + j] += g * y[t * d + j];
      }
      yt.dispose();
      sharedMs = performance.now() - t5;
    }
    xt.dispose(); // a second view of the caller's rows: only the bookkeeping is released
    const projections = this.activation === "swiglu" ? 3 : 2;
    return {
      output: new Tensor([T, d], "f32", out),
      routing,
      timings: {
        gateMs: t1 - t0,
        routeMs: t2 - t1,
        dispatchMs: t3 - t2,
        expertGemmMs: t4 - t3 - ex.activationMs,
        activationMs: ex.activationMs,
        combineMs: t5 - t4,
        sharedMs,
        totalMs: performance.now() - t0,
      },
      expertFlops: 2 * plan.rows * d * this.dFf * projections,
      backend: ex.backend,
    };
  }

  async #ffn(x: Tensor, gate: Tensor | null, up: Tensor, down: Tensor, offsets: Tensor<"i32">, signal?: AbortSignal): Promise<{ out: Tensor; activationMs: number; backend: BackendName }> {
    const backend = resolveOp("groupedGemm", { backend: this.options.backend }).backend;
    const g = gate ? await groupedGemm(x, gate, offsets, { backend, signal }) : null;
    const u = await groupedGemm(x, up, offsets, { backend, signal });
    const ta = performance.now();
    const h = u.floatData();
    activateInPlace(this.activation, h, g ? g.floatData() : null);
    const activationMs = performance.now() - ta;
    g?.dispose();
    const out = await groupedGemm(u, down, offsets, { backend, signal });
    u.dispose();
    return { out, activationMs, backend };
  }

  toString(): string {
    return `MoeLayer(${this.numExperts} experts, k ${this.k}, ${this.activation} ${this.dModel}->${this.dFf}->${this.dModel}, router ${this.options.router ?? "softmax-topk"}${this.shared ? `, shared ${this.shared.dFf}${this.shared.gateVector ? " gated" : ""}` : ""})`;
  }
}

/**
 * Builds a MoE layer with seeded weights (or loaded ones).
 * @example
 * const moe = sl.moe.layer({ dModel: 256, dFf: 512, experts: 8, k: 2, router: "softmax-topk", normalize: true,
 *                            activation: "swiglu", sharedExperts: { count: 1, gated: true }, seed: 0 });
 * const { output, routing, timings } = await moe.forward(x);
 */
export function layer(o: MoeLayerOptions): MoeLayer {
  return new MoeLayer(o);
}

// The router matmul: the native "matmul" when loaded (it dominates routing time at large T·d),
// else the JS row loop.
async function gateLogits(x: Tensor<"f32">, w: Tensor<"f32">, backend?: BackendName): Promise<Float32Array> {
  const [T, d] = x.shape;
  const E = w.shape[1];
  const b = backend ?? (hasOp("cpu", "matmul") ? "cpu" : undefined);
  if (b && b !== "js" && hasOp(b, "matmul")) {
    const { impl } = resolveOp<MatmulImpl>("matmul", { backend: b });
    return (await impl(x, w, {})).floatData();
  }
  return matmulRows(x.data as Float32Array, w.floatData(), T, d, E);
}

function reshape3(t: Tensor<"f32">): Tensor<"f32"> {
  return new Tensor([1, t.shape[0], t.shape[1]], "f32", t.floatData());
}
