// attention_hopper_common.cuh: the pieces both Hopper attention kernels share
// (attention_hopper.cu, cp.async; attention_hopper_tma.cu, TMA with a producer warp): tile
// constants, the generated mask and score mod, the wgmma issue of S = Q Kᵀ and O += P V, and
// the online softmax on a finished S tile. The including kernel defines HEAD_DIM, TABLE_* and
// the mask / score-mod macros first (lib/backends/cuda/attention.ts generates them).
#pragma once
#include "hopper_wgmma.cuh"

#define BLOCK_M 128
#define BLOCK_N 128
#define Q_BYTES (BLOCK_M * HEAD_DIM * 2)
#define KV_BYTES (BLOCK_N * HEAD_DIM * 2)
#define DBLK (HEAD_DIM / 64)  // 64-wide column blocks, one 128-byte swizzle atom wide each

#ifndef LAZY_RESCALE
#define LAZY_RESCALE 0
#endif

#include "attention_tiles.cuh"

#if HEAD_DIM == 128
#define WGMMA_PV wgmma_rs_n128_tb
#elif HEAD_DIM == 64
#define WGMMA_PV wgmma_rs_n64_tb
#else
#error "attention_hopper.cu supports HEAD_DIM 64 and 128"
#endif

// S = Q Kᵀ for this warpgroup's 64 rows x 128 keys, issued (not waited): HEAD_DIM / 16 k-steps,
// each 32 bytes into a 128-byte swizzle row; every 4 steps move to the next column block.
__device__ __forceinline__ void issue_qk(float* s, u32 sQwg, u32 sK) {
  wgmma_fence();
#pragma unroll
  for (int kk = 0; kk < HEAD_DIM / 16; kk++) {
    const u64 da = desc_sw128(sQwg + (kk / 4) * BLOCK_M * 128 + (kk % 4) * 32, 16, 1024);
    const u64 db = desc_sw128(sK + (kk / 4) * BLOCK_N * 128 + (kk % 4) * 32, 16, 1024);
    wgmma_ss_n128(s, da, db, kk > 0);
  }
  wgmma_commit();
}

// O += P V, issued: BLOCK_N / 16 k-steps of 16 keys, V read as an MN-major operand (keys are its
// rows, 128 bytes each within a column block: sbo = 8 rows, lbo = one column block).
__device__ __forceinline__ void issue_pv(float* o, u32 (*p)[4], u32 sV) {
  fence_regs<HEAD_DIM / 2>(o);
  fence_regs_u32<BLOCK_N / 4>(&p[0][0]);
  wgmma_fence();
#pragma unroll
  for (int t = 0; t < BLOCK_N / 16; t++) {
    const u64 dv = desc_sw128(sV + t * 16 * 128, BLOCK_N * 128, 1024);
    WGMMA_PV(o, p[t], dv, 1);
  }
  wgmma_commit();
}

// The per-row running state of the online softmax (this thread's rows A and B).
struct RowState {
  float mA, mB, lA, lB;
};

// A consumer thread's epilogue: sums its two rows' softmax denominators over the quad, writes
// O = acc / l for rows qa and qb (rows past Sq are dropped) and, with LSE, their log-sum-exp
// (natural log; -inf and a zero row where nothing was attended). sc2 is the scale that took the
// row maxima to the log2 domain.
__device__ __forceinline__ void store_rows(const RowState& rs, const float (&o)[HEAD_DIM / 2], elem_t* O, float* LSE, int b, int h,
                                           int Hq, int Sq, int qa, int qb, int lane, float sc2) {
  float lA = rs.lA, lB = rs.lB;
  lA += __shfl_xor_sync(0xffffffff, lA, 1);
  lA += __shfl_xor_sync(0xffffffff, lA, 2);
  lB += __shfl_xor_sync(0xffffffff, lB, 1);
  lB += __shfl_xor_sync(0xffffffff, lB, 2);
  const float invA = lA > 0.f ? 1.f / lA : 0.f, invB = lB > 0.f ? 1.f / lB : 0.f;
  elem_t* gO = O + ((size_t)(b * Hq + h) * Sq) * HEAD_DIM;
#pragma unroll
  for (int i = 0; i < HEAD_DIM / 8; i++) {
    const int col = i * 8 + (lane % 4) * 2;
    if (qa < Sq) *reinterpret_cast<u32*>(gO + (size_t)qa * HEAD_DIM + col) = pack2_16(o[4 * i] * invA, o[4 * i + 1] * invA);
    if (qb < Sq) *reinterpret_cast<u32*>(gO + (size_t)qb * HEAD_DIM + col) = pack2_16(o[4 * i + 2] * invB, o[4 * i + 3] * invB);
  }
  if (LSE != nullptr && lane % 4 == 0) {
    float* gL = LSE + (size_t)(b * Hq + h) * Sq;
    if (qa < Sq) gL[qa] = lA > 0.f ? (rs.mA * sc2 + log2f(lA)) / LOG2E : NEG_INF;
    if (qb < Sq) gL[qb] = lB > 0.f ? (rs.mB * sc2 + log2f(lB)) / LOG2E : NEG_INF;
  }
}

