import { argError } from "../errors.js";
import { Tensor } from "../tensor/tensor.js";
import { applyCapacity, expertCapacity, type DropPolicy } from "./capacity.js";
import { checkInt, checkNumber, readMatrix, readVector, type Matrix, type MatrixLike } from "./input.js";
import { loadBalancing, sequenceBalancing, zLoss, type LossNormalization, type RoutingLosses } from "./losses.js";
import { RoutingRecord, type RouterKind } from "./record.js";
import { Rng } from "./rng.js";
import { matmulRows, softmaxRows } from "./rowmath.js";
import { deepseekV3 } from "./routers/deepseek-v3.js";
import { expertChoice } from "./routers/expert-choice.js";
import { gshardTop2, type SecondExpertPolicy } from "./routers/gshard.js";
import { hashRouter } from "./routers/hash.js";
import { noisyTopk } from "./routers/noisy-topk.js";
import { sinkhornRouter } from "./routers/sinkhorn.js";
import { softmaxTopk } from "./routers/softmax-topk.js";
import { switchTop1 } from "./routers/switch.js";
import { topkSoftmax } from "./routers/topk-softmax.js";
import type { Logits, RouterOutput } from "./routers/types.js";

const OP = "moe.route";

/** Options of `route()`. Router-specific knobs are ignored by the other routers. */
export interface RouteOptions {
  /** Which router (default "softmax-topk"). */
  router?: Exclude<RouterKind, "trace">;
  /** Experts per token (default 2; switch is always 1, gshard always 2, expert-choice ignores it). */
  k?: number;
  /** Gate weight [d, E]: when given, the first argument is x [T, d] and logits = x · gateWeight. */
  gateWeight?: MatrixLike;
  /** Capacity factor: capacity = ceil(T·k/E · CF). Unset = dropless. For expert-choice: tokens per expert = ceil(T·CF/E) (default 1). */
  capacityFactor?: number;
  /** Whom capacity keeps: "position" (first come in token order; the default), "slot-major" (first choices before second choices; gshard's default) or "probs" (highest weight). */
  dropPolicy?: DropPolicy;
  /** Renormalize the k weights to sum to 1 (softmax-topk, sinkhorn, deepseek-v3; default false, deepseek-v3 true). */
  normalize?: boolean;
  /** Seed for every random draw (noise, jitter, GShard's random keep, hash salt). Default 0. */
  seed?: number;
  /** noisy-topk: noise std = softplus(noiseLogits) [T, E] (x·W_noise), or with x given, a noise weight W_noise [d, E]. */
  noiseLogits?: MatrixLike;
  noiseWeight?: MatrixLike;
  /** noisy-topk: constant noise std when no noise logits/weight are given (default 1). */
  noiseStd?: number;
  /** switch: multiplicative jitter ε on the router input (default 0). */
  jitter?: number;
  /** gshard: second-expert policy (default "all") and threshold for "threshold" (default 0.2). */
  secondPolicy?: SecondExpertPolicy;
  threshold?: number;
  /** deepseek-v3: selection bias [E] (default zeros), groups, kept groups, routed scaling factor (default 1). */
  bias?: Tensor | ArrayLike<number>;
  nGroup?: number;
  topkGroup?: number;
  scale?: number;
  /** hash: token ids [T] (required), and the expert count when no logits are given. */
  tokenIds?: Tensor | ArrayLike<number>;
  numExperts?: number;
  /** sinkhorn: tolerance (default 1e-4) and iteration cap (default 1000). */
  tol?: number;
  maxIters?: number;
  /** Load-balancing loss: normalization reported as `value` (default "megatron") and coefficient (default 1: the raw loss). */
  lossNormalization?: LossNormalization;
  auxLossCoeff?: number;
  /** Sequence length for DeepSeek's sequence-level balance loss (computed only when given). */
  seqLen?: number;
  /** z-loss coefficient (default 1: the raw mean logsumexp²). */
  zLossCoeff?: number;
  /** Layer index stored on the record. */
  layer?: number;
}

