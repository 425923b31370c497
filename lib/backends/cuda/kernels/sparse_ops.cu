// sparse_ops.cu: the SIMT kernels around sparse attention.
//
//  decode_attention: a few queries against a long KV cache restricted to selected token indices
//    (Quest, Double Sparsity, TidalDecode). One CTA per (b, query head, query row); each warp walks
//    a strided share of the indices with an online softmax, then the warps merge. f32 math.
//    idx [B, Hkv, n] (per KV head, shared by its query group); -1 entries are padding.
//  block_pool: x [B, H, S, D] -> [B, H, ceil(S/block), D], mean / max / min over each block of rows.
//  antidiag_scores: XAttention's strided estimate: out[b,h,i,j] = scale * sum_t q[i*s+t] . k[j*s+s-1-t].
//  block_mask_rows: the whole createBlockMask on the GPU, FlexAttention's four arrays written on
//    the device: one CTA per (classified b/h, q block) row classifies its tiles (a warp per
//    tile: interval bounds of the mask over the tile when HAS_TILE_BOUNDS brings the generated
//    sl_tile_class, else and for the tiles they leave open element by element, stopping once the
//    tile is known to be partial), compacts the partial and full tile lists in order, and
//    writes them to every (b, h) that shares the row.
//
// ELEM selects the input type: 0 f32, 1 bf16, 2 f16.

#ifndef ELEM
#define ELEM 1
#endif
#ifndef TABLE_PARAMS
#define TABLE_PARAMS
#define TABLE_ARGS
#endif

#if ELEM == 0
typedef float elem_t;
__device__ __forceinline__ float ld(const elem_t* p, size_t i) { return p[i]; }
__device__ __forceinline__ void st(elem_t* p, size_t i, float x) { p[i] = x; }
#elif ELEM == 1
typedef unsigned short elem_t;
__device__ __forceinline__ float ld(const elem_t* p, size_t i) { return __uint_as_float(((unsigned)p[i]) << 16); }
__device__ __forceinline__ void st(elem_t* p, size_t i, float x) {
  unsigned short r;
  asm("cvt.rn.bf16.f32 %0, %1;\n" : "=h"(r) : "f"(x));
  p[i] = r;
}
#else
typedef unsigned short elem_t;
__device__ __forceinline__ float ld(const elem_t* p, size_t i) {
  float f;
  asm("cvt.f32.f16 %0, %1;\n" : "=f"(f) : "h"(p[i]));
  return f;
}
__device__ __forceinline__ void st(elem_t* p, size_t i, float x) {
  unsigned short r;
  asm("cvt.rn.f16.f32 %0, %1;\n" : "=h"(r) : "f"(x));
  p[i] = r;
}
#endif

// cast: f32 <-> this kernel's element type, for moving f32 tensors onto the 16-bit kernels.
extern "C" __global__ void cast_from_f32(const float* __restrict__ x, elem_t* __restrict__ y, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) st(y, i, x[i]);
}
extern "C" __global__ void cast_to_f32(const elem_t* __restrict__ x, float* __restrict__ y, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) y[i] = ld(x, i);
}

#define NEG_INF __int_as_float(0xff800000)

