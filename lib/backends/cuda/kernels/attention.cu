// attention.cu: block-sparse flash attention forward on tensor cores (mma.sync m16n8k16).
//
// What: O = softmax(score_mod(Q Kᵀ · scale) masked) V over FlexAttention's block mask, with the
// log-sum-exp per row. Dense attention is the same kernel with no block mask (every tile full).
// Empty tiles are never visited; full tiles run without evaluating the mask; partial tiles
// evaluate MASK_EXPR per element (generated from the mask IR by lib/backends/cuda/codegen.ts).
//
// Limits: HEAD_DIM a multiple of 16, at most 128 (Q fragments and the O accumulator live in
// registers); BLOCK_M = 16 x WARPS query rows per CTA (64 or 128; it divides the block mask's
// q block size); BLOCK_N = 64 keys per step (the mask's kv block size is a multiple of it);
// bf16 or f16 inputs (DTYPE_F16 selects f16), f32 accumulation, output in the input dtype,
// lse in f32 (natural log; -inf for a fully masked row, whose output is 0).
// Tensors are contiguous: q [B, Hq, Sq, D], k and v [B, Hkv, Skv, D], o [B, Hq, Sq, D].
//
// Versions: this is FlashAttention-2's schedule: each warp owns 16 query rows, keeps its Q
// fragments in registers, S = Q Kᵀ and O += P V through mma.sync with ldmatrix from swizzled
// shared memory, K and V double-buffered through cp.async. It runs on sm_80 / sm_89 and wherever
// the Hopper kernels do not apply (head dims other than 64 / 128, 64-wide mask blocks); on
// compute capability 9.x attention_hopper_tma.cu (wgmma + TMA) or attention_hopper.cu (wgmma +
// cp.async) run instead (bench/RESULTS.md has both sets of figures).
//
// The compile-time parameters (-D...) come from lib/backends/cuda/attention.ts:
//   HEAD_DIM, WARPS, DTYPE_F16 (optional), HAS_MASK, HAS_SCORE_MOD, MASK_EXPR, SCORE_EXPR,
//   TABLE_DECLS (extra kernel parameters for the mask's tables).

#ifndef HEAD_DIM
#define HEAD_DIM 128
#endif
#ifndef WARPS
#define WARPS 8
#endif
// The mask's tables (document ids, bias tables...) arrive as extra kernel parameters t0, t1, ...
// TABLE_PARAMS declares them, TABLE_ARGS forwards them to mask_fn and score_fn.
#ifndef TABLE_PARAMS
#define TABLE_PARAMS
#define TABLE_ARGS
#endif

#define BLOCK_M (16 * WARPS)
#define BLOCK_N 64
#define THREADS (32 * WARPS)
#define CHUNKS (HEAD_DIM / 8)  // 16-byte chunks per row
// XOR swizzle of 16-byte chunks by row so that ldmatrix's eight row addresses hit distinct banks.
#define SWZ_MASK ((CHUNKS % 8 == 0) ? 7 : (CHUNKS % 4 == 0) ? 3 : (CHUNKS % 2 == 0) ? 1 : 0)

#include "tensor_core.cuh"

#include "attention_tiles.cuh"

__device__ __forceinline__ int swz(int row, int chunk) { return row * CHUNKS + (chunk ^ (row & SWZ_MASK)); }



// Loads a [rows x HEAD_DIM] tile whose first row is `row0` (rows >= nrows are zero-filled).
// When the CTA's threads cover whole rows in groups of 8 (D = 64, 128), each thread's chunk
// column and swizzle are the same for every row it copies, so its shared-memory offsets are
// constants and its global address advances by a fixed stride: a few instructions per copy.
#define FAST_LOAD (THREADS % CHUNKS == 0 && (THREADS / CHUNKS) % 8 == 0 && SWZ_MASK == 7)
template <int ROWS>
__device__ __forceinline__ void load_tile(elem_t* sm, const elem_t* g, int row0, int nrows) {
#if FAST_LOAD
  const int r = threadIdx.x / CHUNKS, ch = threadIdx.x % CHUNKS;
  elem_t* dst = sm + (r * CHUNKS + (ch ^ (r & 7))) * 8;
  const elem_t* src = g + (size_t)(row0 + r) * HEAD_DIM + ch * 8;
#pragma unroll
  for (int i = 0; i < ROWS * CHUNKS / THREADS; i++) {
    const int rr = row0 + r + i * (THREADS / CHUNKS);
    const bool valid = rr < nrows;
    cp_async16(dst + i * THREADS * 8, valid ? src + (size_t)i * (THREADS / CHUNKS) * HEAD_DIM : g, valid);
  }
#else
  for (int c = threadIdx.x; c < ROWS * CHUNKS; c += THREADS) {
    int r = c / CHUNKS, ch = c % CHUNKS;
    bool valid = row0 + r < nrows;
    const elem_t* src = g + (size_t)(valid ? row0 + r : 0) * HEAD_DIM + ch * 8;
    cp_async16(sm + swz(r, ch) * 8, src, valid);
  }
#endif
}

