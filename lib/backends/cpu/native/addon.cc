// The N-API surface of the CPU backend. Every op takes one plain object of typed arrays and
// numbers (built by lib/backends/cpu/index.ts), runs on a libuv worker thread that drives the
// thread pool, and returns a Promise. Outputs are preallocated by the caller and written in
// place, so tests can poison them and check every element was written. The inputs' typed
// arrays are referenced until the op settles, so their memory cannot go away under the kernel.
#include <napi.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "attention.h"
#include "kernels.h"
#include "ops.h"
#include "output_pool.h"
#include "pool.h"

namespace {

using namespace sl;

class OpWorker : public Napi::AsyncWorker {
 public:
  OpWorker(Napi::Env env, const char* name)
      : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)), name_(name) {}

  // Pins a typed array for the op's lifetime and returns its data pointer.
  void* pin(const Napi::Value& v, const char* field, size_t* length = nullptr) {
    if (!v.IsTypedArray()) throw Napi::TypeError::New(Env(), std::string(name_) + ": field '" + field + "' must be a typed array");
    Napi::TypedArray ta = v.As<Napi::TypedArray>();
    keep_.emplace_back(Napi::Persistent(ta.As<Napi::Object>()));
    if (length) *length = ta.ElementLength();
    return static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  }

  std::function<void()> work;
  std::vector<std::unique_ptr<Program>> programs;
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      work();
    } catch (const Cancelled&) {
      cancelled_ = true;
      SetError("cancelled");
    } catch (const std::exception& e) {
      SetError(e.what());
    } catch (...) {
      SetError("unknown native error");
    }
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error& e) override {
    Napi::Object err = e.Value();
    err.Set("op", Napi::String::New(Env(), name_));
    if (cancelled_) err.Set("code", Napi::String::New(Env(), "CANCELLED"));
    deferred_.Reject(err);
  }

 private:
  Napi::Promise::Deferred deferred_;
  const char* name_;
  std::vector<Napi::ObjectReference> keep_;
  bool cancelled_ = false;
};

int geti(const Napi::Object& o, const char* k) { return o.Get(k).As<Napi::Number>().Int32Value(); }
double getd(const Napi::Object& o, const char* k) { return o.Get(k).As<Napi::Number>().DoubleValue(); }
bool has(const Napi::Object& o, const char* k) {
  Napi::Value v = o.Get(k);
  return !v.IsUndefined() && !v.IsNull();
}

Cancel get_cancel(OpWorker* w, const Napi::Object& p) {
  Cancel c;
  if (has(p, "cancel")) c.flag = static_cast<const int32_t*>(w->pin(p.Get("cancel"), "cancel"));
  return c;
}

// { code: Int32Array, consts: Float64Array, tables: Float64Array[], nregs, result, usesScore }
const Program* get_program(OpWorker* w, const Napi::Object& p, const char* key) {
  if (!has(p, key)) return nullptr;
  Napi::Object o = p.Get(key).As<Napi::Object>();
  auto prog = std::make_unique<Program>();
  size_t n = 0;
  const int32_t* code = static_cast<const int32_t*>(w->pin(o.Get("code"), "code", &n));
  prog->code.assign(code, code + n);
  const double* consts = static_cast<const double*>(w->pin(o.Get("consts"), "consts", &n));
  prog->consts.assign(consts, consts + n);
  Napi::Array tables = o.Get("tables").As<Napi::Array>();
  for (uint32_t i = 0; i < tables.Length(); i++) {
    const double* t = static_cast<const double*>(w->pin(tables.Get(i), "tables", &n));
    prog->tables.emplace_back(t, t + n);
  }
  prog->nregs = geti(o, "nregs");
  prog->result = geti(o, "result");
  prog->uses_score = o.Get("usesScore").ToBoolean();
  w->programs.push_back(std::move(prog));
  return w->programs.back().get();
}

template <typename Setup>
Napi::Value start(const Napi::CallbackInfo& info, const char* name, Setup setup) {
  Napi::Env env = info.Env();
  auto* w = new OpWorker(env, name);
  try {
    Napi::Object p = info[0].As<Napi::Object>();
    setup(w, p);
  } catch (...) {
    delete w;
    throw;
  }
  Napi::Promise promise = w->Promise();
  w->Queue();
  return promise;
}

