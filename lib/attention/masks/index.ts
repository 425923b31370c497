/** Built-in masks, one per file: `sl.masks.causal()`, `sl.masks.slidingWindow(256)`, ... */
export { causal } from "./causal.js";
export { slidingWindow } from "./sliding-window.js";
export { prefixLM } from "./prefix-lm.js";
export { document } from "./document.js";
export { dilated } from "./dilated.js";
export { sink } from "./sink.js";
export { globalTokens } from "./global-tokens.js";
export { bigBird, type BigBirdOptions } from "./big-bird.js";
export { strided } from "./strided.js";
export { fixed } from "./fixed.js";
export { neighborhood1d, neighborhood2d, neighborhood3d, type NeighborhoodOptions } from "./neighborhood.js";
export { radial, type RadialOptions } from "./radial.js";
export { power } from "./power.js";
