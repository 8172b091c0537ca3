#ifndef CORECLEAN_CORE_CONTEXT_H_
#define CORECLEAN_CORE_CONTEXT_H_

/// @file
/// The explicit run-time context passed to every long-running call: seed, thread count, a
/// logger sink, a progress sink and a cancellation flag. The library has no global state.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string_view>

namespace coreclean {

/// A request to stop, shared by a Context and every copy of it: a call that copies its context
/// (e.g. to change the seed) still sees a cancel made later from another thread or a signal
/// handler. Assigning true or false sets the shared flag.
class CancelFlag {
 public:
  CancelFlag() : flag_(std::make_shared<std::atomic<bool>>(false)) {}
  /// Sets the shared flag (not the sharing: copies keep sharing one flag).
  CancelFlag& operator=(bool value) {
    flag_->store(value);
    return *this;
  }
  /// Whether a stop was requested.
  operator bool() const { return flag_->load(std::memory_order_relaxed); }  // NOLINT: a flag
  /// The flag itself, lock-free: a signal handler may store to it.
  [[nodiscard]] std::atomic<bool>* get() const { return flag_.get(); }

 private:
  std::shared_ptr<std::atomic<bool>> flag_;
};

/// Severity of a log message sent to Context::logger.
enum class LogLevel { kDebug, kInfo, kWarning };

/// Run-time settings and sinks shared by a sequence of calls. Not thread-safe to mutate; the
/// library only reads it (and the atomic cancellation flag) while a call runs.
struct Context {
  /// Base seed; a call that needs randomness derives its own engine with rng(stream).
  std::uint64_t seed = 0;
  /// Worker threads for the library's own parallel loops; 0 = all hardware threads.
  int threads = 0;
  /// Receives warnings and diagnostics (e.g. "solver did not converge"). May be empty.
  std::function<void(LogLevel, std::string_view)> logger;
  /// Receives (done, total, what) for long loops. May be empty.
  std::function<void(std::int64_t, std::int64_t, std::string_view)> progress;
  /// Set (from another thread or a signal handler) to ask a running call to stop; the call
  /// throws coreclean::Cancelled at its next check. Copies of the context share it.
  CancelFlag cancel;

  /// A deterministic engine for one independent random stream of this context's seed.
  [[nodiscard]] std::mt19937_64 rng(std::uint64_t stream = 0) const;
  /// Sends a message to the logger, if any.
  void log(LogLevel level, std::string_view message) const;
  /// Reports progress, if a sink is set.
  void report_progress(std::int64_t done, std::int64_t total, std::string_view what) const;
  /// Throws coreclean::Cancelled if cancellation was requested.
  void throw_if_cancelled() const;
  /// The number of threads to use: `threads`, or available_cores() when 0.
  [[nodiscard]] int thread_count() const;
};

/// The cores this process may run on: its CPU affinity (taskset, a container's cpuset, an MPI
/// launcher's binding), or the machine's when that cannot be read.
int available_cores();

}  // namespace coreclean

#endif  // CORECLEAN_CORE_CONTEXT_H_