#ifndef MIN_BLOCKS
#define MIN_BLOCKS 1
#endif
// Shared memory: two stages of (K tile, V tile), stage s at s * 2 * TILE; Q is read into
// registers first from stage 1 (it fits: BLOCK_M <= 2 * BLOCK_N rows), so the CTA needs 4 tiles
// instead of 4 + BLOCK_M / BLOCK_N, and three CTAs fit on an SM at D = 128.
#define TILE (BLOCK_N * HEAD_DIM)
extern "C" __global__ void __launch_bounds__(THREADS, MIN_BLOCKS)
    attention_fwd(const elem_t* __restrict__ Q, const elem_t* __restrict__ K, const elem_t* __restrict__ V,
                  elem_t* __restrict__ O, float* __restrict__ LSE,
                  const int* __restrict__ kvNum, const int* __restrict__ kvIdx,      // partial tiles (may be null)
                  const int* __restrict__ fullNum, const int* __restrict__ fullIdx,  // full tiles (null = dense)
                  int Hq, int Hkv, int Sq, int Skv, int bmB, int bmH, int qBlocks, int kvBlocks, int qBlockSize, int kvBlockSize,
                  float scale TABLE_PARAMS) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  elem_t* const sm = reinterpret_cast<elem_t*>(smem_raw);
  elem_t* const sQ = sm + 2 * TILE;  // stage 1, until the Q fragments are in registers
#define STAGE_K(s) (sm + (s) * 2 * TILE)
#define STAGE_V(s) (sm + (s) * 2 * TILE + TILE)

  const int qTile = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const int hk = h / (Hq / Hkv);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int q0 = qTile * BLOCK_M;

  const elem_t* gQ = Q + ((size_t)(b * Hq + h) * Sq) * HEAD_DIM;
  const elem_t* gK = K + ((size_t)(b * Hkv + hk) * Skv) * HEAD_DIM;
  const elem_t* gV = V + ((size_t)(b * Hkv + hk) * Skv) * HEAD_DIM;

  // The kv tiles this q tile visits (attention_tiles.cuh): partial ones first, then full ones.
  KvTiles<BLOCK_N> tiles;
  tiles.init(b, h, q0, Skv, kvNum, kvIdx, fullNum, fullIdx, bmB, bmH, qBlocks, kvBlocks, qBlockSize, kvBlockSize);
  const int nTiles = tiles.nTiles;
  auto tileStart = [&](int j, bool& masked) -> int { return tiles.start(j, masked); };

  // Q tile, then the first K/V tile, in flight together.
  load_tile<BLOCK_M>(sQ, gQ, q0, Sq);
  int j0kv = 0;
  bool j0masked = false;
  if (nTiles > 0) {
    j0kv = tileStart(0, j0masked);
    load_tile<BLOCK_N>(STAGE_K(0), gK, j0kv, Skv);
    load_tile<BLOCK_N>(STAGE_V(0), gV, j0kv, Skv);
  }
  cp_async_commit();

  const int r0 = warp * 16 + lane / 4;  // this thread's rows in the tile: r0 and r0 + 8
  const int qa = q0 + r0, qb = qa + 8;

  float o[HEAD_DIM / 8][4];
#pragma unroll
  for (int i = 0; i < HEAD_DIM / 8; i++) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
  float mA = NEG_INF, mB = NEG_INF, lA = 0.f, lB = 0.f;
  u32 qf[HEAD_DIM / 16][4];
  // Per-thread ldmatrix offsets (elements) for the swizzled K and V tiles.
  const int kRow = (lane % 8) * HEAD_DIM, kx = (lane / 8) ^ (lane & 7);
  const int vRow = ((lane % 8) + ((lane / 8) % 2) * 8) * HEAD_DIM, vx = (lane / 16) ^ (lane & 7);
  (void)kRow; (void)kx; (void)vRow; (void)vx;
#ifdef HAS_SCORE_MOD
#define SC2 1.f  // scores are already scaled and in the log2 domain
#else
  const float scale2 = scale * LOG2E;
