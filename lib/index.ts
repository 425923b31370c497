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
export { Tensor, memoryStats, memory, type Device } from "./tensor/tensor.js";
export { type DType, DTYPES, isFloat, f32ToF16, f16ToF32, f32ToBf16, bf16ToF32 } from "./tensor/dtype.js";
export { tensor, zeros, ones, full, arange, linspace, zerosLike, onesLike, type NestedArray, type TensorOptions } from "./tensor/create.js";
export { rng, Rng, rand, randn, randint, philox4x32 } from "./tensor/random.js";
export { reshape, permute, transpose, slice, contiguous, cat, stack, squeeze, unsqueeze, indexSelect, gather, astype, type SliceSpec } from "./tensor/shape.js";
export { add, sub, mul, div, maximum, minimum, pow, eq, lt, le, gt, ge, exp, log, tanh, sigmoid, relu, gelu, silu, neg, abs, sqrt, clamp, where, type Operand } from "./tensor/elementwise.js";
export { sum, mean, max, min, argmax, argmin, logsumexp, norm, type ReduceOptions } from "./tensor/reduce.js";
export { matmul, bmm, type MatmulOptions } from "./tensor/ops/matmul.js";
export { softmax } from "./tensor/ops/softmax.js";
export { topk } from "./tensor/ops/topk.js";
export { blockPool } from "./tensor/ops/block-pool.js";
export { groupedGemm } from "./tensor/ops/grouped-gemm.js";
export { saveSafetensors, loadSafetensors, encodeSafetensors, decodeSafetensors, type SafetensorsContents } from "./tensor/io/safetensors.js";
export { saveNpy, loadNpy, encodeNpy, decodeNpy } from "./tensor/io/npy.js";

// -- attention
export type { Mask, ScoreMod, TileClass } from "./attention/types.js";
export type { MaskExpr, MaskProgram } from "./attention/mask-ir.js";
// masks, expressions, score mods, block masks
export { TILE_EMPTY, TILE_PARTIAL, TILE_FULL } from "./attention/types.js";
export * as masks from "./attention/masks/index.js";
export { mask, type MaskFn } from "./attention/dsl/mask.js";
export { ExpressionError } from "./attention/dsl/errors.js";
export type { ExprParam } from "./attention/dsl/lower.js";
export { and, or, not } from "./attention/compose.js";
export * as scoreMods from "./attention/score-mods/index.js";
export { scoreMod } from "./attention/score-mods/expression.js";
export { BlockMask, DeviceBlockMask, type BlockMaskFields, type BlockSize, type BlockCounts, type DensityOptions } from "./attention/block-mask.js";
export { createBlockMask, type CreateBlockMaskOptions, type DeviceCreateBlockMaskOptions } from "./attention/create-block-mask.js";
export { compileProgram, compileInterval, irClassifier, type IntervalBox } from "./attention/mask-ir-js.js";
// attention(), decode attention, metrics, and backend loading (JS ops register on import;
// native backends start loading at import, sl.ready() resolves when they have tried)
import "./backends/js/index.js";
export { ready } from "./backends/load.js";
export { attention, type AttentionOptions, type AttentionWithLse } from "./attention/attention.js";
export { decodeAttention, type DecodeAttentionOptions } from "./attention/decode-attention.js";
export * as metrics from "./attention/metrics/index.js";

// -- moe
export * as moe from "./moe/index.js";

// -- dynamic
export * as dynamic from "./attention/dynamic/index.js";
export * as workloads from "./attention/workloads/index.js";
export { compare, type CompareOptions, type CompareMethod } from "./attention/compare.js";

// -- cuda (device tensors, the CUDA MoE helpers; the backend itself registers through sl.ready())
export * as cuda from "./backends/cuda/index.js";

// -- viz
export * as viz from "./viz/index.js";