// The fields attention and maskBitmaps share: shapes, the block mask and the mask program.
void read_attention_shape(OpWorker* w, const Napi::Object& p, AttentionArgs* a) {
  a->B = geti(p, "B"), a->Hq = geti(p, "Hq"), a->Hkv = geti(p, "Hkv");
  a->Sq = geti(p, "Sq"), a->Skv = geti(p, "Skv"), a->D = geti(p, "D"), a->Dv = geti(p, "Dv");
  if (has(p, "bm")) {
    Napi::Object m = p.Get("bm").As<Napi::Object>();
    a->has_bm = true;
    a->bm.B = geti(m, "B"), a->bm.H = geti(m, "H"), a->bm.qbs = geti(m, "qbs"), a->bm.kbs = geti(m, "kbs");
    a->bm.nqb = geti(m, "nqb"), a->bm.nkb = geti(m, "nkb");
    a->bm.kv_num = static_cast<const int32_t*>(w->pin(m.Get("kvNum"), "kvNum"));
    a->bm.kv_idx = static_cast<const int32_t*>(w->pin(m.Get("kvIdx"), "kvIdx"));
    a->bm.full_num = static_cast<const int32_t*>(w->pin(m.Get("fullNum"), "fullNum"));
    a->bm.full_idx = static_cast<const int32_t*>(w->pin(m.Get("fullIdx"), "fullIdx"));
  }
  a->mask_prog = get_program(w, p, "maskProgram");
}

Napi::Value Attention(const Napi::CallbackInfo& info) {
  return start(info, "attention", [](OpWorker* w, const Napi::Object& p) {
    auto a = std::make_shared<AttentionArgs>();
    a->q = w->pin(p.Get("q"), "q");
    a->k = w->pin(p.Get("k"), "k");
    a->v = w->pin(p.Get("v"), "v");
    a->dt = DType(geti(p, "dtype"));
    read_attention_shape(w, p, a.get());
    a->scale = float(getd(p, "scale"));
    if (has(p, "bitmaps")) {
      Napi::Object bmp = p.Get("bitmaps").As<Napi::Object>();
      a->bitmaps.bits = static_cast<const uint32_t*>(w->pin(bmp.Get("bits"), "bits"));
      a->bitmaps.tile_start = static_cast<const int32_t*>(w->pin(bmp.Get("tileStart"), "tileStart"));
      a->bitmaps.words_per_row = geti(bmp, "wordsPerRow");
      // Plain-function bitmaps cover every (b, h) of the call; IR ones (maskBitmaps) say
      // which they vary over.
      a->bitmaps.B = has(bmp, "B") ? geti(bmp, "B") : a->B;
      a->bitmaps.H = has(bmp, "H") ? geti(bmp, "H") : a->Hq;
      if ((a->bitmaps.B != 1 && a->bitmaps.B != a->B) || (a->bitmaps.H != 1 && a->bitmaps.H != a->Hq))
        throw Napi::RangeError::New(w->Env(), "attention: bitmaps.B / bitmaps.H must be 1 or the call's B / Hq");
    }
    a->score_prog = get_program(w, p, "scoreProgram");
    if (has(p, "outId")) {
      // A reserved pool block (reserveOutput): the caller keeps it until the op settles.
      const size_t need = size_t(a->B) * a->Hq * a->Sq * a->Dv * dtype_size(a->dt);
      a->out = reserved_output(getd(p, "outId"), need);
      if (!a->out) throw Napi::RangeError::New(w->Env(), "attention: outId is not a reserved output of the right size");
    } else {
      a->out = w->pin(p.Get("out"), "out");
    }
    if (has(p, "lse")) a->lse = static_cast<float*>(w->pin(p.Get("lse"), "lse"));
    a->cancel = get_cancel(w, p);
    w->work = [a] { attention(*a); };
  });
}

