// attention_hopper_tma.cu: the Hopper attention kernel with FlashAttention-3's warp
// specialisation: a producer warpgroup whose one thread moves Q, K and V tiles with TMA
// (cp.async.bulk.tensor, 128-byte swizzle, completing on mbarriers), and two consumer
// warpgroups (64 query rows each) that only compute. Same function, schedule and limits as
// attention_hopper.cu (block-sparse tiles over FlexAttention's kv_num_blocks / kv_indices + full
// blocks, partial tiles masked by the generated MASK_EXPR, GQA, score mods, lse), same wgmma
// math (attention_hopper_common.cuh); what changes is who waits for what:
//   - no CTA-wide barrier in the loop: stage s has barriers fullK[s] / fullV[s] (the TMA's
//     bytes landed) and empty[s] (all 256 consumer threads are done with it), so the two
//     consumer warpgroups drift freely and one's softmax overlaps the other's matrix work;
//   - the consumers issue no copies and no address arithmetic for them; setmaxnreg moves the
//     registers from the producer (40) to the consumers (232).
// The tensor maps (lib/backends/cuda/attention.ts) view q as [B*Hq, Sq, D] and k, v as
// [B*Hkv, Skv, D] with boxes of 128 rows x 64 columns, so rows past a head's end arrive as zeros.

#ifndef HEAD_DIM
#define HEAD_DIM 128
#endif
#ifndef TABLE_PARAMS
#define TABLE_PARAMS
#define TABLE_ARGS
#endif

#include "attention_hopper_common.cuh"

#define WS_THREADS 384  // warpgroup 0 produces, 1 and 2 consume
// K / V stages in flight (attention.ts sizes shared memory to match: 3 fill it at D = 128).
#ifndef STAGES
#define STAGES 3
#endif
// AHEAD 1: the producer claims the next item and loads its first K / V tile as soon as the
// current item's copies are issued, and the consumers release Q at the item's last S = Q Kᵀ;
// AHEAD 0: both wait for the end of the item's loop (the earlier order, for comparisons).
#ifndef AHEAD
#define AHEAD 1
#endif

// The driver's CUtensorMap: 128 opaque bytes, 64-byte aligned, passed by value.
struct __align__(64) TmaMap {
  unsigned long long opaque[16];
};

__device__ __forceinline__ void mbar_init(u32 bar, u32 count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
__device__ __forceinline__ void mbar_expect_tx(u32 bar, u32 bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_arrive(u32 bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
// Waits until the barrier's phase with this parity has completed.
__device__ __forceinline__ void mbar_wait(u32 bar, u32 parity) {
  asm volatile(
      "{\n.reg .pred done;\nWAIT:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra WAIT;\n}\n" ::"r"(bar),
      "r"(parity)
      : "memory");
}
// One [128 rows x 64 columns] box of a 3-D tensor map (coordinates innermost first) into
// shared memory at dst, counted on the barrier as it lands.
__device__ __forceinline__ void tma_load_3d(u32 dst, const TmaMap* map, u32 bar, int c0, int c1, int c2) {
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4}], [%5];\n" ::"r"(dst),
      "l"(reinterpret_cast<unsigned long long>(map)), "r"(c0), "r"(c1), "r"(c2), "r"(bar)
      : "memory");
}

// PINGPONG 1: the consumer warpgroups take turns issuing their matrix products (named
// barriers 1 and 2), so one's products run while the other does its softmax
// (FlashAttention-3's warp-group ping-pong). Each turn is one "round" of wgmma issues; both
// warpgroups run the same number of rounds, and warpgroup 0 starts: warpgroup 1 passes it one
// turn up front and warpgroup 0 takes that extra pass back after its last round.
#ifndef PINGPONG
#define PINGPONG 0
#endif
__device__ __forceinline__ void turn_take(int wg) {
#if PINGPONG
  asm volatile("bar.sync %0, 256;\n" ::"r"(1 + wg) : "memory");
#endif
}
__device__ __forceinline__ void turn_pass(int wg) {
#if PINGPONG
  asm volatile("bar.arrive %0, 256;\n" ::"r"(2 - wg) : "memory");
#endif
}

