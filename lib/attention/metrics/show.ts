import { DISPLAY, type MimeBundle } from "../../display.js";

/**
 * Gives a metric result a notebook display (the number beside its definition) without changing
 * its data: the display method is a non-enumerable symbol property, so JSON, spreads and
 * deep-equality see only the fields.
 */
export function withDisplay<T extends object>(result: T, lines: () => [label: string, value: string][], definition: string): T {
  Object.defineProperty(result, DISPLAY, {
    enumerable: false,
    value: (): MimeBundle => {
      const rows = lines();
      const text = rows.map(([k, v]) => `${k}: ${v}`).join("\n") + `\n(${definition})`;
      const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
      const html =
        `<table>${rows.map(([k, v]) => `<tr><th style="text-align:left">${esc(k)}</th><td>${esc(v)}</td></tr>`).join("")}</table>` +
        `<div style="font-size:smaller;opacity:0.75">${esc(definition)}</div>`;
      return { "text/plain": text, "text/html": html };
    },
  });
  return result;
}

/** A share as a percentage with enough digits to compare methods. */
export const pct = (x: number): string => (Number.isFinite(x) ? `${(x * 100).toFixed(2)}%` : String(x));
/** A number in engineering style (1.23e9 -> "1.23 G"). */
export function eng(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const units: [number, string][] = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]];
  for (const [u, s] of units) if (Math.abs(x) >= u) return `${(x / u).toPrecision(4)} ${s}`;
  return `${x.toPrecision(4)} `;
}