// Evaluates an IR mask over the partial tiles of a block mask into bitmaps (the layout of
// TileBitmaps in attention.h), so the TS side can keep them across calls with that block mask.
// The caller computes the layout too (tileStart, B, H); it must match this side's.
Napi::Value MaskBitmaps(const Napi::CallbackInfo& info) {
  return start(info, "maskBitmaps", [](OpWorker* w, const Napi::Object& p) {
    auto a = std::make_shared<AttentionArgs>();
    read_attention_shape(w, p, a.get());
    if (!a->has_bm || !a->mask_prog) throw Napi::TypeError::New(w->Env(), "maskBitmaps: needs bm and maskProgram");
    size_t nbits = 0, nstart = 0;
    auto bits = static_cast<uint32_t*>(w->pin(p.Get("bits"), "bits", &nbits));
    auto js_start = static_cast<const int32_t*>(w->pin(p.Get("tileStart"), "tileStart", &nstart));
    auto start_vec = std::make_shared<std::vector<int32_t>>();
    TileBitmaps t;
    try {
      t = bitmap_layout(*a, *start_vec);
    } catch (const std::exception& e) {
      throw Napi::RangeError::New(w->Env(), std::string("maskBitmaps: ") + e.what());
    }
    if (t.B != geti(p, "bB") || t.H != geti(p, "bH") || t.words_per_row != geti(p, "wordsPerRow") || nstart != start_vec->size() ||
        !std::equal(start_vec->begin(), start_vec->end(), js_start) ||
        nbits != size_t(start_vec->back()) * size_t(a->bm.qbs) * size_t(t.words_per_row))
      throw Napi::RangeError::New(w->Env(), "maskBitmaps: the layout passed does not match the mask program and block mask");
    a->cancel = get_cancel(w, p);
    w->work = [a, t, start_vec, bits] { build_bitmaps(*a, t, bits); };
  });
}

Napi::Value DecodeAttention(const Napi::CallbackInfo& info) {
  return start(info, "decodeAttention", [](OpWorker* w, const Napi::Object& p) {
    auto a = std::make_shared<DecodeArgs>();
    a->q = w->pin(p.Get("q"), "q");
    a->k = w->pin(p.Get("k"), "k");
    a->v = w->pin(p.Get("v"), "v");
    a->dt = DType(geti(p, "dtype"));
    a->B = geti(p, "B"), a->Hq = geti(p, "Hq"), a->Hkv = geti(p, "Hkv"), a->Sq = geti(p, "Sq");
    a->Skv = geti(p, "Skv"), a->D = geti(p, "D"), a->Dv = geti(p, "Dv"), a->n = geti(p, "n");
    a->idx = static_cast<const int32_t*>(w->pin(p.Get("indices"), "indices"));
    a->scale = float(getd(p, "scale"));
    a->out = w->pin(p.Get("out"), "out");
    a->lse = has(p, "lse") ? static_cast<float*>(w->pin(p.Get("lse"), "lse")) : nullptr;
    a->cancel = get_cancel(w, p);
    w->work = [a] { decode_attention(*a); };
  });
}

// Converts a float input to f32 (a view when it already is) inside the worker thread.
struct F32Input {
  const void* src = nullptr;
  DType dt = F32;
  size_t n = 0;
  std::vector<float> copy;
  const float* get() {
    if (dt == F32) return static_cast<const float*>(src);
    if (copy.empty() && n) {
      copy.resize(n);
      const size_t step = size_t(1) << 16;
      parallel_for(int64_t((n + step - 1) / step), [&](int64_t t, int) {
        const size_t o = size_t(t) * step;
        load_f32(src, dt, o, int(std::min(step, n - o)), copy.data() + o);
      });
    }
    return copy.data();
  }
};

// matmul: per batch element, a offset and b offset (Float64Array), M, N, K, transB.
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  return start(info, "matmul", [](OpWorker* w, const Napi::Object& p) {
    struct Args {
      F32Input a, b;
      std::vector<double> aoff, boff;
      int M, N, K;
      bool transB;
      void* out;
      DType out_dt;
      Cancel cancel;
    };
    auto s = std::make_shared<Args>();
    size_t n;
    s->a.src = w->pin(p.Get("a"), "a", &s->a.n);
    s->a.dt = DType(geti(p, "adtype"));
    s->b.src = w->pin(p.Get("b"), "b", &s->b.n);
    s->b.dt = DType(geti(p, "bdtype"));
    const double* ao = static_cast<const double*>(w->pin(p.Get("aOffsets"), "aOffsets", &n));
    s->aoff.assign(ao, ao + n);
    const double* bo = static_cast<const double*>(w->pin(p.Get("bOffsets"), "bOffsets", &n));
    s->boff.assign(bo, bo + n);
    s->M = geti(p, "M"), s->N = geti(p, "N"), s->K = geti(p, "K");
    s->transB = p.Get("transB").ToBoolean();
    s->out = w->pin(p.Get("out"), "out");
    s->out_dt = DType(geti(p, "outDtype"));
    s->cancel = get_cancel(w, p);
    w->work = [s] {
      const float* A = s->a.get();
      const float* B = s->b.get();
      std::vector<GemmJob> jobs;
      for (size_t i = 0; i < s->aoff.size(); i++)
        jobs.push_back({A + size_t(s->aoff[i]), s->K, B + size_t(s->boff[i]), s->transB ? s->K : s->N, s->transB, s->M, s->N,
                        s->K, i * size_t(s->M) * s->N, s->N});
      gemm_jobs(jobs, s->out, s->out_dt, s->cancel);
    };
  });
}

