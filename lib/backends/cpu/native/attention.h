// Flash-style attention forward over tiles (dense, or block-sparse in FlexAttention's layout).
#pragma once
#include <cstdint>
#include <vector>

#include "common.h"
#include "program.h"

namespace sl {

struct BlockMaskView {
  int B = 0, H = 0;  // 1 = broadcast over the call's batch / query heads
  int qbs = 0, kbs = 0, nqb = 0, nkb = 0;
  const int32_t* kv_num = nullptr;  // [B, H, nqb] partial tiles, listed first in kv_idx
  const int32_t* kv_idx = nullptr;  // [B, H, nqb, nkb]
  const int32_t* full_num = nullptr;  // [B, H, nqb]
  const int32_t* full_idx = nullptr;  // [B, H, nqb, nkb]
};

// Per-tile bitmaps of a mask over the partial tiles: computed once in JS for a plain-function
// mask, or natively from the IR before the tile loop (so heads that share a mask share its
// evaluation). Over a [B, H] grid where B / H are the call's or 1 (broadcast: the mask does not
// depend on b / h there): tile_start[((B == 1 ? 0 : b) * H + (H == 1 ? 0 : hq)) * nqb + qb] is
// the number of the first bitmap, one per partial tile in kv_idx order; a bitmap is qbs rows
// of words_per_row u32 words, bit (kv % 32) of word kv / 32 (kv relative to the tile).
struct TileBitmaps {
  const uint32_t* bits = nullptr;
  const int32_t* tile_start = nullptr;
  int words_per_row = 0;
  int B = 0, H = 0;
};

struct AttentionArgs {
  const void* q = nullptr;  // [B, Hq, Sq, D]
  const void* k = nullptr;  // [B, Hkv, Skv, D]
  const void* v = nullptr;  // [B, Hkv, Skv, Dv]
  DType dt = F32;  // of q, k, v and the output
  int B = 0, Hq = 0, Hkv = 0, Sq = 0, Skv = 0, D = 0, Dv = 0;
  float scale = 1;
  bool has_bm = false;
  BlockMaskView bm;
  const Program* mask_prog = nullptr;  // refines partial tiles (else bitmaps)
  TileBitmaps bitmaps;
  const Program* score_prog = nullptr;
  void* out = nullptr;  // [B, Hq, Sq, Dv], dt
  float* lse = nullptr;  // [B, Hq, Sq] or null
  Cancel cancel;
};

void attention(const AttentionArgs& a);

// The bitmap layout of a.mask_prog over a.bm's partial tiles: which (b, h) it varies over, and
// tile_start (filled here, B * H * nqb + 1 entries, the last the tile count; the result points
// into it).
TileBitmaps bitmap_layout(const AttentionArgs& a, std::vector<int32_t>& tile_start);
// Evaluates a.mask_prog over every partial tile of layout t into bits (tile count x qbs x
// words_per_row words, all written).
void build_bitmaps(const AttentionArgs& a, const TileBitmaps& t, uint32_t* bits);

}  // namespace sl
