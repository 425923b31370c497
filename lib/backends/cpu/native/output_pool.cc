// Recycled output memory. A fresh Float32Array for every call's output is fresh pages from
// the OS: the kernel's first write to each page faults (about 5 ms of a 25 ms sliding-window
// call at S 8192 H 8, and a few percent of a dense S 1024 call), and calloc zeroes memory the
// op overwrites anyway. Blocks collected by the GC come back here and are handed out again,
// already mapped. Exact sizes (rounded to pages): repeated calls have repeated shapes.
#include "output_pool.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace sl {
namespace {

constexpr size_t kPage = 4096;
constexpr size_t kHuge = size_t(2) << 20;

// Fresh memory for a block. Large blocks on Linux are 2 MiB aligned and marked for transparent
// huge pages: a fresh 16 MiB output then takes 8 page faults on its first write instead of
// 4096 (this machine's THP mode is "madvise", so without the hint it gets 4 KiB pages).
void* fresh(size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (bytes >= kHuge) {
    const size_t len = bytes + kHuge;
    void* m = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) throw std::bad_alloc();
    char* base = static_cast<char*>(m);
    char* p = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(base) + kHuge - 1) & ~(kHuge - 1));
    if (p > base) munmap(base, size_t(p - base));
    const size_t tail = size_t(base + len - (p + bytes));
    if (tail) munmap(p + bytes, tail);
    madvise(p, bytes, MADV_HUGEPAGE);
    return p;
  }
#endif
  void* p = std::aligned_alloc(kPage, bytes);
  if (!p) throw std::bad_alloc();
  return p;
}

void release(void* p, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (bytes >= kHuge) {
    munmap(p, bytes);
    return;
  }
#endif
  std::free(p);
}

class Pool {
 public:
  void* take(size_t bytes) {
    {
      std::lock_guard<std::mutex> g(m_);
      auto it = free_.find(bytes);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        cached_ -= bytes;
        return p;
      }
    }
    return fresh(bytes);
  }
  void give(void* p, size_t bytes) {
    {
      std::lock_guard<std::mutex> g(m_);
      if (cached_ + bytes <= cap_) {
        free_[bytes].push_back(p);
        cached_ += bytes;
        return;
      }
    }
    release(p, bytes);
  }

 private:
  // Free blocks kept at most (SPARSELAB_OUTPUT_POOL_MB, default 256); beyond it they go back
  // to the OS.
  static size_t cap() {
    const char* e = std::getenv("SPARSELAB_OUTPUT_POOL_MB");
    return size_t(e && *e ? std::strtoull(e, nullptr, 10) : 256) << 20;
  }
  std::mutex m_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t cached_ = 0;
  const size_t cap_ = cap();
};

// Reserved blocks: id -> (memory, bytes asked for, bytes of the block).
struct Reserved {
  void* p;
  size_t n, bytes;
};
std::mutex reserved_m;
std::unordered_map<uint32_t, Reserved>& reserved() {
  static auto* r = new std::unordered_map<uint32_t, Reserved>;
  return *r;
}
uint32_t next_id = 1;

Pool& pool() {
  // Leaked on purpose: finalizers of outputs still alive at exit may run after static
  // destructors.
  static Pool* p = new Pool;
  return *p;
}

size_t request_bytes(const Napi::CallbackInfo& info, const char* fn) {
  const double req = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
  if (!(req >= 0 && req <= double(size_t(1) << 46)))
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": bytes must be a non-negative size");
  return size_t(req);
}

Napi::ArrayBuffer wrap(Napi::Env env, void* p, size_t n, size_t bytes) {
  return Napi::ArrayBuffer::New(env, p, n, [bytes](Napi::Env, void* data) { pool().give(data, bytes); });
}

size_t block_bytes(size_t n) { return (std::max<size_t>(n, 1) + kPage - 1) / kPage * kPage; }

}  // namespace

Napi::Value AllocOutput(const Napi::CallbackInfo& info) {
  const size_t n = request_bytes(info, "allocOutput");
  const size_t bytes = block_bytes(n);
  return wrap(info.Env(), pool().take(bytes), n, bytes);
}

Napi::Value ReserveOutput(const Napi::CallbackInfo& info) {
  const size_t n = request_bytes(info, "reserveOutput");
  const size_t bytes = block_bytes(n);
  void* p = pool().take(bytes);
  std::lock_guard<std::mutex> g(reserved_m);
  uint32_t id = next_id++;
  if (id == 0) id = next_id++;  // 0 is never an id
  reserved()[id] = {p, n, bytes};
  return Napi::Number::New(info.Env(), double(id));
}

Napi::Value WrapOutput(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const double idd = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 0;
  Reserved r;
  {
    std::lock_guard<std::mutex> g(reserved_m);
    auto it = reserved().find(uint32_t(idd));
    if (idd <= 0 || idd != double(uint32_t(idd)) || it == reserved().end())
      throw Napi::RangeError::New(env, "wrapOutput: no reserved output with this id (each is wrapped once)");
    r = it->second;
    reserved().erase(it);
  }
  return wrap(env, r.p, r.n, r.bytes);
}

void* reserved_output(double id, size_t bytes) {
  std::lock_guard<std::mutex> g(reserved_m);
  auto it = reserved().find(uint32_t(id));
  if (id <= 0 || id != double(uint32_t(id)) || it == reserved().end() || it->second.n < bytes) return nullptr;
  return it->second.p;
}

}  // namespace sl
