import { SparselabError, fmtShape } from "../../errors.js";
import { Tensor } from "../../tensor/tensor.js";
import { devicePtr, emptyCuda, toDevice } from "./device-tensor.js";
import { requireCuda, type CompiledFunction, type CudaRuntime } from "./runtime.js";
import { castCuda } from "./sparse.js";

/**
 * The MoE kernels on CUDA: the grouped expert GEMM (registered as "groupedGemm"), top-k routing,
 * and the gather / combine around the GEMMs. The stable permutation itself is computed on the
 * host from the routing indices (T·k integers: well under a millisecond) and uploaded.
 */
const BM = 128;
const BN = 128;
const memo = new Map<string, CompiledFunction>();

function kernel(rt: CudaRuntime, file: string, entry: string, defines: string[], smem: number): CompiledFunction {
  const key = `${file}:${entry}:${defines.join(";")}`;
  let f = memo.get(key);
  if (!f) {
    const src = `${defines.join("\n")}\n${rt.kernelSource(file)}`;
    f = rt.fn(`${entry}${defines.length ? "_" + defines.map((d) => d.split(" ").slice(1).join("")).join("_") : ""}`, src, entry, smem);
    memo.set(key, f);
  }
  return f;
}

function dtypeDefines(dtype: string, op: string): string[] {
  if (dtype === "f16") return ["#define DTYPE_F16 1"];
  if (dtype === "bf16") return [];
  throw new SparselabError(op, `CUDA MoE kernels take bf16 or f16, got ${dtype} (convert with astype("bf16"))`);
}

/** Lists every group's M tiles so one launch covers all experts. */
export function tileList(offsets: Int32Array, bm = BM): { group: Int32Array; row: Int32Array } {
  let n = 0;
  for (let g = 0; g + 1 < offsets.length; g++) n += Math.ceil((offsets[g + 1] - offsets[g]) / bm);
  const group = new Int32Array(n), row = new Int32Array(n);
  let i = 0;
  for (let g = 0; g + 1 < offsets.length; g++)
    for (let r = offsets[g]; r < offsets[g + 1]; r += bm) {
      group[i] = g;
      row[i++] = r;
    }
  return { group, row };
}

/**
 * "groupedGemm" on CUDA: out[rows of g] = x[rows of g] @ w[g]; x [T, K], w [G, K, N] bf16/f16 on
 * the GPU, offsets i32 [G + 1] (host or device).
 */
export async function cudaGroupedGemm(x: Tensor, w: Tensor, offsets: Tensor<"i32">): Promise<Tensor> {
  const op = "groupedGemm (cuda)";
  const rt = requireCuda(op);
  if (x.device !== "cuda" || w.device !== "cuda") throw new SparselabError(op, `x and w must be on cuda, got ${x.device} and ${w.device}`);
  if (x.dtype !== w.dtype) throw new SparselabError(op, `x and w must share a dtype, got ${x.dtype} and ${w.dtype}`);
  const defs = dtypeDefines(x.dtype, op);
  const [T, K] = x.shape;
  const [G, Kw, N] = w.shape;
  if (Kw !== K || K % 8 !== 0 || N % 8 !== 0)
    throw new SparselabError(op, `need x [T, K] and w [G, K, N] with K and N multiples of 8, got x ${fmtShape(x.shape)}, w ${fmtShape(w.shape)}`);
  const off = offsets.device === "cuda" ? ((await offsets.toTypedArray()) as Int32Array) : (offsets.data as Int32Array);
  if (off.length !== G + 1 || off[0] !== 0 || off[G] !== T)
    throw new SparselabError(op, `offsets must be [G + 1] = [${G + 1}] from 0 to T = ${T}, got length ${off.length} ending at ${off[off.length - 1]}`);
  const { group, row } = tileList(off);
  const out = emptyCuda([T, N], x.dtype, rt);
  if (group.length === 0) return out;
  const dOff = toDevice(new Tensor([G + 1], "i32", off));
  const dGroup = toDevice(new Tensor([group.length], "i32", group));
  const dRow = toDevice(new Tensor([row.length], "i32", row));
  // BK 64 halves the barriers per FLOP against BK 32 (bench/gpu/moe measures both).
  const bk = Number(process.env.SPARSELAB_CUDA_GEMM_BK ?? 64) === 32 ? 32 : 64;
  const smem = 3 * (BM * bk + bk * BN) * 2;
  const f = kernel(rt, "grouped_gemm.cu", "grouped_gemm", [...defs, `#define BK ${bk}`], smem);
  rt.launch(f, [group.length, Math.ceil(N / BN), 1], [256, 1, 1], "ppppppii", [
    devicePtr(x), devicePtr(w), devicePtr(out), devicePtr(dOff), devicePtr(dGroup), devicePtr(dRow), K, N,
  ]);
  // Safe to recycle at once: later uploads into these blocks are ordered after the kernel on the
  // same (legacy default) stream.
  dOff.dispose();
  dGroup.dispose();
  dRow.dispose();
  return out;
}