const ROUTERS: readonly RouterKind[] = ["softmax-topk", "topk-softmax", "noisy-topk", "switch", "gshard", "deepseek-v3", "expert-choice", "hash", "sinkhorn"];

/**
 * Routes T tokens to E experts: runs the named router over logits [T, E] (or over x [T, d]
 * with `gateWeight` [d, E]), applies capacity with the drop policy, and computes the losses.
 * Runs in JS (routing is O(T·E·k), small next to the expert GEMMs).
 * @example
 * const logits = sl.moe.randomLogits(512, 8, { seed: 1 });
 * const r = sl.moe.route(logits, { router: "softmax-topk", k: 2, normalize: true, capacityFactor: 1.25 });
 * display(r);   // load per expert, dropped assignments, losses
 */
export function route(input: MatrixLike | null, opts: RouteOptions = {}): RoutingRecord {
  const router = opts.router ?? "softmax-topk";
  if (!ROUTERS.includes(router)) argError(OP, "router", `one of ${ROUTERS.join(", ")}`, JSON.stringify(router));
  const seed = opts.seed ?? 0;
  checkInt(OP, "seed", seed, 0, 2 ** 32 - 1);
  const policy = opts.dropPolicy ?? defaultDropPolicy(router);
  if (policy !== "position" && policy !== "slot-major" && policy !== "probs") argError(OP, "dropPolicy", `"position", "slot-major" or "probs"`, JSON.stringify(policy));

  // -- logits
  let x: Matrix | null = null;
  let logits: Matrix | null = null;
  if (input === null || input === undefined) {
    if (router !== "hash") argError(OP, "logits", `logits [T, E] (only the hash router may pass null)`, "null");
  } else if (opts.gateWeight !== undefined) {
    x = readMatrix(OP, "x", input);
    const w = readMatrix(OP, "gateWeight", opts.gateWeight, { rows: x.cols });
    let xin = x;
    if (router === "switch" && opts.jitter) xin = jitterRows(x, checkNumber(OP, "jitter", opts.jitter, 0, 1), seed);
    logits = { rows: x.rows, cols: w.cols, data: matmulRows(xin.data, w.data, x.rows, x.cols, w.cols) };
  } else {
    logits = readMatrix(OP, "logits", input, { allowInf: true });
  }
  const T = logits ? logits.rows : lengthOf(opts.tokenIds);
  const E = logits ? logits.cols : checkInt(OP, "numExperts", opts.numExperts, 1);
  if (E < 1 || T < 1) argError(OP, logits ? "logits" : "tokenIds", "at least one token and one expert", `shape [${T}, ${E}]`);
  if (opts.numExperts !== undefined && opts.numExperts !== E) argError(OP, "numExperts", `${E} (the logits' columns)`, String(opts.numExperts));
  const L: Logits = { T, E, data: logits ? logits.data : new Float32Array(0) };

  let k = opts.k ?? (router === "switch" ? 1 : 2);
  if (router === "switch" && k !== 1) argError(OP, "k", "1 for the switch router (top-1)", String(k));
  if (router === "gshard" && k !== 2) argError(OP, "k", "2 for the gshard router (top-2)", String(k));
  checkInt(OP, "k", k, 1, E);

  // -- router
  let out: RouterOutput;
  switch (router) {
    case "softmax-topk":
      out = softmaxTopk(L, k, opts.normalize ?? false);
      break;
    case "topk-softmax":
      out = topkSoftmax(L, k);
      break;
    case "noisy-topk": {
      let noiseLogits: Float32Array | undefined;
      if (opts.noiseLogits !== undefined) noiseLogits = readMatrix(OP, "noiseLogits", opts.noiseLogits, { rows: T, cols: E }).data;
      else if (opts.noiseWeight !== undefined) {
        if (!x) argError(OP, "noiseWeight", "used together with x and gateWeight (else pass noiseLogits)", "logits input");
        const wn = readMatrix(OP, "noiseWeight", opts.noiseWeight, { rows: x.cols, cols: E });
        noiseLogits = matmulRows(x.data, wn.data, T, x.cols, E);
      }
      out = noisyTopk(L, k, { seed, noiseStd: checkNumber(OP, "noiseStd", opts.noiseStd ?? 1, 0), noiseLogits });
      break;
    }
    case "switch":
      // With x given, jitter was already applied to x above.
      out = switchTop1(L, { jitter: x ? 0 : checkNumber(OP, "jitter", opts.jitter ?? 0, 0, 1), seed });
      if (x && opts.jitter) out.details.jitter = opts.jitter;
      break;
    case "gshard": {
      const sp = opts.secondPolicy ?? "all";
      if (!["all", "random", "threshold"].includes(sp)) argError(OP, "secondPolicy", `"all", "random" or "threshold"`, JSON.stringify(sp));
      out = gshardTop2(L, { policy: sp, threshold: checkNumber(OP, "threshold", opts.threshold ?? 0.2, 0, 1), seed });
      break;
    }
    case "deepseek-v3": {
      const nGroup = checkInt(OP, "nGroup", opts.nGroup ?? 1, 1, E);
      if (E % nGroup !== 0) argError(OP, "nGroup", `a divisor of the expert count ${E}`, String(nGroup));
      if (nGroup > 1 && E / nGroup < 2) argError(OP, "nGroup", "groups of at least 2 experts (the group score sums the top 2)", `${E / nGroup} per group`);
      const topkGroup = checkInt(OP, "topkGroup", opts.topkGroup ?? nGroup, 1, nGroup);
      if (k > topkGroup * (E / nGroup)) argError(OP, "k", `at most topkGroup·E/nGroup = ${topkGroup * (E / nGroup)}`, String(k));
      const bias = opts.bias === undefined ? new Float64Array(E) : readVector(OP, "bias", opts.bias, E);
      out = deepseekV3(L, k, { bias, nGroup, topkGroup, normalize: opts.normalize ?? true, scale: checkNumber(OP, "scale", opts.scale ?? 1, 0, Infinity, true) });
      break;
    }
    case "expert-choice":
      out = expertChoice(L, checkNumber(OP, "capacityFactor", opts.capacityFactor ?? 1, 0, Infinity, true));
      k = out.k;
      break;
    case "hash": {
      if (opts.tokenIds === undefined) argError(OP, "tokenIds", "token ids [T] for the hash router", "undefined");
      const ids = readVector(OP, "tokenIds", opts.tokenIds, T);
      for (let i = 0; i < ids.length; i++) if (!Number.isInteger(ids[i]) || ids[i] < 0) argError(OP, "tokenIds", "non-negative integers", `${ids[i]} at ${i}`);
      out = hashRouter(ids, E, k, seed, logits ? softmaxRows(L.data, T, E) : undefined);
      break;
    }
    case "sinkhorn":
      out = sinkhornRouter(L, k, {
        tol: checkNumber(OP, "tol", opts.tol ?? 1e-4, 0, Infinity, true),
        maxIters: checkInt(OP, "maxIters", opts.maxIters ?? 1000, 1),
        normalize: opts.normalize ?? false,
      });
      break;
    default:
      return argError(OP, "router", ROUTERS.join(", "), String(router));
  }
  return finishRecord(router, out, T, E, logits?.data ?? null, opts);
}

