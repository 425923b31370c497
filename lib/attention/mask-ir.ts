/**
 * The mask and score-mod program: a small expression tree that every backend can run.
 *
 * Built-in masks, DSL expressions and score mods all lower to this IR. The JS backend compiles
 * it to a closure, the C++ backend interprets it (vectorised over a row of a tile), the CUDA
 * backend prints it as a CUDA C++ expression. Plain TypeScript functions have no IR; they are
 * evaluated in JS into per-tile bitmaps.
 *
 * Variables: b, h, q, kv (integers, absolute positions) and, in score mods only, score (f32).
 * Tables: extra arrays a mask carries (document ids, a relative-bias table, random block bits),
 * indexed by an integer expression; an index outside the table is an error in JS and reads 0
 * natively after the JS-side validation that checks bounds at build time where possible.
 * Booleans are numbers 0/1, as in C.
 */
export type MaskVar = "b" | "h" | "q" | "kv" | "score";

export type UnaryOp = "neg" | "not" | "abs" | "floor" | "ceil" | "sign" | "tanh" | "exp" | "log" | "sqrt";

export type BinaryOp =
  | "add" | "sub" | "mul" | "div" | "mod" | "floordiv" | "min" | "max" | "pow"
  | "lt" | "le" | "gt" | "ge" | "eq" | "ne"
  | "and" | "or" | "xor";

export type MaskExpr =
  | { t: "num"; v: number }
  | { t: "var"; name: MaskVar }
  /** tables[table][index]; `mod` uses floored modulo (Python's, so negative q - kv works). */
  | { t: "idx"; table: number; index: MaskExpr }
  | { t: "un"; op: UnaryOp; a: MaskExpr }
  | { t: "bin"; op: BinaryOp; a: MaskExpr; b: MaskExpr }
  | { t: "sel"; c: MaskExpr; a: MaskExpr; b: MaskExpr };

/** A program: the expression and the tables it indexes. */
export interface MaskProgram {
  expr: MaskExpr;
  tables: (Int32Array | Float32Array)[];
}