Napi::Value GroupedGemm(const Napi::CallbackInfo& info) {
  return start(info, "groupedGemm", [](OpWorker* w, const Napi::Object& p) {
    struct Args {
      F32Input x, wt;
      std::vector<int32_t> off;
      int K, N;
      void* out;
      DType out_dt;
      Cancel cancel;
    };
    auto s = std::make_shared<Args>();
    size_t n;
    s->x.src = w->pin(p.Get("x"), "x", &s->x.n);
    s->x.dt = DType(geti(p, "xdtype"));
    s->wt.src = w->pin(p.Get("w"), "w", &s->wt.n);
    s->wt.dt = DType(geti(p, "wdtype"));
    const int32_t* off = static_cast<const int32_t*>(w->pin(p.Get("offsets"), "offsets", &n));
    s->off.assign(off, off + n);
    s->K = geti(p, "K"), s->N = geti(p, "N");
    s->out = w->pin(p.Get("out"), "out");
    s->out_dt = DType(geti(p, "outDtype"));
    s->cancel = get_cancel(w, p);
    w->work = [s] {
      const float* X = s->x.get();
      const float* W = s->wt.get();
      std::vector<GemmJob> jobs;
      for (size_t g = 0; g + 1 < s->off.size(); g++) {
        const int r0 = s->off[g], r1 = s->off[g + 1];
        if (r1 > r0)
          jobs.push_back({X + size_t(r0) * s->K, s->K, W + g * size_t(s->K) * s->N, s->N, false, r1 - r0, s->N, s->K,
                          size_t(r0) * s->N, s->N});
      }
      gemm_jobs(jobs, s->out, s->out_dt, s->cancel);
    };
  });
}

Napi::Value Softmax(const Napi::CallbackInfo& info) {
  return start(info, "softmax", [](OpWorker* w, const Napi::Object& p) {
    const void* x = w->pin(p.Get("x"), "x");
    DType dt = DType(geti(p, "dtype"));
    int64_t rows = int64_t(getd(p, "rows"));
    int n = geti(p, "n");
    float* out = static_cast<float*>(w->pin(p.Get("out"), "out"));
    Cancel c = get_cancel(w, p);
    w->work = [=] { softmax_rows(x, dt, rows, n, out, c); };
  });
}

Napi::Value Topk(const Napi::CallbackInfo& info) {
  return start(info, "topk", [](OpWorker* w, const Napi::Object& p) {
    const void* x = w->pin(p.Get("x"), "x");
    DType dt = DType(geti(p, "dtype"));
    int64_t rows = int64_t(getd(p, "rows"));
    int n = geti(p, "n"), k = geti(p, "k");
    float* values = static_cast<float*>(w->pin(p.Get("values"), "values"));
    int32_t* indices = static_cast<int32_t*>(w->pin(p.Get("indices"), "indices"));
    Cancel c = get_cancel(w, p);
    w->work = [=] { topk_rows(x, dt, rows, n, k, values, indices, c); };
  });
}

Napi::Value BlockPool(const Napi::CallbackInfo& info) {
  return start(info, "blockPool", [](OpWorker* w, const Napi::Object& p) {
    const void* x = w->pin(p.Get("x"), "x");
    DType dt = DType(geti(p, "dtype"));
    int64_t BH = int64_t(getd(p, "BH"));
    int S = geti(p, "S"), D = geti(p, "D"), block = geti(p, "block"), reduce = geti(p, "reduce");
    float* out = static_cast<float*>(w->pin(p.Get("out"), "out"));
    Cancel c = get_cancel(w, p);
    w->work = [=] { block_pool(x, dt, BH, S, D, block, reduce, out, c); };
  });
}