/** Capacity, dropping and losses on a router's output; shared by route() and the MoE layer. */
export function finishRecord(router: RouterKind, out: RouterOutput, T: number, E: number, logits: Float32Array | null, opts: RouteOptions): RoutingRecord {
  const k = out.k;
  const policy = opts.dropPolicy ?? defaultDropPolicy(router);
  // Expert choice is capacity-limited by construction: its factor sets tokens per expert.
  const cf = router === "expert-choice" ? undefined : opts.capacityFactor;
  const capacity = cf === undefined ? null : expertCapacity(T, k, E, checkNumber(OP, "capacityFactor", cf, 0, Infinity, true));
  const cap = applyCapacity(out.indices, out.weights, T, k, E, capacity, policy);
  const weights = new Float32Array(T * k);
  for (let t = 0; t < T; t++) {
    let s = 0;
    for (let i = 0; i < k; i++) if (cap.kept[t * k + i]) s += out.weights[t * k + i];
    for (let i = 0; i < k; i++) {
      const a = t * k + i;
      if (cap.kept[a]) weights[a] = out.renormalizeAfterDrop ? out.weights[a] / Math.max(s, 1e-9) : out.weights[a];
    }
  }
  const normalization = opts.lossNormalization ?? "megatron";
  if (normalization !== "megatron" && normalization !== "transformers") argError(OP, "lossNormalization", `"megatron" or "transformers"`, JSON.stringify(normalization));
  const losses: RoutingLosses = {
    loadBalancing: loadBalancing(out.probs, out.indices, T, E, k, normalization, checkNumber(OP, "auxLossCoeff", opts.auxLossCoeff ?? 1, 0)),
    sequenceBalancing: opts.seqLen === undefined ? null : sequenceBalancing(out.probs, out.indices, T, E, k, checkInt(OP, "seqLen", opts.seqLen, 1), opts.auxLossCoeff ?? 1),
    zLoss: logits ? zLoss(logits, T, E, checkNumber(OP, "zLossCoeff", opts.zLossCoeff ?? 1, 0)) : null,
  };
  const details = { ...out.details };
  if (out.renormalizeAfterDrop) details.weights = "renormalized over kept experts";
  return new RoutingRecord({
    router,
    numTokens: T,
    numExperts: E,
    k,
    capacity,
    dropPolicy: policy,
    indices: new Tensor([T, k], "i32", out.indices),
    weights: new Tensor([T, k], "f32", weights),
    kept: new Tensor([T, k], "u8", cap.kept),
    probs: new Tensor([T, E], "f32", out.probs),
    counts: cap.counts,
    routedCounts: cap.routedCounts,
    dropped: cap.dropped,
    losses,
    details,
    layer: opts.layer,
  });
}

