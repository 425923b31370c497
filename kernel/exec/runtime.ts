/**
 * Runs checked cells. All cells share one `exports` object (their top-level declarations), and
 * each cell's CommonJS code runs as an async function (top-level await) in this context.
 * The synchronous part runs under vm's breakOnSigint, so SIGINT (which the control thread
 * raises for interrupt_request) breaks a busy loop; an awaiting cell is abandoned instead.
 */
import vm from "node:vm";
import { join } from "node:path";
import type { CheckResult } from "./checker.js";

/** Thrown when the user interrupts a cell. */
export class InterruptedError extends Error {
  constructor() {
    super("Interrupted");
    this.name = "KeyboardInterrupt";
  }
}

const PREFIX = "(async function (exports, require) {";

// Dynamic import() inside vm scripts needs a loader; the main context's default loader resolves
// specifiers from the script's filename (the notebook's folder), ESM-only packages included.
const importModuleDynamically = (vm.constants as unknown as { USE_MAIN_CONTEXT_DEFAULT_LOADER?: symbol } | undefined)?.USE_MAIN_CONTEXT_DEFAULT_LOADER;

// Node prints an ExperimentalWarning for that loader constant into the user's output otherwise.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((w: string | Error, ...rest: unknown[]) => {
  if (String(typeof w === "string" ? w : w.message).includes("USE_MAIN_CONTEXT_DEFAULT_LOADER")) return;
  (emitWarning as (...a: unknown[]) => void)(w, ...rest);
}) as typeof process.emitWarning;

/** Line maps of recent cells, for stack frames of functions they declared. */
export interface CellInfo {
  lineMap: [number, number, number][][];
  executionCount: number;
  code: string;
}

export class CellRuntime {
  readonly exports: Record<string, unknown> = Object.create(null);
  readonly cells = new Map<string, CellInfo>();
  private interruptReject: ((e: Error) => void) | undefined;
  private readonly require = (spec: string): unknown => {
    if (spec.startsWith("./__cell_")) return this.exports;
    throw new Error(`require(${JSON.stringify(spec)}) is not available in cells; use import`);
  };

  constructor(readonly cwd: string) {}

  /** The vm filename of a cell; its stack frames are recognised by it. */
  fileName(cell: string): string {
    return join(this.cwd, `${cell}.ts`);
  }

  /** Runs a checked cell; resolves with its last expression's value (awaited if a promise). */
  async run(check: CheckResult, executionCount: number, code: string): Promise<unknown> {
    this.cells.set(this.fileName(check.cell), { lineMap: check.lineMap ?? [], executionCount, code });
    if (this.cells.size > 500) this.cells.delete(this.cells.keys().next().value as string);
    const g = globalThis as unknown as { __sparselabCell: unknown };
    g.__sparselabCell = { exports: this.exports, require: this.require };
    const source = `${PREFIX}${check.js}\n}).call(undefined, globalThis.__sparselabCell.exports, globalThis.__sparselabCell.require)`;
    const interrupted = new Promise<never>((_, reject) => (this.interruptReject = reject));
    interrupted.catch(() => undefined);
    try {
      let promise: Promise<unknown>;
      try {
        promise = vm.runInThisContext(source, {
          filename: this.fileName(check.cell),
          breakOnSigint: true,
          ...(importModuleDynamically ? { importModuleDynamically: importModuleDynamically as never } : {}),
        }) as Promise<unknown>;
      } catch (e) {
        if (e instanceof Error && /Script execution was interrupted/.test(e.message)) throw new InterruptedError();
        throw e;
      }
      return await Promise.race([promise, interrupted]);
    } finally {
      this.interruptReject = undefined;
    }
  }

  /** Abandons the awaiting cell (its promise keeps running, its result is ignored). */
  interrupt(): boolean {
    if (!this.interruptReject) return false;
    this.interruptReject(new InterruptedError());
    return true;
  }

  /** Whether a stack frame's file is a cell script (its unmapped frames are the wrapper's). */
  isCellFile(file: string): boolean {
    return this.cells.has(file) || /[\\/]__cell_\d+\.ts$/.test(file);
  }

  /** Maps a generated (line, column) in a cell's script to the cell's own (line, column). */
  mapPosition(file: string, line: number, column: number): { cell: CellInfo; line: number; column: number } | undefined {
    const cell = this.cells.get(file);
    if (!cell) return undefined;
    const jsLine = line - 1;
    const col = (line === 1 ? column - PREFIX.length : column) - 1;
    const segs = cell.lineMap[jsLine];
    if (!segs || segs.length === 0) return undefined;
    let best = segs[0];
    for (const s of segs) if (s[0] <= col) best = s;
    return { cell, line: best[1], column: best[2] + Math.max(0, col - best[0]) };
  }

  /**
   * Evaluates a plain JavaScript expression with the cells' declarations in scope (for
   * execute_request's user_expressions; not type-checked, like ipykernel's).
   */
  evaluate(expr: string): unknown {
    // A sloppy-mode function so `with` can put the shared exports object in scope.
    const f = vm.runInThisContext(`(function (__scope) { with (__scope) { return (${expr}\n); } })`, { filename: "user_expression.js" }) as (s: object) => unknown;
    return f(this.exports);
  }

  reset(): void {
    for (const k of Object.keys(this.exports)) delete this.exports[k];
    this.cells.clear();
  }
}
