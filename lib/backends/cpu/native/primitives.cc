// Row-wise primitives: softmax, top-k, block pooling, and XAttention's antidiagonal scores.
// Each splits rows (or heads) across threads and checks the cancellation flag per task.
#include <algorithm>
#include <numeric>
#include <vector>

#include "kernels.h"
#include "ops.h"
#include "pool.h"

namespace sl {

namespace {
// Rows per task: enough work per task that scheduling is noise, enough tasks to balance.
int64_t rows_per_task(int64_t rows, int n) {
  const int64_t target = std::max<int64_t>(1, (int64_t(1) << 16) / std::max(1, n));
  return std::max<int64_t>(1, std::min(target, (rows + 4 * threads() - 1) / (4 * threads())));
}
}  // namespace

void softmax_rows(const void* x, DType dt, int64_t rows, int n, float* out, const Cancel& cancel) {
  const Kernels& kk = kernels();
  const int64_t rpt = rows_per_task(rows, n);
  parallel_for((rows + rpt - 1) / rpt, [&](int64_t t, int) {
    cancel.check();
    for (int64_t r = t * rpt; r < std::min(rows, (t + 1) * rpt); r++) {
      float* o = out + r * n;
      load_f32(x, dt, size_t(r) * n, n, o, kLog2e);  // base 2: softmax(x) = 2^(x log2 e - max) / sum
      bool has_nan = false;
      for (int j = 0; j < n; j++) has_nan |= std::isnan(o[j]);
      const float m = kk.row_max(o, n);
      if (m == kNegInf || has_nan) {
        // All -inf, or a NaN: no distribution to return (PyTorch gives NaN; so does the JS reference).
        std::fill_n(o, n, std::numeric_limits<float>::quiet_NaN());
        continue;
      }
      const float s = kk.exp2_sub_sum(o, n, m);
      kk.scale(o, n, 1.0f / s);
    }
  });
}

void topk_rows(const void* x, DType dt, int64_t rows, int n, int k, float* values, int32_t* indices, const Cancel& cancel) {
  const int64_t rpt = rows_per_task(rows, n);
  const int T = threads();
  std::vector<std::vector<float>> vbuf(static_cast<size_t>(T), std::vector<float>(size_t(n)));
  std::vector<std::vector<int32_t>> ibuf(static_cast<size_t>(T), std::vector<int32_t>(size_t(n)));
  parallel_for((rows + rpt - 1) / rpt, [&](int64_t t, int tid) {
    cancel.check();
    float* v = vbuf[size_t(tid)].data();
    int32_t* ix = ibuf[size_t(tid)].data();
    for (int64_t r = t * rpt; r < std::min(rows, (t + 1) * rpt); r++) {
      load_f32(x, dt, size_t(r) * n, n, v);
      if (k <= 32) {
        // Small k (routing's common case): one pass keeping a sorted top-k; most elements are
        // rejected by one compare against the current k-th value. nth_element with the full
        // comparator was 2.5x slower than the JS reference at k = 8, n = 1024.
        float tv[32];
        int32_t ti[32];
        int cnt = 0;
        auto beats = [](float va, int32_t a, float vb, int32_t b) {
          const bool na = std::isnan(va), nb = std::isnan(vb);
          if (na != nb) return na;
          if (!na && va != vb) return va > vb;
          return a < b;
        };
        for (int i = 0; i < n; i++) {
          const float val = v[i];
          if (cnt == k && !(val > tv[k - 1]) && !std::isnan(val) && !std::isnan(tv[k - 1])) continue;
          if (cnt == k && !beats(val, i, tv[k - 1], ti[k - 1])) continue;
          int p = cnt < k ? cnt++ : k - 1;
          while (p > 0 && beats(val, i, tv[p - 1], ti[p - 1])) {
            tv[p] = tv[p - 1];
            ti[p] = ti[p - 1];
            p--;
          }
          tv[p] = val;
          ti[p] = i;
        }
        for (int j = 0; j < k; j++) {
          values[r * k + j] = tv[j];
          indices[r * k + j] = ti[j];
        }
        continue;
      }
      std::iota(ix, ix + n, 0);
      // Strict order: larger value first (NaN largest), then lower index.
      auto before = [v](int32_t a, int32_t b) {
        const float va = v[a], vb = v[b];
        const bool na = std::isnan(va), nb = std::isnan(vb);
        if (na != nb) return na;
        if (!na && va != vb) return va > vb;
        return a < b;
      };
      if (k < n) std::nth_element(ix, ix + k, ix + n, before);
      std::sort(ix, ix + k, before);
      for (int j = 0; j < k; j++) {
        values[r * k + j] = v[ix[j]];
        indices[r * k + j] = ix[j];
      }
    }
  });
}

void block_pool(const void* x, DType dt, int64_t BH, int S, int D, int block, int reduce, float* out, const Cancel& cancel) {
  const int nb = (S + block - 1) / block;
  const int T = threads();
  std::vector<std::vector<float>> rowbuf(static_cast<size_t>(T), std::vector<float>(size_t(D)));
  parallel_for(BH * nb, [&](int64_t t, int tid) {
    cancel.check();
    const int64_t bh = t / nb;
    const int blk = int(t % nb);
    const int s0 = blk * block, s1 = std::min(S, s0 + block);
    float* o = out + size_t(t) * D;
    float* row = rowbuf[size_t(tid)].data();
    load_f32(x, dt, (size_t(bh) * S + s0) * D, D, o);
    for (int s = s0 + 1; s < s1; s++) {
      load_f32(x, dt, (size_t(bh) * S + s) * D, D, row);
      if (reduce == 0) for (int d = 0; d < D; d++) o[d] += row[d];
      // NaN propagates (once the running value is NaN it stays), as in the JS reference.
      else if (reduce == 1)
        for (int d = 0; d < D; d++) o[d] = o[d] == o[d] && (row[d] > o[d] || row[d] != row[d]) ? row[d] : o[d];
      else
        for (int d = 0; d < D; d++) o[d] = o[d] == o[d] && (row[d] < o[d] || row[d] != row[d]) ? row[d] : o[d];
    }
    if (reduce == 0) {
      const float inv = 1.0f / float(s1 - s0);
      for (int d = 0; d < D; d++) o[d] *= inv;
    }
  });
}

// Cell (i, j) = sum_t q[i s + t] . k[j s + s - 1 - t] = Qr[i] . Kr[j] where Qr[i] concatenates
// q rows i s .. i s + s - 1 and Kr[j] concatenates k rows j s + s - 1 down to j s (rows past
// the sequence are zero). So the whole grid is one GEMM per head with K = s D.
void antidiag_scores(const void* q, const void* k, DType dt, int B, int H, int Sq, int Skv, int D, int stride, float scale,
                     float* out, const Cancel& cancel) {
  const int nI = (Sq + stride - 1) / stride, nJ = (Skv + stride - 1) / stride;
  const int KD = stride * D;
  const int64_t BH = int64_t(B) * H;
  // One head at a time keeps the reshaped copies O(S D).
  std::vector<float> Qr(size_t(nI) * KD), Kr(size_t(nJ) * KD);
  for (int64_t bh = 0; bh < BH; bh++) {
    parallel_for(nI + nJ, [&](int64_t t, int) {
      cancel.check();
      if (t < nI) {
        const int i = int(t);
        for (int u = 0; u < stride; u++) {
          float* dst = Qr.data() + size_t(i) * KD + size_t(u) * D;
          const int row = i * stride + u;
          if (row < Sq) load_f32(q, dt, (size_t(bh) * Sq + row) * D, D, dst, scale);
          else std::fill_n(dst, D, 0.0f);
        }
      } else {
        const int j = int(t - nI);
        for (int u = 0; u < stride; u++) {
          float* dst = Kr.data() + size_t(j) * KD + size_t(u) * D;
          const int row = j * stride + (stride - 1 - u);
          if (row < Skv) load_f32(k, dt, (size_t(bh) * Skv + row) * D, D, dst);
          else std::fill_n(dst, D, 0.0f);
        }
      }
    });
    std::vector<GemmJob> jobs{{Qr.data(), KD, Kr.data(), KD, true, nI, nJ, KD, size_t(bh) * nI * nJ, nJ}};
    gemm_jobs(jobs, out, F32, cancel);
  }
}

}  // namespace sl