// One work item is one (q tile, head, batch). The (b, h) pairs are cut into sections of headGroup
// heads; a section's items run q tile by q tile from the last (causal: the most kv tiles) to the
// first, all of the section's heads per q tile:
//   item = section * headGroup * nQTiles + (nQTiles - 1 - qTile) * heads + (bh - section * headGroup)
// So CTAs that run at the same time share the K / V of a few heads in L2 (attention.ts sizes a
// section to fit), and the longest items of a whole section go first: with one head per section
// (headGroup 1, the per-head order) the last head's long q tiles start after the other heads'
// short ones, and the end of a causal call waits on them.
// The grid is either one CTA per item or persistent (one CTA per SM): then a CTA's first item is
// its block index and each next one is taken from a global counter (itemCounter, read relative
// to itemBase; null = stride by the grid size), so CTAs that drew short items take more of them;
// the producer claims the next item and loads its first K / V tile as soon as the current one's
// copies are issued, and its Q once the consumers' last S = Q Kᵀ completed, while they finish
// the current item and write its output; the stages and their barrier phases run on across items
// (g counts tiles over the CTA's life). The producer hands each item to the consumers in
// itemSlot, published by the arrival on fullQ; -1 there ends the consumers' loop.
struct Schedule {
  int q0, h, b, hk, bhk;  // bhk: the K / V map's head index
  KvTiles<BLOCK_N> kv;    // the item's kv tiles (attention_tiles.cuh)
  __device__ __forceinline__ int tileStart(int j, bool& masked) const { return kv.start(j, masked); }
};

// An item's (q tile, head) and its kv tiles.
__device__ __forceinline__ Schedule schedule(int item, int nItems, int headGroup, int nQTiles, int Hq, int Hkv, int Skv, const int* kvNum, const int* kvIdx,
                                             const int* fullNum, const int* fullIdx, int bmB, int bmH, int qBlocks, int kvBlocks,
                                             int qBlockSize, int kvBlockSize) {
  Schedule sc;
  const int nBH = nItems / nQTiles, section = item / (headGroup * nQTiles), r = item - section * headGroup * nQTiles;
  const int heads = min(headGroup, nBH - section * headGroup);
  const int qTile = nQTiles - 1 - r / heads, bh = section * headGroup + r % heads;
  sc.h = bh % Hq;
  sc.b = bh / Hq;
  sc.hk = sc.h / (Hq / Hkv);
  sc.bhk = sc.b * Hkv + sc.hk;
  sc.q0 = qTile * BLOCK_M;
  sc.kv.init(sc.b, sc.h, sc.q0, Skv, kvNum, kvIdx, fullNum, fullIdx, bmB, bmH, qBlocks, kvBlocks, qBlockSize, kvBlockSize);
  return sc;
}

// Shared-memory layout of the TMA kernel from the 1024-aligned base: Q, then STAGES (K, V) pairs;
// barriers from barQ: fullQ, fullK[STAGES], fullV[STAGES], empty[STAGES], emptyQ.
#define SK(s) (base + Q_BYTES + (s) * 2 * KV_BYTES)
#define SV(s) (base + Q_BYTES + (s) * 2 * KV_BYTES + KV_BYTES)
#define BAR_K(s) (barQ + 8 * (1 + (s)))
#define BAR_V(s) (barQ + 8 * (1 + STAGES + (s)))
#define BAR_EMPTY(s) (barQ + 8 * (1 + 2 * STAGES + (s)))
#define BAR_QEMPTY (barQ + 8 * (1 + 3 * STAGES))

// The producer's copy of tile j of an item (the CTA's g-th tile) into stage g % STAGES. The
// tile's start (a global index load for block-sparse items) is read before waiting for the
// stage, so its latency hides under the wait.
__device__ __forceinline__ void load_kv(const Schedule& sc, int j, int g, const TmaMap* mapK, const TmaMap* mapV, u32 base, u32 barQ) {
  const int s = g % STAGES;
  bool m;
  const int kv = sc.tileStart(j, m);
  // Stage s last held tile g - STAGES: wait until every consumer thread released it.
  if (g >= STAGES) mbar_wait(BAR_EMPTY(s), ((g / STAGES) - 1) & 1);
  mbar_expect_tx(BAR_K(s), KV_BYTES);
#pragma unroll
  for (int cb = 0; cb < DBLK; cb++) tma_load_3d(SK(s) + cb * BLOCK_N * 128, mapK, BAR_K(s), cb * 64, kv, sc.bhk);
  mbar_expect_tx(BAR_V(s), KV_BYTES);
#pragma unroll
  for (int cb = 0; cb < DBLK; cb++) tma_load_3d(SV(s) + cb * BLOCK_N * 128, mapV, BAR_V(s), cb * 64, kv, sc.bhk);
}

