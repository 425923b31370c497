// grouped_gemm_sm90.cu: the MoE expert GEMM for Hopper (sm_90a): wgmma from 128-byte-swizzled
// shared memory, a warp-specialised load pipeline on mbarriers, a persistent tile scheduler.
//
// What: as grouped_gemm.cu: group g owns rows off[g] .. off[g+1] of x [T, K]; out[rows of g] =
// x[rows of g] @ w[g], w [G, K, N] row-major, bf16/f16 in, f32 accumulation, out in the input
// dtype. The offsets stay on the GPU: every block builds the tile map itself (gemm_sched.cuh),
// so the permutation kernels feed this launch without a host round trip.
//
// Shape: 384 threads. Warpgroup 0 loads: with USE_TMA one thread issues cp.async.bulk.tensor
// copies (A [T, K] as a 2-D map with 128 x 64 boxes, w [G, K, N] as a 3-D map with 64 x 64 boxes,
// both 128-byte swizzled; out-of-bounds parts arrive as zeros, rows of the next group are loaded
// but never stored); without it all 128 threads issue cp.async (zero-filling rows past the group's
// end and columns past N or K). Warpgroups 1 and 2 each own 64 rows of a 128 x BN tile and run
// wgmma m64nBNk16 with A K-major and B N-major (imm-trans-b) straight from shared memory.
// STAGES buffers of [A 128 x 64 | B 64 x BN]; full/empty mbarriers per stage. setmaxnreg moves
// registers from the loaders (40) to the accumulating warpgroups (232).
//
// Persistent: gridDim.x blocks (clusters) walk work items blockIdx.x, +gridDim.x, ...; item i is M tile
// i / nTilesN, N tile i % nTilesN, so blocks running at once share A rows and one or two
// experts' weights in L2, and a small expert costs only its own tiles.
//
// Why a lagged "full" arrive (cp.async only; TMA completes the barrier by transaction bytes):
// cp.async writes go through the generic proxy and wgmma reads through the async proxy, so each
// loading thread waits for its own copies (cp.async.wait_group), fences the proxies, and only
// then arrives; LAG stages stay in flight. LAG <= STAGES - 2 because the consumers release stage
// it - 2 before waiting on stage it.
//
// Smem layouts (128-byte swizzle: 16-byte chunk c of a 128-byte row r lands at chunk c ^ (r & 7)):
//   A: row r (0..127) of 64 K-elements at r * 128; a consumer's 64 rows start 8 KB apart.
//      Descriptor K-major: SBO 1024 (8 rows), k16 step = +32 bytes.
//   B: BN / 64 column blocks of [64 K-rows][64 N-elements], 8 KB each; row k at k * 128.
//      Descriptor N-major: LBO 8192 (next 64 columns), SBO 1024 (next 8 K-rows), k16 step = +2 KB.
//
// CLUSTER 2 (with USE_TMA; opt-in, see Versions): pairs of CTAs take the two 128-row halves of a
// 256-row M tile of one expert and the same N tile; each loads its own A and half of B's
// 64-column blocks, multicast into both CTAs, so B crosses L2 once per pair (a third less L2
// traffic per FLOP). A stage is free only when the consumers of both CTAs released it: every
// consumer warp arrives on both CTAs' empty barriers. A group with an odd number of 128-row tiles
// leaves the second CTA a tile past the group's end: it computes but stores nothing.
//
// Versions (H100, [98304, 2048] x [64, 2048, 1408] bf16, bench/gpu/moe.ts):
//   v1 cp.async producers, every consumer thread arriving on "empty": 231 TFLOP/s.
//   v2 TMA producer (USE_TMA): 482.
//   v3 one arrival per consumer warp (8 instead of 256 per stage): 517 (0.81x
//      torch._grouped_mm in the same run). CLUSTER 2 passes every test but ran at 256 (BN 128:
//      154), so moe.ts leaves it off; not yet understood (suspects: fewer co-resident 2-CTA
//      clusters than the persistent grid assumes, or remote-arrive latency against 4 stages).
//   v4 half-width tail tiles and an atomic work counter (see below): 558-579 over four timings
//      of the same call (static walk 567: the counter is no measured win by itself, it keeps the
//      half-cost tail tiles from piling onto the same blocks); torch._grouped_mm 654 there.
//   v5 (this, moe.ts default) EPI_TMA: 591 equal (0.90x), 572 ragged (0.99x); BN 128 531 vs 497.
//   Capping the grid at 120 one-CTA blocks ran as fast as 132 (579): the loads from L2, not the
//   SMs, look like the limit now, which is what the 2-CTA multicast would address. It is slow per
//   cluster, not from clusters left out of residency: 66 / 60 / 48 / 33 clusters ran at
//   251 / 237 / 190 / 131 TFLOP/s, in proportion.
//
// Half-width tail tiles (BN 256): an N tile with at most 128 columns left (N = 1408 = 5 x 256 +
// 128) runs wgmma m64n128 on the first half of the accumulators and loads only the B boxes that
// hold columns < N: at N = 1408 a full-width tail wasted 8% of the tensor-core work. Columns past
// 128 keep stale accumulators and stale shared memory, and neither is ever stored (col < N).
//
// Work items reach the consumers with the stage: the producer writes the item of a stage's first
// K tile into sItem[stage] before it arrives on that stage's "full" barrier (release / acquire
// by the barrier), and -1 after the last item, so the consumers never compute the schedule
// themselves. With DYN_SCHED (TMA, one CTA) the producer takes items from a global counter
// (block b starts on item b, then gridDim.x + atomicAdd): the half-width tail tiles cost half,
// and with a fixed stride of 132 (a multiple of nTilesN = 6) the same blocks would get all of
// them, so a static walk would finish no sooner.

