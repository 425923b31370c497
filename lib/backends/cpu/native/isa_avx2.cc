// AVX2+FMA kernel set: 8 floats per vector, 16 registers -> 2 x 4 accumulator blocks.
#include <cstddef>
#include <cstdint>

#include "kernels.h"
#include "program_ops.h"

#if defined(__x86_64__) || defined(__i386__)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define SLK_NS slk_avx2
#define SLK_VW 8
#define SLK_RMAX 2
#define SLK_NAME "AVX2+FMA"
#include "kernels_isa.inc"
#pragma GCC pop_options
const sl::Kernels* sl::kernels_avx2() { return &slk_avx2::table; }
#else
const sl::Kernels* sl::kernels_avx2() { return nullptr; }
#endif
