/**
 * The expression language: mathjs parses, we lower the tree to the mask IR through a whitelist.
 *
 * Accepted (anything else is an ExpressionError pointing at the token):
 *  - variables `b`, `h`, `q`, `kv` (integer positions), and `score` in score mods;
 *  - named numeric parameters (`w` with params { w: 256 }), inlined as constants;
 *  - indexed parameters `doc[q]`, `t[i, j]`: arrays / typed arrays / Tensors (1-D or 2-D),
 *    indexed **0-based** (unlike mathjs's own evaluation, which is 1-based); an index outside
 *    the array is an error when evaluated; integer arrays stay int32, others become f32;
 *  - numbers, `true`, `false`, `pi`, `e`, `Infinity`;
 *  - operators `+ - * /` (true division), `^` (power), `mod` and `%` (floored: -1 mod 5 = 4),
 *    comparisons `< <= > >= == !=` (chains like `0 <= q - kv < w` mean and), `and`, `or`,
 *    `xor`, `not`, and `c ? a : b`;
 *  - functions abs, min, max (2 or more arguments), floor, ceil, sign, mod(a, b), and for score
 *    mods also tanh, exp, log, sqrt.
 */
import { createRequire } from "node:module";
import { Tensor } from "../../tensor/tensor.js";
import type { BinaryOp, MaskExpr, MaskProgram, UnaryOp } from "../mask-ir.js";
import { and, ge, idx, lt, mul, add, num, sel } from "../masks/support/ir.js";
import { ExpressionError, locate } from "./errors.js";

/** A value an expression can name: a number (inlined) or an array it indexes. */
export type ExprParam = number | boolean | readonly number[] | Int32Array | Float32Array | Tensor;

// mathjs's module tree takes seconds to load on a busy machine; its single-file bundle loads
// 2-4x faster with the same parser. Either way, load it when the first expression is parsed.
let mathParse: ((s: string) => MathNode) | undefined;
function parseMath(src: string): MathNode {
  if (!mathParse) {
    const req = createRequire(import.meta.url);
    let m: { parse: (s: string) => MathNode };
    try {
      m = req("mathjs/lib/browser/math.js");
    } catch {
      m = req("mathjs");
    }
    mathParse = m.parse;
  }
  return mathParse(src);
}

interface MathNode {
  type: string;
  [k: string]: any;
}

const BIN: Record<string, BinaryOp> = {
  add: "add",
  subtract: "sub",
  multiply: "mul",
  divide: "div",
  mod: "mod",
  pow: "pow",
  larger: "gt",
  largerEq: "ge",
  smaller: "lt",
  smallerEq: "le",
  equal: "eq",
  unequal: "ne",
  and: "and",
  or: "or",
  xor: "xor",
};
const BOOL_OPS = new Set(["larger", "largerEq", "smaller", "smallerEq", "equal", "unequal", "and", "or", "xor", "not"]);
const FN1: Record<string, UnaryOp> = { abs: "abs", floor: "floor", ceil: "ceil", sign: "sign" };
const FN1_SCORE: Record<string, UnaryOp> = { tanh: "tanh", exp: "exp", log: "log", sqrt: "sqrt" };
const CONSTANTS: Record<string, number> = { pi: Math.PI, e: Math.E, Infinity: Infinity };

export interface LowerOptions {
  /** The public function, for messages ("mask", "scoreMod"). */
  op: string;
  /** Variables allowed: b, h, q, kv (+ score for score mods). */
  vars: readonly string[];
  /** Whether the expression must be a condition (masks) or a number (score mods). */
  result: "boolean" | "number";
}

interface Table {
  index: number;
  dims: number[];
}

