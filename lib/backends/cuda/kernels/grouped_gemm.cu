// grouped_gemm.cu: the MoE expert GEMM on tensor cores (mma.sync m16n8k16, bf16/f16 in, f32
// accumulation, output in the input dtype).
//
// What: rows of x [T, K] come grouped by expert (a stable permutation made them contiguous):
// group g owns rows offsets[g] .. offsets[g+1]; out[rows of g] = x[rows of g] @ w[g], w [G, K, N].
// Each block builds the tile map from the offsets on the GPU (gemm_sched.cuh) and takes M tile
// blockIdx.x, so one launch covers all experts, a tile never straddles two groups (vLLM's
// padded-alignment idea, without copying the padding), and the offsets never visit the host.
// The grid is an upper bound, ceil(T / BM) + G tiles: blocks past the real count exit.
//
// Tiles: BM 128 x BN 128 x BK 32 or 64 (-DBK), 8 warps as 2 (M) x 4 (N), each warp 64 x 32; a 3-stage cp.async
// pipeline through swizzled shared memory; A fragments by ldmatrix, B (row-major [K, N]) by
// ldmatrix.trans. Limits: K and N multiples of 8 (16-byte rows); ragged M, N, K are handled by
// zero-filled loads and guarded stores.
//
// Versions: v1 host tile list; v2 (this) tile map on the GPU. Hopper runs grouped_gemm_sm90.cu;
// this one serves sm_80 / sm_89 and SPARSELAB_CUDA_GEMM=mma.

#define BM 128
#define BN 128
#ifndef BK
#define BK 32
#endif
#define STAGES 3
#define ACH (BK / 8)  // 16-byte chunks per A row
#define THREADS 256

#include "tensor_core.cuh"
#include "gemm_sched.cuh"


// A tile [BM rows][ACH chunks]: with 4 chunks (BK 32), chunk ^ ((row >> 1) & 3) spreads ldmatrix's
// 8 rows over all banks; with 8 (BK 64), chunk ^ (row & 7).
__device__ __forceinline__ int swzA(int row, int ch) {
  return ACH == 4 ? row * 4 + (ch ^ ((row >> 1) & 3)) : row * ACH + (ch ^ (row & 7));
}
// B tile [BK rows][BN = 16 chunks]: chunk ^ (row & 7).
__device__ __forceinline__ int swzB(int row, int ch) { return row * 16 + (ch ^ (row & 7)); }

extern "C" __global__ void __launch_bounds__(THREADS)
    grouped_gemm(const elem_t* __restrict__ X, const elem_t* __restrict__ W, elem_t* __restrict__ Out,
                 const int* __restrict__ offsets, int G, int T, int K, int N) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  elem_t* sA = reinterpret_cast<elem_t*>(smem_raw);  // STAGES x BM x BK
  elem_t* sB = sA + STAGES * BM * BK;               // STAGES x BK x BN
  int* sOff = reinterpret_cast<int*>(sB + STAGES * BK * BN);  // [G + 1]
  int* sCum = sOff + G + 1;                                   // [G + 1]

  build_tile_map<BM>(offsets, G, T, sOff, sCum);
  __syncthreads();
  if ((int)blockIdx.x >= sCum[G]) return;
  const int g = tile_group(sCum, G, blockIdx.x);
  const int row0 = sOff[g] + (blockIdx.x - sCum[g]) * BM;
  const int rowEnd = sOff[g + 1];
  const int n0 = blockIdx.y * BN;
  const elem_t* gW = W + (size_t)g * K * N;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int wm = warp / 4, wn = warp % 4;  // warp tile: rows wm*64.., cols wn*32..
  const int kTiles = (K + BK - 1) / BK;

  auto load = [&](int stage, int kt) {
    const int k0 = kt * BK;
    elem_t* a = sA + stage * BM * BK;
    elem_t* b = sB + stage * BK * BN;
    // A: 128 rows x ACH chunks.
    for (int c = threadIdx.x; c < BM * ACH; c += THREADS) {
      int r = c / ACH, ch = c % ACH;
      int gr = row0 + r, gk = k0 + ch * 8;
      bool ok = gr < rowEnd && gk < K;
      cp_async16(a + swzA(r, ch) * 8, X + (size_t)(ok ? gr : 0) * K + (ok ? gk : 0), ok);
    }
    // B: BK rows x 16 chunks.
    for (int c = threadIdx.x; c < BK * 16; c += THREADS) {
      int r = c / 16, ch = c % 16;
      int gk = k0 + r, gn = n0 + ch * 8;
      bool ok = gk < K && gn < N;
      cp_async16(b + swzB(r, ch) * 8, gW + (size_t)(ok ? gk : 0) * N + (ok ? gn : 0), ok);
    }
  };

  float acc[4][4][4];
#pragma unroll
  for (int i = 0; i < 4; i++)
#pragma unroll
    for (int j = 0; j < 4; j++) acc[i][j][0] = acc[i][j][1] = acc[i][j][2] = acc[i][j][3] = 0.f;

#pragma unroll
  for (int s = 0; s < STAGES - 1; s++) {
    if (s < kTiles) load(s, s);
    cp_async_commit();
  }

  for (int kt = 0; kt < kTiles; kt++) {
    cp_async_wait<STAGES - 2>();
    __syncthreads();
    // Refill the stage consumed one iteration ago (every warp has passed the barrier above).
    if (kt + STAGES - 1 < kTiles) load((kt + STAGES - 1) % STAGES, kt + STAGES - 1);
    cp_async_commit();

    const elem_t* a = sA + (kt % STAGES) * BM * BK;
    const elem_t* b = sB + (kt % STAGES) * BK * BN;
#pragma unroll
    for (int kk = 0; kk < BK / 16; kk++) {
      u32 af[4][4];
#pragma unroll
      for (int i = 0; i < 4; i++) {
        int r = wm * 64 + i * 16 + (lane % 16), ch = kk * 2 + lane / 16;
        ldmatrix_x4(af[i][0], af[i][1], af[i][2], af[i][3], a + swzA(r, ch) * 8);
      }
      u32 bf[2][4];
#pragma unroll
      for (int j = 0; j < 2; j++) {
        int r = kk * 16 + (lane % 8) + ((lane / 8) % 2) * 8;
        int ch = wn * 4 + j * 2 + lane / 16;
        ldmatrix_x4_trans(bf[j][0], bf[j][1], bf[j][2], bf[j][3], b + swzB(r, ch) * 8);
      }
#pragma unroll
      for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 2; j++) {
          mma16816(acc[i][2 * j], af[i], bf[j][0], bf[j][1]);
          mma16816(acc[i][2 * j + 1], af[i], bf[j][2], bf[j][3]);
        }
    }
  }
  cp_async_wait<0>();

#pragma unroll
  for (int i = 0; i < 4; i++) {
    const int ra = row0 + wm * 64 + i * 16 + lane / 4, rb = ra + 8;
#pragma unroll
    for (int j = 0; j < 4; j++) {
      const int col = n0 + wn * 32 + j * 8 + (lane % 4) * 2;
      if (col < N) {
        if (ra < rowEnd) *reinterpret_cast<u32*>(Out + (size_t)ra * N + col) = pack2(acc[i][j][0], acc[i][j][1]);
        if (rb < rowEnd) *reinterpret_cast<u32*>(Out + (size_t)rb * N + col) = pack2(acc[i][j][2], acc[i][j][3]);
      }
    }
  }
}
