/**
 * Elementwise loop kernels, one compiled function per expression.
 *
 * Why generated: a shared loop that calls a passed-in `(x, y) => x + y` goes megamorphic
 * once a few ops have run through it, and every element then pays a real call (about 8x a
 * hand-written loop). Compiling each fixed expression into its own loop lets V8 inline it.
 * The expressions are constants in lib/tensor/elementwise.ts, never user input.
 */

type Arr = { [i: number]: number; readonly length: number };

export interface BinaryKernel {
  /** out[i] = f(av[i], bv[i]) for i < n. */
  same(av: Arr, bv: Arr, out: Arr, n: number): void;
  /** Broadcast: row-major over `shape`, reading av/bv through strides (0 on broadcast dims). */
  bcast(av: Arr, sa: number[], bv: Arr, sb: number[], shape: readonly number[], out: Arr): void;
}

export type UnaryKernel = (v: Arr, out: Arr, n: number, erf: (x: number) => number, p0: number, p1: number) => void;

const binaries = new Map<string, BinaryKernel>();
const unaries = new Map<string, UnaryKernel>();

/** The kernel computing `expr` of x (from a) and y (from b). */
export function binaryKernel(expr: string): BinaryKernel {
  let k = binaries.get(expr);
  if (k) return k;
  const same = new Function("av", "bv", "out", "n", `for (let i = 0; i < n; i++) { const x = av[i], y = bv[i]; out[i] = ${expr}; }`) as BinaryKernel["same"];
  const bcast = new Function(
    "av", "sa", "bv", "sb", "shape", "out",
    `const nd = shape.length;
     let n = 1;
     for (let d = 0; d < nd; d++) n *= shape[d];
     if (n === 0) return;
     if (nd === 0) { const x = av[0], y = bv[0]; out[0] = ${expr}; return; }
     const inner = shape[nd - 1], ia = sa[nd - 1], ib = sb[nd - 1];
     const idx = new Array(nd).fill(0);
     let pa = 0, pb = 0, o = 0;
     while (o < n) {
       for (let j = 0, qa = pa, qb = pb; j < inner; j++, qa += ia, qb += ib) { const x = av[qa], y = bv[qb]; out[o + j] = ${expr}; }
       o += inner;
       for (let d = nd - 2; d >= 0; d--) {
         idx[d]++; pa += sa[d]; pb += sb[d];
         if (idx[d] < shape[d]) break;
         pa -= sa[d] * shape[d]; pb -= sb[d] * shape[d]; idx[d] = 0;
       }
     }`,
  ) as BinaryKernel["bcast"];
  k = { same, bcast };
  binaries.set(expr, k);
  return k;
}

/** The kernel computing `expr` of x; `erf`, `p0`, `p1` are in scope for expressions that need them. */
export function unaryKernel(expr: string): UnaryKernel {
  let k = unaries.get(expr);
  if (k) return k;
  k = new Function("v", "out", "n", "erf", "p0", "p1", `for (let i = 0; i < n; i++) { const x = v[i]; out[i] = ${expr}; }`) as UnaryKernel;
  unaries.set(expr, k);
  return k;
}