/** Parses `src` and lowers it to a program. Throws ExpressionError with a caret on anything outside the whitelist. */
export function lowerExpression(src: string, params: Record<string, ExprParam>, o: LowerOptions): MaskProgram {
  const fail = (token: string, problem: string, hint?: string, nth = 0): never => {
    throw new ExpressionError(o.op, src, locate(src, token, nth), token, problem, hint);
  };
  if (typeof src !== "string" || src.trim() === "") throw new ExpressionError(o.op, String(src), 0, "", "the expression is empty");
  for (const name of Object.keys(params)) {
    if (o.vars.includes(name)) fail(name, `parameter '${name}' shadows the variable '${name}'`, `rename the parameter; variables are ${o.vars.join(", ")}`);
  }
  let tree: MathNode;
  try {
    tree = parseMath(src);
  } catch (e) {
    const err = e as { message?: string; char?: number };
    const col = typeof err.char === "number" ? Math.max(0, Math.min(src.length, err.char - 1)) : 0;
    const msg = (err.message ?? String(e)).replace(/\s*\(char \d+\)\s*$/, "");
    throw new ExpressionError(o.op, src, col, src.slice(col, col + 1), `syntax error: ${msg}`);
  }

  const tables: (Int32Array | Float32Array)[] = [];
  const tableOf = new Map<string, Table>();
  const allowedNames = () =>
    `variables: ${o.vars.join(", ")}; parameters: ${Object.keys(params).join(", ") || "(none given)"}; functions: ${[
      ...Object.keys(FN1),
      "min",
      "max",
      "mod",
      ...(o.vars.includes("score") ? Object.keys(FN1_SCORE) : []),
    ].join(", ")}`;

  const getTable = (name: string): Table => {
    let t = tableOf.get(name);
    if (t) return t;
    const v = params[name];
    let data: Int32Array | Float32Array;
    let dims: number[];
    if (v instanceof Tensor) {
      if (v.ndim < 1 || v.ndim > 2) fail(name, `parameter '${name}' is a ${v.ndim}-D tensor`, "indexed parameters must be 1-D or 2-D");
      dims = [...v.shape];
      data = v.dtype === "i32" || v.dtype === "u8" || v.dtype === "bool" ? Int32Array.from(v.data as ArrayLike<number>) : Float32Array.from(v.floatData());
    } else if (Array.isArray(v) || v instanceof Int32Array || v instanceof Float32Array) {
      const arr = v as ArrayLike<number>;
      dims = [arr.length];
      for (let i = 0; i < arr.length; i++)
        if (typeof arr[i] !== "number") fail(name, `parameter '${name}' has a non-number at [${i}]`);
      data = v instanceof Float32Array ? Float32Array.from(v) : Array.prototype.every.call(arr, (x: number) => Number.isInteger(x) && Math.abs(x) < 2 ** 31) ? Int32Array.from(arr) : Float32Array.from(arr);
    } else {
      return fail(name, `parameter '${name}' is indexed but is not an array`, `give an array, typed array or Tensor for '${name}'`);
    }
    t = { index: tables.push(data) - 1, dims };
    tableOf.set(name, t);
    return t;
  };

  const isBool = (n: MathNode): boolean => {
    switch (n.type) {
      case "ParenthesisNode":
        return isBool(n.content);
      case "ConstantNode":
        return typeof n.value === "boolean";
      case "OperatorNode":
        return BOOL_OPS.has(n.fn);
      case "RelationalNode":
        return true;
      case "ConditionalNode":
        return isBool(n.trueExpr) && isBool(n.falseExpr);
      default:
        return false;
    }
  };

  const seen = new Map<string, number>(); // occurrences so far, to point at the right one
  const occurrence = (tok: string) => {
    const k = seen.get(tok) ?? 0;
    seen.set(tok, k + 1);
    return k;
  };

  const low = (n: MathNode): MaskExpr => {
    switch (n.type) {
      case "ParenthesisNode":
        return low(n.content);
      case "ConstantNode": {
        if (typeof n.value === "number") return num(n.value);
        if (typeof n.value === "boolean") return num(n.value ? 1 : 0);
        return fail(String(n.value), `unsupported constant ${JSON.stringify(n.value)}`, "only numbers, true and false");
      }
      case "SymbolNode": {
        const name: string = n.name;
        const nth = occurrence(name);
        if (o.vars.includes(name)) return { t: "var", name: name as "b" };
        if (name in params) {
          const v = params[name];
          if (typeof v === "number") return num(v);
          if (typeof v === "boolean") return num(v ? 1 : 0);
          return fail(name, `parameter '${name}' is an array: index it, e.g. ${name}[q]`, undefined, nth);
        }
        if (name in CONSTANTS) return num(CONSTANTS[name]);
        if (name === "true" || name === "false") return num(name === "true" ? 1 : 0);
        if (name === "score") return fail(name, "'score' is only available in score mods (sl.scoreMod)", undefined, nth);
        return fail(name, `unknown name '${name}'`, allowedNames(), nth);
      }
      case "OperatorNode": {
        const fn: string = n.fn;
        if (n.isPercentage) return fail("%", "percentages are not supported", "use mod for the remainder");
        const args: MathNode[] = n.args;
        if (fn === "unaryMinus") return { t: "un", op: "neg", a: low(args[0]) };
        if (fn === "unaryPlus") return low(args[0]);
        if (fn === "not") return { t: "un", op: "not", a: low(args[0]) };
        const op = BIN[fn];
        if (!op || args.length !== 2) return fail(n.op, `operator '${n.op}' is not supported`, "operators: + - * / ^ mod % < <= > >= == != and or xor not ?:", occurrence(n.op));
        occurrence(n.op);
        return { t: "bin", op, a: low(args[0]), b: low(args[1]) };
      }
      case "RelationalNode": {
        const ps: MathNode[] = n.params;
        const parts: MaskExpr[] = [];
        const lowered = ps.map(low);
        (n.conditionals as string[]).forEach((c, i) => parts.push({ t: "bin", op: BIN[c], a: lowered[i], b: lowered[i + 1] }));
        return and(...parts);
      }
      case "ConditionalNode":
        return sel(low(n.condition), low(n.trueExpr), low(n.falseExpr));
      case "FunctionNode": {
        const fnName: string = n.fn?.name ?? "";
        const args: MathNode[] = n.args;
        if (!fnName) return fail("(", "only named functions can be called");
        const nth = occurrence(fnName);
        const un = FN1[fnName] ?? (o.vars.includes("score") ? FN1_SCORE[fnName] : undefined);
        if (un) {
          if (args.length !== 1) fail(fnName, `${fnName}() takes 1 argument, got ${args.length}`, undefined, nth);
          return { t: "un", op: un, a: low(args[0]) };
        }
        if (fnName === "min" || fnName === "max") {
          if (args.length < 2) fail(fnName, `${fnName}() takes 2 or more arguments, got ${args.length}`, undefined, nth);
          return args.map(low).reduce((a, b) => ({ t: "bin", op: fnName as "min", a, b }));
        }
        if (fnName === "mod") {
          if (args.length !== 2) fail(fnName, `mod() takes 2 arguments, got ${args.length}`, undefined, nth);
          return { t: "bin", op: "mod", a: low(args[0]), b: low(args[1]) };
        }
        return fail(fnName, `function '${fnName}' is not supported`, allowedNames(), nth);
      }
      case "AccessorNode": {
        const obj: MathNode = n.object;
        if (obj.type !== "SymbolNode") return fail("[", "only parameters can be indexed, e.g. doc[q]");
        const name: string = obj.name;
        const nth = occurrence(name);
        if (!(name in params)) return fail(name, `unknown name '${name}'`, allowedNames(), nth);
        const t = getTable(name);
        const dimsN: MathNode[] = n.index?.dimensions ?? [];
        if (n.index?.dotNotation) return fail(name, `'${name}.…' property access is not supported`, undefined, nth);
        if (dimsN.length !== t.dims.length)
          fail(name, `'${name}' has ${t.dims.length} dimension(s) but is indexed with ${dimsN.length}`, undefined, nth);
        const ix = dimsN.map(low);
        if (ix.length === 1) return idx(t.index, ix[0]);
        // 2-D: row-major flattening; a column outside [0, cols) maps to -1 so it still errors
        const cols = t.dims[1];
        const inCols = and(ge(ix[1], num(0)), lt(ix[1], num(cols)));
        return idx(t.index, sel(inCols, add(mul(ix[0], num(cols)), ix[1]), num(-1)));
      }
      case "IndexNode":
      case "RangeNode":
        return fail(":", "ranges are not supported; index with a single position, e.g. doc[q]");
      case "AssignmentNode":
      case "FunctionAssignmentNode":
        return fail("=", "assignment is not allowed in an expression", "to compare, use ==");
      case "BlockNode":
        return fail(";", "only one expression is allowed");
      case "ArrayNode":
        return fail("[", "array literals are not supported", "pass arrays as parameters: sl.mask(\"doc[q] == doc[kv]\", { doc })");
      case "ObjectNode":
        return fail("{", "objects are not supported");
      default:
        return fail(src.trim().slice(0, 1), `unsupported syntax (${n.type})`);
    }
  };

  const expr = low(tree);
  if (o.result === "boolean" && !isBool(tree))
    throw new ExpressionError(o.op, src, src.length - src.trimStart().length, src.trim(), "a mask expression must be a condition (a comparison, and/or/xor/not, or true/false)", "e.g. q >= kv, or (q - kv) mod 2 == 0");
  return { expr, tables };
}
