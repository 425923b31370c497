// The non-attention ops. Each validates nothing the TS side already validated; inputs are
// contiguous row-major host arrays.
#pragma once
#include <cstdint>
#include <vector>

#include "common.h"

namespace sl {

// Decode attention over selected tokens: q [B, Hq, Sq, D]; k/v caches [B, Hkv, Skv, D/Dv];
// idx i32 [B, Hkv, n] (shared by the query heads of a KV head). Throws OpError for an index
// outside [0, Skv).
struct DecodeArgs {
  const void *q, *k, *v;
  DType dt;
  int B, Hq, Hkv, Sq, Skv, D, Dv, n;
  const int32_t* idx;
  float scale;
  void* out;  // [B, Hq, Sq, Dv] dt
  float* lse;  // [B, Hq, Sq] or null
  Cancel cancel;
};
void decode_attention(const DecodeArgs& a);

// C = A B over independent problems (matmul batches, MoE experts, XAttention heads). A and B
// are f32; C is written in out_dt at out + out_off with row stride ldo.
struct GemmJob {
  const float* A;
  int lda;
  const float* B;
  int ldb;
  bool transB;  // B is [N, K] (ldb >= K)
  int M, N, K;
  size_t out_off;
  int ldo;
};
void gemm_jobs(const std::vector<GemmJob>& jobs, void* out, DType out_dt, const Cancel& cancel);

// Row softmax of rows x n, f32 out.
void softmax_rows(const void* x, DType dt, int64_t rows, int n, float* out, const Cancel& cancel);

// Top k of each row (descending; ties: lower index first; NaN counts as largest, as in PyTorch).
void topk_rows(const void* x, DType dt, int64_t rows, int n, int k, float* values, int32_t* indices, const Cancel& cancel);

// x [BH, S, D] -> [BH, ceil(S / block), D]; reduce 0 mean, 1 max, 2 min.
void block_pool(const void* x, DType dt, int64_t BH, int S, int D, int block, int reduce, float* out, const Cancel& cancel);

// XAttention's strided antidiagonal estimate, as a GEMM over reshaped rows.
void antidiag_scores(const void* q, const void* k, DType dt, int B, int H, int Sq, int Skv, int D, int stride,
                     float scale, float* out, const Cancel& cancel);

// Vertical-slash statistics of P = softmax(scale q k^T) (causal at absolute query positions
// q_offset + i when causal): cols[j] = sum_i P[i, j]; diags[o] = sum of P[i, j] with
// (q_offset + i) - j = o, o in [0, Skv). q [B, Hq, Sq, D], k [B, Hkv, Skv, D].
void col_diag_sums(const void* q, const void* k, DType dt, int B, int Hq, int Hkv, int Sq, int Skv, int D, float scale,
                   int q_offset, bool causal, float* cols, float* diags, const Cancel& cancel);

}  // namespace sl
