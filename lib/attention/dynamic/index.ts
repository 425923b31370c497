/**
 * Content-based sparse attention: estimators that choose which tiles (prefill) or which cached
 * tokens (decode) to compute from the content of Q and K. One method per file; this file only
 * re-exports. Prefill methods resolve to BlockMask fields (FlexAttention layout) that
 * `sl.attention` runs; decode methods resolve to i32 token indices [B, Hkv, n] that
 * `sl.decodeAttention` runs.
 * @example
 * const bm = await sl.dynamic.xattention(q, k, { threshold: 0.9 });
 * const out = await sl.attention(q, k, v, { blockMask: bm });
 */
export { estimatorInfo, keptPairs, tileClasses, type EstimatorInfo, type EstimatorCommonOptions, type PrefillCommonOptions } from "./common.js";
export { verticalSlash, verticalSlashSelection, type VerticalSlashOptions, type VerticalSlashSelection } from "./vertical-slash.js";
export { minferenceBlockSparse, type MinferenceBlockSparseOptions } from "./minference-block-sparse.js";
export { aShape, streaming, type AShapeOptions } from "./a-shape.js";
export { xattention, xattentionScores, type XAttentionOptions, type XAttentionScores } from "./xattention.js";
export { flexPrefill, flexPrefillDecision, type FlexPrefillOptions, type FlexPrefillDecision } from "./flex-prefill.js";
export { moba, mobaSelection, type MobaOptions, type MobaSelection } from "./moba.js";
export { seerAttention, type SeerAttentionOptions } from "./seer-attention.js";
export { nsaSelection, type NsaSelectionOptions } from "./nsa-selection.js";
export { hip, type HipOptions } from "./hip.js";
export { routingTransformer, routingAssignment, type RoutingTransformerOptions, type RoutingAssignment } from "./routing-transformer.js";
export { biformer, type BiformerOptions } from "./biformer.js";
export { quest, questMetadata, questPageBounds, type QuestOptions, type QuestMetadata } from "./quest.js";
export { doubleSparsity, doubleSparsityCalibrate, doubleSparsityLabelCache, type DoubleSparsityOptions, type DoubleSparsityLabelCache } from "./double-sparsity.js";
export { tidalDecode, TidalDecoder, type TidalDecodeOptions, type TidalDecoderOptions } from "./tidal-decode.js";
export { duoAttention, duoAttentionPrefill, type DuoAttentionOptions, type DuoAttentionPrefillOptions, type DuoAttentionResult } from "./duo-attention.js";
