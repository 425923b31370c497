import type { BinaryOp, MaskExpr, MaskProgram, UnaryOp } from "../../attention/mask-ir.js";

/**
 * Lowers a mask / score-mod IR tree (lib/attention/mask-ir.ts) to the straight-line code the
 * native evaluator runs (native/program.h): 5 ints per instruction (op, dst, a, b, c), one
 * register per tree node, the result in `result`. Opcodes must match native/program.h.
 */
export interface NativeProgram {
  code: Int32Array;
  consts: Float64Array;
  tables: Float64Array[];
  nregs: number;
  result: number;
  usesScore: boolean;
}

const OP_CONST = 0;
const OP_VAR = 1;
const OP_IDX = 2;
const OP_SEL = 3;
const UNARY: Record<UnaryOp, number> = { neg: 10, not: 11, abs: 12, floor: 13, ceil: 14, sign: 15, tanh: 16, exp: 17, log: 18, sqrt: 19 };
const BINARY: Record<BinaryOp, number> = {
  add: 30, sub: 31, mul: 32, div: 33, mod: 34, floordiv: 35, min: 36, max: 37, pow: 38,
  lt: 39, le: 40, gt: 41, ge: 42, eq: 43, ne: 44, and: 45, or: 46, xor: 47,
};
const VARS = { b: 0, h: 1, q: 2, kv: 3, score: 4 } as const;

/** Flattens `p` for the native evaluator. */
export function lowerProgram(p: MaskProgram): NativeProgram {
  const code: number[] = [];
  const consts: number[] = [];
  let nregs = 0;
  let usesScore = false;
  const emit = (op: number, a = 0, b = 0, c = 0): number => {
    const dst = nregs++;
    code.push(op, dst, a, b, c);
    return dst;
  };
  const walk = (e: MaskExpr): number => {
    switch (e.t) {
      case "num":
        consts.push(e.v);
        return emit(OP_CONST, consts.length - 1);
      case "var":
        if (e.name === "score") usesScore = true;
        return emit(OP_VAR, VARS[e.name]);
      case "idx":
        return emit(OP_IDX, e.table, walk(e.index));
      case "un":
        return emit(UNARY[e.op], walk(e.a));
      case "bin": {
        const a = walk(e.a);
        return emit(BINARY[e.op], a, walk(e.b));
      }
      case "sel": {
        const c = walk(e.c);
        const a = walk(e.a);
        return emit(OP_SEL, c, a, walk(e.b));
      }
    }
  };
  const result = walk(p.expr);
  return {
    code: Int32Array.from(code),
    consts: Float64Array.from(consts),
    tables: p.tables.map((t) => Float64Array.from(t)),
    nregs,
    result,
    usesScore,
  };
}
