// Decode attention over a list of selected tokens (Quest, Double Sparsity, TidalDecode).
// The query heads sharing a KV head form the rows of one GEMM against the gathered tokens.
// The token list is split across threads when there are fewer (b, kv head) pairs than cores;
// each split keeps its own (m, l, O) and the splits are merged at the end (flash decoding).
#include <algorithm>
#include <vector>

#include "kernels.h"
#include "ops.h"
#include "pool.h"

namespace sl {

void decode_attention(const DecodeArgs& a) {
  const Kernels& kk = kernels();
  const int VW = kk.vw, G = a.Hq / a.Hkv, D = a.D, Dv = a.Dv;
  const int CH = 128, CHp = round_up(CH, VW), Dvp = round_up(Dv, VW);
  const int rows = G * a.Sq;
  const int nbh = a.B * a.Hkv;
  const int T = threads();
  const int max_split = std::max(1, (a.n + CH - 1) / CH);
  const int nsplit = std::min(max_split, std::max(1, (2 * T + nbh - 1) / nbh));
  const size_t nst = size_t(nbh) * nsplit;
  std::vector<float> M(nst * rows), L(nst * rows), O(nst * rows * Dvp);

  for (int64_t i = 0; i < int64_t(nbh) * a.n; i++) {
    const int32_t t = a.idx[i];
    if (t >= a.Skv)  // negative entries are padding (skipped), as in the JS reference
      throw OpError("indices: token index " + std::to_string(t) + " is outside the cache [0, " + std::to_string(a.Skv) + ")");
  }

  struct Scratch {
    std::vector<float> Qp, Kt, V, S, alpha, krow;
  };
  std::vector<Scratch> scratch(static_cast<size_t>(T));
  for (auto& s : scratch) {
    s.Qp.resize(size_t(rows) * D);
    s.Kt.resize(size_t(D) * CHp);
    s.V.resize(size_t(CH) * Dvp);
    s.S.resize(size_t(rows) * CHp);
    s.alpha.resize(size_t(rows));
    s.krow.resize(size_t(D));
  }
  const float qmul = a.scale * kLog2e;

  parallel_for(int64_t(nst), [&](int64_t task, int tid) {
    Scratch& s = scratch[size_t(tid)];
    const int bh = int(task / nsplit), sp = int(task % nsplit);
    const int b = bh / a.Hkv, hk = bh % a.Hkv;
    float* m = &M[size_t(task) * rows];
    float* l = &L[size_t(task) * rows];
    float* o = &O[size_t(task) * rows * Dvp];
    std::fill_n(m, rows, kNegInf);
    std::fill_n(l, rows, 0.0f);
    std::fill_n(o, size_t(rows) * Dvp, 0.0f);
    const int t0 = int(int64_t(a.n) * sp / nsplit), t1 = int(int64_t(a.n) * (sp + 1) / nsplit);
    for (int g = 0; g < G; g++)
      for (int i = 0; i < a.Sq; i++)
        load_f32(a.q, a.dt, ((size_t(b) * a.Hq + hk * G + g) * a.Sq + i) * D, D, s.Qp.data() + size_t(g * a.Sq + i) * D, qmul);
    const int32_t* idx = a.idx + size_t(bh) * a.n;
    for (int c0 = t0; c0 < t1; c0 += CH) {
      a.cancel.check();
      const int span = std::min(CH, t1 - c0);
      int w = 0;  // selected tokens in this chunk (padding dropped)
      for (int u = 0; u < span; u++) {
        if (idx[c0 + u] < 0) continue;
        const int j = w++;
        const size_t r = size_t(bh) * a.Skv + size_t(idx[c0 + u]);
        load_f32(a.k, a.dt, r * D, D, s.krow.data());
        for (int d = 0; d < D; d++) s.Kt[size_t(d) * CHp + j] = s.krow[size_t(d)];
        load_f32(a.v, a.dt, r * Dv, Dv, s.V.data() + size_t(j) * Dvp);
        for (int d = Dv; d < Dvp; d++) s.V[size_t(j) * Dvp + d] = 0;
      }
      if (w == 0) continue;
      const int ncols = round_up(w, VW);
      for (int d = 0; d < D; d++)
        for (int j = w; j < ncols; j++) s.Kt[size_t(d) * CHp + j] = 0;
      kk.gemm(rows, ncols, D, s.Qp.data(), D, s.Kt.data(), CHp, s.S.data(), CHp, kOverwrite, nullptr);
      for (int r = 0; r < rows; r++) {
        float* srow = s.S.data() + size_t(r) * CHp;
        const float mnew = std::max(m[r], kk.row_max(srow, w));
        const float al = m[r] == kNegInf ? 0.0f : std::exp2(m[r] - mnew);
        s.alpha[size_t(r)] = al;
        l[r] = l[r] * al + kk.exp2_sub_sum(srow, w, mnew);
        m[r] = mnew;
      }
      kk.gemm(rows, Dvp, w, s.S.data(), CHp, s.V.data(), Dvp, o, Dvp, kRescale, s.alpha.data());
    }
  });

  // Merge the splits of each (b, kv head) and write out.
  parallel_for(nbh, [&](int64_t bh, int tid) {
    const int b = int(bh) / a.Hkv, hk = int(bh) % a.Hkv;
    std::vector<float> acc(static_cast<size_t>(Dv));
    for (int r = 0; r < rows; r++) {
      float mx = kNegInf;
      for (int sp = 0; sp < nsplit; sp++) mx = std::max(mx, M[(size_t(bh) * nsplit + sp) * rows + r]);
      float lsum = 0;
      std::fill(acc.begin(), acc.end(), 0.0f);
      if (mx != kNegInf) {
        for (int sp = 0; sp < nsplit; sp++) {
          const size_t st = size_t(bh) * nsplit + sp;
          const float ms = M[st * rows + r];
          if (ms == kNegInf) continue;
          const float f = std::exp2(ms - mx);
          lsum += L[st * rows + r] * f;
          const float* os = &O[(st * rows + r) * Dvp];
          for (int d = 0; d < Dv; d++) acc[size_t(d)] += os[d] * f;
        }
      }
      const float inv = lsum > 0 ? 1.0f / lsum : 0.0f;
      for (int d = 0; d < Dv; d++) acc[size_t(d)] *= inv;
      const int g = r / a.Sq, i = r % a.Sq;
      const size_t orow = (size_t(b) * a.Hq + hk * G + g) * a.Sq + i;
      store_f32(a.out, a.dt, orow * Dv, Dv, acc.data());
      if (a.lse) a.lse[orow] = lsum > 0 ? (mx + std::log2(lsum)) * kLn2 : kNegInf;
    }
    (void)tid;
  });
}

}  // namespace sl
