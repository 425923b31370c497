/**
 * TidalDecode: exact top-k token selection on one layer, reused by the following layers.
 */
import { SparselabError } from "../../errors.js";
import type { Tensor } from "../../tensor/tensor.js";
import { Ctx, nonNegInt, posInt, topkIdx, type EstimatorCommonOptions } from "./common.js";
import { allIndices, checkDecode, groupProbabilities, packIndices } from "./decode-common.js";

/** Options of {@link tidalDecode}. */
export interface TidalDecodeOptions extends EstimatorCommonOptions {
  /** Tokens selected. Default 256. */
  topK?: number;
}

/**
 * TidalDecode's selection step (decode): full attention of the selection layer's queries over
 * the cache; the attention probabilities are summed over each KV head's query group and the
 * top-k (256) tokens are kept. Returns i32 [B, Hkv, k] sorted positions. Use
 * {@link TidalDecoder} to reuse the selection across layers.
 *
 * Paper: arXiv 2410.05076. Official code: github.com/DerrickYLJ/TidalDecode.
 *
 * @example
 * const idx = await sl.dynamic.tidalDecode(q, kCache, { topK: 256 });
 */
export async function tidalDecode(q: Tensor, kCache: Tensor, opts: TidalDecodeOptions = {}): Promise<Tensor<"i32">> {
  const op = "dynamic.tidalDecode";
  const ctx = new Ctx(op, opts);
  const { B, Hkv, Skv: S, D } = checkDecode(op, q, kCache);
  const topK = posInt(op, "topK", opts.topK, 256);
  if (topK >= S) return ctx.finish(allIndices(B, Hkv, S), { topK });
  const p = await groupProbabilities(ctx, q, kCache, 1 / Math.sqrt(D));
  const lists: Int32Array[] = [];
  for (let r = 0; r < B * Hkv; r++) lists.push(Int32Array.from(topkIdx(p, r * S, S, topK)).sort());
  return ctx.finish(packIndices(lists, B, Hkv), { topK });
}

/** Options of {@link TidalDecoder}. */
export interface TidalDecoderOptions extends TidalDecodeOptions {
  /** Layers below this attend densely (TidalDecode keeps the first two layers full). Default 2. */
  selectionLayer?: number;
  /** The layer that selects again (TidalDecode re-selects once, mid-depth). Default 13. */
  reselectionLayer?: number;
}

/**
 * TidalDecode across layers, for one decode step: layers below `selectionLayer` are dense;
 * `selectionLayer` and `reselectionLayer` run {@link tidalDecode} on their own queries; every
 * other layer reuses the latest selection. Call `step(layer, q, kCache)` for layers in order;
 * `reset()` before the next token.
 *
 * @example
 * const td = new sl.dynamic.TidalDecoder({ topK: 256, selectionLayer: 2, reselectionLayer: 13 });
 * for (let layer = 0; layer < 32; layer++) {
 *   const idx = await td.step(layer, qs[layer], kCaches[layer]);
 *   // out = await sl.decodeAttention(qs[layer], kCaches[layer], vCaches[layer], { indices: idx });
 * }
 * td.reset();
 */
export class TidalDecoder {
  readonly topK: number;
  readonly selectionLayer: number;
  readonly reselectionLayer: number;
  #opts: EstimatorCommonOptions;
  #current: Tensor<"i32"> | undefined;
  /** Layers that ran a selection in this step. */
  readonly selectedAt: number[] = [];
  constructor(opts: TidalDecoderOptions = {}) {
    const op = "dynamic.TidalDecoder";
    this.topK = posInt(op, "topK", opts.topK, 256);
    this.selectionLayer = nonNegInt(op, "selectionLayer", opts.selectionLayer, 2);
    this.reselectionLayer = nonNegInt(op, "reselectionLayer", opts.reselectionLayer, 13);
    this.#opts = { impl: opts.impl, backend: opts.backend, signal: opts.signal };
  }
  /** Indices for `layer` (i32 [B, Hkv, n]). */
  async step(layer: number, q: Tensor, kCache: Tensor): Promise<Tensor<"i32">> {
    const op = "dynamic.TidalDecoder.step";
    const { B, Hkv, Skv } = checkDecode(op, q, kCache);
    nonNegInt(op, "layer", layer, 0);
    if (layer < this.selectionLayer) return allIndices(B, Hkv, Skv);
    if (layer === this.selectionLayer || layer === this.reselectionLayer) {
      this.#current = await tidalDecode(q, kCache, { ...this.#opts, topK: this.topK });
      this.selectedAt.push(layer);
      return this.#current;
    }
    if (!this.#current) throw new SparselabError(op, `layer ${layer} reuses a selection, but the selection layer ${this.selectionLayer} has not run in this step`);
    const [cb, ch, n] = this.#current.shape;
    if (cb !== B || ch !== Hkv || (this.#current.data as Int32Array).some((t) => t >= Skv))
      throw new SparselabError(op, `the selection (shape [${cb}, ${ch}, ${n}]) does not fit kCache [${B}, ${Hkv}, ${Skv}, ...]`);
    return this.#current;
  }
  /** Forgets the selection (call between decode steps). */
  reset(): void {
    this.#current = undefined;
    this.selectedAt.length = 0;
  }
}
