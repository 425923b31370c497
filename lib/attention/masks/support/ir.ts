/**
 * Small builders for the mask IR (lib/attention/mask-ir.ts), so that built-in masks read like
 * their rule: `and(ge(Q, KV), lt(sub(Q, KV), num(w)))`.
 */
import type { BinaryOp, MaskExpr, MaskProgram, MaskVar, UnaryOp } from "../../mask-ir.js";

export const num = (v: number): MaskExpr => ({ t: "num", v });
export const vr = (name: MaskVar): MaskExpr => ({ t: "var", name });
export const B = vr("b");
export const H = vr("h");
export const Q = vr("q");
export const KV = vr("kv");
export const SCORE = vr("score");

const bin = (op: BinaryOp) => (a: MaskExpr, b: MaskExpr): MaskExpr => ({ t: "bin", op, a, b });
const un = (op: UnaryOp) => (a: MaskExpr): MaskExpr => ({ t: "un", op, a });

export const add = bin("add");
export const sub = bin("sub");
export const mul = bin("mul");
export const div = bin("div");
export const mod = bin("mod");
export const floordiv = bin("floordiv");
export const min = bin("min");
export const max = bin("max");
export const lt = bin("lt");
export const le = bin("le");
export const gt = bin("gt");
export const ge = bin("ge");
export const eq = bin("eq");
export const ne = bin("ne");
export const xor = bin("xor");
export const abs = un("abs");
export const not = un("not");
export const neg = un("neg");
export const tanh = un("tanh");

/** Left-folds a list with `and` (true for an empty list). */
export function and(...xs: MaskExpr[]): MaskExpr {
  if (xs.length === 0) return num(1);
  return xs.reduce((acc, x) => ({ t: "bin", op: "and", a: acc, b: x }));
}

/** Left-folds a list with `or` (false for an empty list). */
export function or(...xs: MaskExpr[]): MaskExpr {
  if (xs.length === 0) return num(0);
  return xs.reduce((acc, x) => ({ t: "bin", op: "or", a: acc, b: x }));
}

export const sel = (c: MaskExpr, a: MaskExpr, b: MaskExpr): MaskExpr => ({ t: "sel", c, a, b });
export const idx = (table: number, index: MaskExpr): MaskExpr => ({ t: "idx", table, index });

/** Does the expression read variable `name`? */
export function usesVar(e: MaskExpr, name: MaskVar): boolean {
  switch (e.t) {
    case "num":
      return false;
    case "var":
      return e.name === name;
    case "idx":
      return usesVar(e.index, name);
    case "un":
      return usesVar(e.a, name);
    case "bin":
      return usesVar(e.a, name) || usesVar(e.b, name);
    case "sel":
      return usesVar(e.c, name) || usesVar(e.a, name) || usesVar(e.b, name);
  }
}

/** Rewrites an expression bottom-up: `f` sees each node after its children were rewritten. */
export function mapExpr(e: MaskExpr, f: (e: MaskExpr) => MaskExpr): MaskExpr {
  switch (e.t) {
    case "num":
    case "var":
      return f(e);
    case "idx":
      return f({ t: "idx", table: e.table, index: mapExpr(e.index, f) });
    case "un":
      return f({ t: "un", op: e.op, a: mapExpr(e.a, f) });
    case "bin":
      return f({ t: "bin", op: e.op, a: mapExpr(e.a, f), b: mapExpr(e.b, f) });
    case "sel":
      return f({ t: "sel", c: mapExpr(e.c, f), a: mapExpr(e.a, f), b: mapExpr(e.b, f) });
  }
}

/**
 * Puts several programs side by side: their tables are concatenated (a table shared by identity
 * is stored once) and each expression's table numbers are shifted to match.
 */
export function mergePrograms(programs: readonly MaskProgram[]): { exprs: MaskExpr[]; tables: (Int32Array | Float32Array)[] } {
  const tables: (Int32Array | Float32Array)[] = [];
  const exprs = programs.map((p) => {
    const remap = p.tables.map((t) => {
      let i = tables.indexOf(t);
      if (i < 0) i = tables.push(t) - 1;
      return i;
    });
    return mapExpr(p.expr, (e) => (e.t === "idx" ? { t: "idx", table: remap[e.table], index: e.index } : e));
  });
  return { exprs, tables };
}

/** Replaces variables by expressions (used by document() to run an inner mask on in-document positions). */
export function substitute(e: MaskExpr, vars: Partial<Record<MaskVar, MaskExpr>>): MaskExpr {
  return mapExpr(e, (n) => (n.t === "var" && vars[n.name] ? vars[n.name]! : n));
}

/** Whether a program reads b / h: masks that don't are classified once and shared by every (b, h). */
export function programDependsOnBatchHead(p: MaskProgram | undefined): { b: boolean; h: boolean } {
  if (!p) return { b: true, h: true };
  return { b: usesVar(p.expr, "b"), h: usesVar(p.expr, "h") };
}