extern "C" __global__ void decode_attention(const elem_t* __restrict__ Q, const elem_t* __restrict__ K,
                                            const elem_t* __restrict__ V, const int* __restrict__ idx,
                                            elem_t* __restrict__ O, float* __restrict__ LSE, int Hq, int Hkv, int Sq,
                                            int Skv, int D, int n, float scale) {
  extern __shared__ float sm[];  // q [D], per-warp partial o [warps][D], per-warp m and l
  const int row = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const int hk = h / (Hq / Hkv);
  const int warps = blockDim.x / 32, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  float* sq = sm;
  float* so = sm + D;
  float* sml = so + warps * D;
  const elem_t* q = Q + ((size_t)(b * Hq + h) * Sq + row) * D;
  for (int d = threadIdx.x; d < D; d += blockDim.x) sq[d] = ld(q, d) * scale;
  for (int d = threadIdx.x; d < warps * D; d += blockDim.x) so[d] = 0.f;
  __syncthreads();
  const int* ix = idx + (size_t)(b * Hkv + hk) * n;
  const size_t kvBase = (size_t)(b * Hkv + hk) * Skv;
  float m = NEG_INF, l = 0.f;
  for (int i = warp; i < n; i += warps) {
    const int t = ix[i];
    if (t < 0 || t >= Skv) continue;  // padding
    float s = 0.f;
    for (int d = lane; d < D; d += 32) s += sq[d] * ld(K, (kvBase + t) * D + d);
    for (int o = 16; o; o >>= 1) s += __shfl_xor_sync(0xffffffff, s, o);
    const float mn = fmaxf(m, s);
    const float corr = __expf(m - mn), p = __expf(s - mn);
    l = l * corr + p;
    m = mn;
    for (int d = lane; d < D; d += 32) so[warp * D + d] = so[warp * D + d] * corr + p * ld(V, (kvBase + t) * D + d);
  }
  if (lane == 0) {
    sml[2 * warp] = m;
    sml[2 * warp + 1] = l;
  }
  __syncthreads();
  float M = NEG_INF;
  for (int w = 0; w < warps; w++) M = fmaxf(M, sml[2 * w]);
  float L = 0.f;
  for (int w = 0; w < warps; w++) L += sml[2 * w] == NEG_INF ? 0.f : sml[2 * w + 1] * __expf(sml[2 * w] - M);
  const size_t oBase = ((size_t)(b * Hq + h) * Sq + row) * D;
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    float acc = 0.f;
    for (int w = 0; w < warps; w++)
      if (sml[2 * w] != NEG_INF) acc += so[w * D + d] * __expf(sml[2 * w] - M);
    st(O, oBase + d, L > 0.f ? acc / L : 0.f);
  }
  if (LSE && threadIdx.x == 0) LSE[(size_t)(b * Hq + h) * Sq + row] = L > 0.f ? M + __logf(L) : NEG_INF;
}

// reduce: 0 mean, 1 max, 2 min. One thread per output element.
extern "C" __global__ void block_pool(const elem_t* __restrict__ X, float* __restrict__ Y, int BH, int S, int D, int block,
                                     int reduce) {
  const int nb = (S + block - 1) / block;
  const size_t total = (size_t)BH * nb * D;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
    const int d = i % D;
    const int blk = (i / D) % nb;
    const size_t bh = i / ((size_t)D * nb);
    const int r0 = blk * block, r1 = min(S, r0 + block);
    float acc = reduce == 1 ? NEG_INF : reduce == 2 ? __int_as_float(0x7f800000) : 0.f;
    for (int r = r0; r < r1; r++) {
      const float v = ld(X, (bh * S + r) * D + d);
      acc = reduce == 1 ? fmaxf(acc, v) : reduce == 2 ? fminf(acc, v) : acc + v;
    }
    Y[i] = reduce == 0 ? acc / (r1 - r0) : acc;
  }
}

// One thread per output cell; Hq / Hkv query heads share a KV head.
extern "C" __global__ void antidiag_scores(const elem_t* __restrict__ Q, const elem_t* __restrict__ K, float* __restrict__ Out,
                                          int B, int Hq, int Hkv, int Sq, int Skv, int D, int stride, float scale) {
  const int nq = (Sq + stride - 1) / stride, nk = (Skv + stride - 1) / stride;
  const size_t total = (size_t)B * Hq * nq * nk;
  for (size_t c = blockIdx.x * (size_t)blockDim.x + threadIdx.x; c < total; c += (size_t)gridDim.x * blockDim.x) {
    const int j = c % nk;
    const int i = (c / nk) % nq;
    const int h = (c / ((size_t)nk * nq)) % Hq;
    const int b = c / ((size_t)nk * nq * Hq);
    const int hk = h / (Hq / Hkv);
    float acc = 0.f;
    for (int t = 0; t < stride; t++) {
      const int qi = i * stride + t, kj = j * stride + (stride - 1 - t);
      if (qi >= Sq || kj >= Skv) continue;
      const size_t qo = ((size_t)(b * Hq + h) * Sq + qi) * D, ko = ((size_t)(b * Hkv + hk) * Skv + kj) * D;
      for (int d = 0; d < D; d++) acc += ld(Q, qo + d) * ld(K, ko + d);
    }
    Out[c] = acc * scale;
  }
}

