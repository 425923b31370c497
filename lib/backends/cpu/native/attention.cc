// Flash attention on the CPU.
//
// Work split: K and V of a batch of (b, kv head) pairs are converted to f32 once and packed
// (K transposed per kv chunk, so QK^T is a plain register-blocked GEMM), then threads take
// (query head in the group, q tile) tasks, heaviest-last tiles first. Per tile:
//   S = Q K^T (Q pre-scaled by scale * log2 e, so the softmax runs in base 2),
//   score mod and mask (partial tiles only) applied row by row,
//   online softmax: m' = max(m, rowmax S); P = 2^(S - m'); l = l 2^(m - m') + sum P,
//   O = O 2^(m - m') + P V.
// Empty tiles are never visited; full tiles skip the mask. Working memory: the packed K/V of
// the head batch (O(S D)) plus O(tile) per thread; never S x S.
#include "attention.h"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <vector>

#include "kernels.h"
#include "pool.h"

namespace sl {
namespace {

int env_int(const char* name, int dflt) {
  const char* e = std::getenv(name);
  return e && std::atoi(e) > 0 ? std::atoi(e) : dflt;
}
// Tile sizes for dense attention (SPARSELAB_TUNE_* override them, for tuning runs only).
const int kDenseQTile = env_int("SPARSELAB_TUNE_QTILE", 64);
const int kDenseKvChunk = env_int("SPARSELAB_TUNE_KVCHUNK", 128);
// Packed K/V of at most this many bytes per head batch (one head always fits).
constexpr size_t kPackBudget = size_t(64) << 20;

struct Scratch {
  std::vector<float> Qp, S, O, m, l, alpha, orow;
  std::unique_ptr<ProgramRunner> mask_run, score_run;
};

int chunk_width(const AttentionArgs& a) {
  if (!a.has_bm) return kDenseKvChunk;
  const int kbs = a.bm.kbs;
  if (kbs <= 256) return kbs;
  for (int c : {256, 192, 128}) if (kbs % c == 0) return c;
  return kbs;
}

}  // namespace

void attention(const AttentionArgs& a) {
  const Kernels& kk = kernels();
  const int VW = kk.vw;
  const int G = a.Hq / a.Hkv;
  const int D = a.D, Dv = a.Dv;
  const int PW = chunk_width(a);  // kv chunk: a fixed grid that every kv block is a union of
  const int PWp = round_up(PW, VW);
  const int n_chunks = (a.Skv + PW - 1) / PW;
  const int Dvp = round_up(Dv, VW);
  const size_t kt_per_head = size_t(n_chunks) * D * PWp;
  const size_t v_per_head = size_t(a.Skv) * Dvp;

  // q tiles: dense uses a fixed grid; block-sparse splits each q block into <= 64-row pieces.
  int q_sub, n_sub, n_qt;
  if (a.has_bm) {
    n_sub = (a.bm.qbs + kDenseQTile - 1) / kDenseQTile;
    q_sub = (a.bm.qbs + n_sub - 1) / n_sub;
    n_qt = a.bm.nqb * n_sub;
  } else {
    n_sub = 1;
    q_sub = kDenseQTile;
    n_qt = (a.Sq + q_sub - 1) / q_sub;
  }
  const int max_rows = q_sub;
  const float qmul = a.score_prog ? a.scale : a.scale * kLog2e;

  const int nbh = a.B * a.Hkv;
  const size_t per_head_bytes = (kt_per_head + v_per_head) * sizeof(float);
  const int hb = int(std::max<size_t>(1, std::min<size_t>(size_t(nbh), kPackBudget / std::max<size_t>(1, per_head_bytes))));
  // Uninitialised on purpose: every element is written by the pack pass before it is read.
  std::unique_ptr<float[]> packK(new float[kt_per_head * size_t(hb)]), packV(new float[v_per_head * size_t(hb)]);

  const int T = threads();
  std::vector<Scratch> scratch(static_cast<size_t>(T));
  for (auto& s : scratch) {
    s.Qp.resize(size_t(max_rows) * D);
    s.S.resize(size_t(max_rows) * PWp);
    s.O.resize(size_t(max_rows) * Dvp);
    s.m.resize(size_t(max_rows));
    s.l.resize(size_t(max_rows));
    s.alpha.resize(size_t(max_rows));
    s.orow.resize(size_t(Dvp));
    if (a.mask_prog) s.mask_run.reset(new ProgramRunner(*a.mask_prog, PWp));
    if (a.score_prog) s.score_run.reset(new ProgramRunner(*a.score_prog, PWp));
  }

  for (int bh0 = 0; bh0 < nbh; bh0 += hb) {
    const int nh = std::min(hb, nbh - bh0);

    // Pack: Kt chunk c = [D][PWp] (zero columns past the sequence), V = [Skv][Dvp].
    parallel_for(int64_t(nh) * n_chunks, [&](int64_t i, int tid) {
      a.cancel.check();
      const int head = int(i / n_chunks), c = int(i % n_chunks);
      const int bh = bh0 + head;
      const int j0 = c * PW, w = std::min(PW, a.Skv - j0);
      float* kt = packK.get() + head * kt_per_head + size_t(c) * D * PWp;
      float* vp = packV.get() + head * v_per_head;
      float* row = scratch[size_t(tid)].orow.data();
      std::vector<float> krow(static_cast<size_t>(D));
      for (int j = 0; j < w; j++) {
        const size_t r = size_t(bh) * a.Skv + j0 + j;
        load_f32(a.k, a.dt, r * D, D, krow.data());
        for (int d = 0; d < D; d++) kt[size_t(d) * PWp + j] = krow[size_t(d)];
        load_f32(a.v, a.dt, r * Dv, Dv, vp + size_t(j0 + j) * Dvp);
        for (int d = Dv; d < Dvp; d++) vp[size_t(j0 + j) * Dvp + d] = 0;
      }
      for (int d = 0; d < D; d++)
        for (int j = w; j < PWp; j++) kt[size_t(d) * PWp + j] = 0;
      (void)row;
    });

    parallel_for(int64_t(nh) * G * n_qt, [&](int64_t t, int tid) {
      a.cancel.check();
      Scratch& s = scratch[size_t(tid)];
      const int head = int(t / (int64_t(G) * n_qt));
      const int rem = int(t % (int64_t(G) * n_qt));
      const int g = rem / n_qt;
      const int qt = n_qt - 1 - rem % n_qt;  // late q tiles first: under causal masks they are the heaviest
      const int bh = bh0 + head;
      const int b = bh / a.Hkv, hk = bh % a.Hkv, hq = hk * G + g;
      int q0, q1, qb = 0;
      if (a.has_bm) {
        qb = qt / n_sub;
        q0 = qb * a.bm.qbs + (qt % n_sub) * q_sub;
        q1 = std::min({q0 + q_sub, (qb + 1) * a.bm.qbs, a.Sq});
      } else {
        q0 = qt * q_sub;
        q1 = std::min(q0 + q_sub, a.Sq);
      }
      if (q0 >= q1) return;
      const int rows = q1 - q0;
      const size_t qrow0 = (size_t(b) * a.Hq + hq) * a.Sq + q0;
      for (int r = 0; r < rows; r++) load_f32(a.q, a.dt, (qrow0 + r) * D, D, s.Qp.data() + size_t(r) * D, qmul);
      std::fill_n(s.m.begin(), rows, kNegInf);
      std::fill_n(s.l.begin(), rows, 0.0f);
      std::fill_n(s.O.begin(), size_t(rows) * Dvp, 0.0f);
      const float* kt_head = packK.get() + head * kt_per_head;
      const float* v_head = packV.get() + head * v_per_head;

      // One kv chunk [j0, j0 + w); partial: refine with the mask (slot = its index in kv_idx).
      auto chunk = [&](int c, bool partial, int kb, int slot) {
        a.cancel.check();
        const int j0 = c * PW, w = std::min(PW, a.Skv - j0);
        if (w <= 0) return;
        const int ncols = round_up(w, VW);
        float* S = s.S.data();
        kk.gemm(rows, ncols, D, s.Qp.data(), D, kt_head + size_t(c) * D * PWp, PWp, S, PWp, kOverwrite, nullptr);
        for (int r = 0; r < rows; r++) {
          float* srow = S + size_t(r) * PWp;
          const int q = q0 + r;
          if (a.score_prog) s.score_run->score_row(b, hq, q, j0, w, srow, kLog2e);
          if (partial) {
            if (a.mask_prog) {
              s.mask_run->mask_row(b, hq, q, j0, w, srow);
            } else {
              const int tile = a.bitmaps.tile_start[(size_t(b) * a.Hq + hq) * a.bm.nqb + qb] + slot;
              const uint32_t* bits =
                  a.bitmaps.bits + (size_t(tile) * a.bm.qbs + (q - qb * a.bm.qbs)) * a.bitmaps.words_per_row;
              const int c0 = j0 - kb * a.bm.kbs;
              for (int j = 0; j < w; j++)
                srow[j] = (bits[(c0 + j) >> 5] >> ((c0 + j) & 31)) & 1u ? srow[j] : kNegInf;
            }
          }
          const float mx = kk.row_max(srow, w);
          const float mnew = std::max(s.m[size_t(r)], mx);
          if (mnew == kNegInf) {  // nothing visible in this row yet: contributes nothing
            s.alpha[size_t(r)] = 1.0f;
            std::fill_n(srow, w, 0.0f);
            continue;
          }
          const float al = s.m[size_t(r)] == kNegInf ? 0.0f : std::exp2(s.m[size_t(r)] - mnew);
          s.alpha[size_t(r)] = al;
          const float sum = kk.exp2_sub_sum(srow, w, mnew);
          s.l[size_t(r)] = s.l[size_t(r)] * al + sum;
          s.m[size_t(r)] = mnew;
        }
        kk.gemm(rows, Dvp, w, S, PWp, v_head + size_t(j0) * Dvp, Dvp, s.O.data(), Dvp, kRescale, s.alpha.data());
      };

      if (!a.has_bm) {
        for (int c = 0; c < n_chunks; c++) chunk(c, false, -1, -1);
      } else {
        const BlockMaskView& m = a.bm;
        const size_t bi = (size_t(m.B == 1 ? 0 : b) * m.H + (m.H == 1 ? 0 : hq)) * m.nqb + qb;
        const int np = m.kv_num[bi], nf = m.full_num[bi];
        const int32_t* pi = m.kv_idx + bi * m.nkb;
        const int32_t* fi = m.full_idx + bi * m.nkb;
        if (np < 0 || np > m.nkb || nf < 0 || nf > m.nkb) throw OpError("blockMask: kvNumBlocks/fullKvNumBlocks out of range");
        const int per_block = m.kbs / PW;  // chunks per kv block (PW divides kbs)
        int ip = 0, jf = 0;
        while (ip < np || jf < nf) {  // both lists ascending: visit kv blocks in order
          const bool take_p = jf >= nf || (ip < np && pi[ip] <= fi[jf]);
          const int kb = take_p ? pi[ip] : fi[jf];
          if (kb < 0 || kb >= m.nkb) throw OpError("blockMask: a kv block index is out of range");
          for (int c = kb * per_block; c < (kb + 1) * per_block && c < n_chunks; c++) chunk(c, take_p, kb, ip);
          if (take_p) ip++;
          else jf++;
        }
      }

      for (int r = 0; r < rows; r++) {
        const float l = s.l[size_t(r)];
        const float inv = l > 0 ? 1.0f / l : 0.0f;
        const float* o = s.O.data() + size_t(r) * Dvp;
        for (int d = 0; d < Dv; d++) s.orow[size_t(d)] = o[d] * inv;
        store_f32(a.out, a.dt, (qrow0 + r) * Dv, Dv, s.orow.data());
        if (a.lse) a.lse[qrow0 + r] = l > 0 ? (s.m[size_t(r)] + std::log2(l)) * kLn2 : kNegInf;
      }
    });
  }
}

}  // namespace sl
