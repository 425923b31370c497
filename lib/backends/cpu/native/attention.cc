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
#include <atomic>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "kernels.h"
#include "pool.h"

namespace sl {
namespace {

inline void spin_pause() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

int env_int(const char* name, int dflt) {
  const char* e = std::getenv(name);
  return e && std::atoi(e) > 0 ? std::atoi(e) : dflt;
}
// Tile sizes for dense attention. SPARSELAB_TUNE_* override them, read per call so a tuning
// run can alternate settings in one process.
// Packed K/V of at most this many bytes per head batch (one head always fits). Small enough
// that a batch's packed K stays in the caches until its tiles read it (packing all heads first
// sent 16 MB at S 8192 through DRAM and back).
size_t pack_budget() { return size_t(env_int("SPARSELAB_TUNE_PACK_KB", 4 << 10)) << 10; }

// Software prefetch of a byte range, spread over a tile's kv chunks: the next tile's Q rows and
// this tile's output rows are far from the caches when a tile starts, and a sparse tile has
// only a few chunks to hide that behind.
class Prefetch {
 public:
  void add(const void* p, size_t bytes, bool write) {
    if (n_ < 2 && p && bytes) r_[n_++] = {static_cast<const char*>(p), bytes, 0, write};
  }
  // Issues about 1 / chunks_left of what is left.
  void step(int chunks_left) {
    size_t lines = 0;
    for (int i = 0; i < n_; i++) lines += (r_[i].bytes - r_[i].done + 63) / 64;
    size_t quota = (lines + size_t(std::max(chunks_left, 1)) - 1) / size_t(std::max(chunks_left, 1));
    for (int i = 0; i < n_ && quota; i++)
      for (; r_[i].done < r_[i].bytes && quota; r_[i].done += 64, quota--) {
        if (r_[i].write) __builtin_prefetch(r_[i].p + r_[i].done, 1, 3);
        else __builtin_prefetch(r_[i].p + r_[i].done, 0, 3);
      }
  }

 private:
  struct Range {
    const char* p;
    size_t bytes, done;
    bool write;
  };
  Range r_[2] = {};
  int n_ = 0;
};
// Rows of a non-f32 K converted per step of the pack (a multiple of every vector width).
constexpr int kConvRows = 32;
// Mask bitmaps larger than this are not built; rows evaluate the mask program instead.
// SPARSELAB_TUNE_MAX_BITMAP_BYTES overrides it (0: always per row; tests use that path).
size_t max_bitmap_bytes() {
  const char* e = std::getenv("SPARSELAB_TUNE_MAX_BITMAP_BYTES");
  return e && *e ? size_t(std::strtoull(e, nullptr, 10)) : size_t(256) << 20;
}

struct Scratch {
  std::vector<float> Qp, S, O, m, l, alpha, orow, krow;
  std::vector<int> band_lo, band_hi;  // per row of a partial tile: its visible columns [lo, hi)
  std::unique_ptr<ProgramRunner> mask_run, score_run;
};

// Packed K / V storage, taken from a free list shared by all calls and given back after the
// call, so repeated calls (a notebook loop, a widget, a benchmark) reuse memory that is already
// mapped instead of page-faulting fresh buffers (they were per libuv thread before, and an op
// lands on any of libuv's threads). Uninitialised: the pack pass writes every element it reads.
class PackBuffer {
 public:
  explicit PackBuffer(size_t n) : n_(std::max<size_t>(n, 1)) {
    std::lock_guard<std::mutex> g(mu());
    auto& fl = free_list();
    // The smallest free block that fits (blocks are few: up to four per call).
    size_t best = fl.size();
    for (size_t i = 0; i < fl.size(); i++)
      if (fl[i].n >= n_ && (best == fl.size() || fl[i].n < fl[best].n)) best = i;
    if (best < fl.size()) {
      block_ = std::move(fl[best]);
      fl.erase(fl.begin() + long(best));
      cached() -= block_.n;
    } else {
      block_.p.reset(new float[n_]);
      block_.n = n_;
    }
  }
  ~PackBuffer() {
    std::lock_guard<std::mutex> g(mu());
    // Keep at most kKeep floats of free blocks; beyond that, free the largest ones.
    constexpr size_t kKeep = size_t(32) << 20;  // floats (128 MiB)
    auto& fl = free_list();
    fl.push_back(std::move(block_));
    cached() += fl.back().n;
    std::sort(fl.begin(), fl.end(), [](const Block& x, const Block& y) { return x.n < y.n; });
    while (cached() > kKeep && !fl.empty()) {
      cached() -= fl.back().n;
      fl.pop_back();
    }
  }
  PackBuffer(const PackBuffer&) = delete;
  PackBuffer& operator=(const PackBuffer&) = delete;
  float* get() const { return block_.p.get(); }