// Scale / score mod / mask / bounds on a finished S tile, then the online-softmax step in place:
// s becomes the unnormalised probabilities, the row maxima and sums advance, and the factors
// that rescale O to the new maxima are returned (applied by the caller once O is not in flight).
// sc2 folds the softmax scale into exp2 when there is no score mod (scores stay raw q.k).
__device__ __forceinline__ void softmax_tile(float* s, RowState& r, float& corrA, float& corrB, float sc2, bool masked, int kv0,
                                             int b, int h, int qa, int qb, int Sq, int Skv, float scale TABLE_PARAMS) {
  const int lane = threadIdx.x % 32;
  const bool edge = kv0 + BLOCK_N > Skv;
#ifdef HAS_SCORE_MOD
  const bool elementwise = true;
  (void)edge;
#else
  const bool elementwise = masked || edge;
  (void)scale;
#endif
  if (elementwise) {
#pragma unroll
    for (int n = 0; n < BLOCK_N / 8; n++) {
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const int q = e < 2 ? qa : qb;
        (void)q;
        const int kv = kv0 + n * 8 + (lane % 4) * 2 + (e & 1);
        float x = s[4 * n + e];
#ifdef HAS_SCORE_MOD
        x = score_fn(x * scale, b, h, q, kv TABLE_ARGS) * LOG2E;
#endif
        bool keep = kv < Skv;
#ifdef HAS_MASK
        if (masked) keep = keep && q < Sq && mask_fn(b, h, q, kv TABLE_ARGS);
#endif
        s[4 * n + e] = keep ? x : NEG_INF;
      }
    }
  }
  float mxA = r.mA, mxB = r.mB;
#pragma unroll
  for (int n = 0; n < BLOCK_N / 8; n++) {
    mxA = fmaxf(mxA, fmaxf(s[4 * n], s[4 * n + 1]));
    mxB = fmaxf(mxB, fmaxf(s[4 * n + 2], s[4 * n + 3]));
  }
  mxA = fmaxf(mxA, __shfl_xor_sync(0xffffffff, mxA, 1));
  mxA = fmaxf(mxA, __shfl_xor_sync(0xffffffff, mxA, 2));
  mxB = fmaxf(mxB, __shfl_xor_sync(0xffffffff, mxB, 1));
  mxB = fmaxf(mxB, __shfl_xor_sync(0xffffffff, mxB, 2));
#if LAZY_RESCALE
  // FlashAttention-4's lazy rescale: a row keeps its old max (and O, l their scale) unless the
  // new max exceeds it by more than 2^8 in probability, so exp2 stays <= 256 (fine in f32 and
  // in the bf16 / f16 P) and O is rescaled only on the rare tiles where some row moved; l and O
  // share the kept max, so the result is the same up to rounding. A row whose max is -inf so far
  // always takes the new one.
  if (!(r.mA == NEG_INF || (mxA - r.mA) * sc2 > 8.f)) mxA = r.mA;
  if (!(r.mB == NEG_INF || (mxB - r.mB) * sc2 > 8.f)) mxB = r.mB;
#endif
  // A row with nothing kept so far keeps max -inf; subtract 0 then so exp2 gives 0, not NaN.
  const float offA = mxA == NEG_INF ? 0.f : mxA * sc2, offB = mxB == NEG_INF ? 0.f : mxB * sc2;
#if LAZY_RESCALE
  corrA = mxA == r.mA ? 1.f : exp2f(r.mA * sc2 - offA);  // exactly 1 when kept, so the skip sees it
  corrB = mxB == r.mB ? 1.f : exp2f(r.mB * sc2 - offB);
#else
  corrA = exp2f(r.mA * sc2 - offA);
  corrB = exp2f(r.mB * sc2 - offB);
#endif
  r.mA = mxA;
  r.mB = mxB;
  float sumA = 0.f, sumB = 0.f;
#pragma unroll
  for (int n = 0; n < BLOCK_N / 8; n++) {
    s[4 * n] = exp2f(fmaf(s[4 * n], sc2, -offA));
    s[4 * n + 1] = exp2f(fmaf(s[4 * n + 1], sc2, -offA));
    s[4 * n + 2] = exp2f(fmaf(s[4 * n + 2], sc2, -offB));
    s[4 * n + 3] = exp2f(fmaf(s[4 * n + 3], sc2, -offB));
    sumA += s[4 * n] + s[4 * n + 1];
    sumB += s[4 * n + 2] + s[4 * n + 3];
  }
  r.lA = r.lA * corrA + sumA;
  r.lB = r.lB * corrB + sumB;
}

__device__ __forceinline__ void rescale_o(float* o, float corrA, float corrB) {
#if LAZY_RESCALE
  // Warp-uniform skip: with the lazy max almost every tile leaves every row's scale alone.
  if (!__any_sync(0xffffffff, corrA != 1.f || corrB != 1.f)) return;
#endif
#pragma unroll
  for (int i = 0; i < HEAD_DIM / 8; i++) {
    o[4 * i] *= corrA;
    o[4 * i + 1] *= corrA;
    o[4 * i + 2] *= corrB;
    o[4 * i + 3] *= corrB;
  }
}

// P as wgmma A fragments: two 8-key slices of S make one 16-key k-step (rows A then B, low keys
// then high), the accumulator layout read as the A layout without moving data between lanes.
__device__ __forceinline__ void pack_p(const float* s, u32 (*p)[4]) {
#pragma unroll
  for (int n = 0; n < BLOCK_N / 8; n++) {
    p[n / 2][(n % 2) * 2] = pack2_16(s[4 * n], s[4 * n + 1]);
    p[n / 2][(n % 2) * 2 + 1] = pack2_16(s[4 * n + 2], s[4 * n + 3]);
  }
}

