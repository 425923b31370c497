import { Mulberry32 } from "../seeded-random.js";

/**
 * A small seeded random source for routers and initialisation. Routing noise, GShard's
 * random second-expert keep and expert init must repeat exactly for a given seed, so they
 * never touch Math.random.
 */
export class Rng extends Mulberry32 {
  constructor(seed: number) {
    // Mix the seed so that seeds 0, 1, 2... start far apart.
    super(mix32((seed >>> 0) ^ 0x9e3779b9));
  }
}

/** A 32-bit integer hash (murmur3's finalizer): spreads nearby ids over all experts. */
export function mix32(x: number): number {
  x = x >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}
