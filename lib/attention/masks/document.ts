import { argError } from "../../errors.js";
import { KV, Q, and, eq, idx, mergePrograms, sub, substitute } from "./support/ir.js";
import { rangeMinMax } from "./support/range-minmax.js";
import { checkMask, makeMask } from "./support/make-mask.js";
import { toIntTable, type IntArrayLike } from "./support/int-table.js";
import { TILE_EMPTY, TILE_FULL, type Mask } from "../types.js";

/**
 * Document masking for packed sequences: query q sees key kv only inside its own document,
 * `ids[q] == ids[kv]`, and, when `inner` is given, where `inner` holds on the positions
 * *within* the document (`inner(b, h, q - start, kv - start)`, start = the document's first
 * token), as attention-gym's `generate_doc_mask_mod` does. Documents are normally contiguous
 * runs; if an id appears in several runs, positions count from its first token.
 *
 * Tile bounds use the min/max of the ids over each tile's rows and columns (O(1) per tile after
 * an O(n log n) table built once), so only tiles on document borders are looked at closely.
 * Positions must be < ids.length (an error otherwise).
 * @example
 * const ids = [0, 0, 0, 1, 1, 2, 2, 2];
 * const m = sl.masks.document(ids, sl.masks.causal());
 * m.at(0, 0, 4, 3);   // true: same document, 1 >= 0 inside it
 * m.at(0, 0, 3, 2);   // false: different documents
 */
export function document(ids: IntArrayLike, inner?: Mask): Mask {
  const table = toIntTable("document", "ids", ids);
  const n = table.length;
  if (n === 0) argError("document", "ids", "at least one token", "an empty list");
  if (inner !== undefined) checkMask("document", "inner", inner);
  // start[t]: first token of t's document.
  const first = new Map<number, number>();
  const start = new Int32Array(n);
  for (let t = 0; t < n; t++) {
    const id = table[t];
    let f = first.get(id);
    if (f === undefined) first.set(id, (f = t));
    start[t] = f;
  }
  const check = (q: number, kv: number) => {
    if (!(q >= 0 && q < n && kv >= 0 && kv < n))
      argError("document", "position", `q and kv in [0, ${n}) (the length of ids)`, `q=${q}, kv=${kv}`);
  };
  const at = inner
    ? (b: number, h: number, q: number, kv: number) => {
        check(q, kv);
        return table[q] === table[kv] && inner.at(b, h, q - start[q], kv - start[kv]);
      }
    : (_b: number, _h: number, q: number, kv: number) => {
        check(q, kv);
        return table[q] === table[kv];
      };
  let program;
  if (!inner || inner.program) {
    const own = { expr: eq(idx(0, Q), idx(0, KV)), tables: [table, start] };
    if (!inner) program = own;
    else {
      const { exprs, tables } = mergePrograms([own, inner.program!]);
      const local = substitute(exprs[1], { q: sub(Q, idx(1, Q)), kv: sub(KV, idx(1, KV)) });
      program = { expr: and(exprs[0], local), tables };
    }
  }
  const rmq = rangeMinMax(table);
  return makeMask({
    kind: "document",
    name: inner ? `document_${n}_${inner.name}` : `document_${n}`,
    params: { ids: table, inner },
    at,
    program,
    classifyTile: (b, h, q0, q1, kv0, kv1) => {
      if (q1 > n || kv1 > n) return undefined; // out of range: let element checks raise the error
      const qmin = rmq.min(q0, q1 - 1), qmax = rmq.max(q0, q1 - 1);
      const kmin = rmq.min(kv0, kv1 - 1), kmax = rmq.max(kv0, kv1 - 1);
      if (qmax < kmin || kmax < qmin) return TILE_EMPTY;
      if (qmin === qmax && kmin === kmax && qmin === kmin) {
        if (!inner) return TILE_FULL;
        const s = start[q0];
        return inner.classifyTile?.(b, h, q0 - s, q1 - s, kv0 - s, kv1 - s);
      }
      return undefined;
    },
  });
}
