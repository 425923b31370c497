// attention_hopper.cu: block-sparse flash attention forward for Hopper (sm_90a) on warpgroup MMA.
//
// What: the same function as attention.cu (O = softmax(score_mod(Q Kᵀ · scale) masked) V over
// FlexAttention's block mask, lse per row; empty tiles skipped, full tiles unmasked, partial
// tiles evaluate the generated MASK_EXPR), computed with wgmma instead of mma.sync: one
// instruction per warpgroup does a 64 x 128 x 16 product reading K and V straight from swizzled
// shared memory, so the per-thread ldmatrix and address work of the mma.sync kernel is gone.
//
// Shape: BLOCK_M = 128 query rows per CTA, two warpgroups of 64 rows each (FlashAttention-3's
// consumer shape), BLOCK_N = 128 keys per step (FlexAttention's block), HEAD_DIM 64 or 128.
// S = Q Kᵀ: wgmma m64n128k16 with Q and K from shared memory; P = exp2(S - m) stays in
// registers (the accumulator layout is the A-fragment layout) for O += P V: wgmma m64nDk16 with
// V from shared memory read transposed. K and V are double-buffered through cp.async into the
// 128-byte-swizzled layout (hopper_wgmma.cuh): tile j + 1 loads while tile j is computed.
//
// Limits: HEAD_DIM 64 or 128; bf16 or f16 (DTYPE_F16); the block mask's q block size a multiple
// of 128 and kv block size a multiple of 128 (the host falls back to attention.cu otherwise).
// Tensors are contiguous: q [B, Hq, Sq, D], k and v [B, Hkv, Skv, D], o [B, Hq, Sq, D].
//
// The compile-time parameters (-D...) come from lib/backends/cuda/attention.ts, as for
// attention.cu: HEAD_DIM, DTYPE_F16, HAS_MASK, HAS_SCORE_MOD, MASK_EXPR, SCORE_EXPR, TABLE_*.

#ifndef HEAD_DIM
#define HEAD_DIM 128
#endif
#ifndef TABLE_PARAMS
#define TABLE_PARAMS
#define TABLE_ARGS
#endif

#include "attention_hopper_common.cuh"

#define THREADS 256  // two consumer warpgroups, which also issue the copies

// Copies rows [row0, row0 + ROWS) of a [nrows x HEAD_DIM] matrix into the swizzled layout at
// `dst` (rows past nrows zero-filled). Thread t always copies chunk t % 8 of rows t / 8 + 32 i,
// so its swizzle is one constant and each copy is an add away from the last.
template <int ROWS>
__device__ __forceinline__ void load_tile_sw(u32 dst, const elem_t* g, int row0, int nrows) {
  const int c = threadIdx.x & 7, r = threadIdx.x >> 3;
  const u32 d0 = dst + r * 128 + ((c ^ (r & 7)) << 4);
#pragma unroll
  for (int i = 0; i < ROWS / (THREADS / 8); i++) {
    const int rr = row0 + r + (THREADS / 8) * i;
    const bool valid = rr < nrows;
    const elem_t* src = g + (size_t)(valid ? rr : 0) * HEAD_DIM + c * 8;
#pragma unroll
    for (int cb = 0; cb < DBLK; cb++) cp_async16_to(d0 + cb * ROWS * 128 + i * (THREADS / 8) * 128, src + cb * 64, valid);
  }
}

// OVERLAP 1 (default): each warpgroup issues the next tile's S = Q Kᵀ before this tile's
// softmax, so the tensor cores work while the softmax runs (FlashAttention-3's intra-warpgroup
// overlap); that needs K of tile j + 1 resident while tile j's V is read, hence three stages.
// OVERLAP 0: one tile at a time, two stages.
#ifndef OVERLAP
#define OVERLAP 1
#endif
#define STAGES (OVERLAP ? 3 : 2)

