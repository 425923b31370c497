// attention_tiles.cuh: what every attention kernel shares besides its MMA path (attention.cu,
// attention_hopper.cu, attention_hopper_tma.cu): the mask and score mod generated from the IR,
// and the list of kv tiles a q tile visits in FlexAttention's block-mask layout. The including
// kernel defines TABLE_PARAMS / TABLE_ARGS and the mask / score-mod macros first
// (lib/backends/cuda/attention.ts generates them).
#pragma once

#define NEG_INF __int_as_float(0xff800000)
#define LOG2E 1.4426950408889634f

#ifdef HAS_MASK
// The mask, generated from the IR: true = attend. b, h are the batch and query-head indices.
__device__ __forceinline__ bool mask_fn(int b, int h, int q, int kv TABLE_PARAMS) { return (MASK_EXPR); }
#endif
#ifdef HAS_SCORE_MOD
__device__ __forceinline__ float score_fn(float score, int b, int h, int q, int kv TABLE_PARAMS) {
  return (SCORE_EXPR);
}
#endif

// The kv tiles (TILE_N keys each) one q tile visits: its row's partial mask blocks first
// (masked), then its full ones (unmasked), each mask kv block walked in TILE_N steps; empty
// blocks are never listed. A dense call (no lists) visits every TILE_N tile unmasked.
template <int TILE_N>
struct KvTiles {
  int nTiles, nPartial, sub, kvBlockSize;
  const int* pList;
  const int* fList;
  bool dense;

  __device__ __forceinline__ void init(int b, int h, int q0, int Skv, const int* kvNum, const int* kvIdx, const int* fullNum,
                                       const int* fullIdx, int bmB, int bmH, int qBlocks, int kvBlocks, int qBlockSize,
                                       int kvBlockSize_) {
    kvBlockSize = kvBlockSize_;
    sub = kvBlockSize / TILE_N;
    dense = fullNum == nullptr;
    nPartial = 0;
    pList = nullptr;
    fList = nullptr;
    if (dense) {
      nTiles = (Skv + TILE_N - 1) / TILE_N;
      return;
    }
    // A CTA covers its q tile's rows; the mask's q block may hold several CTAs' rows.
    const int mb = bmB == 1 ? 0 : b, mh = bmH == 1 ? 0 : h;
    const size_t row = ((size_t)mb * bmH + mh) * qBlocks + q0 / qBlockSize;
    nPartial = kvNum ? kvNum[row] : 0;
    pList = kvIdx ? kvIdx + row * kvBlocks : nullptr;
    fList = fullIdx + row * kvBlocks;
    nTiles = (nPartial + fullNum[row]) * sub;
  }

  // The first key of tile j, and whether its mask must be evaluated.
  __device__ __forceinline__ int start(int j, bool& masked) const {
    if (dense) {
      masked = false;
      return j * TILE_N;
    }
    const int blk = j / sub, s = j % sub;
    if (blk < nPartial) {
      masked = true;
      return pList[blk] * kvBlockSize + s * TILE_N;
    }
    masked = false;
    return fList[blk - nPartial] * kvBlockSize + s * TILE_N;
  }
};
