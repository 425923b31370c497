/**
 * `sl.compare`: runs sparse-attention estimators side by side against dense attention and
 * tabulates quality and cost.
 */
import * as aq from "arquero";
import { argError, SparselabError } from "../errors.js";
import type { BackendName } from "../backends/registry.js";
import { ready } from "../backends/load.js";
import type { Tensor } from "../tensor/tensor.js";
import { attention } from "./attention.js";
import type { BlockMaskFields } from "./block-mask.js";
import { density, outputError } from "./metrics/index.js";
import { checkQK, estimatorInfo, fieldsFromBlockSelection, keptPairs } from "./dynamic/common.js";

/** A method to compare: an estimator (q, k) -> BlockMask, or a ready BlockMask. */
export type CompareMethod = ((q: Tensor, k: Tensor) => Promise<BlockMaskFields> | BlockMaskFields) | BlockMaskFields;

/** Options of {@link compare}. */
export interface CompareOptions {
  /** Causal attention (default true): the dense baseline is causal and densities use the causal area. */
  causal?: boolean;
  /** Backend for the attention passes (and the estimators' registry ops through their own options). */
  backend?: BackendName;
  /** Timed runs of each estimator and attention pass; the median is reported. Default 1. */
  repeats?: number;
  /** Tile size of the dense causal baseline's block mask. Default 128. */
  denseBlockSize?: number;
  /** Called after each method (progress in notebooks). */
  onProgress?: (name: string, row: Record<string, unknown>) => void;
  signal?: AbortSignal;
}

/**
 * Runs every method on (q, k), then sparse attention with its mask, and returns an arquero
 * table with one row per method plus the dense baseline:
 *
 * | column | meaning |
 * |---|---|
 * | method | the key in `methods` ("dense" for the baseline) |
 * | density_block_causal / density_element_causal | computed tiles / attended pairs over the causal area (q >= kv); `_full` instead when `causal: false` |
 * | recall | mean over (b, h, q) of the dense softmax mass on kept keys (exact; the causal softmax when causal) |
 * | rel_l1 | Σ|O − O_dense| / Σ|O_dense| |
 * | cosine | cosine similarity of O with O_dense |
 * | flops_ratio | attention FLOPs (4·B·H·D·kept pairs) over the dense pass's (= the element density) |
 * | estimator_gflops | the estimator's own work (its products and score grids; NaN when the method is not a sparselab estimator) |
 * | estimator_ms, attention_ms, total_ms | median wall times |
 * | speedup | dense attention_ms / total_ms (the estimator's cost included) |
 * | estimator_cpu_ms, attention_cpu_ms, speedup_cpu | the same from this process's CPU time (all threads; steadier on a busy machine; NaN outside Node) |
 *
 * @example
 * const w = sl.workloads.llmLike({ S: 4096, H: 8, D: 64, seed: 1 });
 * const t = await sl.compare({
 *   xattention: (q, k) => sl.dynamic.xattention(q, k),
 *   verticalSlash: (q, k) => sl.dynamic.verticalSlash(q, k, { verticalSize: 500, slashSize: 500 }),
 * }, w.q, w.k, w.v);
 * t.print();
 */
