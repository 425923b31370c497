/**
 * Interactive views of sparselab results, built on the widgets: the mask explorer and the
 * block-mask editor (static figures are in `sl.viz`).
 * @example
 * const q = sl.randn([1, 2, 1024, 64], { seed: 1 }), k = sl.randn([1, 2, 1024, 64], { seed: 2 });
 * widgets.maskExplorer({ q, k })
 */
export { maskExplorer, MaskExplorer, MaskExplorerView, EXPLORER_MASKS, EXPRESSION_PARAMS, type MaskExplorerOptions, type MaskParam } from "./mask-explorer.js";
export { blockMaskEditor, BlockMaskEditor, BLOCK_MASK_EDITOR_ESM, EDITOR_MAX_TILES, type BlockMaskEditorOptions, type BlockMaskEditorState } from "./block-mask-editor.js";
export { routingExplorer, RoutingExplorer, FigureView, ROUTING_VIEWS, type RoutingView } from "./routing-explorer.js";
