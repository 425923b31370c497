// moe_ops.cu: the small MoE kernels around the grouped GEMM.
//
//  route_softmax_topk: logits f32 [T, E] -> softmax over E (f32), top-k per token (k <= 16;
//    ties -> lower expert index), weights renormalised over the k when NORMALIZE is set. One
//    warp per token; E up to 1024 (each lane keeps E/32 probabilities in registers).
//  gather_rows: out[i] = x[src[i]] for rows of `cols` 16-bit elements (the permutation); a src
//    outside [0, srcRows) gives a zero row.
//  perm_rank / perm_scan / perm_scatter: the stable permutation that groups the T*k routing
//    assignments by expert, on the GPU (no host round trip between routing and the expert GEMMs):
//    rank within 256-assignment chunks and per-chunk counts, one block that scans the counts into
//    expert offsets and per-chunk bases, then the scatter into src / pos. An index outside [0, E)
//    is a dropped assignment: pos -1, no row.
//  combine_rows: y[t] = sum_j w[t, j] * e[pos[t, j]] (f32 accumulate), rows of 16-bit elements;
//    pos = -1 marks a dropped assignment, which contributes nothing.

typedef unsigned short elem_t;

#ifndef MAX_E_PER_LANE
#define MAX_E_PER_LANE 32
#endif

__device__ __forceinline__ float to_f(elem_t h) {
#ifdef DTYPE_F16
  float f;
  asm("cvt.f32.f16 %0, %1;\n" : "=f"(f) : "h"(h));
  return f;
#else
  return __uint_as_float(((unsigned)h) << 16);
#endif
}
__device__ __forceinline__ elem_t from_f(float x) {
#ifdef DTYPE_F16
  elem_t r;
  asm("cvt.rn.f16.f32 %0, %1;\n" : "=h"(r) : "f"(x));
  return r;
#else
  unsigned u = __float_as_uint(x);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x7fffffu)) return (elem_t)((u >> 16) | 0x40);
  return (elem_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
#endif
}

extern "C" __global__ void route_softmax_topk(const float* __restrict__ logits, int* __restrict__ indices,
                                              float* __restrict__ weights, float* __restrict__ probs, int T, int E,
                                              int k, int normalize) {
  const int warp = (blockIdx.x * blockDim.x + threadIdx.x) / 32, lane = threadIdx.x % 32;
  if (warp >= T) return;
  const float* row = logits + (size_t)warp * E;
  float p[MAX_E_PER_LANE];
  float mx = __int_as_float(0xff800000);
#pragma unroll
  for (int i = 0; i < MAX_E_PER_LANE; i++) {
    int e = i * 32 + lane;
    p[i] = e < E ? row[e] : __int_as_float(0xff800000);
    mx = fmaxf(mx, p[i]);
  }
  for (int o = 16; o; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffff, mx, o));
  float sum = 0.f;
#pragma unroll
  for (int i = 0; i < MAX_E_PER_LANE; i++) {
    int e = i * 32 + lane;
    p[i] = e < E ? expf(p[i] - mx) : 0.f;
    sum += p[i];
  }
  for (int o = 16; o; o >>= 1) sum += __shfl_xor_sync(0xffffffff, sum, o);
  const float inv = 1.f / sum;
#pragma unroll
  for (int i = 0; i < MAX_E_PER_LANE; i++) {
    int e = i * 32 + lane;
    p[i] *= inv;
    if (probs && e < E) probs[(size_t)warp * E + e] = p[i];
  }
  // k rounds of a warp-wide argmax; the winner's slot is knocked out with -1.
  float chosenSum = 0.f;
  float wsel[16];
  int isel[16];
  for (int j = 0; j < k; j++) {
    float best = -1.f;
    int bestE = 0x7fffffff;
#pragma unroll
    for (int i = 0; i < MAX_E_PER_LANE; i++) {
      int e = i * 32 + lane;
      if (e < E && (p[i] > best || (p[i] == best && e < bestE))) {
        best = p[i];
        bestE = e;
      }
    }
    for (int o = 16; o; o >>= 1) {
      float ob = __shfl_xor_sync(0xffffffff, best, o);
      int oe = __shfl_xor_sync(0xffffffff, bestE, o);
      if (ob > best || (ob == best && oe < bestE)) {
        best = ob;
        bestE = oe;
      }
    }
#pragma unroll
    for (int i = 0; i < MAX_E_PER_LANE; i++)
      if (i * 32 + lane == bestE) p[i] = -1.f;
    wsel[j] = best;
    isel[j] = bestE;
    chosenSum += best;
  }
  if (lane == 0) {
    const float s = normalize ? 1.f / chosenSum : 1.f;
    for (int j = 0; j < k; j++) {
      indices[(size_t)warp * k + j] = isel[j];
      weights[(size_t)warp * k + j] = wsel[j] * s;
    }
  }
}

extern "C" __global__ void gather_rows(const elem_t* __restrict__ x, const int* __restrict__ src, elem_t* __restrict__ out,
                                       int rows, int cols, int srcRows) {
  const int r = blockIdx.x;
  if (r >= rows) return;
  const int from = src[r];
  uint4* d = reinterpret_cast<uint4*>(out + (size_t)r * cols);
  if (from < 0 || from >= srcRows) {
    for (int c = threadIdx.x; c < cols / 8; c += blockDim.x) d[c] = make_uint4(0, 0, 0, 0);
    return;
  }
  const uint4* s = reinterpret_cast<const uint4*>(x + (size_t)from * cols);
  for (int c = threadIdx.x; c < cols / 8; c += blockDim.x) d[c] = s[c];
}

