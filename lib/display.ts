/**
 * The display protocol: any object with a method under this symbol returns a MIME bundle
 * (the convention Deno's kernel uses), and the kernel shows that bundle.
 *
 * @example
 * class Note { [sl.DISPLAY]() { return { "text/markdown": "**hi**", "text/plain": "hi" }; } }
 * display(new Note());
 */
export const DISPLAY: unique symbol = Symbol.for("Jupyter.display") as any;

/** A MIME bundle: MIME type -> data (strings, or JSON-able objects for JSON types). */
export type MimeBundle = Record<string, unknown>;

export interface Displayable {
  [DISPLAY](): MimeBundle | Promise<MimeBundle>;
}

export function isDisplayable(x: unknown): x is Displayable {
  return typeof x === "object" && x !== null && typeof (x as any)[DISPLAY] === "function";
}
