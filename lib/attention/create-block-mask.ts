import { argError, SparselabError } from "../errors.js";
import { BlockMask, blockSizes, fieldsFromClasses, type BlockSize, type DeviceBlockMask } from "./block-mask.js";
import { programDependsOnBatchHead } from "./masks/support/ir.js";
import { checkInt, checkMask } from "./masks/support/make-mask.js";
import { classifyGrid } from "./masks/support/tile-scan.js";
import type { Mask } from "./types.js";

export interface CreateBlockMaskOptions {
  /** Batch size; omitted = 1, broadcast over the attention call's batch (mask evaluated at b = 0). */
  B?: number;
  /** Heads; omitted = 1, broadcast over the heads (mask evaluated at h = 0). */
  H?: number;
  qLen: number;
  kvLen: number;
  /** Tile size, one number or [qBlockSize, kvBlockSize]. Default 128. Ragged last blocks are fine. */
  blockSize?: BlockSize;
}

/** createBlockMask's options with the device the arrays are built on (see {@link createBlockMask}). */
export interface DeviceCreateBlockMaskOptions extends CreateBlockMaskOptions {
  /** "cpu" (default): a host BlockMask. "cuda": classified on the GPU, arrays kept there (a DeviceBlockMask). */
  device?: "cpu" | "cuda";
}

/** Builds a block mask on a device; a backend registers one when it loads. */
export type DeviceBlockMaskBuilder = (mask: Mask, opts: CreateBlockMaskOptions) => DeviceBlockMask;
const deviceBuilders = new Map<string, DeviceBlockMaskBuilder>();

/** @internal The CUDA backend registers its GPU createBlockMask here (lib/attention cannot import backends). */
export function registerDeviceBlockMaskBuilder(device: "cuda", build: DeviceBlockMaskBuilder): void {
  deviceBuilders.set(device, build);
}

/**
 * Classifies every (qBlock x kvBlock) tile of `mask` as empty, partial or full and returns a
 * BlockMask in FlexAttention's layout.
 *
 * How: for built-ins and expressions, whole ranges of tiles are classified from interval
 * bounds (a quadtree over the tile grid, so a band-shaped mask costs O(tiles along its edges)),
 * and elements are evaluated only in tiles whose bounds cannot decide; plain functions are
 * evaluated element by element (stopping in each tile once it is known to be partial). The
 * result is exact. A mask that does not read b / h (causal, window, ...) is classified once and
 * its rows copied to every (b, h).
 *
 * With `device: "cuda"` the tiles are classified by a kernel generated from the mask's IR
 * (built-ins and `sl.mask` expressions; plain functions are refused) and the four arrays stay
 * on the GPU: the result is a DeviceBlockMask that `sl.attention` on CUDA tensors reads where it
 * is, and whose host view (density, toString, ...) is read back lazily. Same arrays as the host's.
 * @example
 * const bm = sl.createBlockMask(sl.masks.slidingWindow(256), { H: 16, qLen: 16384, kvLen: 16384 });
 * bm.density({ level: "block", denominator: "full" });
 * const dbm = sl.createBlockMask(sl.masks.slidingWindow(256), { H: 16, qLen: 16384, kvLen: 16384, device: "cuda" });
 */
export function createBlockMask(mask: Mask, opts: CreateBlockMaskOptions & { device: "cuda" }): DeviceBlockMask;
export function createBlockMask(mask: Mask, opts: CreateBlockMaskOptions & { device?: "cpu" }): BlockMask;
export function createBlockMask(mask: Mask, opts: DeviceCreateBlockMaskOptions): BlockMask | DeviceBlockMask;
export function createBlockMask(mask: Mask, opts: DeviceCreateBlockMaskOptions): BlockMask | DeviceBlockMask {
  const op = "createBlockMask";
  checkMask(op, "mask", mask);
  if (typeof opts !== "object" || opts === null) argError(op, "opts", "{ qLen, kvLen, B?, H?, blockSize?, device? }", String(opts));
  if (opts.device !== undefined && opts.device !== "cpu") {
    if (opts.device !== "cuda") argError(op, "opts.device", '"cpu" or "cuda"', JSON.stringify(opts.device));
    const build = deviceBuilders.get(opts.device);
    if (!build) throw new SparselabError(op, `device "cuda" needs the CUDA backend, which is not part of this build`);
    const { device: _device, ...rest } = opts;
    return build(mask, rest);
  }
  const qLen = checkInt(op, "qLen", opts.qLen, 1);
  const kvLen = checkInt(op, "kvLen", opts.kvLen, 1);
  const B = opts.B === undefined ? 1 : checkInt(op, "B", opts.B, 1);
  const H = opts.H === undefined ? 1 : checkInt(op, "H", opts.H, 1);
  const [qbs, kvbs] = blockSizes(op, opts.blockSize);
  const nq = Math.ceil(qLen / qbs), nk = Math.ceil(kvLen / kvbs);
  const dep = dependsOn(mask);
  const key = (b: number, h: number) => (dep.b ? b : 0) * H + (dep.h ? h : 0);
  const fields = fieldsFromClasses(B, H, nq, nk, (b, h) => classifyGrid(mask, dep.b ? b : 0, dep.h ? h : 0, qLen, kvLen, qbs, kvbs), key);
  return BlockMask.fromTrustedFields({ B, H, qLen, kvLen, qBlockSize: qbs, kvBlockSize: kvbs, ...fields, mask });
}

/** Which of b / h the mask reads: from its IR; masks without one (plain functions) are assumed to read both. */
function dependsOn(m: Mask): { b: boolean; h: boolean } {
  return programDependsOnBatchHead(m.program);
}