// Shared memory (dynamic, aligned up to 1024 bytes here): Q, then STAGES stages of (K, V).
extern "C" __global__ void __launch_bounds__(THREADS, 1)
    attention_fwd_sm90(const elem_t* __restrict__ Q, const elem_t* __restrict__ K, const elem_t* __restrict__ V,
                       elem_t* __restrict__ O, float* __restrict__ LSE,
                       const int* __restrict__ kvNum, const int* __restrict__ kvIdx,      // partial tiles (may be null)
                       const int* __restrict__ fullNum, const int* __restrict__ fullIdx,  // full tiles (null = dense)
                       int Hq, int Hkv, int Sq, int Skv, int bmB, int bmH, int qBlocks, int kvBlocks, int qBlockSize,
                       int kvBlockSize, float scale TABLE_PARAMS) {
  extern __shared__ __align__(1024) unsigned char smem_raw[];
  const u32 base = (smem_addr(smem_raw) + 1023u) & ~1023u;
  const u32 sQ = base;
#define SK(s) (base + Q_BYTES + (s) * 2 * KV_BYTES)
#define SV(s) (base + Q_BYTES + (s) * 2 * KV_BYTES + KV_BYTES)

  const int qTile = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const int hk = h / (Hq / Hkv);
  const int q0 = qTile * BLOCK_M;
  const elem_t* gQ = Q + ((size_t)(b * Hq + h) * Sq) * HEAD_DIM;
  const elem_t* gK = K + ((size_t)(b * Hkv + hk) * Skv) * HEAD_DIM;
  const elem_t* gV = V + ((size_t)(b * Hkv + hk) * Skv) * HEAD_DIM;

  // The kv tiles this q tile visits (attention_tiles.cuh): partial ones first, then full ones.
  KvTiles<BLOCK_N> tiles;
  tiles.init(b, h, q0, Skv, kvNum, kvIdx, fullNum, fullIdx, bmB, bmH, qBlocks, kvBlocks, qBlockSize, kvBlockSize);
  const int nTiles = tiles.nTiles;
  auto tileStart = [&](int j, bool& masked) -> int { return tiles.start(j, masked); };
  // Starts the copy of tile j into stage j % STAGES (one commit group, empty past the end, so
  // the wait counts below hold at the tail too).
  auto loadTile = [&](int j) {
    if (j < nTiles) {
      bool m;
      const int kv = tileStart(j, m);
      load_tile_sw<BLOCK_N>(SK(j % STAGES), gK, kv, Skv);
      load_tile_sw<BLOCK_N>(SV(j % STAGES), gV, kv, Skv);
    }
    cp_async_commit_group();
  };

  const int wg = threadIdx.x / 128, warp = (threadIdx.x % 128) / 32, lane = threadIdx.x % 32;
  const int qa = q0 + wg * 64 + warp * 16 + lane / 4, qb = qa + 8;  // this thread's two rows
  const u32 sQwg = sQ + wg * 64 * 128;                               // this warpgroup's 64 Q rows

  float o[HEAD_DIM / 2];
#pragma unroll
  for (int i = 0; i < HEAD_DIM / 2; i++) o[i] = 0.f;
  RowState rs{NEG_INF, NEG_INF, 0.f, 0.f};
#ifdef HAS_SCORE_MOD
  const float sc2 = 1.f;  // score_fn's output is scaled and moved to the log2 domain already
#else
  const float sc2 = scale * LOG2E;
#endif
  float s[BLOCK_N / 2];
  u32 p[BLOCK_N / 16][4];

  load_tile_sw<BLOCK_M>(sQ, gQ, q0, Sq);
  loadTile(0);  // Q rides in tile 0's group

  float corrA, corrB;
#if OVERLAP
  // FlashAttention-3's order: S of tile j + 1 and P V of tile j are in flight together, and the
  // softmax of tile j + 1 runs while P V of tile j is still on the tensor cores. The loop carries
  // P of tile j; the last tile's P V is peeled off so every wgmma in the loop is unconditional.
  loadTile(1);
  if (nTiles > 0) {
    cp_async_wait_group<1>();
    fence_proxy_async();
    __syncthreads();
    bool masked;
    const int kv0 = tileStart(0, masked);
    issue_qk(s, sQwg, SK(0));
    wgmma_wait<0>();
    fence_regs<BLOCK_N / 2>(s);
    softmax_tile(s, rs, corrA, corrB, sc2, masked, kv0, b, h, qa, qb, Sq, Skv, scale TABLE_ARGS);
    pack_p(s, p);
  }
  for (int j = 0; j + 1 < nTiles; j++) {
    // Tile j + 1 has landed and is visible; every thread is past tile j - 1 (its P V waited),
    // whose stage ((j + 2) % 3) the next copies overwrite.
    cp_async_wait_group<0>();
    fence_proxy_async();
    __syncthreads();
    loadTile(j + 2);
    bool masked;
    const int kv0 = tileStart(j + 1, masked);
    issue_qk(s, sQwg, SK((j + 1) % STAGES));
    issue_pv(o, p, SV(j % STAGES));
    wgmma_wait<1>();  // groups retire in order: S of tile j + 1 is done, P V of tile j may run on
    fence_regs<BLOCK_N / 2>(s);
    softmax_tile(s, rs, corrA, corrB, sc2, masked, kv0, b, h, qa, qb, Sq, Skv, scale TABLE_ARGS);
    wgmma_wait<0>();
    fence_regs<HEAD_DIM / 2>(o);
    rescale_o(o, corrA, corrB);
    pack_p(s, p);
  }
  if (nTiles > 0) {
    issue_pv(o, p, SV((nTiles - 1) % STAGES));
    wgmma_wait<0>();
    fence_regs<HEAD_DIM / 2>(o);
  }
#else
  for (int j = 0; j < nTiles; j++) {
    bool masked;
    const int kv0 = tileStart(j, masked);
    // Tile j has landed (this thread's copies), is fenced for the async proxy, and after the
    // barrier everyone's copies are visible and every thread is done with tile j - 1, whose
    // stage the next copies overwrite.
    cp_async_wait_group<0>();
    fence_proxy_async();
    __syncthreads();
    loadTile(j + 1);
    issue_qk(s, sQwg, SK(j % STAGES));
    wgmma_wait<0>();
    fence_regs<BLOCK_N / 2>(s);
    softmax_tile(s, rs, corrA, corrB, sc2, masked, kv0, b, h, qa, qb, Sq, Skv, scale TABLE_ARGS);
    rescale_o(o, corrA, corrB);
    pack_p(s, p);
    issue_pv(o, p, SV(j % STAGES));
    wgmma_wait<0>();
    fence_regs<HEAD_DIM / 2>(o);
  }
#endif
  cp_async_wait_group<0>();

  // Epilogue: normalise, write O and lse.
  store_rows(rs, o, O, LSE, b, h, Hq, Sq, qa, qb, lane, sc2);
}
