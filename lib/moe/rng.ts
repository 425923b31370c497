/**
 * A small seeded random source for routers and initialisation. Routing noise, GShard's
 * random second-expert keep and expert init must repeat exactly for a given seed, so they
 * never touch Math.random.
 */
export class Rng {
  #s: number;
  #spare: number | null = null;

  constructor(seed: number) {
    // Mix the seed so that seeds 0, 1, 2... start far apart.
    this.#s = mix32((seed >>> 0) ^ 0x9e3779b9);
  }

  /** Uniform in [0, 1). mulberry32: 32-bit state, good enough for noise and init. */
  uniform(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /**
   * Fills `out` with uniform(−bound, bound): the same stream as calling uniform() per element,
   * with the generator inlined (initialising 64 experts draws half a billion numbers).
   */
  fillUniform(out: Float32Array, bound: number): void {
    let s = this.#s;
    const scale = (2 * bound) / 4294967296;
    for (let i = 0; i < out.length; i++) {
      s = (s + 0x6d2b79f5) | 0;
      let t = Math.imul(s ^ (s >>> 15), s | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      out[i] = ((t ^ (t >>> 14)) >>> 0) * scale - bound;
    }
    this.#s = s;
  }

  /** Standard normal (Box-Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.#spare !== null) {
      const v = this.#spare;
      this.#spare = null;
      return v;
    }
    let u = 0;
    while (u <= 1e-300) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
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