#ifdef HAS_MASK
// The mask at float coordinates: the generated expression converts its variables to float
// anyway, and float loop counters (exact below 2^24) save an int->float conversion per element.
__device__ __forceinline__ bool mask_fnf(float b, float h, float q, float kv TABLE_PARAMS) { return (MASK_EXPR); }

// grid (nq, cB * cH); any multiple of 32 threads; dynamic smem: nk bytes of classes + 2 * nk ints.
// Rows of (b, h) are classified once per (b mod cB, h mod cH) class: cB is 1 when the mask does
// not read b (then every b shares), likewise cH. Index lists are zero-padded to nk like the host's.
extern "C" __global__ void block_mask_rows(int* __restrict__ kvNum, int* __restrict__ kvIdx, int* __restrict__ fullNum,
                                          int* __restrict__ fullIdx, int B, int H, int cB, int cH, int qLen, int kvLen,
                                          int qbs, int kvbs TABLE_PARAMS) {
  extern __shared__ int smemBm[];
  const int nq = gridDim.x, nk = (kvLen + kvbs - 1) / kvbs;
  int* partialList = smemBm;
  int* fullList = smemBm + nk;
  unsigned char* cls = reinterpret_cast<unsigned char*>(smemBm + 2 * nk);
  __shared__ int counts[2];
  const int qb = blockIdx.x, cb = blockIdx.y / cH, ch = blockIdx.y % cH;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
  const int q0 = qb * qbs, q1 = min(qLen, q0 + qbs);
  const float fb = (float)cb, fh = (float)ch;
  for (int j = warp; j < nk; j += warps) {
    const int k0 = j * kvbs, k1 = min(kvLen, k0 + kvbs);
#ifdef HAS_TILE_BOUNDS
    // Interval bounds over the whole tile (generated from the IR; warp-uniform): most tiles end here.
    const int bound = sl_tile_class(fb, fh, (float)q0, (float)(q1 - 1), (float)k0, (float)(k1 - 1) TABLE_ARGS);
    if (bound != 1) {
      if (lane == 0) cls[j] = (unsigned char)bound;
      continue;
    }
#endif
    bool any = false, all = true;
    const float fk1 = (float)k1;
    for (int r = q0; r < q1; r++) {
      const float fq = (float)r;
      for (float fc = (float)(k0 + lane); fc < fk1; fc += 32.f) {
        const bool m = mask_fnf(fb, fh, fq, fc TABLE_ARGS);
        any |= m;
        all &= m;
      }
      // Every lane reaches the row's end: vote, and stop once the tile holds both kinds.
      if (__any_sync(0xffffffffu, any) && !__all_sync(0xffffffffu, all)) break;
    }
    any = __any_sync(0xffffffffu, any);
    all = __all_sync(0xffffffffu, all);
    if (lane == 0) cls[j] = all ? 2 : any ? 1 : 0;
  }
  __syncthreads();
  // Ordered compaction by warp 0: ballots give each tile its place in its list.
  if (warp == 0) {
    int np = 0, nf = 0;
    for (int base = 0; base < nk; base += 32) {
      const int j = base + lane;
      const int c = j < nk ? cls[j] : 0;
      const unsigned bp = __ballot_sync(0xffffffffu, c == 1), bf = __ballot_sync(0xffffffffu, c == 2);
      const unsigned below = (1u << lane) - 1u;
      if (c == 1) partialList[np + __popc(bp & below)] = j;
      if (c == 2) fullList[nf + __popc(bf & below)] = j;
      np += __popc(bp);
      nf += __popc(bf);
    }
    if (lane == 0) {
      counts[0] = np;
      counts[1] = nf;
    }
  }
  __syncthreads();
  const int np = counts[0], nf = counts[1];
  // Every (b, h) of this class gets the row.
  for (int b = cb; b < B; b += cB)
    for (int h = ch; h < H; h += cH) {
      const size_t row = ((size_t)b * H + h) * nq + qb;
      if (threadIdx.x == 0) {
        kvNum[row] = np;
        fullNum[row] = nf;
      }
      for (int t = threadIdx.x; t < nk; t += blockDim.x) {
        kvIdx[row * nk + t] = t < np ? partialList[t] : 0;
        fullIdx[row * nk + t] = t < nf ? fullList[t] : 0;
      }
    }
}
#endif

