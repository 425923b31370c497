// Shared building blocks of the native CPU backend: element types, conversions, the
// cancellation flag, and the errors the ops throw (turned into Promise rejections by addon.cc).
#pragma once
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

namespace sl {

// Codes shared with lib/backends/cpu/index.ts (DTYPE_CODE).
enum DType : int { F32 = 0, F16 = 1, BF16 = 2, I32 = 3 };

inline float bf16_to_f32(uint16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Round to nearest even; NaN stays a quiet NaN (same rule as lib/tensor/dtype.ts).
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu)) return uint16_t(((u >> 16) | 0x40) & 0xffff);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

inline float f16_to_f32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, u;
  if (exp == 0) {
    if (mant == 0) u = sign;
    else {  // subnormal: normalise
      int e = -1;
      do { mant <<= 1; e++; } while (!(mant & 0x400));
      u = sign | uint32_t(127 - 15 - e) << 23 | (mant & 0x3ff) << 13;
    }
  } else if (exp == 0x1f) u = sign | 0x7f800000u | mant << 13;
  else u = sign | (exp + 127 - 15) << 23 | mant << 13;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Round to nearest even, subnormals, overflow to Inf, NaN kept (same as lib/tensor/dtype.ts).
inline uint16_t f32_to_f16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  uint32_t sign = (u >> 16) & 0x8000, exp = (u >> 23) & 0xff, mant = u & 0x7fffff;
  if (exp == 0xff) return uint16_t(sign | 0x7c00 | (mant ? 0x200 | (mant >> 13) : 0));
  int e = int(exp) - 127 + 15;
  if (e >= 0x1f) return uint16_t(sign | 0x7c00);
  if (e <= 0) {
    if (e < -10) return uint16_t(sign);
    mant |= 0x800000;
    int shift = 14 - e;
    uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1))) h++;
    return uint16_t(sign | h);
  }
  uint32_t h = uint32_t(e) << 10 | (mant >> 13), rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
  return uint16_t(sign | h);
}

inline size_t dtype_size(DType d) { return d == F16 || d == BF16 ? 2 : 4; }

// dst[i] = src[off + i] * mul, widened to f32.
inline void load_f32(const void* src, DType dt, size_t off, int n, float* dst, float mul = 1.0f) {
  if (dt == F32) {
    const float* s = static_cast<const float*>(src) + off;
    if (mul == 1.0f) std::memcpy(dst, s, sizeof(float) * size_t(n));
    else for (int i = 0; i < n; i++) dst[i] = s[i] * mul;
  } else if (dt == BF16) {
    const uint16_t* s = static_cast<const uint16_t*>(src) + off;
    for (int i = 0; i < n; i++) dst[i] = bf16_to_f32(s[i]) * mul;
  } else if (dt == F16) {
    const uint16_t* s = static_cast<const uint16_t*>(src) + off;
    for (int i = 0; i < n; i++) dst[i] = f16_to_f32(s[i]) * mul;
  } else {
    const int32_t* s = static_cast<const int32_t*>(src) + off;
    for (int i = 0; i < n; i++) dst[i] = float(s[i]) * mul;
  }
}

// dst[off + i] = src[i], narrowed to dt.
inline void store_f32(void* dst, DType dt, size_t off, int n, const float* src) {
  if (dt == F32) std::memcpy(static_cast<float*>(dst) + off, src, sizeof(float) * size_t(n));
  else if (dt == BF16) {
    uint16_t* d = static_cast<uint16_t*>(dst) + off;
    for (int i = 0; i < n; i++) d[i] = f32_to_bf16(src[i]);
  } else if (dt == F16) {
    uint16_t* d = static_cast<uint16_t*>(dst) + off;
    for (int i = 0; i < n; i++) d[i] = f32_to_f16(src[i]);
  } else {
    int32_t* d = static_cast<int32_t*>(dst) + off;
    for (int i = 0; i < n; i++) d[i] = int32_t(src[i]);
  }
}

// The JS side owns an Int32Array whose element 0 becomes 1 when the op's AbortSignal fires.
// Ops poll it once per tile.
struct Cancel {
  const int32_t* flag = nullptr;
  bool requested() const { return flag && __atomic_load_n(flag, __ATOMIC_RELAXED) != 0; }
  void check() const;
};

// Thrown inside a kernel when the flag is set; addon.cc rejects with code "CANCELLED".
struct Cancelled {};
inline void Cancel::check() const {
  if (requested()) throw Cancelled{};
}

// A bad argument the TS validation could not see (e.g. an index out of range in a tensor).
struct OpError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline int round_up(int x, int m) { return (x + m - 1) / m * m; }
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

}  // namespace sl
