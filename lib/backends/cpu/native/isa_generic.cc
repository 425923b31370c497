// Portable kernel set: 4-float vectors, compiled with the baseline flags (SSE2 on x86-64,
// NEON on AArch64), so it runs on every machine the addon builds on.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "kernels.h"
#include "program_ops.h"

#define SLK_NS slk_generic
#define SLK_VW 4
#if defined(__aarch64__)
#define SLK_RMAX 6
#else
#define SLK_RMAX 2
#endif
#define SLK_NAME "portable"
#include "kernels_isa.inc"

namespace sl {

const Kernels* kernels_generic() { return &slk_generic::table; }

namespace {
const Kernels* choose() {
  const Kernels* avx512 = kernels_avx512();
  const Kernels* avx2 = kernels_avx2();
  const char* force = std::getenv("SPARSELAB_ISA");
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  const bool has512 = avx512 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
  const bool has2 = avx2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  const bool has512 = false, has2 = false;
#endif
  if (force) {
    // A forced ISA the CPU lacks falls through to the best available one rather than crash.
    if (!std::strcmp(force, "generic")) return kernels_generic();
    if (!std::strcmp(force, "avx2") && has2) return avx2;
    if (!std::strcmp(force, "avx512") && has512) return avx512;
  }
  if (has512) return avx512;
  if (has2) return avx2;
  return kernels_generic();
}
}  // namespace

const Kernels& kernels() {
  static const Kernels* k = choose();
  return *k;
}

}  // namespace sl
