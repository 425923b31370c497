/**
 * Explorers start their first computation when built, and while it runs their Output captures
 * the current request (the cell). A front-end routes everything with that parent into the
 * Output, the cell's own result included, so an explorer shown before its first run ends would
 * be drawn inside itself. Holding the explorer's display (and show()) until that run ends keeps
 * the cell's result in the cell, as Python's interact gets for free by running synchronously.
 */
import { DISPLAY, type MimeBundle } from "../../lib/display.js";
import { Widget } from "../widget.js";
import { getKernelComms } from "../comm.js";

/** Makes `w`'s display wait for `ready` (the kernel and Output.appendDisplay await it). */
export function showAfterFirstRun(w: Widget, ready: Promise<void>): void {
  const viewBundle = (Widget.prototype as unknown as { [DISPLAY](): MimeBundle })[DISPLAY];
  // The public type stays the synchronous one; every consumer of DISPLAY awaits its result.
  Object.defineProperty(w, DISPLAY, {
    configurable: true,
    value: async (): Promise<MimeBundle> => {
      await ready.catch(() => undefined);
      return viewBundle.call(w);
    },
  });
  Object.defineProperty(w, "show", {
    configurable: true,
    value: (): void => {
      void ready.catch(() => undefined).then(() => getKernelComms()?.display(viewBundle.call(w)));
    },
  });
}
