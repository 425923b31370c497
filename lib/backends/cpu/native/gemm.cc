// SGEMM over a list of independent problems. Each task is one (problem, row block, column
// panel): it packs the B panel k-block by k-block (so the panel streams from L1) and runs the
// register-blocked kernel into a local C tile, then writes the tile out in the output dtype.
#include <algorithm>
#include <vector>

#include "kernels.h"
#include "ops.h"
#include "pool.h"

namespace sl {

void gemm_jobs(const std::vector<GemmJob>& jobs, void* out, DType out_dt, const Cancel& cancel) {
  const Kernels& kk = kernels();
  const int NP = 4 * kk.vw;  // one register block of columns
  const int MB = 96, KC = 256;
  std::vector<int64_t> first(jobs.size() + 1, 0);  // task numbering per job
  for (size_t j = 0; j < jobs.size(); j++) {
    const GemmJob& g = jobs[j];
    const int64_t mb = (g.M + MB - 1) / MB, np = (g.N + NP - 1) / NP;
    first[j + 1] = first[j] + (g.M > 0 && g.N > 0 ? mb * np : 0);
  }
  const int T = threads();
  std::vector<std::vector<float>> bpack(static_cast<size_t>(T), std::vector<float>(size_t(KC) * NP));
  std::vector<std::vector<float>> ctile(static_cast<size_t>(T), std::vector<float>(size_t(MB) * NP));
  parallel_for(first.back(), [&](int64_t t, int tid) {
    cancel.check();
    const size_t j = size_t(std::upper_bound(first.begin(), first.end(), t) - first.begin() - 1);
    const GemmJob& g = jobs[j];
    const int64_t local = t - first[j];
    const int np_count = (g.N + NP - 1) / NP;
    const int m0 = int(local / np_count) * MB, n0 = int(local % np_count) * NP;
    const int mrows = std::min(MB, g.M - m0), ncols = std::min(NP, g.N - n0);
    const int ncols_p = round_up(ncols, kk.vw);
    float* bp = bpack[size_t(tid)].data();
    float* ct = ctile[size_t(tid)].data();
    if (g.K == 0) std::fill_n(ct, size_t(mrows) * NP, 0.0f);
    for (int k0 = 0; k0 < g.K; k0 += KC) {
      const int kc = std::min(KC, g.K - k0);
      for (int kq = 0; kq < kc; kq++) {
        float* dst = bp + size_t(kq) * NP;
        if (!g.transB) {
          const float* src = g.B + size_t(k0 + kq) * g.ldb + n0;
          std::copy_n(src, ncols, dst);
        } else {
          for (int n = 0; n < ncols; n++) dst[n] = g.B[size_t(n0 + n) * g.ldb + k0 + kq];
        }
        std::fill(dst + ncols, dst + ncols_p, 0.0f);
      }
      kk.gemm(mrows, ncols_p, kc, g.A + size_t(m0) * g.lda + k0, g.lda, bp, NP, ct, NP, k0 == 0 ? kOverwrite : kAccumulate,
              nullptr);
    }
    for (int r = 0; r < mrows; r++) store_f32(out, out_dt, g.out_off + size_t(m0 + r) * g.ldo + n0, ncols, ct + size_t(r) * NP);
  });
}

}  // namespace sl
