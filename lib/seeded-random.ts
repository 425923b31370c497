/**
 * mulberry32: a small seeded generator (32-bit state) for the library's internal random parts
 * (router noise, expert init, k-means starts, synthetic workloads) that must repeat exactly for
 * a seed on every machine. User-facing tensors use the Philox generator in lib/tensor/random.ts.
 * Subclasses decide how a seed becomes the initial state.
 */
export class Mulberry32 {
  #s: number;
  #spare: number | null = null;

  constructor(state: number) {
    this.#s = state >>> 0;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /**
   * Fills `out` with uniform(−bound, bound): the same stream as calling uniform() per element,
   * with the generator inlined (initialising 64 experts draws half a billion numbers).
   */
  fillUniform(out: Float32Array, bound: number): void {
    let s = this.#s;
    const scale = (2 * bound) / 4294967296;
    for (let i = 0; i < out.length; i++) {
      s = (s + 0x6d2b79f5) >>> 0;
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
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}
