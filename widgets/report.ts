/**
 * Errors thrown by user callbacks (observers, click and custom handlers, interact functions)
 * must never escape into the kernel's message loop: they are reported as stderr in the
 * current output context and the widget keeps working.
 */
import { getKernelComms } from "./comm.js";

/** Formats an error the way a traceback reads: stack if there is one, else the message. */
export function formatError(err: unknown): string {
  if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
  return String(err);
}

/** Reports `err`, raised in `where` (e.g. `IntSlider observe("value") handler`), as stderr. */
export function reportCallbackError(where: string, err: unknown): void {
  const text = `[sparselab widgets] ${where} threw: ${formatError(err)}\n`;
  const k = getKernelComms();
  try {
    if (k?.stream) k.stream("stderr", text);
    else console.error(text.trimEnd());
  } catch {
    console.error(text.trimEnd());
  }
}