 private:
  struct Block {
    std::unique_ptr<float[]> p;
    size_t n = 0;
  };
  // Leaked on purpose: buffers may be given back during exit, after static destructors ran.
  static std::mutex& mu() {
    static auto* m = new std::mutex;
    return *m;
  }
  static std::vector<Block>& free_list() {
    static auto* v = new std::vector<Block>;
    return *v;
  }
  static size_t& cached() {
    static size_t c = 0;
    return c;
  }
  size_t n_;
  Block block_;
};

int chunk_width(const AttentionArgs& a) {
  if (!a.has_bm) {
    // Measured by CPU time per op on the 2-core AVX-512 machine: 128 columns everywhere except
    // long rows of wide heads, where 96 x 256 tiles do ~4% less work.
    const int dflt = a.D > 64 && a.Skv >= 2048 ? 256 : 128;
    return env_int("SPARSELAB_TUNE_KVCHUNK", dflt);
  }
  const int kbs = a.bm.kbs;
  if (kbs <= 256) return kbs;
  for (int c : {256, 192, 128}) if (kbs % c == 0) return c;
  return kbs;
}

}  // namespace

TileBitmaps bitmap_layout(const AttentionArgs& a, std::vector<int32_t>& tile_start) {
  const BlockMaskView& m = a.bm;
  bool uses_b = false, uses_h = false;
  for (size_t i = 0; i + 4 < a.mask_prog->code.size(); i += 5)
    if (a.mask_prog->code[i] == OP_VAR) {
      uses_b |= a.mask_prog->code[i + 2] == VAR_B;
      uses_h |= a.mask_prog->code[i + 2] == VAR_H;
    }
  TileBitmaps t;
  t.B = uses_b || m.B > 1 ? a.B : 1;
  t.H = uses_h || m.H > 1 ? a.Hq : 1;
  t.words_per_row = (m.kbs + 31) / 32;
  tile_start.assign(size_t(t.B) * t.H * m.nqb + 1, 0);
  int64_t tiles = 0;
  for (int b = 0; b < t.B; b++)
    for (int h = 0; h < t.H; h++)
      for (int qb = 0; qb < m.nqb; qb++) {
        tile_start[(size_t(b) * t.H + h) * m.nqb + qb] = int32_t(std::min<int64_t>(tiles, INT32_MAX));
        tiles += std::max(0, std::min(m.kv_num[(size_t(m.B == 1 ? 0 : b) * m.H + (m.H == 1 ? 0 : h)) * m.nqb + qb], m.nkb));
      }
  if (tiles > INT32_MAX) throw OpError("attention: too many partial tiles for mask bitmaps");
  tile_start.back() = int32_t(tiles);
  t.tile_start = tile_start.data();
  return t;
}

void build_bitmaps(const AttentionArgs& a, const TileBitmaps& t, uint32_t* bits) {
  const BlockMaskView& m = a.bm;
  const int T = threads();
  std::vector<std::unique_ptr<ProgramRunner>> runners(static_cast<size_t>(T));
  std::vector<std::vector<float>> rowbuf(static_cast<size_t>(T), std::vector<float>(size_t(m.kbs)));
  parallel_for(int64_t(t.B) * t.H * m.nqb, [&](int64_t i, int tid) {
    a.cancel.check();
    if (!runners[size_t(tid)]) runners[size_t(tid)].reset(new ProgramRunner(*a.mask_prog, m.kbs));
    ProgramRunner& run = *runners[size_t(tid)];
    float* row = rowbuf[size_t(tid)].data();
    const int qb = int(i % m.nqb), h = int(i / m.nqb % t.H), b = int(i / m.nqb / t.H);
    const size_t bi = (size_t(m.B == 1 ? 0 : b) * m.H + (m.H == 1 ? 0 : h)) * m.nqb + qb;
    const int np = std::max(0, std::min(m.kv_num[bi], m.nkb));
    for (int slot = 0; slot < np; slot++) {
      uint32_t* tile = bits + (size_t(t.tile_start[size_t(i)]) + slot) * m.qbs * t.words_per_row;
      std::fill_n(tile, size_t(m.qbs) * t.words_per_row, 0u);
      const int kb = m.kv_idx[bi * m.nkb + slot];
      if (kb < 0 || kb >= m.nkb) continue;  // reported by the tile loop
      const int kv0 = kb * m.kbs, w = std::min(m.kbs, a.Skv - kv0);
      for (int r = 0; r < m.qbs && qb * m.qbs + r < a.Sq; r++) {
        std::fill_n(row, w, 0.0f);
        run.mask_row(b, h, qb * m.qbs + r, kv0, w, row);
        uint32_t* wr = tile + size_t(r) * t.words_per_row;
        for (int j = 0; j < w; j++)
          if (row[j] == 0.0f) wr[j >> 5] |= 1u << (j & 31);
      }
    }
  });
}

void attention(const AttentionArgs& a) {
  const Kernels& kk = kernels();
  const int VW = kk.vw;
  const int G = a.Hq / a.Hkv;
  const int D = a.D, Dv = a.Dv;
  const int kDenseQTile = env_int("SPARSELAB_TUNE_QTILE", !a.has_bm && a.D > 64 && a.Sq >= 2048 ? 96 : 64);
  const int PW = chunk_width(a);  // kv chunk: a fixed grid that every kv block is a union of
  const int PWp = round_up(PW, VW);
  const int n_chunks = (a.Skv + PW - 1) / PW;
  const int Dvp = round_up(Dv, VW);
  const size_t kt_per_head = size_t(n_chunks) * D * PWp;
  const bool v_in_place = a.dt == F32 && Dv == Dvp;
  const size_t v_per_head = v_in_place ? 0 : size_t(a.Skv) * Dvp;

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
  const int hb = int(std::max<size_t>(1, std::min<size_t>(size_t(nbh), pack_budget() / std::max<size_t>(1, per_head_bytes))));
  const int n_batches = (nbh + hb - 1) / hb;
  // With several batches, two sets of packed K / V: a batch packs into one while the previous
  // batch's tiles still read the other.
  const int n_bufs = n_batches > 1 ? 2 : 1;
  std::unique_ptr<PackBuffer> packK[2], packV[2];
  for (int i = 0; i < n_bufs; i++) {
    packK[i].reset(new PackBuffer(kt_per_head * size_t(hb)));
    packV[i].reset(new PackBuffer(v_per_head * size_t(hb) + 1));
  }

  const int T = threads();
  std::vector<Scratch> scratch(static_cast<size_t>(T));
  for (auto& s : scratch) {
    s.Qp.resize(size_t(max_rows) * D);
    s.S.resize(size_t(max_rows) * PWp);
    s.O.resize(size_t(max_rows) * Dvp);
    s.m.resize(size_t(max_rows));
    s.l.resize(size_t(max_rows));
    s.alpha.resize(size_t(max_rows));
    s.band_lo.resize(size_t(max_rows));
    s.band_hi.resize(size_t(max_rows));
    s.orow.resize(size_t(Dvp));
    s.krow.resize(size_t(kConvRows) * D);
    if (a.mask_prog) s.mask_run.reset(new ProgramRunner(*a.mask_prog, PWp));
    if (a.score_prog) s.score_run.reset(new ProgramRunner(*a.score_prog, PWp));
  }

  // Partial tiles of an IR mask: evaluate each distinct tile once, into bitmaps, before the
  // tile loop (unless the caller passed them: the TS side keeps them per block mask across
  // calls); heads (and batches) the mask does not depend on share them. Skipped when the
  // bitmaps would be large (then each row evaluates the program in the loop).
  std::vector<uint32_t> own_bits;
  std::vector<int32_t> own_start;
  TileBitmaps own;
  const TileBitmaps* bitmaps = a.bitmaps.bits ? &a.bitmaps : nullptr;
  if (a.has_bm && a.mask_prog && !bitmaps) {
    own = bitmap_layout(a, own_start);
    const size_t words = size_t(own_start.back()) * a.bm.qbs * own.words_per_row;
    if (words * 4 <= max_bitmap_bytes()) {
      own_bits.assign(words, 0u);
      own.bits = own_bits.data();
      build_bitmaps(a, own, own_bits.data());
      bitmaps = &own;
    }
  }

  // One region for the whole call, tasks in order: per batch of heads, its pack tasks, then its
  // tiles. A tile waits only for its own batch's packing (handed out just before it), and a
  // batch's packing for the tiles of the batch two back (whose buffers it reuses), so there
  // is no barrier where a preempted thread would hold up the other.
  struct Batch {
    int bh0, nh;
    std::vector<int32_t> todo;  // head * n_chunks + chunk, for the chunks to pack
    int64_t first, n_pack, n_tiles;
  };
  std::vector<Batch> batches;
  std::vector<int64_t> batch_first;
  int64_t n_tasks_all = 0;
  for (int bh0 = 0; bh0 < nbh; bh0 += hb) {
    const int nh = std::min(hb, nbh - bh0);

    // Which kv chunks any query head of these (b, kv head) pairs visits: only those are packed,
    // so a sparse mask does not pay for converting keys it never reads.
    std::vector<uint8_t> needed(size_t(nh) * n_chunks, a.has_bm ? 0 : 1);
    if (a.has_bm) {
      const BlockMaskView& m = a.bm;
      const int per_block = m.kbs / PW;
      for (int head = 0; head < nh; head++) {
        const int bh = bh0 + head, b = bh / a.Hkv, hk = bh % a.Hkv;
        for (int g = 0; g < (m.H == 1 ? 1 : G); g++) {
          const int hq = hk * G + g;
          for (int qb = 0; qb < m.nqb; qb++) {
            const size_t bi = (size_t(m.B == 1 ? 0 : b) * m.H + (m.H == 1 ? 0 : hq)) * m.nqb + qb;
            for (int list = 0; list < 2; list++) {
              const int n = list ? m.full_num[bi] : m.kv_num[bi];
              const int32_t* idx = (list ? m.full_idx : m.kv_idx) + bi * m.nkb;
              for (int i = 0; i < n && i < m.nkb; i++) {
                const int kb = idx[i];
                if (kb < 0 || kb >= m.nkb) continue;  // reported by the compute pass
                for (int c = kb * per_block; c < (kb + 1) * per_block && c < n_chunks; c++) needed[size_t(head) * n_chunks + c] = 1;
              }
            }
          }
        }
      }
    }

    Batch bt;
    bt.bh0 = bh0;
    bt.nh = nh;
    for (int i = 0; i < nh * n_chunks; i++)
      if (needed[size_t(i)]) bt.todo.push_back(i);
    bt.first = n_tasks_all;
    bt.n_pack = int64_t(bt.todo.size());
    bt.n_tiles = int64_t(nh) * G * n_qt;
    n_tasks_all += bt.n_pack + bt.n_tiles;
    batch_first.push_back(bt.first);
    batches.push_back(std::move(bt));
  }

  // Pack: Kt chunk c = [D][PWp] (zero columns past the sequence), V = [Skv][Dvp] unless V is
  // already usable in place (f32 with Dv a multiple of the vector width). Packed by tasks
  // before the tiles: packing lazily from inside the tiles made the two sub-tiles of a q block
  // (taken together by two threads) wait on each other's chunk.
  auto pack = [&](const Batch& bt, int32_t item, float* pk, float* pv, int tid) {
    const int head = item / n_chunks, c = item % n_chunks;
    const int bh = bt.bh0 + head;
    const int j0 = c * PW, w = std::min(PW, a.Skv - j0);
    float* kt = pk + head * kt_per_head + size_t(c) * D * PWp;
    const size_t r0 = size_t(bh) * a.Skv + j0;
    if (a.dt == F32) {
      kk.transpose(static_cast<const float*>(a.k) + r0 * D, D, w, D, kt, PWp);
    } else {
      // Convert kConvRows rows at a time into scratch, then transpose them.
      float* rows = scratch[size_t(tid)].krow.data();
      for (int j = 0; j < w; j += kConvRows) {
        const int n = std::min(kConvRows, w - j);
        load_f32(a.k, a.dt, (r0 + j) * D, n * D, rows);
        kk.transpose(rows, D, n, D, kt + j, PWp);
      }
    }
    if (!v_in_place)
      for (int j = 0; j < w; j++) {
        float* vp = pv + head * v_per_head + size_t(j0 + j) * Dvp;
        load_f32(a.v, a.dt, (r0 + j) * Dv, Dv, vp);
        for (int d = Dv; d < Dvp; d++) vp[d] = 0;
      }
    for (int d = 0; d < D; d++)
      for (int j = w; j < PWp; j++) kt[size_t(d) * PWp + j] = 0;
  };

  struct Tile {
    int head, bh, b, hq, qb, q0, q1;
    size_t qrow0;  // row of q / out where the tile starts
  };
  auto tile_of = [&](const Batch& bt, int64_t t) {
    const int bh0 = bt.bh0;
    Tile u;
    u.head = int(t / (int64_t(G) * n_qt));
    const int rem = int(t % (int64_t(G) * n_qt));
    const int g = rem / n_qt;
    const int qt = n_qt - 1 - rem % n_qt;  // late q tiles first: under causal masks they are the heaviest
    u.bh = bh0 + u.head;
    u.b = u.bh / a.Hkv;
    u.hq = u.bh % a.Hkv * G + g;
    u.qb = 0;
    if (a.has_bm) {
      u.qb = qt / n_sub;
      u.q0 = u.qb * a.bm.qbs + (qt % n_sub) * q_sub;
      u.q1 = std::min({u.q0 + q_sub, (u.qb + 1) * a.bm.qbs, a.Sq});
    } else {
      u.q0 = qt * q_sub;
      u.q1 = std::min(u.q0 + q_sub, a.Sq);
    }
    u.qrow0 = (size_t(u.b) * a.Hq + u.hq) * a.Sq + u.q0;
    return u;
  };
  const size_t esize = dtype_size(a.dt);
  // SPARSELAB_TUNE_BAND=0: partial tiles compute the whole (narrowed) chunk, as before the
  // per-row bands (for A/B runs).
  const bool use_band = !(std::getenv("SPARSELAB_TUNE_BAND") && std::atoi(std::getenv("SPARSELAB_TUNE_BAND")) == 0);
  // Tile t of batch bt (t_all: its task number, for guessing this thread's next tile).
  auto tile = [&](const Batch& bt, int64_t t, int64_t t_all, const float* pk, const float* pv, int tid) {
    Scratch& s = scratch[size_t(tid)];
    const Tile u = tile_of(bt, t);
    const int head = u.head, bh = u.bh, b = u.b, hq = u.hq, qb = u.qb, q0 = u.q0, q1 = u.q1;
    if (q0 >= q1) return;
    const int rows = q1 - q0;
    const size_t qrow0 = u.qrow0;
    // Most likely this thread's next tile (tasks go out in order, one per thread at a time).
    Prefetch pf;
    if (t + T < bt.n_tiles && t_all + T < n_tasks_all) {
      const Tile nx = tile_of(bt, t + T);
      if (nx.q1 > nx.q0) pf.add(static_cast<const char*>(a.q) + nx.qrow0 * D * esize, size_t(nx.q1 - nx.q0) * D * esize, false);
    }
    pf.add(static_cast<const char*>(a.out) + qrow0 * Dv * esize, size_t(rows) * Dv * esize, true);
    int chunks_left = 0;
    for (int r = 0; r < rows; r++) load_f32(a.q, a.dt, (qrow0 + r) * D, D, s.Qp.data() + size_t(r) * D, qmul);
    std::fill_n(s.m.begin(), rows, kNegInf);
    std::fill_n(s.l.begin(), rows, 0.0f);
    std::fill_n(s.O.begin(), size_t(rows) * Dvp, 0.0f);
    const float* kt_head = pk + head * kt_per_head;
    const float* v_head = v_in_place ? static_cast<const float*>(a.v) + size_t(bh) * a.Skv * Dv : pv + head * v_per_head;

    // One kv chunk [j0, j0 + w); partial: refine with the mask (slot = its index in kv_idx).
    auto chunk = [&](int c, bool partial, int kb, int slot) {
      a.cancel.check();
      int j0 = c * PW, w = std::min(PW, a.Skv - j0);
      if (w <= 0) return;
      int lo = 0;  // first column computed, relative to the chunk (a multiple of 32)
      const uint32_t* tile_bits = nullptr;
      if (partial && bitmaps) {
        // Narrow a partial tile to the columns some row of this q tile can see (the half
        // of a diagonal tile above the diagonal, the outside of a window's edge), and skip
        // it when no row sees anything.
        const int tile = bitmaps->tile_start[(size_t(bitmaps->B == 1 ? 0 : b) * bitmaps->H + (bitmaps->H == 1 ? 0 : hq)) * a.bm.nqb + qb] + slot;
        const int wpr = bitmaps->words_per_row;
        tile_bits = bitmaps->bits + (size_t(tile) * a.bm.qbs + (q0 - qb * a.bm.qbs)) * wpr;
        // Per row, the span [first, last] it sees (then the gemms skip what lies outside
        // each block of rows' spans); the union narrows the chunk.
        const int c0 = j0 - kb * a.bm.kbs;  // a multiple of PW
        int first = w, last = -1;
        int* blo = s.band_lo.data();
        int* bhi = s.band_hi.data();
        for (int r = 0; r < rows; r++) {
          const uint32_t* rb = tile_bits + size_t(r) * wpr;
          int rf = -1, rl = -1;
          for (int wd = c0 >> 5; wd <= (c0 + w - 1) >> 5; wd++) {
            uint32_t u = rb[wd];
            const int base = wd * 32 - c0;
            if (base < 0) u &= ~0u << (-base);  // bits before the chunk (c0 not word aligned)
            if (!u) continue;
            if (rf < 0) rf = base + __builtin_ctz(u);
            rl = base + 31 - __builtin_clz(u);
          }
          rl = std::min(rl, w - 1);
          if (rf < 0 || rf > rl) {
            blo[r] = bhi[r] = 0;
            continue;
          }
          blo[r] = rf;
          bhi[r] = rl + 1;
          first = std::min(first, rf);
          last = std::max(last, rl);
        }
        if (last < 0) return;
        if (c0 % 32 == 0) {
          lo = first / 32 * 32;
          w = last + 1 - lo;
          j0 += lo;
          if (lo)
            for (int r = 0; r < rows; r++)
              if (bhi[r] > blo[r]) blo[r] -= lo, bhi[r] -= lo;
        } else {
          w = last + 1;
        }
      }
      pf.step(chunks_left--);
      const int ncols = round_up(w, VW);
      float* S = s.S.data();
      const bool band = tile_bits != nullptr && use_band;
      if (band)
        kk.gemm_band_cols(rows, ncols, D, s.Qp.data(), D, kt_head + size_t(c) * D * PWp + lo, PWp, S, PWp, s.band_lo.data(),
                          s.band_hi.data());
      else
        kk.gemm(rows, ncols, D, s.Qp.data(), D, kt_head + size_t(c) * D * PWp + lo, PWp, S, PWp, kOverwrite, nullptr);
      for (int r = 0; r < rows && (a.score_prog || partial); r++) {
        float* srow = S + size_t(r) * PWp;
        const int q = q0 + r;
        if (a.score_prog) s.score_run->score_row(b, hq, q, j0, w, srow, kLog2e);
        if (partial) {
          if (tile_bits) kk.apply_bits(srow, tile_bits + size_t(r) * bitmaps->words_per_row, j0 - kb * a.bm.kbs, w);
          else s.mask_run->mask_row(b, hq, q, j0, w, srow);
        }
      }
      kk.softmax_tile(S, PWp, rows, w, s.m.data(), s.l.data(), s.alpha.data());
      // Once the running maxima settle (most chunks), no row needs rescaling.
      bool settled = true;
      for (int r = 0; r < rows; r++) settled &= s.alpha[size_t(r)] == 1.0f;
      if (band)
        kk.gemm_band_k(rows, Dvp, S, PWp, v_head + size_t(j0) * Dvp, Dvp, s.O.data(), Dvp, settled ? kAccumulate : kRescale,
                       s.alpha.data(), s.band_lo.data(), s.band_hi.data());
      else
        kk.gemm(rows, Dvp, w, S, PWp, v_head + size_t(j0) * Dvp, Dvp, s.O.data(), Dvp, settled ? kAccumulate : kRescale,
                s.alpha.data());
    };

    if (!a.has_bm) {
      chunks_left = n_chunks;
      for (int c = 0; c < n_chunks; c++) chunk(c, false, -1, -1);
    } else {
      const BlockMaskView& m = a.bm;
      const size_t bi = (size_t(m.B == 1 ? 0 : b) * m.H + (m.H == 1 ? 0 : hq)) * m.nqb + qb;
      const int np = m.kv_num[bi], nf = m.full_num[bi];
      const int32_t* pi = m.kv_idx + bi * m.nkb;
      const int32_t* fi = m.full_idx + bi * m.nkb;
      if (np < 0 || np > m.nkb || nf < 0 || nf > m.nkb) throw OpError("blockMask: kvNumBlocks/fullKvNumBlocks out of range");
      const int per_block = m.kbs / PW;  // chunks per kv block (PW divides kbs)
      chunks_left = (np + nf) * per_block;
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
  };

  std::unique_ptr<std::atomic<int64_t>[]> packed(new std::atomic<int64_t>[size_t(n_batches)]);
  std::unique_ptr<std::atomic<int64_t>[]> tiled(new std::atomic<int64_t>[size_t(n_batches)]);
  for (int i = 0; i < n_batches; i++) {
    packed[size_t(i)].store(0, std::memory_order_relaxed);
    tiled[size_t(i)].store(0, std::memory_order_relaxed);
  }
  // A task that fails sets `aborted`, so a task waiting on it stops too; its error is the one
  // reported.
  std::atomic<bool> aborted{false};
  std::mutex err_m;
  std::exception_ptr err;
  // Waits are short (one pack task) unless the thread being waited on was preempted: then
  // give the core away rather than spin through its time slice.
  auto wait_for = [&](const std::atomic<int64_t>& done, int64_t target) {
    for (int i = 0; done.load(std::memory_order_acquire) < target; i++) {
      if (aborted.load(std::memory_order_relaxed)) throw Cancelled{};
      if (i < 256) spin_pause();
      else std::this_thread::yield();
    }
  };
  try {
    parallel_for(n_tasks_all, [&](int64_t t, int tid) {
      try {
        a.cancel.check();
        const int bi = int(std::upper_bound(batch_first.begin(), batch_first.end(), t) - batch_first.begin()) - 1;
        const Batch& bt = batches[size_t(bi)];
        const int64_t local = t - bt.first;
        float* pk = packK[bi % n_bufs]->get();
        float* pv = packV[bi % n_bufs]->get();
        if (local < bt.n_pack) {
          if (bi >= 2) wait_for(tiled[size_t(bi - 2)], batches[size_t(bi - 2)].n_tiles);
          pack(bt, bt.todo[size_t(local)], pk, pv, tid);
          packed[size_t(bi)].fetch_add(1, std::memory_order_release);
        } else {
          wait_for(packed[size_t(bi)], bt.n_pack);
          tile(bt, local - bt.n_pack, t, pk, pv, tid);
          tiled[size_t(bi)].fetch_add(1, std::memory_order_release);
        }
      } catch (...) {
        {
          std::lock_guard<std::mutex> g(err_m);
          if (!err) err = std::current_exception();
        }
        aborted.store(true);
        throw;
      }
    });
  } catch (...) {
    if (err) std::rethrow_exception(err);
    throw;
  }
}

}  // namespace sl
