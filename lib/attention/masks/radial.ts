import { argError } from "../../errors.js";
import { KV, Q, abs, floordiv, ge, idx, le, lt, mod, num, or, sub } from "./support/ir.js";
import { checkInt, describe, makeMask } from "./support/make-mask.js";
import type { Mask } from "../types.js";

export interface RadialOptions {
  /** Number of video frames. */
  frames: number;
  /** Tokens per frame (tokens laid out frame after frame). */
  tokensPerFrame: number;
  /** Frames at the start that every query sees in full (attention sink). Default 1. */
  sinkFrames?: number;
  /** Scales the band width (the reference code's decay_factor). Default 1. */
  decay?: number;
  /** Narrowest band, in tokens (the reference code uses the block size, 128). Default 128. */
  minWidth?: number;
}

/**
 * Radial attention for video (Li et al. 2025, "Radial Attention"): between query frame i and
 * key frame j at distance r = |i - j|, a token sees the tokens of frame j whose in-frame
 * position is within a band around its own; the band is the whole frame for r <= 1 and halves
 * each time r doubles: width(r) = max(2^bitlen(T) / 2^bitlen(r) * decay, minWidth). When the
 * natural width 2^bitlen(T) / 2^bitlen(r) falls below minWidth, only every s-th frame distance
 * keeps its band (s = floor(minWidth / that width)), as in the reference code; the first
 * `sinkFrames` frames are always visible. Tokens after frames * tokensPerFrame (e.g. text) see
 * and are seen by everything. The rule is applied per token (the reference then coarsens it to
 * 128-blocks; createBlockMask does the tiling here).
 * @example
 * const m = sl.masks.radial({ frames: 16, tokensPerFrame: 1024 });
 * sl.createBlockMask(m, { qLen: 16384, kvLen: 16384 }).density({ level: "block", denominator: "full" });
 */
export function radial(opts: RadialOptions): Mask {
  if (typeof opts !== "object" || opts === null) argError("radial", "opts", "{ frames, tokensPerFrame, ... }", describe(opts));
  const F = checkInt("radial", "frames", opts.frames, 1);
  const T = checkInt("radial", "tokensPerFrame", opts.tokensPerFrame, 1);
  const sinkFrames = checkInt("radial", "sinkFrames", opts.sinkFrames ?? 1, 0);
  const minWidth = checkInt("radial", "minWidth", opts.minWidth ?? 128, 1);
  const decay = opts.decay ?? 1;
  if (typeof decay !== "number" || !(decay > 0)) argError("radial", "decay", "a positive number", describe(decay));
  const N = F * T;
  const bitlen = (x: number) => (x === 0 ? 0 : 32 - Math.clz32(x));
  // width[r]: largest allowed |in-frame offset| at frame distance r, or -1 for no band.
  const width = new Int32Array(F);
  for (let r = 0; r < F; r++) {
    if (r <= 1) {
      width[r] = T;
      continue;
    }
    const natural = 2 ** bitlen(T) / 2 ** bitlen(r);
    const w = Math.max(natural * decay, minWidth);
    const keep = natural >= minWidth || r % Math.floor(minWidth / natural) === 0;
    width[r] = keep ? Math.floor(w) : -1;
  }
  const at = (_b: number, _h: number, q: number, kv: number) => {
    if (q >= N || kv >= N) return true;
    const fq = Math.floor(q / T), fk = Math.floor(kv / T);
    if (fk < sinkFrames) return true;
    return Math.abs((q % T) - (kv % T)) <= width[Math.abs(fq - fk)];
  };
  const fq = floordiv(Q, num(T)), fk = floordiv(KV, num(T));
  const expr = or(
    ge(Q, num(N)),
    ge(KV, num(N)),
    lt(fk, num(sinkFrames)),
    le(abs(sub(mod(Q, num(T)), mod(KV, num(T)))), idx(0, abs(sub(fq, fk)))),
  );
  return makeMask({
    kind: "radial",
    name: `radial_f${F}_t${T}${sinkFrames !== 1 ? `_sink${sinkFrames}` : ""}${decay !== 1 ? `_decay${decay}` : ""}`,
    params: { frames: F, tokensPerFrame: T, sinkFrames, decay, minWidth, width },
    at,
    program: { expr, tables: [width] },
  });
}
