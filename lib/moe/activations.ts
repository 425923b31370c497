/**
 * Expert activations. "swiglu" = silu(x·W_gate) ⊙ (x·W_up) (Mixtral, Qwen, DeepSeek);
 * "gelu" = the exact erf GELU of x·W_up (torch's nn.GELU default); "relu" = max(0, x·W_up).
 */
export type Activation = "swiglu" | "gelu" | "relu";

export const ACTIVATIONS: readonly Activation[] = ["swiglu", "gelu", "relu"];

export function silu(v: number): number {
  return v / (1 + Math.exp(-v));
}

/**
 * erf to about 1e-13 relative: the series near 0, the continued fraction in the tails (JS has
 * no Math.erf, and the short Abramowitz–Stegun fit is only good to 1.5e-7).
 */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // erf(x) = 2/√π Σ (−1)^n x^(2n+1) / (n! (2n+1))
    let term = x;
    let sum = x;
    const x2 = x * x;
    for (let n = 1; n < 60; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  if (ax > 6) return Math.sign(x);
  // erfc(x) = exp(−x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))), evaluated bottom-up.
  let f = ax;
  for (let n = 60; n >= 1; n--) f = ax + n / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

export function gelu(v: number): number {
  return 0.5 * v * (1 + erf(v / Math.SQRT2));
}

export function relu(v: number): number {
  return v > 0 ? v : 0;
}

/**
 * The hidden activation in place: for swiglu, h = silu(gate) ⊙ up (written into `up`);
 * otherwise h = act(up).
 */
export function activateInPlace(activation: Activation, up: Float32Array, gate: Float32Array | null): void {
  if (activation === "swiglu") {
    const g = gate!;
    for (let i = 0; i < up.length; i++) up[i] *= silu(g[i]);
  } else if (activation === "gelu") {
    for (let i = 0; i < up.length; i++) up[i] = gelu(up[i]);
  } else {
    for (let i = 0; i < up.length; i++) if (!(up[i] > 0)) up[i] = 0;
  }
}
