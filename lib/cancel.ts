import { CancelledError } from "./errors.js";

/**
 * Cancellation: the kernel's interrupt aborts the current signal, and long ops check it
 * between tiles (JS) or pass it to native code, which polls a flag per tile. Users can also
 * pass their own AbortSignal as `opts.signal` to any heavy op.
 */
let ambient: AbortSignal | undefined;

/** Sets the signal ops use when the caller passes none (the kernel sets one per execution). */
export function setAmbientSignal(signal: AbortSignal | undefined): void {
  ambient = signal;
}

/** The caller's signal, else the ambient one. */
export function effectiveSignal(signal?: AbortSignal): AbortSignal | undefined {
  return signal ?? ambient;
}

/** Throws CancelledError naming `op` if the signal has fired. */
export function throwIfCancelled(op: string, signal?: AbortSignal): void {
  const s = signal ?? ambient;
  if (s?.aborted) throw new CancelledError(op);
}
