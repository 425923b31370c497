/**
 * Metrics for comparing sparse attention fairly (`sl.metrics`): every figure carries the
 * definition it was computed under.
 */
export { density, densityDefinition, type Density, type DensityOptions, type DensityLevel, type DensityDenominator } from "./density.js";
export { recall, type Recall, type RecallOptions } from "./recall.js";
export { outputError, compareArrays, type OutputError } from "./output-error.js";
export { flops, type Flops, type FlopsOptions } from "./flops.js";
export { tallyBlockMask, type BlockMaskTally } from "./tally.js";
