/**
 * Turning any value into a MIME bundle, for widgets that show values (Output, interact):
 * the kernel's own formatter when it offers one (so arquero tables and plotly figures look
 * the same as in a cell), else the Symbol.for("Jupyter.display") protocol, else text/plain.
 */
import { inspect } from "node:util";
import { DISPLAY, isDisplayable, type MimeBundle } from "../lib/display.js";
import { getKernelComms } from "./comm.js";

/** Whether `x` looks like a MIME bundle already ({"text/html": ..., ...}). */
export function isMimeBundle(x: unknown): x is MimeBundle {
  if (x === null || typeof x !== "object" || Array.isArray(x) || isDisplayable(x)) return false;
  const keys = Object.keys(x);
  return keys.length > 0 && keys.every((k) => /^[a-z]+\/[\w.+\-]+$/i.test(k));
}

/** The MIME bundle that shows `value` (a MIME bundle itself is used as is). */
export async function toBundle(value: unknown): Promise<MimeBundle> {
  if (isMimeBundle(value)) return value;
  const k = getKernelComms();
  if (k?.format) return await k.format(value);
  if (isDisplayable(value)) return await value[DISPLAY]();
  if (typeof value === "string") return { "text/plain": value };
  return { "text/plain": inspect(value, { colors: false, depth: 4, maxArrayLength: 50 }) };
}
