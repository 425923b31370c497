import assert from "node:assert/strict";
import * as sl from "../../../lib/index.js";
import type { BlockMaskFields } from "../../../lib/attention/block-mask.js";
import { compileProgram } from "../../../lib/attention/mask-ir-js.js";
import { tileClasses } from "../../../lib/attention/dynamic/common.js";

/** A fresh seed per run; the tests print it in every assertion message. */
export function freshSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}

export function randn(shape: number[], seed: number): sl.Tensor {
  return sl.randn(shape, { seed });
}

/**
 * For element-level masks: every (q, kv) the mask admits lies in a non-empty tile, every
 * element of a full tile is admitted (q >= kv when causal), and the IR program agrees with
 * the mask's `at` everywhere.
 */
export function checkCover(bm: BlockMaskFields, causal: boolean, note: string): void {
  const cls = tileClasses(bm);
  const nq = Math.ceil(bm.qLen / bm.qBlockSize);
  const nk = Math.ceil(bm.kvLen / bm.kvBlockSize);
  const m = bm.mask;
  assert.ok(m, `${note}: mask present`);
  const prog = m.program ? compileProgram(m.program) : undefined;
  for (let b = 0; b < bm.B; b++)
    for (let h = 0; h < bm.H; h++)
      for (let q = 0; q < bm.qLen; q++)
        for (let kv = 0; kv < bm.kvLen; kv++) {
          const c = cls[((b * bm.H + h) * nq + Math.floor(q / bm.qBlockSize)) * nk + Math.floor(kv / bm.kvBlockSize)];
          const at: boolean = m.at(b, h, q, kv);
          if (prog) assert.equal(prog(b, h, q, kv, 0) !== 0, at, `${note}: IR == at at (${b}, ${h}, ${q}, ${kv})`);
          if (c === 0) assert.equal(at, false, `${note}: admitted element (${b}, ${h}, ${q}, ${kv}) in an empty tile`);
          if (c === 2) assert.equal(at, !causal || q >= kv, `${note}: full tile element (${b}, ${h}, ${q}, ${kv})`);
        }
}

/** Dense tile classes of a mask, for exact comparisons. */
export function classes(bm: BlockMaskFields): number[] {
  return Array.from(tileClasses(bm));
}
