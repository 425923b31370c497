// The hot loops, one set per instruction set (isa_avx512.cc, isa_avx2.cc, isa_generic.cc all
// compile kernels_isa.inc). `kernels()` picks a set once, at load, from the CPU's features;
// SPARSELAB_ISA=avx512|avx2|generic forces one (tests use it to check every path).
#pragma once

#include "program_ops.h"

namespace sl {

// How gemm combines with what C already holds.
enum GemmMode : int {
  kOverwrite = 0,  // C = A B
  kAccumulate = 1,  // C += A B
  kRescale = 2,  // C = C * rowscale[r] + A B   (flash attention's O update)
};

struct Kernels {
  const char* name;  // "AVX-512", "AVX2+FMA", "portable"
  int vw;  // floats per vector; callers pad ldb/ldc and ncols to a multiple of it
  // C[rows x ncols] (mode) A[rows x K] . B[K x ncols]; A row-major (lda), B row-major (ldb),
  // ncols a multiple of vw. Register-blocked: A elements broadcast, B rows loaded as vectors.
  void (*gemm)(int rows, int ncols, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc,
               GemmMode mode, const float* rowscale);
  // x[i] = 2^(x[i] - m) for i < n (0 where x[i] - m < -126, so -inf maps to exactly 0); returns the sum.
  float (*exp2_sub_sum)(float* x, int n, float m);
  // max of x[0..n), -inf when n == 0.
  float (*row_max)(const float* x, int n);
  // x[i] *= s.
  void (*scale)(float* x, int n, float s);
  // The FMA ceiling probe: `iters` rounds of 12 independent vector FMA chains; returns the
  // flops done (benchmarks divide by the time to get this core's peak).
  double (*fma_probe)(long iters);
  // s[j] = -inf where bit (c0 + j) of `bits` is clear, for j < n.
  void (*apply_bits)(float* s, const unsigned* bits, int c0, int n);
  // The online-softmax step over a rows x w tile of base-2 scores (row stride ld): updates the
  // running max m and sum l per row, turns S into probabilities and gives alpha = 2^(m_old - m_new).
  void (*softmax_tile)(float* S, int ld, int rows, int w, float* m, float* l, float* alpha);
  // Mask program over a row: srow[j] = -inf where it is false (see program_isa.inc).
  void (*mask_row)(const ProgramView& p, ProgramScratch& s, int b, int h, int q, int kv0, int n, float* srow);
  // Score-mod program over a row: score[j] = program(..., score[j]) * post_scale.
  void (*score_row)(const ProgramView& p, ProgramScratch& s, int b, int h, int q, int kv0, int n, float* score,
                    float post_scale);
  // dst[c * ldd + r] = src[r * lds + c] for r < rows, c < cols (packing K transposed).
  void (*transpose)(const float* src, int lds, int rows, int cols, float* dst, int ldd);
  // gemm over a band per row: row r of A sees columns [lo[r], hi[r]) (none when hi <= lo).
  // gemm_band_cols computes C = A B only on the union of each row block's bands (rounded out to
  // vectors; other columns of C are left as they were): the scores of a partial tile.
  void (*gemm_band_cols)(int rows, int ncols, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc,
                         const int* lo, const int* hi);
  // gemm_band_k: C (mode) A B with the sum over k restricted to each row block's band (A is
  // negligible outside it): the O update of a partial tile. Every column of C is written.
  void (*gemm_band_k)(int rows, int ncols, const float* A, int lda, const float* B, int ldb, float* C, int ldc,
                      GemmMode mode, const float* rowscale, const int* lo, const int* hi);
};

const Kernels* kernels_avx512();  // null where the ISA is not compiled in (non-x86)
const Kernels* kernels_avx2();
const Kernels* kernels_generic();

// The set chosen at load.
const Kernels& kernels();

}  // namespace sl
