// tma_copy.cu: the smallest complete use of a TMA descriptor, kept as the runtime's check that
// tensorMap() and the by-value launch kind work (and as a sample for the Hopper kernels): each
// CTA loads one 2-D box with cp.async.bulk.tensor into shared memory, completing on an mbarrier,
// then copies it out element by element, undoing the swizzle, to out[tileY][tileX][boxRows][boxCols].
// Out-of-bounds parts of the box arrive as the descriptor's fill (zero), including at negative
// coordinates, so the test checks the fill as well as the data.
//
// ELEM_BYTES: 2 or 4 (the element is copied as raw bits). Needs sm_90; on older chips the kernel
// body compiles away so the CI compile of every kernel for sm_80 still passes.

#ifndef ELEM_BYTES
#define ELEM_BYTES 2
#endif
#if ELEM_BYTES == 2
typedef unsigned short bits_t;
#else
typedef unsigned int bits_t;
#endif

// The driver's CUtensorMap: 128 opaque bytes, 64-byte aligned, passed by value.
struct __align__(64) TmaDescriptor {
  unsigned long long opaque[16];
};

// swizzleBits: 0 none, 1 = 32B, 2 = 64B, 3 = 128B. TMA XORs byte-address bits [4, 4+bits) with
// bits [7, 7+bits) of the offset inside a 1024-byte aligned buffer.
__device__ __forceinline__ unsigned unswizzle(unsigned off, int swizzleBits) {
  return swizzleBits ? off ^ (((off >> 7) & ((1u << swizzleBits) - 1u)) << 4) : off;
}

extern "C" __global__ void tma_copy_2d(const __grid_constant__ TmaDescriptor desc, bits_t* __restrict__ out, int boxCols,
                                      int boxRows, int rowOffset, int colOffset, int swizzleBits) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  extern __shared__ unsigned char smemRaw[];
  __shared__ __align__(8) unsigned long long bar;
  // Swizzled boxes must start on a 1024-byte boundary: round the dynamic buffer up (the launch
  // asks for 1024 bytes of slack).
  const unsigned rawAddr = (unsigned)__cvta_generic_to_shared(smemRaw);
  const unsigned tileAddr = (rawAddr + 1023u) & ~1023u;
  const unsigned char* tile = smemRaw + (tileAddr - rawAddr);
  const unsigned barAddr = (unsigned)__cvta_generic_to_shared(&bar);
  const unsigned bytes = (unsigned)(boxCols * boxRows * ELEM_BYTES);
  if (threadIdx.x == 0) {
    asm volatile("prefetch.tensormap [%0];" ::"l"(reinterpret_cast<unsigned long long>(&desc)) : "memory");
    asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" ::"r"(barAddr) : "memory");
    // Make the initialised barrier visible to the async proxy that TMA completes on.
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    const int x = blockIdx.x * boxCols + colOffset, y = blockIdx.y * boxRows + rowOffset;
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(barAddr), "r"(bytes) : "memory");
    asm volatile(
        "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];" ::"r"(
            tileAddr),
        "l"(reinterpret_cast<unsigned long long>(&desc)), "r"(x), "r"(y), "r"(barAddr)
        : "memory");
  }
  unsigned done = 0;
  while (!done)
    asm volatile(
        "{\n .reg .pred p;\n mbarrier.try_wait.parity.shared::cta.b64 p, [%1], 0;\n selp.u32 %0, 1, 0, p;\n}" : "=r"(done)
        : "r"(barAddr)
        : "memory");
  const size_t base = ((size_t)blockIdx.y * gridDim.x + blockIdx.x) * (size_t)(boxCols * boxRows);
  for (int e = threadIdx.x; e < boxCols * boxRows; e += blockDim.x) {
    const unsigned off = unswizzle((unsigned)(e * ELEM_BYTES), swizzleBits);
    out[base + e] = *reinterpret_cast<const bits_t*>(tile + off);
  }
#endif
}
