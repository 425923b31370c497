import { CancelledError } from "../../errors.js";
import type { DType } from "../dtype.js";

/**
 * Cooperative scheduling for the JS reference kernels: they run on the kernel's only thread,
 * so between tiles they check the cancellation signal and, every ~50 ms, give the event loop a
 * turn (interrupt requests, widget messages, progress output).
 */
export class Yielder {
  #last = performance.now();
  constructor(
    readonly op: string,
    readonly signal?: AbortSignal,
  ) {}

  /** Call between units of work; awaits only when the time slice is used up. */
  async tick(): Promise<void> {
    if (this.signal?.aborted) throw new CancelledError(this.op);
    const now = performance.now();
    if (now - this.#last < 50) return;
    await new Promise<void>((r) => setImmediate(r));
    this.#last = performance.now();
    if (this.signal?.aborted) throw new CancelledError(this.op);
  }
}

/** Output dtype of a product of two float tensors: theirs when they agree, else f32. */
export function productDtype(a: DType, b: DType): DType {
  return a === b ? a : "f32";
}
