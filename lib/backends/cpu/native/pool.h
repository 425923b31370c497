// A fixed thread pool sized to the cores (SPARSELAB_THREADS overrides). The calling thread
// works too, so `threads()` counts it. One parallel region runs at a time; ops that arrive
// together queue on a mutex rather than oversubscribing the cores.
#pragma once
#include <cstdint>
#include <functional>

namespace sl {

int threads();

// Runs fn(i, tid) for i in [0, n), handing out indices dynamically (so uneven tiles balance).
// tid in [0, threads()) names the worker, for per-thread scratch. The first exception thrown
// by any fn is rethrown here after every worker has stopped; after it, remaining indices
// are skipped.
void parallel_for(int64_t n, const std::function<void(int64_t i, int tid)>& fn);

}  // namespace sl