/**
 * Softmax over experts then top-k per token on the GPU (Mixtral / Qwen-MoE routing), ties to the
 * lower expert index; `normalize` renormalises the k weights to sum to 1.
 * @example
 * const { indices, weights } = await sl.cuda.routeSoftmaxTopk(sl.cuda.toDevice(logits), 2, true);
 */
export async function routeSoftmaxTopk(
  logits: Tensor,
  k: number,
  normalize: boolean,
  opts: { probs?: boolean } = {},
): Promise<{ indices: Tensor<"i32">; weights: Tensor<"f32">; probs?: Tensor<"f32"> }> {
  const op = "routeSoftmaxTopk (cuda)";
  const rt = requireCuda(op);
  if (logits.device !== "cuda" || logits.dtype !== "f32" || logits.ndim !== 2)
    throw new SparselabError(op, `logits must be an f32 [T, E] tensor on cuda, got ${logits.dtype} ${fmtShape(logits.shape)} on ${logits.device}`);
  const [T, E] = logits.shape;
  if (!Number.isInteger(k) || k < 1 || k > 16 || k > E) throw new SparselabError(op, `k must be an integer in 1..min(16, E = ${E}), got ${k}`);
  if (E > 1024) throw new SparselabError(op, `at most 1024 experts, got ${E}`);
  const perLane = Math.max(1, Math.ceil(E / 32));
  const f = kernel(rt, "moe_ops.cu", "route_softmax_topk", [`#define MAX_E_PER_LANE ${perLane}`], 0);
  const indices = emptyCuda([T, k], "i32", rt);
  const weights = emptyCuda([T, k], "f32", rt);
  const probs = opts.probs ? emptyCuda([T, E], "f32", rt) : undefined;
  rt.launch(f, [Math.ceil((T * 32) / 256), 1, 1], [256, 1, 1], "ppppiiii", [
    devicePtr(logits), devicePtr(indices), devicePtr(weights), probs ? devicePtr(probs) : 0, T, E, k, normalize ? 1 : 0,
  ]);
  return { indices, weights, probs };
}

/**
 * The stable permutation that groups assignments by expert, computed on the host from routing
 * indices [T, k]: `src[i]` is the token of permuted row i, `pos[t, j]` the permuted row of
 * assignment (t, j), `offsets` [E + 1] the experts' runs.
 */
export function permutation(indices: Int32Array, T: number, k: number, E: number): { src: Int32Array; pos: Int32Array; offsets: Int32Array } {
  const counts = new Int32Array(E + 1);
  for (let i = 0; i < T * k; i++) counts[indices[i] + 1]++;
  for (let e = 0; e < E; e++) counts[e + 1] += counts[e];
  const offsets = counts.slice();
  const next = counts.slice(0, E);
  const src = new Int32Array(T * k), pos = new Int32Array(T * k);
  for (let t = 0; t < T; t++)
    for (let j = 0; j < k; j++) {
      const p = next[indices[t * k + j]]++;
      src[p] = t;
      pos[t * k + j] = p;
    }
  return { src, pos, offsets };
}

/** out[i] = x[src[i]]: the dispatch gather (rows of 16-bit elements, cols a multiple of 8). */
export function gatherRows(x: Tensor, src: Tensor<"i32">): Tensor {
  const rt = requireCuda("gatherRows (cuda)");
  const defs = dtypeDefines(x.dtype, "gatherRows (cuda)");
  const [, cols] = x.shape;
  const rows = src.shape[0];
  const out = emptyCuda([rows, cols], x.dtype, rt);
  const f = kernel(rt, "moe_ops.cu", "gather_rows", defs, 0);
  rt.launch(f, [rows, 1, 1], [128, 1, 1], "pppii", [devicePtr(x), devicePtr(src), devicePtr(out), rows, cols]);
  return out;
}

