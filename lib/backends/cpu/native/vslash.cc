// Vertical-slash statistics (MInference): column sums and diagonal sums of the softmaxed
// scores of a few (usually the last) queries against all keys. Two passes over kv chunks
// (row max and sum first, then the normalised probabilities), so memory stays O(Sq x chunk).
#include <algorithm>
#include <vector>

#include "kernels.h"
#include "ops.h"
#include "pool.h"

namespace sl {

void col_diag_sums(const void* q, const void* k, DType dt, int B, int Hq, int Hkv, int Sq, int Skv, int D, float scale,
                   int q_offset, bool causal, float* cols, float* diags, const Cancel& cancel) {
  const Kernels& kk = kernels();
  const int VW = kk.vw, CH = 128, CHp = round_up(CH, VW);
  const int G = Hq / Hkv;
  const int T = threads();
  struct Scratch {
    std::vector<float> Qp, Kt, S, m, l, krow;
  };
  std::vector<Scratch> scratch(static_cast<size_t>(T));
  for (auto& s : scratch) {
    s.Qp.resize(size_t(Sq) * D);
    s.Kt.resize(size_t(D) * CHp);
    s.S.resize(size_t(Sq) * CHp);
    s.m.resize(size_t(Sq));
    s.l.resize(size_t(Sq));
    s.krow.resize(size_t(D));
  }
  const int nch = (Skv + CH - 1) / CH;
  parallel_for(int64_t(B) * Hq, [&](int64_t bh, int tid) {
    Scratch& s = scratch[size_t(tid)];
    const int b = int(bh / Hq), h = int(bh % Hq), hk = h / G;
    for (int i = 0; i < Sq; i++) load_f32(q, dt, (size_t(bh) * Sq + i) * D, D, s.Qp.data() + size_t(i) * D, scale * kLog2e);
    std::fill(s.m.begin(), s.m.end(), kNegInf);
    std::fill(s.l.begin(), s.l.end(), 0.0f);
    float* col = cols + size_t(bh) * Skv;
    float* dia = diags + size_t(bh) * Skv;
    std::fill_n(col, Skv, 0.0f);
    std::fill_n(dia, Skv, 0.0f);
    // scores of chunk c into s.S (masked entries -inf); returns the chunk width
    auto scores = [&](int c) {
      cancel.check();
      const int j0 = c * CH, w = std::min(CH, Skv - j0), ncols = round_up(w, VW);
      for (int j = 0; j < w; j++) {
        load_f32(k, dt, ((size_t(b) * Hkv + hk) * Skv + j0 + j) * D, D, s.krow.data());
        for (int d = 0; d < D; d++) s.Kt[size_t(d) * CHp + j] = s.krow[size_t(d)];
      }
      for (int d = 0; d < D; d++)
        for (int j = w; j < ncols; j++) s.Kt[size_t(d) * CHp + j] = 0;
      kk.gemm(Sq, ncols, D, s.Qp.data(), D, s.Kt.data(), CHp, s.S.data(), CHp, kOverwrite, nullptr);
      if (causal)
        for (int i = 0; i < Sq; i++) {
          float* row = s.S.data() + size_t(i) * CHp;
          for (int j = std::max(0, q_offset + i + 1 - j0); j < w; j++) row[j] = kNegInf;
        }
      return w;
    };
    for (int c = 0; c < nch; c++) {
      const int w = scores(c);
      for (int i = 0; i < Sq; i++) {
        float* row = s.S.data() + size_t(i) * CHp;
        const float mnew = std::max(s.m[size_t(i)], kk.row_max(row, w));
        if (mnew == kNegInf) continue;
        const float al = s.m[size_t(i)] == kNegInf ? 0.0f : std::exp2(s.m[size_t(i)] - mnew);
        s.l[size_t(i)] = s.l[size_t(i)] * al + kk.exp2_sub_sum(row, w, mnew);
        s.m[size_t(i)] = mnew;
      }
    }
    for (int c = 0; c < nch; c++) {
      const int w = scores(c), j0 = c * CH;
      for (int i = 0; i < Sq; i++) {
        if (s.l[size_t(i)] <= 0) continue;  // fully masked row: no probabilities
        float* row = s.S.data() + size_t(i) * CHp;
        kk.exp2_sub_sum(row, w, s.m[size_t(i)]);
        const float inv = 1.0f / s.l[size_t(i)];
        const int qpos = q_offset + i;
        for (int j = 0; j < w; j++) {
          const float p = row[j] * inv;
          col[j0 + j] += p;
          const int o = qpos - (j0 + j);
          if (o >= 0 && o < Skv) dia[o] += p;
        }
      }
    }
  });
}

}  // namespace sl