// GShard's reference (DeepSpeed top2gating) serves first choices before second choices.
function defaultDropPolicy(router: RouterKind): DropPolicy {
  return router === "gshard" ? "slot-major" : "position";
}

function lengthOf(ids: unknown): number {
  if (ids instanceof Tensor) return ids.shape[0] ?? 0;
  if (ids && typeof (ids as ArrayLike<number>).length === "number") return (ids as ArrayLike<number>).length;
  return argError(OP, "tokenIds", "token ids [T] for the hash router when logits are null", String(ids));
}

function jitterRows(x: Matrix, eps: number, seed: number): Matrix {
  const rng = new Rng(seed);
  const data = new Float32Array(x.data.length);
  for (let i = 0; i < data.length; i++) data[i] = x.data[i] * (1 - eps + 2 * eps * rng.uniform());
  return { rows: x.rows, cols: x.cols, data };
}

/**
 * Seeded N(0, σ²) logits [T, E] for trying routers, with an optional per-expert skew
 * (expert e's mean is −skew·ln(1 + e), so low ids are popular).
 * @example
 * const logits = sl.moe.randomLogits(1024, 16, { seed: 3, skew: 0.5 });
 */
export function randomLogits(T: number, E: number, opts: { seed?: number; std?: number; skew?: number } = {}): Tensor<"f32"> {
  checkInt("moe.randomLogits", "T", T, 1);
  checkInt("moe.randomLogits", "E", E, 1);
  const rng = new Rng(opts.seed ?? 0);
  const std = opts.std ?? 1;
  const skew = opts.skew ?? 0;
  const d = new Float32Array(T * E);
  for (let t = 0; t < T; t++) for (let e = 0; e < E; e++) d[t * E + e] = rng.normal() * std - skew * Math.log1p(e);
  return new Tensor([T, E], "f32", d);
}

