/** A mask seen from a slice of the batch / heads: index 0 of the slice is (b0, h0) of the original. */
import { add, num, substitute, B, H } from "./ir.js";
import { makeMask } from "./make-mask.js";
import type { Mask } from "../../types.js";

export function shiftBatchHead(m: Mask, b0: number, h0: number): Mask {
  if (b0 === 0 && h0 === 0) return m;
  return makeMask({
    kind: m.kind,
    name: `${m.name}[b+${b0}, h+${h0}]`,
    params: { ...m.params, batchOffset: b0, headOffset: h0 },
    at: (b, h, q, kv) => m.at(b + b0, h + h0, q, kv),
    program: m.program ? { expr: substitute(m.program.expr, { b: add(B, num(b0)), h: add(H, num(h0)) }), tables: m.program.tables } : undefined,
    classifyTile: m.classifyTile ? (b, h, q0, q1, kv0, kv1) => m.classifyTile!(b + b0, h + h0, q0, q1, kv0, kv1) : undefined,
  });
}
