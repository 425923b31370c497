/**
 * Errors that say which op failed, which argument was wrong, what it was and what was expected.
 * Every public function validates through these helpers so messages read the same everywhere.
 */
export class SparselabError extends Error {
  /** The public function that rejected its input, e.g. "attention". */
  readonly op: string;
  constructor(op: string, message: string) {
    super(`[sparselab] ${op}: ${message}`);
    this.name = "SparselabError";
    this.op = op;
  }
}

/** Formats a shape as `[2, 8, 1024, 64]`. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/**
 * Throws a SparselabError naming the op, the argument, what was expected and what was given.
 * @example argError("attention", "q", "a 4-D tensor [B, H, S, D]", "shape [8, 64]")
 */
export function argError(op: string, arg: string, expected: string, got: string): never {
  throw new SparselabError(op, `argument '${arg}' must be ${expected}, got ${got}`);
}

/** Thrown when a cancellation signal fires while an op runs (the kernel's interrupt). */
export class CancelledError extends Error {
  constructor(op: string) {
    super(`[sparselab] ${op}: cancelled`);
    this.name = "CancelledError";
  }
}
