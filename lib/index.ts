/**
 * sparselab: sparse attention and Mixture-of-Experts, on JS, native CPU and CUDA kernels.
 *
 * This file only re-exports; each section belongs to one area of the library.
 * @example
 * import * as sl from "sparselab";
 * const bm = sl.createBlockMask(sl.masks.slidingWindow(256), { qLen: 4096, kvLen: 4096 });
 */

// -- core
export { SparselabError, CancelledError } from "./errors.js";
export { DISPLAY, isDisplayable, type MimeBundle, type Displayable } from "./display.js";
export { backends, type BackendName, type BackendStatus } from "./backends/registry.js";

// -- tensor
export { Tensor, memoryStats, type Device } from "./tensor/tensor.js";
export type { DType } from "./tensor/dtype.js";

// -- attention
export type { Mask, ScoreMod, TileClass } from "./attention/types.js";
export type { MaskExpr, MaskProgram } from "./attention/mask-ir.js";
// attention(), decode attention, metrics, and backend loading (JS ops register on import;
// native backends start loading at import, sl.ready() resolves when they have tried)
import "./backends/js/index.js";
export { ready } from "./backends/load.js";
export { attention, type AttentionOptions, type AttentionWithLse } from "./attention/attention.js";
export { decodeAttention, type DecodeAttentionOptions } from "./attention/decode-attention.js";
export * as metrics from "./attention/metrics/index.js";

// -- moe

// -- dynamic

// -- viz
