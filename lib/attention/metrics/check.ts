import { argError } from "../../errors.js";
import type { BlockMaskFields } from "../block-mask.js";
import { checkBlockMask } from "../attention.js";

/** Validates a block mask on its own (no attention call to match): its sizes and fields. */
export function checkBlockMaskShape(op: string, bm: BlockMaskFields, arg = "blockMask"): void {
  if (bm === null || typeof bm !== "object" || !Number.isInteger(bm.B) || !Number.isInteger(bm.H))
    argError(op, arg, "a BlockMask (sl.createBlockMask)", bm === null ? "null" : typeof bm);
  checkBlockMask(op, bm, bm.B, bm.H, bm.qLen, bm.kvLen, arg);
  if (bm.kvNumBlocks.device !== "cpu") argError(op, arg, "a block mask in host memory", `fields on ${bm.kvNumBlocks.device}`);
}