#ifndef BN
#define BN 256
#endif
#ifndef STAGES
#define STAGES 4
#endif
#define BM 128
#define BK 64
#define LAG (STAGES - 2)
#define A_BYTES (BM * BK * 2)
#define B_BYTES (BK * BN * 2)
#define STAGE_BYTES (A_BYTES + B_BYTES)
// B descriptor strides: next 64 columns, next 8 K-rows (overridable only to diagnose layouts).
#ifndef B_LBO
#define B_LBO (BK * 128)
#endif
#ifndef B_SBO
#define B_SBO 1024
#endif
#ifndef CLUSTER
#define CLUSTER 1
#endif
#if defined(DYN_SCHED) && (CLUSTER != 1 || !defined(USE_TMA))
#error "DYN_SCHED needs USE_TMA and CLUSTER 1"
#endif
#ifdef DYN_SCHED
#define SCHED_PARAM , int* __restrict__ workCounter
#else
#define SCHED_PARAM
#endif
// EPI_TMA (TMA, one CTA, BN 128 or 256; moe.ts sets it where the 32 KB fit): a warpgroup whose 64 rows all belong to the tile's
// group stages its output 128 columns at a time in 16 KB of 128-byte-swizzled shared memory and
// one thread stores it with cp.async.bulk.tensor, not waited for: the next tile's wgmmas start
// while the copy engine writes. Rows past the group's end belong to the next group and a tensor
// map cannot stop there, so a warpgroup that straddles a group boundary stores from registers.
#ifdef EPI_TMA
#if !defined(USE_TMA) || CLUSTER != 1 || BN == 192
#error "EPI_TMA needs USE_TMA, CLUSTER 1 and BN 128 or 256"
#endif
#define EPI_BYTES (64 * 128 * 2)  // one warpgroup's 64 rows x 128 columns
#define EPI_SMEM (2 * EPI_BYTES)
#define EPI_PARAM , const __grid_constant__ TmaDescriptor mapOut
#else
#define EPI_SMEM 0
#define EPI_PARAM
#endif
#if CLUSTER != 1 && !(CLUSTER == 2 && defined(USE_TMA))
#error "CLUSTER 2 needs USE_TMA"
#endif
#if CLUSTER == 2
#define CLUSTER_ATTR __cluster_dims__(2, 1, 1)
#else
#define CLUSTER_ATTR
#endif
#define LOAD_REGS 40
#define MMA_REGS 232

#include "tensor_core.cuh"
#include "wgmma_ops.cuh"
#include "gemm_sched.cuh"

#ifdef USE_TMA
// The driver's CUtensorMap: 128 opaque bytes, 64-byte aligned, passed by value.
struct __align__(64) TmaDescriptor {
  unsigned long long opaque[16];
};
#define LOAD_PARAMS const __grid_constant__ TmaDescriptor mapA, const __grid_constant__ TmaDescriptor mapB
#define FULL_ARRIVALS 1
#else
#define LOAD_PARAMS const elem_t* __restrict__ X, const elem_t* __restrict__ W
#define FULL_ARRIVALS 128
#endif

#if BN != 256 && BN != 192 && BN != 128
#error "BN must be 128, 192 or 256"
#endif
template <int V>
struct IntConst {
  static constexpr int value = V;
};
template <int W>
__device__ __forceinline__ void wgmma_n(float* d, u64 da, u64 db, int accumulate) {
  if constexpr (W == 256) wgmma_n256(d, da, db, accumulate);
  else if constexpr (W == 192) wgmma_n192(d, da, db, accumulate);
  else wgmma_n128(d, da, db, accumulate);
}

