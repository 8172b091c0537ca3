#include <coreclean/core/context.h>
#include <coreclean/core/error.h>

#include <sched.h>

#include <string>
#include <thread>

namespace coreclean {

std::mt19937_64 Context::rng(std::uint64_t stream) const {
  // SplitMix64-style mixing so that nearby (seed, stream) pairs give unrelated engines.
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return std::mt19937_64(z);
}

void Context::log(LogLevel level, std::string_view message) const {
  if (logger) logger(level, message);
}

void Context::report_progress(std::int64_t done, std::int64_t total, std::string_view what) const {
  if (progress) progress(done, total, what);
}

void Context::throw_if_cancelled() const {
  if (cancel) throw Cancelled("cancelled by the caller");
}

int Context::thread_count() const {
  if (threads > 0) return threads;
  return available_cores();
}

int available_cores() {
  // The cores this process may run on (taskset, a container's cpuset, an MPI launcher's
  // binding), not all the machine's.
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int allowed = CPU_COUNT(&set);
    if (allowed > 0) return allowed;
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

}  // namespace coreclean
