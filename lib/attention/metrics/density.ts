import { argError } from "../../errors.js";
import type { BlockMaskFields } from "../block-mask.js";
import { checkBlockMaskShape } from "./check.js";
import { tallyBlockMask } from "./tally.js";
import { pct, withDisplay } from "./show.js";

/** Which unit density counts: computed tiles, or attended (q, kv) pairs. */
export type DensityLevel = "block" | "element";
/** What density divides by: every pair/tile, or only the causal lower triangle (q >= kv). */
export type DensityDenominator = "full" | "causal";

/** A density figure with the definition it was computed under (print them together). */
export interface Density {
  /** In [0, 1] (above 1 only for a non-causal mask over the causal denominator). */
  value: number;
  level: DensityLevel;
  denominator: DensityDenominator;
  /** One line saying what was divided by what. */
  definition: string;
}

/** Options of {@link density}. */
export interface DensityOptions {
  /** Default "block" (as FlexAttention's sparsity()). */
  level?: DensityLevel;
  /** Default "full". SeerAttention and XAttention report "causal". */
  denominator?: DensityDenominator;
}

/**
 * The sentence that says what each (level, denominator) density counts.
 * @example
 * sl.metrics.densityDefinition("element", "causal");  // "element-level density = attended (q, kv) pairs ... / the B·H·(pairs with q >= kv) ..."
 */
export function densityDefinition(level: DensityLevel, denominator: DensityDenominator): string {
  const num =
    level === "block"
      ? "computed tiles (partial + full)"
      : "attended (q, kv) pairs (full tiles whole, partial tiles where the mask is true)";
  const den =
    denominator === "full"
      ? level === "block"
        ? "all B·H·qBlocks·kvBlocks tiles"
        : "all B·H·qLen·kvLen pairs"
      : level === "block"
        ? "the B·H·(tiles holding at least one causal pair q >= kv) (the numerator counts every computed tile, so a non-causal mask can exceed 1)"
        : "the B·H·(pairs with q >= kv) (the numerator counts every attended pair, so a non-causal mask can exceed 1)";
  return `${level}-level density = ${num} / ${den}`;
}

/**
 * The fraction of attention a block mask computes, with its definition. Uses the mask's own
 * `density()` when it is a BlockMask (so both always agree), else counts the fields the same
 * way. The causal denominator is for causal masks (as SeerAttention and XAttention report);
 * the numerator is never clipped to the triangle, so a mask reaching above it shows > 1.
 *
 * @example
 * const bm = sl.createBlockMask(sl.masks.slidingWindow(256), { qLen: 4096, kvLen: 4096 });
 * sl.metrics.density(bm);                                          // block level, full area
 * sl.metrics.density(bm, { level: "element", denominator: "causal" }).value;
 */
export function density(blockMask: BlockMaskFields, opts: DensityOptions = {}): Density {
  const level = opts.level ?? "block";
  const denominator = opts.denominator ?? "full";
  if (level !== "block" && level !== "element") argError("metrics.density", "opts.level", '"block" or "element"', String(level));
  if (denominator !== "full" && denominator !== "causal")
    argError("metrics.density", "opts.denominator", '"full" or "causal"', String(denominator));
  checkBlockMaskShape("metrics.density", blockMask);
  const definition = densityDefinition(level, denominator);
  const own = (blockMask as { density?: (o: DensityOptions) => unknown }).density;
  if (typeof own === "function") {
    const r = own.call(blockMask, { level, denominator });
    const value = typeof r === "number" ? r : (r as { value?: unknown })?.value;
    if (typeof value === "number") return shown({ value, level, denominator, definition });
  }
  const t = tallyBlockMask(blockMask, { causal: denominator === "causal", elements: level === "element" });
  const value = level === "block" ? ratio(t.tiles, t.totalTiles) : ratio(t.elements, t.totalElements);
  return shown({ value, level, denominator, definition });
}

function shown(d: Density): Density {
  return withDisplay(d, () => [[`density (${d.level}, ${d.denominator})`, pct(d.value)]], d.definition);
}

function ratio(a: number, b: number): number {
  return b === 0 ? 0 : a / b;
}
