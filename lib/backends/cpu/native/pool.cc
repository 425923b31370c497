#include "pool.h"

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

namespace sl {
namespace {

// Pinning: worker t runs on the t-th CPU the process may use and the calling thread on the
// first while a region runs. Unpinned, a woken worker was often placed on the caller's CPU
// with the other CPU idle (seen on this 2-vCPU machine after ~250 ms without ops): one of
// the two then waited 1-4 ms (a scheduler tick) before running, a third of a 10 ms op.
// Only when the process may use at least as many CPUs as the pool has threads;
// SPARSELAB_PIN=0 turns it off.
std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    for (int c = 0; c < CPU_SETSIZE; c++)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
#endif
  return cpus;
}

bool pin_enabled() {
  const char* e = std::getenv("SPARSELAB_PIN");
  return !(e && std::atoi(e) == 0);
}

#if defined(__linux__)
bool pin_self(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}
#endif

// Pins the calling thread to one CPU for its lifetime, then restores its affinity.
class CallerPin {
 public:
  explicit CallerPin(int cpu) {
#if defined(__linux__)
    if (cpu >= 0 && pthread_getaffinity_np(pthread_self(), sizeof saved_, &saved_) == 0) active_ = pin_self(cpu);
#else
    (void)cpu;
#endif
  }
  ~CallerPin() {
#if defined(__linux__)
    if (active_) pthread_setaffinity_np(pthread_self(), sizeof saved_, &saved_);
#endif
  }

 private:
#if defined(__linux__)
  cpu_set_t saved_;
#endif
  bool active_ = false;
};

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

// Workers spin this many pauses (tens of microseconds) for the next region before they
// sleep, and the caller spins as long for the last tasks to finish: an op runs several
// regions back to back, and on a loaded machine a thread that sleeps waits a whole scheduler
// slice to run again.
int spin_count() {
  const char* e = std::getenv("SPARSELAB_SPIN");
  return e && std::atoi(e) >= 0 ? std::atoi(e) : 1 << 11;
}
const int kSpin = spin_count();

class Pool {
 public:
  explicit Pool(int n) : n_(n) {
    const std::vector<int> cpus = allowed_cpus();
    if (n_ > 1 && pin_enabled() && int(cpus.size()) >= n_) caller_cpu_ = cpus[0];
    for (int t = 1; t < n_; t++) {
      const int cpu = caller_cpu_ >= 0 ? cpus[size_t(t)] : -1;
      workers_.emplace_back([this, t, cpu] {
#if defined(__linux__)
        if (cpu >= 0) pin_self(cpu);
#endif
        loop(t);
      });
    }
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> g(m_);
      stop_.store(true);
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
  }
  int size() const { return n_; }

  void run(int64_t n, const std::function<void(int64_t, int)>& fn) {
    if (n <= 0) return;
    std::lock_guard<std::mutex> one_region(region_);
    if (n_ == 1 || n == 1) {
      for (int64_t i = 0; i < n; i++) fn(i, 0);
      return;
    }
    CallerPin pin(caller_cpu_);
    fn_ = &fn;
    total_ = n;
    next_.store(0);
    failed_.store(false);
    error_ = nullptr;
    busy_.store(n_ - 1);
    {
      std::lock_guard<std::mutex> g(m_);
      gen_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    work(0);
    for (int i = 0; i < kSpin && busy_.load(std::memory_order_acquire) != 0; i++) cpu_relax();
    if (busy_.load(std::memory_order_acquire) != 0) {
      std::unique_lock<std::mutex> lk(m_);
      done_.wait(lk, [this] { return busy_.load() == 0; });
    }
    fn_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void work(int tid) {
    for (;;) {
      if (failed_.load(std::memory_order_relaxed)) return;
      int64_t i = next_.fetch_add(1);
      if (i >= total_) return;
      try {
        (*fn_)(i, tid);
      } catch (...) {
        std::lock_guard<std::mutex> g(err_m_);
        if (!error_) error_ = std::current_exception();
        failed_.store(true);
        return;
      }
    }
  }
  void loop(int tid) {
    uint64_t seen = 0;
    for (;;) {
      uint64_t g = gen_.load(std::memory_order_acquire);
      for (int i = 0; i < kSpin && g == seen && !stop_.load(std::memory_order_relaxed); i++) {
        cpu_relax();
        g = gen_.load(std::memory_order_acquire);
      }
      if (g == seen) {
        std::unique_lock<std::mutex> lk(m_);
        cv_.wait(lk, [&] { return stop_.load() || gen_.load() != seen; });
        g = gen_.load(std::memory_order_acquire);
      }
      if (stop_.load()) return;
      seen = g;
      work(tid);
      if (busy_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lk(m_);
        done_.notify_one();
      }
    }
  }

  int n_;
  int caller_cpu_ = -1;  // the CPU the calling thread runs a region on; -1: not pinned
  std::vector<std::thread> workers_;
  std::mutex region_, m_, err_m_;
  std::condition_variable cv_, done_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> gen_{0};
  std::atomic<int> busy_{0};
  const std::function<void(int64_t, int)>* fn_ = nullptr;
  int64_t total_ = 0;
  std::atomic<int64_t> next_{0};
  std::atomic<bool> failed_{false};
  std::exception_ptr error_;
};

int configured_threads() {
  if (const char* e = std::getenv("SPARSELAB_THREADS")) {
    int v = std::atoi(e);
    if (v >= 1 && v <= 1024) return v;
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc ? int(hc) : 1;
}

Pool& pool() {
  // Leaked on purpose: joining threads from a static destructor at process exit can hang
  // when Node tears down the addon first.
  static Pool* p = new Pool(configured_threads());
  return *p;
}

}  // namespace

int threads() { return pool().size(); }

void parallel_for(int64_t n, const std::function<void(int64_t, int)>& fn) { pool().run(n, fn); }

}  // namespace sl
