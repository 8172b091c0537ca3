#include <coreclean/core/blas.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <mutex>
#include <string_view>

// OpenBLAS's run-time settings (cblas.h of OpenBLAS; declared here so the header of whichever
// BLAS development package is installed does not matter).
extern "C" void openblas_set_num_threads(int num_threads);
extern "C" int openblas_get_num_threads(void);
extern "C" char* openblas_get_corename(void);

namespace coreclean {

void set_blas_threads(int threads) { openblas_set_num_threads(threads < 1 ? 1 : threads); }

int blas_threads() { return openblas_get_num_threads(); }

bool use_single_threaded_blas_unless_configured() {
  if (std::getenv("OPENBLAS_NUM_THREADS") != nullptr || std::getenv("GOTO_NUM_THREADS") != nullptr)
    return false;
  set_blas_threads(1);
  return true;
}

namespace {

// Calls inside a ScopedSingleThreadedBlas, and the threads BLAS had before the first of them:
// host threads (Python releases its lock during a call) may run calls at once, and BLAS's thread
// count must not change while one of them is inside BLAS — the first sets 1, the last gives the
// threads back.
std::mutex blas_scope_mutex;
int blas_scope_depth = 0;
int blas_scope_saved = 0;

}  // namespace

ScopedSingleThreadedBlas::ScopedSingleThreadedBlas() {
  if (std::getenv("OPENBLAS_NUM_THREADS") != nullptr || std::getenv("GOTO_NUM_THREADS") != nullptr)
    return;
  const std::lock_guard<std::mutex> lock(blas_scope_mutex);
  if (blas_scope_depth++ == 0) {
    blas_scope_saved = openblas_get_num_threads();
    if (blas_scope_saved > 1) set_blas_threads(1);
  }
  counted_ = true;
}

ScopedSingleThreadedBlas::~ScopedSingleThreadedBlas() {
  if (!counted_) return;
  const std::lock_guard<std::mutex> lock(blas_scope_mutex);
  if (--blas_scope_depth == 0 && blas_scope_saved > 1) set_blas_threads(blas_scope_saved);
}

std::string blas_core_name() {
  const char* name = openblas_get_corename();
  return name != nullptr ? name : "";
}

std::string recommended_blas_core_for(std::string_view chosen) {
#if defined(__x86_64__) || defined(__i386__)
  std::string name(chosen);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  // OpenBLAS's x86 kernels without AVX2 + FMA: what it falls back to on a CPU it does not know.
  constexpr std::array<std::string_view, 12> kOld = {
      "prescott", "core2",      "penryn",    "dunnington", "nehalem", "sandybridge",
      "katmai",   "coppermine", "northwood", "banias",     "atom",    "unknown"};
  if (std::find(kOld.begin(), kOld.end(), name) == kOld.end()) return "";
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#else
  (void)chosen;
#endif
  return "";
}

std::string recommended_blas_core() {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return "";
  return recommended_blas_core_for(blas_core_name());
}

}  // namespace coreclean
