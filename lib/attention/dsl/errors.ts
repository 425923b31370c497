/** Errors of the expression language: they quote the expression and put a caret under the culprit. */
import { SparselabError } from "../../errors.js";

/**
 * A mask or score-mod expression outside the language. `column` (0-based) and `token` say
 * where; the message quotes the expression with a caret under the token.
 * @example
 * try { sl.mask("q >= kv and foo < 3"); } catch (e) { if (e instanceof sl.ExpressionError) e.column; }  // 12
 */
export class ExpressionError extends SparselabError {
  /** 0-based column of the offending token in the expression. */
  readonly column: number;
  /** The offending token as written ("" when the expression ended early). */
  readonly token: string;
  constructor(op: string, source: string, column: number, token: string, problem: string, hint?: string) {
    const width = Math.max(1, token.length);
    const caret = " ".repeat(column) + "^".repeat(width);
    super(op, `${problem} at column ${column + 1}:\n  ${source}\n  ${caret}${hint ? `\n${hint}` : ""}`);
    this.name = "ExpressionError";
    this.column = column;
    this.token = token;
  }
}

interface Token {
  text: string;
  col: number;
}

/** Splits an expression into identifier, number and operator tokens with their columns. */
export function tokenize(src: string): Token[] {
  const re = /\s*([A-Za-z_$][A-Za-z0-9_$]*|\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|==|!=|<=|>=|\.\*|\.\/|\.\^|[^\sA-Za-z0-9_$])/y;
  const out: Token[] = [];
  let m: RegExpExecArray | null;
  while (re.lastIndex < src.length && (m = re.exec(src))) {
    out.push({ text: m[1], col: re.lastIndex - m[1].length });
  }
  return out;
}

/**
 * Column of the `nth` occurrence (0-based) of `token` in `src`; 0 when it cannot be found
 * (the message still quotes the token).
 */
export function locate(src: string, token: string, nth = 0): number {
  const toks = tokenize(src).filter((t) => t.text === token);
  if (toks.length) return toks[Math.min(nth, toks.length - 1)].col;
  const i = src.indexOf(token);
  return i >= 0 ? i : 0;
}
