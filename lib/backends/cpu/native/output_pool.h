// Output storage for the CPU backend's ops, recycled across calls (see output_pool.cc).
#pragma once
#include <napi.h>

namespace sl {

// allocOutput(bytes): an ArrayBuffer of `bytes` bytes, contents unspecified (the op writes
// every element), whose memory returns to the pool when the GC collects it.
Napi::Value AllocOutput(const Napi::CallbackInfo& info);

// reserveOutput(bytes): a block for an op to write into before any JS object wraps it, as a
// number id; wrapOutput(id): the ArrayBuffer over it (once). Wrapping after the op has been
// launched lets a GC that the new ArrayBuffer triggers run while the kernel works.
Napi::Value ReserveOutput(const Napi::CallbackInfo& info);
Napi::Value WrapOutput(const Napi::CallbackInfo& info);

// The memory of a reserved (not yet wrapped) block of at least `bytes` bytes, or null.
void* reserved_output(double id, size_t bytes);

}  // namespace sl