extern "C" __global__ void CLUSTER_ATTR __launch_bounds__(384, 1)
    grouped_gemm_sm90(LOAD_PARAMS, elem_t* __restrict__ Out,
                      const int* __restrict__ offsets, int G, int T, int K, int N SCHED_PARAM EPI_PARAM) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  __shared__ __align__(8) u64 bars[2 * STAGES];  // full[0..S), empty[S..2S)
  __shared__ int sItem[STAGES];                   // the work item starting at this stage, -1: done
  const unsigned raw = smem_u32(smem_raw);
  const unsigned base = (raw + 1023u) & ~1023u;
  int* sOff = reinterpret_cast<int*>(smem_raw + (base - raw) + STAGES * STAGE_BYTES + EPI_SMEM);
  int* sCum = sOff + G + 1;
  const unsigned fullBar = smem_u32(&bars[0]), emptyBar = smem_u32(&bars[STAGES]);

  if (threadIdx.x == 0) {
    for (int s = 0; s < STAGES; s++) {
      mbar_init(fullBar + 8 * s, FULL_ARRIVALS);  // the TMA thread, or every cp.async thread once its copies landed
      mbar_init(emptyBar + 8 * s, 8 * CLUSTER);  // every accumulating warp of the cluster, after its wgmmas read it
    }
    mbar_init_fence();
  }
  // Scheduling unit: CLUSTER x 128 rows; this CTA takes the rank-th 128 of them.
  build_tile_map<BM * CLUSTER>(offsets, G, T, sOff, sCum);
#if CLUSTER > 1
  cluster_sync();
  const int rank = (int)cluster_rank();
#else
  __syncthreads();
  const int rank = 0;
#endif

  const int nTilesN = (N + BN - 1) / BN;
  const int total = sCum[G] * nTilesN;
  const int kTiles = (K + BK - 1) / BK;
  const int firstItem = blockIdx.x / CLUSTER;
  [[maybe_unused]] const int itemStep = gridDim.x / CLUSTER;  // the static walk's stride

  if (threadIdx.x < 128) {
    regs_dec<LOAD_REGS>();
#ifdef USE_TMA
    if (threadIdx.x == 0) {
      asm volatile("prefetch.tensormap [%0];" ::"l"(reinterpret_cast<u64>(&mapA)) : "memory");
      asm volatile("prefetch.tensormap [%0];" ::"l"(reinterpret_cast<u64>(&mapB)) : "memory");
      int it = 0;
      for (int item = firstItem; item < total;) {
#ifdef DYN_SCHED
        // Issued now, used after this item's loads: the atomic's latency hides behind them.
        const int nextItem = (int)gridDim.x + atomicAdd(workCounter, 1);
#else
        const int nextItem = item + itemStep;
#endif
        const int mt = item / nTilesN, n0 = (item % nTilesN) * BN;
        const int g = tile_group(sCum, G, mt);
        const int row0 = sOff[g] + (mt - sCum[g]) * (BM * CLUSTER) + rank * BM;
#if CLUSTER == 1
        // Only the 64-column boxes holding columns < N (a tail tile's others are never read).
        const int nBoxes = min(BN / 64, (N - n0 + 63) / 64);
#else
        const int nBoxes = BN / 64;
#endif
        const unsigned txBytes = A_BYTES + nBoxes * (BK * 128);
        for (int kt = 0; kt < kTiles; kt++, it++) {
          const int s = it % STAGES;
#if CLUSTER > 1
          mbar_wait_cluster(emptyBar + 8 * s, ((it / STAGES) & 1) ^ 1);
#else
          mbar_wait(emptyBar + 8 * s, ((it / STAGES) & 1) ^ 1);
#endif
          if (kt == 0) sItem[s] = item;
          const unsigned bar = fullBar + 8 * s, sA = base + s * STAGE_BYTES, sB = sA + A_BYTES;
          asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(bar), "r"(txBytes) : "memory");
          asm volatile(
              "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];" ::"r"(sA),
              "l"(reinterpret_cast<u64>(&mapA)), "r"(kt * BK), "r"(row0), "r"(bar)
              : "memory");
#if CLUSTER > 1
          // This CTA's share of B's column blocks, written into (and counted on) both CTAs.
#pragma unroll
          for (int j = rank; j < BN / 64; j += CLUSTER)
            asm volatile(
                "cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes.multicast::cluster [%0], [%1, {%2, %3, %4}], [%5], %6;" ::"r"(
                    sB + j * (BK * 128)),
                "l"(reinterpret_cast<u64>(&mapB)), "r"(n0 + j * 64), "r"(kt * BK), "r"(g), "r"(bar), "h"((unsigned short)((1 << CLUSTER) - 1))
                : "memory");
#else
#pragma unroll
          for (int j = 0; j < BN / 64; j++)
            if (j < nBoxes)
              asm volatile(
                "cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4}], [%5];" ::"r"(
                    sB + j * (BK * 128)),
                "l"(reinterpret_cast<u64>(&mapB)), "r"(n0 + j * 64), "r"(kt * BK), "r"(g), "r"(bar)
                : "memory");
#endif
        }
        item = nextItem;
      }
      // The end marker: a stage whose "full" phase completes with no bytes and item -1.
      const int s = it % STAGES;
#if CLUSTER > 1
      mbar_wait_cluster(emptyBar + 8 * s, ((it / STAGES) & 1) ^ 1);
#else
      mbar_wait(emptyBar + 8 * s, ((it / STAGES) & 1) ^ 1);
#endif
      sItem[s] = -1;
      mbar_arrive(fullBar + 8 * s);
    }
