// gemm_sched.cuh: the grouped GEMMs' tile map, built on the GPU from the group row offsets, so a
// launch needs no host copy of the routing. Every block reads offsets [G + 1] (device memory;
// nullptr means one group of all T rows), clamps them into [0, T] (offsets nobody validated can
// never send a load or store outside the tensors), and scans the groups' M-tile counts:
// cum[g] = M tiles of groups before g, cum[G] = all M tiles. M tile t belongs to the last group
// g with cum[g] <= t and starts at row off[g] + (t - cum[g]) * TILE_M.
#pragma once

// Fills off[0..G] and cum[0..G] (shared memory); the caller synchronises the block afterwards.
// Warp 0 scans, 32 groups per step.
template <int TILE_M>
__device__ __forceinline__ void build_tile_map(const int* __restrict__ offsets, int G, int T, int* off, int* cum) {
  for (int g = threadIdx.x; g <= G; g += blockDim.x)
    off[g] = offsets ? min(max(offsets[g], 0), T) : (g == 0 ? 0 : T);
  __syncthreads();
  if (threadIdx.x < 32) {
    const int lane = threadIdx.x;
    int carry = 0;
    for (int b = 0; b <= G; b += 32) {
      const int g = b + lane;
      const int rows = g < G ? off[g + 1] - off[g] : 0;
      const int v = rows > 0 ? (rows + TILE_M - 1) / TILE_M : 0;
      int incl = v;
#pragma unroll
      for (int o = 1; o < 32; o <<= 1) {
        const int y = __shfl_up_sync(0xffffffffu, incl, o);
        if (lane >= o) incl += y;
      }
      if (g <= G) cum[g] = carry + incl - v;
      carry += __shfl_sync(0xffffffffu, incl, 31);
    }
  }
}

// The group of M tile t: the last g in [0, G) with cum[g] <= t (empty groups are skipped).
__device__ __forceinline__ int tile_group(const int* cum, int G, int t) {
  int lo = 0, hi = G - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) >> 1;
    if (cum[mid] <= t) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
