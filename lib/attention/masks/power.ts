import { KV, Q, and, eq, floordiv, ge, lt, num, or, sub } from "./support/ir.js";
import { checkInt, makeMask } from "./support/make-mask.js";
import { TILE_EMPTY, TILE_FULL, TILE_PARTIAL, type Mask, type TileClass } from "../types.js";

/**
 * PowerAttention: causal, and the key (block) distance is below `window` or a power of two, so
 * the receptive field doubles with every layer. Distances count in blocks of `block` tokens
 * (default 1: tokens): with D = floor(q / block) - floor(kv / block),
 * `q >= kv and (D < window or D in {1, 2, 4, 8, ...})`.
 * @example
 * const m = sl.masks.power({ window: 4 });
 * m.at(0, 0, 1000, 1000 - 512);  // true: distance 512
 * m.at(0, 0, 1000, 1000 - 500);  // false
 */
export function power(opts: { window: number; block?: number }): Mask {
  const window = checkInt("power", "window", opts?.window, 1);
  const block = checkInt("power", "block", opts.block ?? 1, 1);
  const D = block === 1 ? sub(Q, KV) : sub(floordiv(Q, num(block)), floordiv(KV, num(block)));
  const pows: ReturnType<typeof eq>[] = [];
  for (let k = 0; k <= 30; k++) if (2 ** k >= window) pows.push(eq(D, num(2 ** k)));
  const isPow2 = (x: number) => x > 0 && (x & (x - 1)) === 0;
  const ok = (x: number) => x < window || isPow2(x);
  // Does some / every D in [a, b] (a >= 0) pass?
  const someOk = (a: number, b: number) => a < window || (a <= b && 2 ** Math.ceil(Math.log2(a)) <= b) || isPow2(a) || isPow2(b);
  const allOk = (a: number, b: number) => {
    if (b < window) return true;
    for (let x = Math.max(a, window); x <= b; x++) if (!isPow2(x)) return false;
    return true;
  };
  return makeMask({
    kind: "power",
    name: `power_w${window}${block > 1 ? `_b${block}` : ""}`,
    params: { window, block },
    at: (_b, _h, q, kv) => q >= kv && ok(Math.floor(q / block) - Math.floor(kv / block)),
    program: { expr: and(ge(Q, KV), or(lt(D, num(window)), ...pows)), tables: [] },
    classifyTile: (_b, _h, q0, q1, kv0, kv1): TileClass | undefined => {
      if (q1 - 1 < kv0) return TILE_EMPTY;
      const a = Math.floor(q0 / block) - Math.floor((kv1 - 1) / block);
      const b = Math.floor((q1 - 1) / block) - Math.floor(kv0 / block);
      const pa = Math.max(a, 0);
      if (pa > b || !someOk(pa, b)) return TILE_EMPTY;
      const causalFull = q0 >= kv1 - 1;
      if (causalFull && allOk(pa, b)) return TILE_FULL;
      // token level every D in [a, b] occurs, so this is exact; with blocks leave it to elements
      if (block === 1) return TILE_PARTIAL;
      return undefined;
    },
  });
}
