import type { MaskProgram } from "./mask-ir.js";

/** How a (qBlock x kvBlock) tile relates to a mask. */
export const TILE_EMPTY = 0;
export const TILE_PARTIAL = 1;
export const TILE_FULL = 2;
export type TileClass = typeof TILE_EMPTY | typeof TILE_PARTIAL | typeof TILE_FULL;

/**
 * A mask in FlexAttention's sense: `at(b, h, q, kv)` is true where query q may attend key kv.
 * Built-ins, DSL expressions and plain functions all have this type; `and`, `or`, `not`
 * compose any of them.
 */
export interface Mask {
  /** "causal", "slidingWindow", ..., "expr" (DSL), "fn" (plain function), "and", "or", "not". */
  readonly kind: string;
  /** Carries the parameters, attention-gym style: "sliding_window_256". */
  readonly name: string;
  readonly params: Readonly<Record<string, unknown>>;
  /** true = attend. Positions are absolute. */
  at(b: number, h: number, q: number, kv: number): boolean;
  /** The IR native backends run; absent for plain functions (evaluated in JS per tile). */
  readonly program?: MaskProgram;
  /**
   * Classifies the tile q in [q0, q1), kv in [kv0, kv1) from interval bounds, without visiting
   * elements; undefined when the bounds cannot decide (the caller then checks elements).
   */
  classifyTile?(b: number, h: number, q0: number, q1: number, kv0: number, kv1: number): TileClass | undefined;
}

/** A score modification applied before softmax: `apply(score, b, h, q, kv)`. */
export interface ScoreMod {
  readonly kind: string;
  readonly name: string;
  readonly params: Readonly<Record<string, unknown>>;
  apply(score: number, b: number, h: number, q: number, kv: number): number;
  /** The IR (variable `score` allowed); absent for plain functions. */
  readonly program?: MaskProgram;
}
