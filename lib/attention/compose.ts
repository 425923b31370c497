/**
 * `and`, `or`, `not` over any masks. The result keeps an IR when every part has one (so it runs
 * natively), and classifies tiles from its parts' bounds where those decide.
 */
import { argError } from "../errors.js";
import { mergePrograms, and as irAnd, or as irOr, not as irNot } from "./masks/support/ir.js";
import { checkMask, makeMask } from "./masks/support/make-mask.js";
import { TILE_EMPTY, TILE_FULL, TILE_PARTIAL, type Mask, type TileClass } from "./types.js";

function parts(op: string, masks: Mask[]): Mask[] {
  if (masks.length === 0) argError(op, "masks", "at least one mask", "none");
  return masks.map((m, i) => checkMask(op, `masks[${i}]`, m));
}

function merged(ms: Mask[], join: (...e: import("./mask-ir.js").MaskExpr[]) => import("./mask-ir.js").MaskExpr) {
  if (!ms.every((m) => m.program)) return undefined;
  const { exprs, tables } = mergePrograms(ms.map((m) => m.program!));
  return { expr: join(...exprs), tables };
}

/**
 * True where every mask is true.
 * @example
 * const m = sl.and(sl.masks.causal(), sl.mask("q - kv < 256"));
 * m.at(0, 0, 300, 100); // true
 */
export function and(...masks: Mask[]): Mask {
  const ms = parts("and", masks);
  const n = ms.length;
  return makeMask({
    kind: "and",
    name: `and(${ms.map((m) => m.name).join(", ")})`,
    params: { masks: ms },
    at: (b, h, q, kv) => {
      for (let i = 0; i < n; i++) if (!ms[i].at(b, h, q, kv)) return false;
      return true;
    },
    program: merged(ms, irAnd),
    classifyTile: (b, h, q0, q1, kv0, kv1) => {
      let full = 0, partial = 0;
      let unknown = false;
      for (const m of ms) {
        const c = m.classifyTile?.(b, h, q0, q1, kv0, kv1);
        if (c === TILE_EMPTY) return TILE_EMPTY;
        if (c === TILE_FULL) full++;
        else if (c === TILE_PARTIAL) partial++;
        else unknown = true;
      }
      if (full === n) return TILE_FULL;
      // one partial part and all others full: the conjunction is exactly that part.
      if (!unknown && partial === 1) return TILE_PARTIAL;
      return undefined;
    },
  });
}

/**
 * True where any mask is true.
 * @example
 * const m = sl.or(sl.masks.slidingWindow(128), sl.mask("kv < 4"));   // window plus 4 sinks
 * m.at(0, 0, 1000, 2); // true
 */
export function or(...masks: Mask[]): Mask {
  const ms = parts("or", masks);
  const n = ms.length;
  return makeMask({
    kind: "or",
    name: `or(${ms.map((m) => m.name).join(", ")})`,
    params: { masks: ms },
    at: (b, h, q, kv) => {
      for (let i = 0; i < n; i++) if (ms[i].at(b, h, q, kv)) return true;
      return false;
    },
    program: merged(ms, irOr),
    classifyTile: (b, h, q0, q1, kv0, kv1) => {
      let empty = 0, partial = 0;
      let unknown = false;
      for (const m of ms) {
        const c = m.classifyTile?.(b, h, q0, q1, kv0, kv1);
        if (c === TILE_FULL) return TILE_FULL;
        if (c === TILE_EMPTY) empty++;
        else if (c === TILE_PARTIAL) partial++;
        else unknown = true;
      }
      if (empty === n) return TILE_EMPTY;
      if (!unknown && partial === 1) return TILE_PARTIAL;
      return undefined;
    },
  });
}

/**
 * True where the mask is false.
 * @example
 * const notDiag = sl.not(sl.mask("q == kv"));
 * notDiag.at(0, 0, 3, 3); // false
 */
export function not(mask: Mask): Mask {
  const m = checkMask("not", "mask", mask);
  return makeMask({
    kind: "not",
    name: `not(${m.name})`,
    params: { mask: m },
    at: (b, h, q, kv) => !m.at(b, h, q, kv),
    program: m.program ? { expr: irNot(m.program.expr), tables: m.program.tables } : undefined,
    classifyTile: (b, h, q0, q1, kv0, kv1) => {
      const c = m.classifyTile?.(b, h, q0, q1, kv0, kv1);
      return c === undefined ? undefined : ((2 - c) as TileClass);
    },
  });
}
