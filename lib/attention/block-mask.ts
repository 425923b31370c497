import type { Tensor } from "../tensor/tensor.js";
import type { Mask } from "./types.js";

/**
 * The fields of a block mask, in FlexAttention's layout so that masks move between the two.
 * For each (b, h, qBlock):
 *  - kvNumBlocks[b, h, qb] partial tiles, listed first in kvIndices[b, h, qb, :]: these need
 *    the mask evaluated inside;
 *  - fullKvNumBlocks[b, h, qb] full tiles, listed first in fullKvIndices[b, h, qb, :]: computed
 *    with no mask.
 * Any tile in neither list is empty and skipped. B or H may be 1, broadcasting over the
 * attention call's batch or heads. Index lists are sorted ascending; entries past the count
 * are unspecified (FlexAttention pads with arbitrary values; we pad with 0).
 */
export interface BlockMaskFields {
  B: number;
  H: number;
  qLen: number;
  kvLen: number;
  qBlockSize: number;
  kvBlockSize: number;
  /** i32 [B, H, ceil(qLen / qBlockSize)] */
  kvNumBlocks: Tensor<"i32">;
  /** i32 [B, H, qBlocks, ceil(kvLen / kvBlockSize)] */
  kvIndices: Tensor<"i32">;
  /** i32 [B, H, qBlocks] */
  fullKvNumBlocks: Tensor<"i32">;
  /** i32 [B, H, qBlocks, kvBlocks] */
  fullKvIndices: Tensor<"i32">;
  /** Refines partial tiles. Required when any tile is partial. */
  mask?: Mask;
}