/** y[t] = Σ_j w[t, j] · e[pos[t, j]]: the weighted combine back into token order. */
export function combineRows(e: Tensor, pos: Tensor<"i32">, w: Tensor<"f32">, T: number, k: number): Tensor {
  const rt = requireCuda("combineRows (cuda)");
  const defs = dtypeDefines(e.dtype, "combineRows (cuda)");
  const cols = e.shape[1];
  const y = emptyCuda([T, cols], e.dtype, rt);
  const f = kernel(rt, "moe_ops.cu", "combine_rows", defs, 0);
  rt.launch(f, [T, 1, 1], [256, 1, 1], "ppppiii", [devicePtr(e), devicePtr(pos), devicePtr(w), devicePtr(y), T, k, cols]);
  return y;
}

/** silu(gate) * up elementwise (16-bit tensors of the same shape). */
export function swiglu(gate: Tensor, up: Tensor): Tensor {
  const rt = requireCuda("swiglu (cuda)");
  const defs = dtypeDefines(gate.dtype, "swiglu (cuda)");
  const out = emptyCuda(gate.shape, gate.dtype, rt);
  const f = kernel(rt, "moe_ops.cu", "swiglu", defs, 0);
  rt.launch(f, [Math.min(65535, Math.ceil(gate.size / 256)), 1, 1], [256, 1, 1], "pppl", [devicePtr(gate), devicePtr(up), devicePtr(out), gate.size]);
  return out;
}

export interface CudaMoeWeights {
  /** Router weight [1, d, E] (a single-group GEMM computes the logits). */
  router: Tensor;
  /** Expert weights [E, d, f] (gate, up) and [E, f, d] (down), bf16/f16 on the GPU. */
  gate: Tensor;
  up: Tensor;
  down: Tensor;
}

/**
 * A SwiGLU MoE layer forward on the GPU, end to end: router GEMM, softmax + top-k (normalised),
 * the stable permutation, gather, three grouped GEMMs, SwiGLU, and the weighted combine. Returns
 * the output [T, d] and the routing (indices, weights) plus per-stage timings in ms (host clock,
 * synchronised), so the stages can be compared with the CPU layer's.
 * @example
 * const { output } = await sl.cuda.moeForward(x.to("cuda"), weights, { k: 2 });
 */
export async function moeForward(
  x: Tensor,
  w: CudaMoeWeights,
  opts: { k: number; timings?: boolean },
): Promise<{ output: Tensor; indices: Tensor<"i32">; weights: Tensor<"f32">; ms: Record<string, number> }> {
  const op = "moeForward (cuda)";
  const rt = requireCuda(op);
  const [T, d] = x.shape;
  const E = w.gate.shape[0];
  if (w.router.shape[1] !== d || w.router.shape[2] !== E)
    throw new SparselabError(op, `router must be [1, ${d}, ${E}], got ${fmtShape(w.router.shape)}`);
  const ms: Record<string, number> = {};
  let t = performance.now();
  const lap = (name: string) => {
    if (!opts.timings) return;
    rt.sync();
    const n = performance.now();
    ms[name] = n - t;
    t = n;
  };
  const one = new Tensor([2], "i32", Int32Array.from([0, T]));
  const logits16 = await cudaGroupedGemm(x, w.router, one);
  const logits = castCuda(logits16, "f32");
  logits16.dispose();
  const r = await routeSoftmaxTopk(logits, opts.k, true);
  logits.dispose();
  lap("routing");
  const idx = (await r.indices.toTypedArray()) as Int32Array;
  const perm = permutation(idx, T, opts.k, E);
  const src = toDevice(new Tensor([perm.src.length], "i32", perm.src));
  const pos = toDevice(new Tensor([T, opts.k], "i32", perm.pos));
  const offsets = new Tensor([E + 1], "i32", perm.offsets);
  const xs = gatherRows(x, src);
  lap("dispatch");
  const g = await cudaGroupedGemm(xs, w.gate, offsets);
  const u = await cudaGroupedGemm(xs, w.up, offsets);
  const a = swiglu(g, u);
  const y = await cudaGroupedGemm(a, w.down, offsets);
  lap("experts");
  const output = combineRows(y, pos, r.weights, T, opts.k);
  lap("combine");
  for (const z of [src, pos, xs, g, u, a, y]) z.dispose();
  return { output, indices: r.indices, weights: r.weights, ms };
}