#else
    const int tid = threadIdx.x;
    int it = 0;
    for (int item = firstItem; item < total; item += itemStep) {
      const int mt = item / nTilesN, n0 = (item % nTilesN) * BN;
      const int g = tile_group(sCum, G, mt);
      const int row0 = sOff[g] + (mt - sCum[g]) * (BM * CLUSTER) + rank * BM, rowEnd = sOff[g + 1];
      const elem_t* gW = W + (size_t)g * K * N;
      for (int kt = 0; kt < kTiles; kt++, it++) {
        const int s = it % STAGES;
        mbar_wait(emptyBar + 8 * s, ((it / STAGES) & 1) ^ 1);
        if (kt == 0 && tid == 0) sItem[s] = item;  // published by thread 0's (lagged) arrive
        const unsigned sA = base + s * STAGE_BYTES, sB = sA + A_BYTES;
        const int k0 = kt * BK;
        {  // A: 128 rows x 8 chunks; 8 threads per row.
          const int c = tid & 7, gk = k0 + c * 8;
#pragma unroll 2
          for (int i = 0; i < 8; i++) {
            const int r = (tid >> 3) + i * 16, gr = row0 + r;
            const bool ok = gr < rowEnd && gk < K;
            cp_async16_s(sA + r * 128 + ((c ^ (r & 7)) << 4), ok ? X + (size_t)gr * K + gk : X, ok);
          }
        }
        // B: 64 K-rows x BN/8 chunks.
#pragma unroll 2
        for (int i = 0; i < (BK * BN / 8) / 128; i++) {
          const int q = tid + i * 128, r = q / (BN / 8), ch = q % (BN / 8);
          const int gk = k0 + r, gn = n0 + ch * 8;
          const bool ok = gk < K && gn < N;
          cp_async16_s(sB + (ch >> 3) * (BK * 128) + r * 128 + (((ch & 7) ^ (r & 7)) << 4),
                       ok ? gW + (size_t)gk * N + gn : W, ok);
        }
        cp_async_commit();
        if (it >= LAG) {
          cp_async_wait<LAG>();
          fence_proxy_async();
          mbar_arrive(fullBar + 8 * ((it - LAG) % STAGES));
        }
      }
    }
    cp_async_wait<0>();
    fence_proxy_async();
    for (int j = it - LAG < 0 ? 0 : it - LAG; j < it; j++) mbar_arrive(fullBar + 8 * (j % STAGES));
    {  // The end marker (every loading thread arrives, as for a loaded stage).
      const int s = it % STAGES;
      mbar_wait(emptyBar + 8 * s, ((it / STAGES) & 1) ^ 1);
      if (tid == 0) sItem[s] = -1;
      mbar_arrive(fullBar + 8 * s);
    }
