/**
 * Jupyter `error` content for exceptions and type errors: ename, evalue and a traceback whose
 * frames name the cell and its own line:column, with the offending line quoted.
 */
import { inspect } from "node:util";
import type { CellRuntime } from "./runtime.js";
import type { CellDiagnostic } from "./checker.js";

export interface ErrorContent {
  ename: string;
  evalue: string;
  traceback: string[];
}

function codeFrame(code: string, line: number, column: number): string[] {
  const text = code.split("\n")[line - 1];
  if (text === undefined) return [];
  const gutter = `${line} | `;
  return [`${gutter}${text}`, `${" ".repeat(gutter.length + Math.max(0, column - 1))}^`];
}

/** A TypeScript type error: the cell does not run. */
export function typeErrorContent(diags: CellDiagnostic[], code: string, executionCount: number): ErrorContent {
  const first = diags[0];
  const tb: string[] = [];
  for (const d of diags) {
    tb.push(`cell [${executionCount}] line ${d.line}:${d.column} - error TS${d.code}: ${d.message}`);
    tb.push(...codeFrame(code, d.line, d.column));
  }
  return { ename: "TSError", evalue: `line ${first.line}:${first.column}: ${first.message}`, traceback: tb };
}

/** A runtime exception, its stack frames mapped to cell lines; kernel frames dropped. */
export function runtimeErrorContent(e: unknown, runtime: CellRuntime): ErrorContent {
  if (!(e instanceof Error)) {
    return { ename: "Thrown", evalue: inspect(e, { colors: false, depth: 2 }), traceback: [`Uncaught ${inspect(e, { colors: false, depth: 2 })}`] };
  }
  const ename = e.name || "Error";
  const evalue = e.message;
  const tb = [`${ename}: ${evalue}`];
  let framed = false;
  for (const raw of (e.stack ?? "").split("\n").slice(1)) {
    const m = /^\s*at (?:(.*?) \()?(.*?):(\d+):(\d+)\)?$/.exec(raw);
    if (!m) continue;
    const [, fn, file, l, c] = m;
    const mapped = runtime.mapPosition(file, Number(l), Number(c));
    if (mapped) {
      const name = fn && !/^(exports\.|Object\.|async )?(<anonymous>|eval)$/.test(fn) && !fn.includes("__sparselabCell") ? `${fn.replace(/^exports\./, "")} ` : "";
      tb.push(`    at ${name}(cell [${mapped.cell.executionCount}] line ${mapped.line}:${mapped.column})`);
      if (!framed) {
        tb.push(...codeFrame(mapped.cell.code, mapped.line, mapped.column).map((s) => `      ${s}`));
        framed = true;
      }
    } else if (runtime.isCellFile(file) || /\/dist\/kernel\/|node:internal|^node:|\(node:/.test(raw) || file.startsWith("node:")) {
      continue;
    } else tb.push(raw.replace(/^\s*/, "    "));
  }
  return { ename, evalue, traceback: tb };
}
