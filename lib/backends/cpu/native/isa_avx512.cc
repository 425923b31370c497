// AVX-512 kernel set: 16 floats per vector, 32 registers -> 6 x 4 accumulator blocks.
#include <cstddef>
#include <cstdint>

#include "kernels.h"
#include "program_ops.h"

#if defined(__x86_64__) || defined(__i386__)
// Included before the target pragma: the intrinsics carry their own target attributes. GCC 12
// warns about its own _mm512_undefined_* helpers; they are meant to be undefined.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#define SLK_NS slk_avx512
#define SLK_VW 16
#define SLK_RMAX 6
#define SLK_NAME "AVX-512"
#define SLK_AVX512_EXP 1
#include "kernels_isa.inc"
#pragma GCC pop_options
const sl::Kernels* sl::kernels_avx512() { return &slk_avx512::table; }
#else
const sl::Kernels* sl::kernels_avx512() { return nullptr; }
#endif
