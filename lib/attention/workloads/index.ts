/**
 * Attention workloads: seeded synthetic LLM-like Q/K/V (documented as synthetic) and loaders
 * for real Q/K/V exported from PyTorch. This file only re-exports.
 * @example
 * const w = sl.workloads.llmLike({ S: 4096, H: 8, D: 64, seed: 1 });
 */
export { llmLike, type LlmLikeOptions, type LlmLikeWorkload, type HeadPattern } from "./synthetic.js";
export { loadQKV, type LoadQKVOptions, type QKV } from "./load.js";
