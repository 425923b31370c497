import { SparselabError, fmtShape } from "../../errors.js";
import { Tensor } from "../../tensor/tensor.js";
import { devicePtr, emptyCuda, toDevice } from "./device-tensor.js";
import { requireCuda, type CompiledFunction, type CudaRuntime } from "./runtime.js";
import { castCuda } from "./sparse.js";

/**
 * The MoE kernels on CUDA: the grouped expert GEMM (registered as "groupedGemm"), top-k routing,
 * the stable permutation by expert, and the gather / combine around the GEMMs. From routing to
 * the combine everything stays on the GPU: the permutation kernels write the group offsets the
 * GEMMs read, so `moeForward` copies nothing back to the host between its stages.
 */
const BM = 128;
const memo = new Map<string, CompiledFunction>();

function kernel(rt: CudaRuntime, file: string, entry: string, defines: string[], smem: number): CompiledFunction {
  const key = `${file}:${entry}:${defines.join(";")}:${smem}`;
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

/** Lists every group's M tiles (group, first row): the tiles the GEMM kernels derive on the GPU. */
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
 * Which grouped GEMM kernel runs: wgmma fed by TMA (Hopper with a CUDA 12+ driver), wgmma fed by
 * cp.async (Hopper), or mma.sync (sm_80 and up).
 */
export type GroupedGemmKernel = "wgmma-tma" | "wgmma-cp.async" | "mma";

/**
 * The kernel `groupedGemm` uses on this GPU: wgmma on compute capability 9.x, loading through TMA
 * where the driver encodes tensor maps. SPARSELAB_CUDA_GEMM=mma or =cp.async pins the others (for
 * comparison and tests).
 * @example
 * sl.cuda.groupedGemmKernel(); // "wgmma-tma" on an H100
 */
export function groupedGemmKernel(rt: CudaRuntime = requireCuda("groupedGemmKernel")): GroupedGemmKernel {
  const forced = process.env.SPARSELAB_CUDA_GEMM;
  if (forced === "mma" || rt.info.major !== 9) return "mma";
  return forced === "cp.async" || !rt.info.tensorMaps ? "wgmma-cp.async" : "wgmma-tma";
}

/**
 * The wgmma kernel's N tile for N columns: 256 unless a narrower tile wastes fewer columns (a
 * narrower tile re-reads A more often, hence the weights on the smaller tiles).
 */
export function wgmmaTileN(N: number): 128 | 192 | 256 {
  const forced = Number(process.env.SPARSELAB_CUDA_GEMM_BN);
  if (forced === 128 || forced === 192 || forced === 256) return forced;
  const cost = (bn: number, weight: number) => Math.ceil(N / bn) * bn * weight;
  const options: [128 | 192 | 256, number][] = [[256, 1], [192, 1.05], [128, 1.12]];
  let best = options[0];
  for (const o of options) if (cost(o[0], o[1]) < cost(best[0], best[1])) best = o;
  return best[0];
}

/**
 * Launches the grouped GEMM: out [T, N] = per-group x @ w[g]. `offPtr` is a device i32 [G + 1]
 * array, or 0 for one group of all T rows; `hostOff`, the same offsets when the host has them,
 * trims the grid to the real tile count (otherwise it is the bound ceil(T / tile) + G).
 */
function launchGroupedGemm(rt: CudaRuntime, x: Tensor, w: Tensor, offPtr: number, G: number, hostOff: Int32Array | undefined, op: string): Tensor {
  const defs = dtypeDefines(x.dtype, op);
  const [T, K] = x.shape;
  const N = w.shape[2];
  const out = emptyCuda([T, N], x.dtype, rt);
  // M tiles of `rows` rows over all groups: exact from host offsets, else an upper bound.
  const tilesM = (rows: number) => (hostOff ? tileList(hostOff, rows).group.length : Math.ceil(T / rows) + G);
  const upperM = tilesM(BM);
  if (T === 0 || N === 0 || upperM === 0) return out;
  if (K === 0) {
    rt.b.memset(devicePtr(out), 0, T * N * 2); // an empty sum
    return out;
  }
  const mapBytes = 8 * (G + 1);
  const kind = groupedGemmKernel(rt);
  if (kind !== "mma") {
    const bn = wgmmaTileN(N);
    const stageBytes = (BM * 64 + 64 * bn) * 2;
    let stages = bn === 256 ? 4 : bn === 192 ? 5 : 6;
    while (stages > 3 && stages * stageBytes + 1024 + mapBytes > rt.info.sharedMemOptin) stages--;
    let smem = stages * stageBytes + 1024 + mapBytes;
    if (smem > rt.info.sharedMemOptin)
      throw new SparselabError(op, `${G} groups need ${smem} bytes of shared memory, over this GPU's ${rt.info.sharedMemOptin}`);
    const tma = kind === "wgmma-tma";
    // SPARSELAB_CUDA_GEMM_CLUSTER=2 pairs TMA-fed CTAs to share B by multicast: correct, but
    // measured 2x slower than single CTAs on the H100 (bench/RESULTS.md), so off by default.
    const cluster = tma && process.env.SPARSELAB_CUDA_GEMM_CLUSTER === "2" ? 2 : 1;
    // Blocks take work items from an atomic counter (TMA, one CTA), so half-width tail tiles
    // balance out; SPARSELAB_CUDA_GEMM_SCHED=static keeps the fixed stride (for comparison).
    const dyn = tma && cluster === 1 && process.env.SPARSELAB_CUDA_GEMM_SCHED !== "static";
    // Output tiles through 32 KB of shared memory and TMA stores where that fits beside the
    // stages (the kernel's EPI_TMA comment says why and when; 2-3% over register stores on the
    // H100, bench/RESULTS.md); SPARSELAB_CUDA_GEMM_EPI=regs keeps the register stores.
    const epi = dyn && bn !== 192 && process.env.SPARSELAB_CUDA_GEMM_EPI !== "regs" && smem + 32768 + 128 <= rt.info.sharedMemOptin;
    if (epi) smem += 32768;
    const f = kernel(rt, "grouped_gemm_sm90.cu", "grouped_gemm_sm90", [
      ...defs, `#define BN ${bn}`, `#define STAGES ${stages}`, ...(tma ? ["#define USE_TMA 1"] : []), `#define CLUSTER ${cluster}`,
      ...(dyn ? ["#define DYN_SCHED 1"] : []), ...(epi ? ["#define EPI_TMA 1"] : []),
    ], smem);
    const items = tilesM(BM * cluster) * Math.ceil(N / bn);
    // SPARSELAB_CUDA_GEMM_GRID caps the persistent grid (in clusters): a diagnosis knob for
    // whether all clusters are co-resident.
    const gridCap = Number(process.env.SPARSELAB_CUDA_GEMM_GRID) || Math.floor(rt.info.multiprocessors / cluster);
    const grid: [number, number, number] = [cluster * Math.min(gridCap, Math.floor(rt.info.multiprocessors / cluster), items), 1, 1];
    if (tma) {
      // A: [T, K] in 128-row x 64-column boxes; w: [G, K, N] in 64 x 64 boxes, one expert at a
      // time (its own dim, so a K tail reads zeros, not the next expert). Both 128-byte swizzled.
      const dtype = x.dtype as "bf16" | "f16";
      const mapA = rt.tensorMap({ dtype, globalAddress: devicePtr(x), globalDims: [K, T], globalStridesBytes: [K * 2], boxDims: [64, BM], swizzle: 128 });
      const mapB = rt.tensorMap({ dtype, globalAddress: devicePtr(w), globalDims: [N, K, G], globalStridesBytes: [N * 2, K * N * 2], boxDims: [64, 64, 1], swizzle: 128 });
      if (dyn) {
        // A zeroed counter per launch (stream-ordered; recycled only by later work on the stream).
        const counter = emptyCuda([1], "i32", rt);
        rt.memset(devicePtr(counter), 0, 4);
        if (epi) {
          const mapOut = rt.tensorMap({ dtype, globalAddress: devicePtr(out), globalDims: [N, T], globalStridesBytes: [N * 2], boxDims: [64, 64], swizzle: 128 });
          rt.launch(f, grid, [384, 1, 1], "mmppiiiipm", [mapA, mapB, devicePtr(out), offPtr, G, T, K, N, devicePtr(counter), mapOut]);
        } else {
          rt.launch(f, grid, [384, 1, 1], "mmppiiiip", [mapA, mapB, devicePtr(out), offPtr, G, T, K, N, devicePtr(counter)]);
        }
        counter.dispose();
      } else {
        rt.launch(f, grid, [384, 1, 1], "mmppiiii", [mapA, mapB, devicePtr(out), offPtr, G, T, K, N]);
      }
    } else {
      rt.launch(f, grid, [384, 1, 1], "ppppiiii", [devicePtr(x), devicePtr(w), devicePtr(out), offPtr, G, T, K, N]);
    }
    return out;
  }
  // BK 64 halves the barriers per FLOP against BK 32 (bench/gpu/moe measures both).
  const bk = Number(process.env.SPARSELAB_CUDA_GEMM_BK ?? 64) === 32 ? 32 : 64;
  const smem = 3 * (BM * bk + bk * 128) * 2 + mapBytes;
  const f = kernel(rt, "grouped_gemm.cu", "grouped_gemm", [...defs, `#define BK ${bk}`], smem);
  rt.launch(f, [upperM, Math.ceil(N / 128), 1], [256, 1, 1], "ppppiiii", [devicePtr(x), devicePtr(w), devicePtr(out), offPtr, G, T, K, N]);
  return out;
}

/**
 * "groupedGemm" on CUDA: out[rows of g] = x[rows of g] @ w[g]; x [T, K], w [G, K, N] bf16/f16 on
 * the GPU, offsets i32 [G + 1]. Host offsets are validated and uploaded; device offsets (from
 * `permuteByExpert`) are used where they are, never copied back: the kernel clamps them into
 * [0, T], and rows no group covers are left unwritten.
 * @example
 * // Registered as the cuda "groupedGemm" op: sl.groupedGemm dispatches here for CUDA tensors.
 * const y = await sl.groupedGemm(xs.to("cuda"), w.to("cuda"), offsets, { backend: "cuda" });
 */
export async function cudaGroupedGemm(x: Tensor, w: Tensor, offsets: Tensor<"i32">): Promise<Tensor> {
  return groupedGemm(x, w, offsets);
}

/**
 * `cudaGroupedGemm` without the promise: the launch is queued when this returns, so a caller may
 * dispose the result right after queueing its consumers (stream order keeps the memory alive).
 * @example
 * const y = sl.cuda.groupedGemm(xs, w, offsets);
 */
export function groupedGemm(x: Tensor, w: Tensor, offsets: Tensor<"i32">): Tensor {
  const op = "groupedGemm (cuda)";
  const rt = requireCuda(op);
  if (x.device !== "cuda" || w.device !== "cuda") throw new SparselabError(op, `x and w must be on cuda, got ${x.device} and ${w.device}`);
  if (x.dtype !== w.dtype) throw new SparselabError(op, `x and w must share a dtype, got ${x.dtype} and ${w.dtype}`);
  dtypeDefines(x.dtype, op);
  if (x.ndim !== 2 || w.ndim !== 3) throw new SparselabError(op, `need x [T, K] and w [G, K, N], got x ${fmtShape(x.shape)}, w ${fmtShape(w.shape)}`);
  const [T, K] = x.shape;
  const [G, Kw, N] = w.shape;
  if (Kw !== K || K % 8 !== 0 || N % 8 !== 0)
    throw new SparselabError(op, `need x [T, K] and w [G, K, N] with K and N multiples of 8, got x ${fmtShape(x.shape)}, w ${fmtShape(w.shape)}`);
  if (offsets.dtype !== "i32" || offsets.size !== G + 1)
    throw new SparselabError(op, `offsets must be i32 [G + 1] = [${G + 1}], got ${offsets.dtype} ${fmtShape(offsets.shape)}`);
  if (offsets.device === "cuda") return launchGroupedGemm(rt, x, w, devicePtr(offsets), G, undefined, op);
  const off = offsets.data as Int32Array;
  if (off[0] !== 0 || off[G] !== T)
    throw new SparselabError(op, `offsets must run from 0 to T = ${T}, got ${off[0]} .. ${off[G]}`);
  for (let g = 0; g < G; g++)
    if (off[g + 1] < off[g]) throw new SparselabError(op, `offsets must be non-decreasing, got offsets[${g}] = ${off[g]} > offsets[${g + 1}] = ${off[g + 1]}`);
  const dOff = toDevice(new Tensor([G + 1], "i32", off));
  const out = launchGroupedGemm(rt, x, w, devicePtr(dOff), G, off, op);
  // Safe to recycle at once: later uploads into this block are ordered after the kernel on the
  // same (legacy default) stream.
  dOff.dispose();
  return out;
}

/** x [T, K] @ w[0] for w [1, K, N] on the GPU (one group of all rows; no offsets to upload). */
function denseGemm(x: Tensor, w: Tensor, op: string): Tensor {
  const rt = requireCuda(op);
  return launchGroupedGemm(rt, x, w, 0, 1, Int32Array.from([0, x.shape[0]]), op);
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
 * assignment (t, j), `offsets` [E + 1] the experts' runs. The host twin of `permuteByExpert`.
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

const PERM_CHUNK = 256;

/**
 * The same stable permutation on the GPU, from device routing indices i32 [T, k]: per-chunk ranks
 * and counts, one scan into the expert offsets, a scatter (three kernels, nothing copied to the
 * host). An index outside [0, E) is dropped: its `pos` is -1 and it gets no row, so `offsets[E]`
 * counts the kept assignments and `src` past it holds -1. E <= 1024.
 * @example
 * const { src, pos, offsets } = sl.cuda.permuteByExpert(route.indices, 64);
 */
export function permuteByExpert(indices: Tensor<"i32">, E: number): { src: Tensor<"i32">; pos: Tensor<"i32">; offsets: Tensor<"i32"> } {
  const op = "permuteByExpert (cuda)";
  const rt = requireCuda(op);
  if (indices.device !== "cuda" || indices.dtype !== "i32" || indices.ndim !== 2)
    throw new SparselabError(op, `indices must be an i32 [T, k] tensor on cuda, got ${indices.dtype} ${fmtShape(indices.shape)} on ${indices.device}`);
  if (!Number.isInteger(E) || E < 1 || E > 1024) throw new SparselabError(op, `E must be an integer in 1..1024, got ${E}`);
  const [T, k] = indices.shape;
  const n = T * k;
  const src = emptyCuda([n], "i32", rt);
  const pos = emptyCuda([T, k], "i32", rt);
  const offsets = emptyCuda([E + 1], "i32", rt);
  if (n === 0) {
    rt.b.memset(devicePtr(offsets), 0, 4 * (E + 1));
    return { src, pos, offsets };
  }
  const chunks = Math.ceil(n / PERM_CHUNK);
  const rank = emptyCuda([n], "i32", rt);
  const counts = emptyCuda([chunks, E], "i32", rt);
  rt.b.memset(devicePtr(src), 0xff, 4 * n);
  rt.launch(kernel(rt, "moe_ops.cu", "perm_rank", [], 0), [chunks, 1, 1], [PERM_CHUNK, 1, 1], "piipp", [devicePtr(indices), n, E, devicePtr(rank), devicePtr(counts)]);
  rt.launch(kernel(rt, "moe_ops.cu", "perm_scan", [], 0), [1, 1, 1], [1024, 1, 1], "piip", [devicePtr(counts), chunks, E, devicePtr(offsets)]);
  rt.launch(kernel(rt, "moe_ops.cu", "perm_scatter", [], 0), [Math.ceil(n / 256), 1, 1], [256, 1, 1], "pppiiipp", [
    devicePtr(indices), devicePtr(rank), devicePtr(counts), n, E, k, devicePtr(src), devicePtr(pos),
  ]);
  // Recycled blocks are reused only by later work on the same stream, after these kernels.
  rank.dispose();
  counts.dispose();
  return { src, pos, offsets };
}

/**
 * out[i] = x[src[i]]: the dispatch gather (rows of 16-bit elements, cols a multiple of 8); a src
 * outside [0, rows of x) gives a zero row.
 */
export function gatherRows(x: Tensor, src: Tensor<"i32">): Tensor {
  const rt = requireCuda("gatherRows (cuda)");
  const defs = dtypeDefines(x.dtype, "gatherRows (cuda)");
  const [srcRows, cols] = x.shape;
  if (cols % 8 !== 0) throw new SparselabError("gatherRows (cuda)", `columns must be a multiple of 8, got x ${fmtShape(x.shape)}`);
  const rows = src.shape[0];
  const out = emptyCuda([rows, cols], x.dtype, rt);
  const f = kernel(rt, "moe_ops.cu", "gather_rows", defs, 0);
  rt.launch(f, [rows, 1, 1], [128, 1, 1], "pppiii", [devicePtr(x), devicePtr(src), devicePtr(out), rows, cols, srcRows]);
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
 * the stable permutation (on the GPU), gather, three grouped GEMMs, SwiGLU, and the weighted
 * combine; no stage waits on the host. Returns
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
  const logits16 = denseGemm(x, w.router, op);
  const logits = castCuda(logits16, "f32");
  logits16.dispose();
  const r = await routeSoftmaxTopk(logits, opts.k, true);
  logits.dispose();
  lap("routing");
  const { src, pos, offsets } = permuteByExpert(r.indices, E);
  const xs = gatherRows(x, src);
  lap("dispatch");
  const g = await cudaGroupedGemm(xs, w.gate, offsets);
  const u = await cudaGroupedGemm(xs, w.up, offsets);
  const a = swiglu(g, u);
  const y = await cudaGroupedGemm(a, w.down, offsets);
  lap("experts");
  const output = combineRows(y, pos, r.weights, T, opts.k);
  lap("combine");
  for (const z of [src, pos, offsets, xs, g, u, a, y]) z.dispose();
  return { output, indices: r.indices, weights: r.weights, ms };
}
