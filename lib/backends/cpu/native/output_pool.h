// Output storage for the CPU backend's ops, recycled across calls (see output_pool.cc).
#pragma once
#include <napi.h>

namespace sl {

// allocOutput(bytes): an ArrayBuffer of `bytes` bytes, contents unspecified (the op writes
// every element), whose memory returns to the pool when the GC collects it.
Napi::Value AllocOutput(const Napi::CallbackInfo& info);

}  // namespace sl
