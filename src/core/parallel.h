#ifndef CORECLEAN_SRC_CORE_PARALLEL_H_
#define CORECLEAN_SRC_CORE_PARALLEL_H_

// Loops over independent blocks of work on the context's threads, with the context's progress
// and cancellation, and exceptions that reach the caller (an exception must not leave an
// OpenMP region).

#include <coreclean/core/context.h>
#include <coreclean/core/error.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <string_view>

#include <omp.h>

namespace coreclean::detail {

/// Runs body(b) for every b in [0, blocks) on up to context.thread_count() threads (static
/// schedule: thread t takes the t-th run of consecutive blocks). Bodies must be independent; one
/// that writes shared results writes its own slots. Progress (done, blocks, what) is reported
/// from the calling thread only, so sinks need not be thread-safe. Once cancellation is
/// requested or a body throws, no further block starts; then the first exception (or Cancelled)
/// is rethrown here.
template <typename Body>
void parallel_blocks(std::int64_t blocks, const Context& context, std::string_view what,
                     Body&& body) {
  if (blocks <= 0) return;
  const int threads =
      static_cast<int>(std::clamp<std::int64_t>(blocks, 1, std::max(1, context.thread_count())));
  std::atomic<std::int64_t> done{0};
  std::atomic<bool> stop{false};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  if (!what.empty()) context.report_progress(0, blocks, what);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (std::int64_t b = 0; b < blocks; ++b) {
    if (stop.load(std::memory_order_relaxed)) continue;
    if (context.cancel) {
      stop = true;
      continue;
    }
    try {
      body(b);
    } catch (...) {
      const std::lock_guard<std::mutex> lock(failure_mutex);
      if (!failure) failure = std::current_exception();
      stop = true;
      continue;
    }
    const std::int64_t now = ++done;
    if (!what.empty() && omp_get_thread_num() == 0) context.report_progress(now, blocks, what);
  }
  if (failure) std::rethrow_exception(failure);
  context.throw_if_cancelled();
  if (!what.empty()) context.report_progress(blocks, blocks, what);
}

}  // namespace coreclean::detail

#endif  // CORECLEAN_SRC_CORE_PARALLEL_H_
