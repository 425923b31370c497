/**
 * Figures: pure functions from sparselab results to plotly specs. In the kernel a spec displays
 * as an interactive plotly figure (with an offline HTML fallback).
 * @example
 * sl.viz.blockMaskView(sl.createBlockMask(sl.masks.causal(), { qLen: 2048, kvLen: 2048 }))
 */
export { type Figure, OKABE_ITO, TILE_COLOURS, SEQUENTIAL } from "./figure.js";
export { blockMaskView, type BlockMaskViewOptions } from "./block-mask-view.js";
export { attentionMap, type AttentionMapOptions } from "./attention-map.js";
export { routingHeatmap, expertLoad, droppedByPosition, coactivation, routingSankey } from "./routing.js";
export { recallVsDensity, timeVsDensity, type TimeRow } from "./compare.js";