export async function compare(methods: Record<string, CompareMethod>, q: Tensor, k: Tensor, v: Tensor, opts: CompareOptions = {}): Promise<aq.ColumnTable> {
  const op = "compare";
  if (methods === null || typeof methods !== "object" || Array.isArray(methods) || Object.keys(methods).length === 0)
    argError(op, "methods", "an object { name: estimator or BlockMask } with at least one entry", String(methods));
  const causal = opts.causal ?? true;
  if (typeof causal !== "boolean") argError(op, "opts.causal", "a boolean", String(causal));
  const repeats = opts.repeats ?? 1;
  if (!Number.isInteger(repeats) || repeats < 1) argError(op, "opts.repeats", "a positive integer", String(repeats));
  const { Sq, Skv } = checkQK(op, q, k);
  if (causal && Sq !== Skv) argError(op, "q", "the same length as k for causal comparison", `Sq ${Sq}, Skv ${Skv}`);
  await ready();
  const attOpts = { backend: opts.backend, signal: opts.signal };
  const denominator = causal ? "causal" : "full";
  const bs = opts.denseBlockSize ?? 128;
  const denseMask = causal ? fieldsFromBlockSelection(new Uint8Array(Math.ceil(Sq / bs) * Math.ceil(Skv / bs)).fill(1), 1, 1, Sq, Skv, bs, true) : undefined;

  // Wall time, and this process's CPU time (all its threads): on a shared, oversubscribed
  // machine the CPU time is the steadier figure.
  const cpuNow = () => (typeof process !== "undefined" && process.cpuUsage ? process.cpuUsage() : { user: NaN, system: NaN });
  const timeIt = async <T>(f: () => Promise<T>): Promise<{ value: T; ms: number; cpuMs: number }> => {
    const times: number[] = [];
    const cpus: number[] = [];
    let value!: T;
    for (let r = 0; r < repeats; r++) {
      const t0 = performance.now();
      const c0 = cpuNow();
      value = await f();
      const c1 = cpuNow();
      times.push(performance.now() - t0);
      cpus.push((c1.user - c0.user + c1.system - c0.system) / 1000);
    }
    times.sort((a, b) => a - b);
    cpus.sort((a, b) => a - b);
    return { value, ms: times[Math.floor(times.length / 2)], cpuMs: cpus[Math.floor(cpus.length / 2)] };
  };

  // returnLse on both passes gives recall for free: a row's kept share of the dense (causal
  // when causal) softmax is exp(lse_kept − lse_dense).
  const dense = await timeIt(() => attention(q, k, v, { ...attOpts, blockMask: denseMask, returnLse: true }));
  const denseLse = await dense.value.lse.toTypedArray();
  const rows: Record<string, unknown>[] = [];
  const dKey = `density_block_${denominator}`;
  const eKey = `density_element_${denominator}`;
  const denseRow = {
    method: "dense",
    [dKey]: 1,
    [eKey]: 1,
    recall: 1,
    rel_l1: 0,
    cosine: 1,
    flops_ratio: 1,
    estimator_gflops: 0,
    estimator_ms: 0,
    attention_ms: dense.ms,
    total_ms: dense.ms,
    speedup: 1,
    estimator_cpu_ms: 0,
    attention_cpu_ms: dense.cpuMs,
    speedup_cpu: 1,
  };
  rows.push(denseRow);
  opts.onProgress?.("dense", denseRow);
  for (const [name, m] of Object.entries(methods)) {
    let est: { value: BlockMaskFields; ms: number; cpuMs: number };
    if (typeof m === "function") est = await timeIt(async () => m(q, k));
    else if (m && typeof m === "object" && "kvNumBlocks" in m) est = { value: m, ms: 0, cpuMs: 0 };
    else return argError(op, `methods.${name}`, "an estimator function or a BlockMask", typeof m);
    const bm = est.value;
    if (!bm || typeof bm !== "object" || !("kvNumBlocks" in bm)) throw new SparselabError(op, `method '${name}' did not return a BlockMask`);
    const att = await timeIt(() => attention(q, k, v, { ...attOpts, blockMask: bm, returnLse: true }));
    const err = await outputError(att.value.output, dense.value.output);
    const lse = await att.value.lse.toTypedArray();
    let rsum = 0;
    for (let i = 0; i < lse.length; i++) rsum += lse[i] === -Infinity ? 0 : Math.exp(lse[i] - denseLse[i]);
    const total = est.ms + att.ms;
    // Element density over the dense pass's area is also the FLOP ratio (4·B·H·D per pair on
    // both sides), so the pairs are counted once (an exact count evaluates partial tiles).
    // Estimators that counted their pairs from the selection save an element-by-element pass.
    const counted = keptPairs(bm);
    const elementDensity =
      counted !== undefined && causal && bm.qLen === bm.kvLen
        ? counted / (bm.B * bm.H * ((bm.qLen * (bm.qLen + 1)) / 2))
        : density(bm, { level: "element", denominator }).value;
    const row = {
      method: name,
      [dKey]: density(bm, { level: "block", denominator }).value,
      [eKey]: elementDensity,
      recall: rsum / lse.length,
      rel_l1: err.relL1,
      cosine: err.cosine,
      flops_ratio: elementDensity,
      estimator_gflops: (estimatorInfo(bm)?.flops ?? NaN) / 1e9,
      estimator_ms: est.ms,
      attention_ms: att.ms,
      total_ms: total,
      speedup: dense.ms / total,
      estimator_cpu_ms: est.cpuMs,
      attention_cpu_ms: att.cpuMs,
      speedup_cpu: dense.cpuMs / (est.cpuMs + att.cpuMs),
    };
    att.value.output.dispose();
    att.value.lse.dispose();
    rows.push(row);
    opts.onProgress?.(name, row);
  }
  dense.value.output.dispose();
  dense.value.lse.dispose();
  return aq.from(rows);
}