#define SC2 scale2
#endif

  // Q fragments into registers, then stage 1 is free for the K/V pipeline.
  cp_async_wait<0>();
  __syncthreads();
#pragma unroll
  for (int kk = 0; kk < HEAD_DIM / 16; kk++) {
    int row = warp * 16 + (lane % 16), ch = kk * 2 + lane / 16;
    ldmatrix_x4(qf[kk][0], qf[kk][1], qf[kk][2], qf[kk][3], sQ + swz(row, ch) * 8);
  }
  __syncthreads();

  for (int j = 0; j < nTiles; j++) {
    const int st = j & 1;
    bool masked;
    const int kv0 = tileStart(j, masked);
    // Prefetch the next tile into the other stage while this one is computed.
    if (j + 1 < nTiles) {
      bool m2;
      int kvn = tileStart(j + 1, m2);
      load_tile<BLOCK_N>(STAGE_K(st ^ 1), gK, kvn, Skv);
      load_tile<BLOCK_N>(STAGE_V(st ^ 1), gV, kvn, Skv);
    }
    cp_async_commit();
    cp_async_wait<1>();
    __syncthreads();

    const elem_t* cK = STAGE_K(st);
    const elem_t* cV = STAGE_V(st);

    // S = Q Kᵀ for this warp's 16 rows x 64 keys: 8 n-tiles of 8 keys.
    float s[8][4];
#pragma unroll
    for (int n = 0; n < 8; n++) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
#pragma unroll
    for (int n = 0; n < 8; n++) {
#pragma unroll
      for (int kk = 0; kk < HEAD_DIM / 16; kk += 2) {
        // One x4 load gives B fragments for two k16 steps (or one when HEAD_DIM/16 is odd).
        int row = n * 8 + (lane % 8), ch = kk * 2 + lane / 8;
        u32 b0, b1, b2, b3;
        if (kk + 1 < HEAD_DIM / 16) {
#if SWZ_MASK == 7
          // row & 7 == lane & 7 and kk * 2 shares no bits with lane / 8, so the swizzled chunk
          // is (kk * 2) ^ kx with kx fixed per thread: no per-load swizzle arithmetic.
          ldmatrix_x4(b0, b1, b2, b3, cK + kRow + n * 8 * HEAD_DIM + (((kk * 2) ^ kx) << 3));
#else
          ldmatrix_x4(b0, b1, b2, b3, cK + swz(row, ch) * 8);
#endif
          mma16816(s[n], qf[kk], b0, b1);
          mma16816(s[n], qf[kk + 1], b2, b3);
        } else {
          int ch2 = kk * 2 + (lane / 8) % 2;
          ldmatrix_x4(b0, b1, b2, b3, cK + swz(row, ch2) * 8);
          mma16816(s[n], qf[kk], b0, b1);
        }
      }
    }

    // Scale, score mod, mask, bounds; into the log2 domain. Full tiles inside the sequence skip
    // the per-element work: without a score mod the scale is folded into the exp2 below.
    const bool edge = kv0 + BLOCK_N > Skv;
#ifdef HAS_SCORE_MOD
    const bool elementwise = true;
#else
    const bool elementwise = masked || edge;
#endif
    if (elementwise) {
#pragma unroll
      for (int n = 0; n < 8; n++) {
#pragma unroll
        for (int e = 0; e < 4; e++) {
          const int q = e < 2 ? qa : qb;
          (void)q;
          const int kv = kv0 + n * 8 + (lane % 4) * 2 + (e & 1);
          float x = s[n][e];
#ifdef HAS_SCORE_MOD
          x = score_fn(x * scale, b, h, q, kv TABLE_ARGS) * LOG2E;
#endif
          bool keep = kv < Skv;
#ifdef HAS_MASK
          if (masked) keep = keep && q < Sq && mask_fn(b, h, q, kv TABLE_ARGS);
#endif
          s[n][e] = keep ? x : NEG_INF;
        }
      }
    }

    // Online softmax over the two rows this thread holds (4 lanes share a row).
    float mxA = mA, mxB = mB;
#pragma unroll
    for (int n = 0; n < 8; n++) {
      mxA = fmaxf(mxA, fmaxf(s[n][0], s[n][1]));
      mxB = fmaxf(mxB, fmaxf(s[n][2], s[n][3]));
    }
    mxA = fmaxf(mxA, __shfl_xor_sync(0xffffffff, mxA, 1));
    mxA = fmaxf(mxA, __shfl_xor_sync(0xffffffff, mxA, 2));
    mxB = fmaxf(mxB, __shfl_xor_sync(0xffffffff, mxB, 1));
    mxB = fmaxf(mxB, __shfl_xor_sync(0xffffffff, mxB, 2));
    // A row with nothing kept so far keeps max -inf; subtract 0 then so exp2 gives 0, not NaN.
    // Scores (and so the running max) are raw q.k without a score mod: exp2 takes the scale in
    // the same FFMA, p = exp2(s * scale2 - m * scale2).
    const float offA = mxA == NEG_INF ? 0.f : mxA * SC2, offB = mxB == NEG_INF ? 0.f : mxB * SC2;
    const float corrA = exp2f(mA * SC2 - offA), corrB = exp2f(mB * SC2 - offB);
    mA = mxA;
    mB = mxB;
    float sumA = 0.f, sumB = 0.f;
#pragma unroll
    for (int n = 0; n < 8; n++) {
      s[n][0] = exp2f(fmaf(s[n][0], SC2, -offA));
      s[n][1] = exp2f(fmaf(s[n][1], SC2, -offA));
      s[n][2] = exp2f(fmaf(s[n][2], SC2, -offB));
      s[n][3] = exp2f(fmaf(s[n][3], SC2, -offB));
      sumA += s[n][0] + s[n][1];
      sumB += s[n][2] + s[n][3];
    }
    lA = lA * corrA + sumA;
    lB = lB * corrB + sumB;
#pragma unroll
    for (int i = 0; i < HEAD_DIM / 8; i++) {
      o[i][0] *= corrA;
      o[i][1] *= corrA;
      o[i][2] *= corrB;
      o[i][3] *= corrB;
    }

    // O += P V. P's accumulator layout is the A-fragment layout of the next mma (two n-tiles of
    // S make one k16 step), so P never leaves registers.
#pragma unroll
    for (int t = 0; t < 4; t++) {
      u32 pa[4];
      pa[0] = pack2(s[2 * t][0], s[2 * t][1]);
      pa[1] = pack2(s[2 * t][2], s[2 * t][3]);
      pa[2] = pack2(s[2 * t + 1][0], s[2 * t + 1][1]);
      pa[3] = pack2(s[2 * t + 1][2], s[2 * t + 1][3]);
#pragma unroll
      for (int dn = 0; dn < HEAD_DIM / 8; dn += 2) {
        u32 b0, b1, b2, b3;
#if SWZ_MASK == 7
        ldmatrix_x4_trans(b0, b1, b2, b3, cV + vRow + t * 16 * HEAD_DIM + ((dn ^ vx) << 3));
#else
        int row = t * 16 + (lane % 8) + ((lane / 8) % 2) * 8;
        int ch = dn + lane / 16;
        ldmatrix_x4_trans(b0, b1, b2, b3, cV + swz(row, ch) * 8);
#endif
        mma16816(o[dn], pa, b0, b1);
        mma16816(o[dn + 1], pa, b2, b3);
      }
    }
    __syncthreads();  // the stage just read is refilled two iterations on
  }
  cp_async_wait<0>();

  // Epilogue: normalise, write O and lse.
  lA += __shfl_xor_sync(0xffffffff, lA, 1);
  lA += __shfl_xor_sync(0xffffffff, lA, 2);
  lB += __shfl_xor_sync(0xffffffff, lB, 1);
  lB += __shfl_xor_sync(0xffffffff, lB, 2);
  const float invA = lA > 0.f ? 1.f / lA : 0.f, invB = lB > 0.f ? 1.f / lB : 0.f;
  elem_t* gO = O + ((size_t)(b * Hq + h) * Sq) * HEAD_DIM;
#pragma unroll
  for (int i = 0; i < HEAD_DIM / 8; i++) {
    const int col = i * 8 + (lane % 4) * 2;
    if (qa < Sq) *reinterpret_cast<u32*>(gO + (size_t)qa * HEAD_DIM + col) = pack2(o[i][0] * invA, o[i][1] * invA);
    if (qb < Sq) *reinterpret_cast<u32*>(gO + (size_t)qb * HEAD_DIM + col) = pack2(o[i][2] * invB, o[i][3] * invB);
  }
  if (LSE != nullptr && lane % 4 == 0) {
    float* gL = LSE + (size_t)(b * Hq + h) * Sq;
    if (qa < Sq) gL[qa] = lA > 0.f ? (mA * SC2 + log2f(lA)) / LOG2E : NEG_INF;
    if (qb < Sq) gL[qb] = lB > 0.f ? (mB * SC2 + log2f(lB)) / LOG2E : NEG_INF;
  }
}
