import { argError, fmtShape } from "../errors.js";
import { Tensor } from "../tensor/tensor.js";
import { ACTIVATIONS, type Activation } from "./activations.js";
import { checkInt } from "./input.js";
import { Rng } from "./rng.js";
import { decodeSafetensors } from "../tensor/io/safetensors.js";

/**
 * The weights of E expert FFNs, stored [in, out] per expert so that the grouped GEMM computes
 * rows @ w[e] directly: gate/up [E, dModel, dFf], down [E, dFf, dModel]. `gate` is null for
 * GeLU and ReLU experts (one input projection).
 */
export interface ExpertWeights {
  activation: Activation;
  numExperts: number;
  dModel: number;
  dFf: number;
  gate: Tensor<"f32"> | null;
  up: Tensor<"f32">;
  down: Tensor<"f32">;
}

/**
 * Seeded initialisation like torch.nn.Linear's default: uniform(±1/√fan_in).
 * @example
 * const w = sl.moe.initExperts({ numExperts: 8, dModel: 64, dFf: 128, activation: "swiglu", seed: 0 });
 */
export function initExperts(o: { numExperts: number; dModel: number; dFf: number; activation?: Activation; seed?: number }): ExpertWeights {
  const op = "moe.initExperts";
  const E = checkInt(op, "numExperts", o.numExperts, 1);
  const d = checkInt(op, "dModel", o.dModel, 1);
  const f = checkInt(op, "dFf", o.dFf, 1);
  const activation = o.activation ?? "swiglu";
  if (!ACTIVATIONS.includes(activation)) argError(op, "activation", ACTIVATIONS.join(", "), JSON.stringify(activation));
  const rng = new Rng(o.seed ?? 0);
  const make = (shape: number[], fanIn: number): Tensor<"f32"> => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    rng.fillUniform(data, 1 / Math.sqrt(fanIn));
    return new Tensor(shape, "f32", data);
  };
  return {
    activation,
    numExperts: E,
    dModel: d,
    dFf: f,
    gate: activation === "swiglu" ? make([E, d, f], d) : null,
    up: make([E, d, f], d),
    down: make([E, f, d], f),
  };
}

/** Seeded [rows, cols] uniform(±1/√rows) matrix (gate weights). */
export function initMatrix(rows: number, cols: number, seed: number): Tensor<"f32"> {
  const rng = new Rng(seed);
  const data = new Float32Array(rows * cols);
  rng.fillUniform(data, 1 / Math.sqrt(rows));
  return new Tensor([rows, cols], "f32", data);
}

/** Checkpoint naming schemes for per-expert Linear weights ([out, in], torch layout). */
export type ExpertNaming = "mixtral" | "qwen";

/** What `expertsFromSafetensors` found: the experts, the router weight [d, E], and shared experts if present. */
export interface LoadedMoeWeights {
  experts: ExpertWeights;
  gateWeight: Tensor<"f32">;
  shared: { gate: Tensor<"f32">; up: Tensor<"f32">; down: Tensor<"f32">; gateVector: Tensor<"f32"> | null } | null;
}

/**
 * Loads one MoE layer's weights from safetensors bytes or already-read tensors (f32, f16 and
 * bf16 checkpoints; everything is widened to f32).
 * Names, after `prefix`: "mixtral" = `experts.{e}.w1/w3/w2.weight` (gate/up/down) and
 * `gate.weight`; "qwen" (Qwen-MoE, DeepSeek) = `experts.{e}.gate_proj/up_proj/down_proj.weight`,
 * `gate.weight`, and shared experts `shared_expert(s).{gate,up,down}_proj.weight` with
 * Qwen2's `shared_expert_gate.weight`. Linear weights are [out, in]; they are transposed here.
 * @example
 * const bytes = await fs.promises.readFile("layer0.safetensors");
 * const w = sl.moe.expertsFromSafetensors(bytes, { prefix: "model.layers.0.block_sparse_moe.", naming: "mixtral" });
 * const layer = sl.moe.layer({ k: 2, weights: w });
 */
export function expertsFromSafetensors(src: Uint8Array | Record<string, Tensor> | Map<string, Tensor>, o: { prefix?: string; naming?: ExpertNaming } = {}): LoadedMoeWeights {
  const op = "moe.expertsFromSafetensors";
  const tensors: Map<string, Tensor> =
    src instanceof Map ? src : src instanceof Uint8Array ? new Map(Object.entries(decodeSafetensors(src).tensors)) : new Map(Object.entries(src));
  const prefix = o.prefix ?? "";
  const naming = o.naming ?? "qwen";
  const names = naming === "mixtral" ? ["w1", "w3", "w2"] : ["gate_proj", "up_proj", "down_proj"];
  const get = (name: string): Tensor | undefined => tensors.get(prefix + name);
  const need = (name: string): Tensor => {
    const t = get(name);
    if (!t) {
      const near = [...tensors.keys()].filter((k) => k.startsWith(prefix)).slice(0, 5);
      argError(op, "weights", `a tensor named '${prefix + name}'`, near.length ? `names like ${near.join(", ")}` : "no tensor with that prefix");
    }
    return t;
  };
  let E = 0;
  while (get(`experts.${E}.${names[0]}.weight`)) E++;
  if (E === 0) need(`experts.0.${names[0]}.weight`);
  const g0 = need(`experts.0.${names[0]}.weight`);
  const [f, d] = g0.shape;
  const stack = (which: number, rows: number, cols: number): Tensor<"f32"> => {
    // [out, in] per expert -> [E, in, out]
    const out = new Float32Array(E * rows * cols);
    for (let e = 0; e < E; e++) {
      const t = need(`experts.${e}.${names[which]}.weight`);
      if (t.shape[0] !== cols || t.shape[1] !== rows) argError(op, `experts.${e}.${names[which]}.weight`, `shape [${cols}, ${rows}]`, fmtShape(t.shape));
      const s = t.floatData();
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[e * rows * cols + i * cols + j] = s[j * rows + i];
    }
    return new Tensor([E, rows, cols], "f32", out);
  };
  const experts: ExpertWeights = { activation: "swiglu", numExperts: E, dModel: d, dFf: f, gate: stack(0, d, f), up: stack(1, d, f), down: stack(2, f, d) };
  const router = need("gate.weight"); // [E, d]
  if (router.shape[0] !== E || router.shape[1] !== d) argError(op, prefix + "gate.weight", `shape [${E}, ${d}]`, fmtShape(router.shape));
  const gateWeight = transpose(router);
  let shared: LoadedMoeWeights["shared"] = null;
  for (const base of ["shared_expert.", "shared_experts."]) {
    if (!get(base + "gate_proj.weight")) continue;
    const sg = get("shared_expert_gate.weight");
    shared = {
      gate: transpose(need(base + "gate_proj.weight")),
      up: transpose(need(base + "up_proj.weight")),
      down: transpose(need(base + "down_proj.weight")),
      gateVector: sg ? transpose(sg) : null,
    };
  }
  return { experts, gateWeight, shared };
}

function transpose(t: Tensor): Tensor<"f32"> {
  const [r, c] = t.shape;
  const s = t.floatData();
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = s[i * c + j];
  return new Tensor([c, r], "f32", out);
}
