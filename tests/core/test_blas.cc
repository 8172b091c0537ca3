// The BLAS library's kernels: the advice to restart with OPENBLAS_CORETYPE; its threads during a
// library call from a host process.
#include <coreclean/core/blas.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

namespace coreclean {
namespace {

// Sets an environment variable for one scope and puts the old value back.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// One BLAS thread while the guard lives, the host's threads back after; the user's
// OPENBLAS_NUM_THREADS is never overridden.
TEST(Blas, ScopedSingleThreadedBlasGivesTheThreadsBack) {
  const int before = blas_threads();
  set_blas_threads(2);
  {
    const ScopedEnv keep_openblas("OPENBLAS_NUM_THREADS", ""), keep_goto("GOTO_NUM_THREADS", "");
    ::unsetenv("OPENBLAS_NUM_THREADS");  // the ScopedEnvs put the user's values back
    ::unsetenv("GOTO_NUM_THREADS");
    const ScopedSingleThreadedBlas guard;
    EXPECT_EQ(blas_threads(), 1);
    {
      // An overlapping call (another host thread): BLAS stays single-threaded until the last
      // one ends.
      const ScopedSingleThreadedBlas overlapping;
      EXPECT_EQ(blas_threads(), 1);
    }
    EXPECT_EQ(blas_threads(), 1);
  }
  EXPECT_EQ(blas_threads(), 2);
  {
    const ScopedEnv user("OPENBLAS_NUM_THREADS", "2");
    const ScopedSingleThreadedBlas guard;
    EXPECT_EQ(blas_threads(), 2);
  }
  set_blas_threads(before);
}

TEST(Blas, CoreNameIsOpenBlassOwn) { EXPECT_FALSE(blas_core_name().empty()); }

// The user's OPENBLAS_CORETYPE always stands, whatever OpenBLAS chose.
TEST(Blas, NoAdviceWhenTheUserChoseTheKernels) {
  const ScopedEnv env("OPENBLAS_CORETYPE", "Prescott");
  EXPECT_EQ(recommended_blas_core(), "");
}

// Advice is given only for an old kernel family, and names kernels the CPU can run.
TEST(Blas, AdviceNamesKernelsTheCpuRuns) {
  for (const char* modern : {"SkylakeX", "Haswell", "Cooperlake", "Zen"})
    EXPECT_EQ(recommended_blas_core_for(modern), "") << modern;
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const std::string expected = avx512 ? "SkylakeX" : avx2 ? "Haswell" : "";
  for (const char* old : {"Prescott", "prescott", "Nehalem", "Sandybridge"})
    EXPECT_EQ(recommended_blas_core_for(old), expected) << old;
}

}  // namespace
}  // namespace coreclean