extern "C" __global__ void __launch_bounds__(WS_THREADS, 1)
    attention_fwd_sm90_tma(const __grid_constant__ TmaMap mapQ, const __grid_constant__ TmaMap mapK,
                           const __grid_constant__ TmaMap mapV, elem_t* __restrict__ O, float* __restrict__ LSE,
                           const int* __restrict__ kvNum, const int* __restrict__ kvIdx,      // partial tiles (may be null)
                           const int* __restrict__ fullNum, const int* __restrict__ fullIdx,  // full tiles (null = dense)
                           int Hq, int Hkv, int Sq, int Skv, int bmB, int bmH, int qBlocks, int kvBlocks, int qBlockSize,
                           int kvBlockSize, int nItems, int* __restrict__ itemCounter, int headGroup, int itemBase, float scale TABLE_PARAMS) {
  extern __shared__ __align__(1024) unsigned char smem_raw[];
  __shared__ __align__(8) unsigned long long bars[2 + 3 * STAGES];
  __shared__ volatile int itemSlot;
  const u32 base = (smem_addr(smem_raw) + 1023u) & ~1023u;
  const u32 sQ = base;
  const u32 barQ = smem_addr(&bars[0]);
  const int nQTiles = (Sq + BLOCK_M - 1) / BLOCK_M;

  if (threadIdx.x == 0) {
    mbar_init(barQ, 1);
    for (int s = 0; s < STAGES; s++) {
      mbar_init(BAR_K(s), 1);
      mbar_init(BAR_V(s), 1);
      mbar_init(BAR_EMPTY(s), 256);
    }
    mbar_init(BAR_QEMPTY, 256);
    // Make the initialised barriers visible to the async proxy the copies complete on.
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();

  if (threadIdx.x < 128) {
    // Producer: one thread issues every copy; the warpgroup gives its registers away.
    asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n" ::: "memory");
    if (threadIdx.x == 0) {
      // pre: tiles of `item` already issued (its first one goes out before the last item's Q is
      // released). The next item is claimed and its schedule read (global loads) as soon as
      // this one's copies are all issued, so neither waits behind the Q release.
      int g = 0, item = blockIdx.x, pre = 0;
      Schedule sc;
      if (item < nItems) sc = schedule(item, nItems, headGroup, nQTiles, Hq, Hkv, Skv, kvNum, kvIdx, fullNum, fullIdx, bmB, bmH, qBlocks, kvBlocks, qBlockSize, kvBlockSize);
      for (int n = 0;; n++) {
        // Q of the last item is free once both consumer warpgroups' last S = Q Kᵀ completed.
        if (n > 0) mbar_wait(BAR_QEMPTY, (n - 1) & 1);
#if !AHEAD
        if (n > 0) {
          item = itemCounter ? (int)gridDim.x + (int)((unsigned)atomicAdd(itemCounter, 1) - (unsigned)itemBase) : item + (int)gridDim.x;
          if (item < nItems) sc = schedule(item, nItems, headGroup, nQTiles, Hq, Hkv, Skv, kvNum, kvIdx, fullNum, fullIdx, bmB, bmH, qBlocks, kvBlocks, qBlockSize, kvBlockSize);
        }
#endif
        if (item >= nItems) {
          itemSlot = -1;
          mbar_arrive(barQ);  // no copy: the phase completes on this arrival
          break;
        }
        itemSlot = item;
        mbar_expect_tx(barQ, Q_BYTES);
#pragma unroll
        for (int cb = 0; cb < DBLK; cb++) tma_load_3d(sQ + cb * BLOCK_M * 128, &mapQ, barQ, cb * 64, sc.q0, sc.b * Hq + sc.h);
        for (int j = pre; j < sc.kv.nTiles; j++, g++) load_kv(sc, j, g, &mapK, &mapV, base, barQ);
#if AHEAD
        // The counter runs on across launches on this stream: this launch's claims start at
        // itemBase (mod 2^32), and it makes exactly nItems of them (attention.ts keeps the tally).
        item = itemCounter ? (int)gridDim.x + (int)((unsigned)atomicAdd(itemCounter, 1) - (unsigned)itemBase) : item + (int)gridDim.x;
        pre = 0;
        if (item < nItems) {
          sc = schedule(item, nItems, headGroup, nQTiles, Hq, Hkv, Skv, kvNum, kvIdx, fullNum, fullIdx, bmB, bmH, qBlocks, kvBlocks, qBlockSize, kvBlockSize);
          if (sc.kv.nTiles > 0) load_kv(sc, 0, g++, &mapK, &mapV, base, barQ), pre = 1;
        }
#endif
      }
    }
  } else {
    asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n" ::: "memory");
    const int wg = threadIdx.x / 128 - 1, warp = (threadIdx.x % 128) / 32, lane = threadIdx.x % 32;
    const u32 sQwg = sQ + wg * 64 * 128;  // this warpgroup's 64 Q rows
#ifdef HAS_SCORE_MOD
    const float sc2 = 1.f;  // score_fn's output is scaled and moved to the log2 domain already
#else
    const float sc2 = scale * LOG2E;
#endif
    if (wg == 1) turn_pass(1);
    int g = 0;
    for (int n = 0;; n++) {
      // Q is waited for even with no tiles, so no copy is in flight when the CTA exits.
      mbar_wait(barQ, n & 1);
      const int item = itemSlot;
      if (item < 0) break;
      const Schedule sc = schedule(item, nItems, headGroup, nQTiles, Hq, Hkv, Skv, kvNum, kvIdx, fullNum, fullIdx, bmB, bmH, qBlocks, kvBlocks, qBlockSize, kvBlockSize);
      const int b = sc.b, h = sc.h, nTiles = sc.kv.nTiles;
      const int qa = sc.q0 + wg * 64 + warp * 16 + lane / 4, qb = qa + 8;  // this thread's two rows
      float o[HEAD_DIM / 2];
#pragma unroll
      for (int i = 0; i < HEAD_DIM / 2; i++) o[i] = 0.f;
      RowState rs{NEG_INF, NEG_INF, 0.f, 0.f};
      float s[BLOCK_N / 2];
      u32 p[BLOCK_N / 16][4];
      float corrA, corrB;

      // FlashAttention-3's order, as in attention_hopper.cu: S of tile j + 1 and P V of tile j
      // in flight together, the softmax of tile j + 1 under P V of tile j, the last P V peeled.
      if (nTiles > 0) {
        bool masked;
        const int kv0 = sc.tileStart(0, masked);
        mbar_wait(BAR_K(g % STAGES), (g / STAGES) & 1);
        turn_take(wg);
        issue_qk(s, sQwg, SK(g % STAGES));
        turn_pass(wg);
        wgmma_wait<0>();
        fence_regs<BLOCK_N / 2>(s);
        // Q is released as soon as the item's last S = Q Kᵀ completed (here, or in the loop at
        // its last tile), so the next item's Q loads under this one's softmax, P V and epilogue.
        if (AHEAD && nTiles == 1) mbar_arrive(BAR_QEMPTY);
        softmax_tile(s, rs, corrA, corrB, sc2, masked, kv0, b, h, qa, qb, Sq, Skv, scale TABLE_ARGS);
        pack_p(s, p);
      }
      for (int j = 0; j + 1 < nTiles; j++) {
        const int gc = g + j, gn = gc + 1;
        bool masked;
        const int kv0 = sc.tileStart(j + 1, masked);
        mbar_wait(BAR_K(gn % STAGES), (gn / STAGES) & 1);
        mbar_wait(BAR_V(gc % STAGES), (gc / STAGES) & 1);
        turn_take(wg);
        issue_qk(s, sQwg, SK(gn % STAGES));
        issue_pv(o, p, SV(gc % STAGES));
        turn_pass(wg);
        wgmma_wait<1>();  // S of tile j + 1 is done, P V of tile j may run on
        fence_regs<BLOCK_N / 2>(s);
        if (AHEAD && j + 2 == nTiles) mbar_arrive(BAR_QEMPTY);
        softmax_tile(s, rs, corrA, corrB, sc2, masked, kv0, b, h, qa, qb, Sq, Skv, scale TABLE_ARGS);
        wgmma_wait<0>();
        fence_regs<HEAD_DIM / 2>(o);
        mbar_arrive(BAR_EMPTY(gc % STAGES));  // tile j's K and V are no longer read by this thread
        rescale_o(o, corrA, corrB);
        pack_p(s, p);
      }
      if (!AHEAD || nTiles == 0) mbar_arrive(BAR_QEMPTY);
      if (nTiles > 0) {
        const int gc = g + nTiles - 1;
        mbar_wait(BAR_V(gc % STAGES), (gc / STAGES) & 1);
        turn_take(wg);
        issue_pv(o, p, SV(gc % STAGES));
        turn_pass(wg);
        wgmma_wait<0>();
        fence_regs<HEAD_DIM / 2>(o);
        mbar_arrive(BAR_EMPTY(gc % STAGES));
      }
      g += nTiles;

      // Epilogue: normalise, write O and lse (the producer is loading the next item meanwhile).
      store_rows(rs, o, O, LSE, b, h, Hq, Sq, qa, qb, lane, sc2);
    }
    if (wg == 0) turn_take(0);  // the pass warpgroup 1 gave up front
  }
}