#define PERM_CHUNK 256
#define PERM_SCAN_THREADS 1024

// Block b takes assignments b*256 ..: rank[i] = earlier assignments of the same expert in the
// chunk; counts[b][e] = the chunk's assignments to e. 256 threads.
extern "C" __global__ void perm_rank(const int* __restrict__ idx, int n, int E, int* __restrict__ rank,
                                     int* __restrict__ counts) {
  __shared__ int ex[PERM_CHUNK];
  const int i = blockIdx.x * PERM_CHUNK + threadIdx.x;
  int e = i < n ? idx[i] : -1;
  if (e >= E) e = -1;
  ex[threadIdx.x] = e;
  int* row = counts + (size_t)blockIdx.x * E;
  for (int x = threadIdx.x; x < E; x += PERM_CHUNK) row[x] = 0;
  __syncthreads();
  if (e < 0) return;
  int before = 0, after = 0;
  for (int j = 0; j < PERM_CHUNK; j++) {
    const int f = ex[j];
    before += (f == e) & (j < (int)threadIdx.x);
    after += (f == e) & (j > (int)threadIdx.x);
  }
  if (i < n) rank[i] = before;
  if (after == 0) row[e] = before + 1;  // the chunk's last assignment to e writes the count
}

// One block of 1024 threads: thread (s, e) sums a slice of the chunks for expert e; then the
// slices and the experts are scanned, giving offsets [E + 1] and base[c][e] = the first permuted
// row of chunk c's assignments to e. E <= 1024.
extern "C" __global__ void __launch_bounds__(PERM_SCAN_THREADS) perm_scan(int* __restrict__ counts, int chunks, int E,
                                                                        int* __restrict__ offsets) {
  __shared__ int part[PERM_SCAN_THREADS];
  __shared__ int total[PERM_SCAN_THREADS + 1];
  const int slices = PERM_SCAN_THREADS / E;  // >= 1
  const int e = threadIdx.x % E, s = threadIdx.x / E;
  const bool active = s < slices;
  const int per = (chunks + slices - 1) / slices;
  const int c0 = min(chunks, s * per), c1 = min(chunks, c0 + per);
  int sum = 0;
  if (active)
#pragma unroll 8
    for (int c = c0; c < c1; c++) sum += counts[(size_t)c * E + e];
  part[threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.x < E) {  // slice bases (exclusive), expert totals
    int run = 0;
    for (int t = 0; t < slices; t++) {
      const int v = part[t * E + threadIdx.x];
      part[t * E + threadIdx.x] = run;
      run += v;
    }
    total[threadIdx.x] = run;
  }
  __syncthreads();
  if (threadIdx.x == 0) {  // expert offsets: E <= 1024 adds, once per call
    int run = 0;
    for (int x = 0; x < E; x++) {
      const int v = total[x];
      total[x] = run;
      run += v;
    }
    total[E] = run;
  }
  __syncthreads();
  for (int x = threadIdx.x; x <= E; x += PERM_SCAN_THREADS) offsets[x] = total[x];
  if (active) {
    int run = total[e] + part[threadIdx.x];
    for (int c = c0; c < c1; c++) {
      const int v = counts[(size_t)c * E + e];
      counts[(size_t)c * E + e] = run;  // now the chunk's base for e
      run += v;
    }
  }
}

// pos[i] = base[chunk][e] + rank[i], src[pos[i]] = i / k (the token).
extern "C" __global__ void perm_scatter(const int* __restrict__ idx, const int* __restrict__ rank,
                                        const int* __restrict__ base, int n, int E, int k, int* __restrict__ src,
                                        int* __restrict__ pos) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const int e = idx[i];
  if (e < 0 || e >= E) {
    pos[i] = -1;
    return;
  }
  const int p = base[(size_t)(i / PERM_CHUNK) * E + e] + rank[i];
  pos[i] = p;
  src[p] = i / k;
}

extern "C" __global__ void combine_rows(const elem_t* __restrict__ e, const int* __restrict__ pos,
                                        const float* __restrict__ w, elem_t* __restrict__ y, int T, int k, int cols) {
  const int t = blockIdx.x;
  if (t >= T) return;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) {
    float acc = 0.f;
    for (int j = 0; j < k; j++) {
      int p = pos[(size_t)t * k + j];
      if (p >= 0) acc += w[(size_t)t * k + j] * to_f(e[(size_t)p * cols + c]);
    }
    y[(size_t)t * cols + c] = from_f(acc);
  }
}

// swiglu: out = silu(gate) * up, elementwise over 16-bit rows (the expert FFN's activation).
extern "C" __global__ void swiglu(const elem_t* __restrict__ gate, const elem_t* __restrict__ up, elem_t* __restrict__ out,
                                  size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    const float g = to_f(gate[i]);
    out[i] = from_f(g / (1.f + __expf(-g)) * to_f(up[i]));
  }
}
