import { Mulberry32 } from "../../seeded-random.js";

/**
 * A small seeded generator (mulberry32) so that estimators with random parts (k-means
 * initialisation) and the synthetic workloads give the same result for the same seed on every
 * machine, independent of the tensor module's generator.
 */
export class SeededRandom extends Mulberry32 {
  constructor(seed: number) {
    super((Math.floor(seed) ^ 0x9e3779b9) >>> 0);
  }
  /** Uniform in [0, 1). */
  next(): number {
    return this.uniform();
  }
}