#endif
  } else {
    regs_inc<MMA_REGS>();
    const int cw = threadIdx.x / 128 - 1;  // which 64 rows of the tile
    const int warpIn = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32;
    // A stage is free once every consumer warp of the cluster has waited for its wgmmas.
    auto release = [&](unsigned bar) {
      if (lane == 0) {
#if CLUSTER > 1
#pragma unroll
        for (int c = 0; c < CLUSTER; c++) mbar_arrive_cluster(bar, c);
#else
        mbar_arrive(bar);
#endif
      }
    };
    int it = 0;
    // One output tile W columns wide (BN, or 128 for a tail); the stage of its first K tile has
    // been waited for. Each width has its own accumulators and loop: with one array shared by
    // both widths under a branch, ptxas moved registers around the wgmmas and had to inject
    // warpgroup.arrive fences.
    auto tile = [&](auto width, int row0, int rowEnd, int n0) {
      constexpr int W = decltype(width)::value;
      float acc[W / 2];
      for (int kt = 0; kt < kTiles; kt++, it++) {
        const int s = it % STAGES;
        if (kt > 0) mbar_wait(fullBar + 8 * s, (it / STAGES) & 1);
        const unsigned sA = base + s * STAGE_BYTES + cw * (64 * 128), sB = base + s * STAGE_BYTES + A_BYTES;
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < BK / 16; kk++)
          wgmma_n<W>(acc, desc_sw128(sA + kk * 32, 16, 1024), desc_sw128(sB + kk * 2048, B_LBO, B_SBO), kt > 0 || kk > 0);
        wgmma_commit();
        wgmma_wait<1>();
        if (kt > 0) release(emptyBar + 8 * ((it - 1) % STAGES));
      }
      wgmma_wait<0>();
#pragma unroll
      for (int i = 0; i < W / 2; i++) reg_fence(acc[i]);
      if (kTiles > 0) release(emptyBar + 8 * ((it - 1) % STAGES));

      // Accumulator layout of m64nN: warp w holds rows 16w + lane/4 (+8); register 4j + {0,1}
      // is columns 8j + 2 (lane % 4) + {0,1} of the first row, 4j + {2,3} of the second.
      const int ra = row0 + cw * 64 + warpIn * 16 + lane / 4, rb = ra + 8;
#ifdef EPI_TMA
      if (row0 + cw * 64 + 64 <= rowEnd) {
        const unsigned stg = base + STAGES * STAGE_BYTES + cw * EPI_BYTES;
        const int rl = warpIn * 16 + lane / 4;  // and rl + 8: the same swizzle row (mod 8)
        const bool issuer = threadIdx.x % 128 == 0;
#pragma unroll
        for (int h = 0; h < W / 128; h++) {
          if (issuer) bulk_wait_read0();  // the previous copy has read the staging buffer
          named_bar_sync(1 + cw, 128);
#pragma unroll
          for (int jj = 0; jj < 16; jj++) {
            const int j = h * 16 + jj;
            // Column block jj of 8 lies in box jj / 8, 16-byte chunk jj % 8 of its 128-byte row.
            const unsigned a = stg + (jj / 8) * (64 * 128) + rl * 128 + (((jj % 8) ^ (rl & 7)) << 4) + (lane % 4) * 4;
            st_shared_u32(a, pack2(acc[4 * j], acc[4 * j + 1]));
            st_shared_u32(a + 8 * 128, pack2(acc[4 * j + 2], acc[4 * j + 3]));
          }
          fence_proxy_async();
          named_bar_sync(1 + cw, 128);
          if (issuer) {
#pragma unroll
            for (int b = 0; b < 2; b++)
              if (n0 + h * 128 + b * 64 < N) tma_store_2d(&mapOut, stg + b * (64 * 128), n0 + h * 128 + b * 64, row0 + cw * 64);
            bulk_commit();
          }
        }
        return;
      }
#endif
#pragma unroll
      for (int j = 0; j < W / 8; j++) {
        const int col = n0 + j * 8 + (lane % 4) * 2;
        if (col < N) {
          if (ra < rowEnd) *reinterpret_cast<u32*>(Out + (size_t)ra * N + col) = pack2(acc[4 * j], acc[4 * j + 1]);
          if (rb < rowEnd) *reinterpret_cast<u32*>(Out + (size_t)rb * N + col) = pack2(acc[4 * j + 2], acc[4 * j + 3]);
        }
      }
    };
    for (;;) {
      mbar_wait(fullBar + 8 * (it % STAGES), (it / STAGES) & 1);
      const int item = *reinterpret_cast<volatile int*>(&sItem[it % STAGES]);
      if (item < 0) break;
      const int mt = item / nTilesN, n0 = (item % nTilesN) * BN;
      const int g = tile_group(sCum, G, mt);
      const int row0 = sOff[g] + (mt - sCum[g]) * (BM * CLUSTER) + rank * BM, rowEnd = sOff[g + 1];
#if BN == 256 && CLUSTER == 1
      if (N - n0 <= 128) {
        tile(IntConst<128>(), row0, rowEnd, n0);
        continue;
      }
#endif
      tile(IntConst<BN>(), row0, rowEnd, n0);
    }
#ifdef EPI_TMA
    if (threadIdx.x % 128 == 0) bulk_wait0();  // the staging buffer stays alive until read
#endif
  }
#if CLUSTER > 1
  cluster_sync();
#endif
}
