// sparse_ops.cu: the SIMT kernels around sparse attention.
//
//  decode_attention: a few queries against a long KV cache restricted to selected token indices
//    (Quest, Double Sparsity, TidalDecode). One CTA per (b, query head, query row); each warp walks
//    a strided share of the indices with an online softmax, then the warps merge. f32 math.
//    idx [B, Hkv, n] (per KV head, shared by its query group); -1 entries are padding.
//  block_pool: x [B, H, S, D] -> [B, H, ceil(S/block), D], mean / max / min over each block of rows.
//  antidiag_scores: XAttention's strided estimate: out[b,h,i,j] = scale * sum_t q[i*s+t] . k[j*s+s-1-t].
//  classify_tiles: createBlockMask for masks the interval bounds cannot decide: for each listed
//    tile, evaluates MASK_EXPR on every element and writes 0 empty / 1 partial / 2 full.
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
__device__ __forceinline__ bool mask_fn(int b, int h, int q, int kv TABLE_PARAMS) { return (MASK_EXPR); }

// tiles [n][4] = (b, h, qBlock, kvBlock); one CTA per tile; out[n] in {0, 1, 2}.
extern "C" __global__ void classify_tiles(const int* __restrict__ tiles, unsigned char* __restrict__ out, int qLen, int kvLen,
                                         int qbs, int kvbs TABLE_PARAMS) {
  const int* t = tiles + 4 * (size_t)blockIdx.x;
  const int b = t[0], h = t[1], q0 = t[2] * qbs, k0 = t[3] * kvbs;
  const int q1 = min(qLen, q0 + qbs), k1 = min(kvLen, k0 + kvbs);
  const int w = k1 - k0, n = (q1 - q0) * w;
  int any = 0, all = 1;
  for (int e = threadIdx.x; e < n && (all || !any); e += blockDim.x) {
    const bool m = mask_fn(b, h, q0 + e / w, k0 + e % w TABLE_ARGS);
    any |= m;
    all &= m;
  }
  any = __syncthreads_or(any);
  all = __syncthreads_and(all);
  if (threadIdx.x == 0) out[blockIdx.x] = all ? 2 : any ? 1 : 0;
}
#endif