Napi::Value AntidiagScores(const Napi::CallbackInfo& info) {
  return start(info, "antidiagScores", [](OpWorker* w, const Napi::Object& p) {
    const void* q = w->pin(p.Get("q"), "q");
    const void* k = w->pin(p.Get("k"), "k");
    DType dt = DType(geti(p, "dtype"));
    int B = geti(p, "B"), H = geti(p, "H"), Sq = geti(p, "Sq"), Skv = geti(p, "Skv"), D = geti(p, "D");
    int stride = geti(p, "stride");
    float scale = float(getd(p, "scale"));
    float* out = static_cast<float*>(w->pin(p.Get("out"), "out"));
    Cancel c = get_cancel(w, p);
    w->work = [=] { antidiag_scores(q, k, dt, B, H, Sq, Skv, D, stride, scale, out, c); };
  });
}

Napi::Value ColDiagSums(const Napi::CallbackInfo& info) {
  return start(info, "colDiagSums", [](OpWorker* w, const Napi::Object& p) {
    const void* q = w->pin(p.Get("q"), "q");
    const void* k = w->pin(p.Get("k"), "k");
    DType dt = DType(geti(p, "dtype"));
    int B = geti(p, "B"), Hq = geti(p, "Hq"), Hkv = geti(p, "Hkv"), Sq = geti(p, "Sq"), Skv = geti(p, "Skv"), D = geti(p, "D");
    float scale = float(getd(p, "scale"));
    int q_offset = geti(p, "qOffset");
    bool causal = p.Get("causal").ToBoolean();
    float* cols = static_cast<float*>(w->pin(p.Get("cols"), "cols"));
    float* diags = static_cast<float*>(w->pin(p.Get("diags"), "diags"));
    Cancel c = get_cancel(w, p);
    w->work = [=] { col_diag_sums(q, k, dt, B, Hq, Hkv, Sq, Skv, D, scale, q_offset, causal, cols, diags, c); };
  });
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("isa", Napi::String::New(env, kernels().name));
  o.Set("vectorWidth", Napi::Number::New(env, kernels().vw));
  o.Set("threads", Napi::Number::New(env, threads()));
  return o;
}

// Benchmarks only: the FMA ceiling of the pool, every thread running the probe for about
// `ms` milliseconds; returns GFLOP/s. Runs on the calling thread (blocks the event loop).
Napi::Value ProbeFma(const Napi::CallbackInfo& info) {
  const double ms = info[0].As<Napi::Number>().DoubleValue();
  const Kernels& kk = kernels();
  // Calibrate the iteration count on one thread, then run one task per thread.
  long iters = 1 << 16;
  for (;;) {
    auto t0 = std::chrono::steady_clock::now();
    kk.fma_probe(iters);
    double el = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (el > 20 || iters > (1L << 40)) {
      iters = long(double(iters) * ms / std::max(el, 1e-3));
      break;
    }
    iters *= 4;
  }
  const int T = threads();
  std::vector<double> flops(static_cast<size_t>(T), 0.0);
  auto t0 = std::chrono::steady_clock::now();
  parallel_for(T, [&](int64_t i, int) { flops[size_t(i)] = kk.fma_probe(iters); });
  double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double total = 0;
  for (double f : flops) total += f;
  return Napi::Number::New(info.Env(), total / sec / 1e9);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("probeFma", Napi::Function::New(env, ProbeFma));
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("attention", Napi::Function::New(env, Attention));
  exports.Set("maskBitmaps", Napi::Function::New(env, MaskBitmaps));
  exports.Set("allocOutput", Napi::Function::New(env, sl::AllocOutput));
  exports.Set("reserveOutput", Napi::Function::New(env, sl::ReserveOutput));
  exports.Set("wrapOutput", Napi::Function::New(env, sl::WrapOutput));
  exports.Set("decodeAttention", Napi::Function::New(env, DecodeAttention));
  exports.Set("matmul", Napi::Function::New(env, Matmul));
  exports.Set("groupedGemm", Napi::Function::New(env, GroupedGemm));
  exports.Set("softmax", Napi::Function::New(env, Softmax));
  exports.Set("topk", Napi::Function::New(env, Topk));
  exports.Set("blockPool", Napi::Function::New(env, BlockPool));
  exports.Set("antidiagScores", Napi::Function::New(env, AntidiagScores));
  exports.Set("colDiagSums", Napi::Function::New(env, ColDiagSums));
  return exports;
}

}  // namespace

NODE_API_MODULE(sparselab_cpu, Init)
