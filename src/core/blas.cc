#include <coreclean/core/blas.h>

#include <cstdlib>

// OpenBLAS's run-time thread setting (cblas.h of OpenBLAS; declared here so the header of
// whichever BLAS development package is installed does not matter).
extern "C" void openblas_set_num_threads(int num_threads);

namespace coreclean {

void set_blas_threads(int threads) { openblas_set_num_threads(threads < 1 ? 1 : threads); }

bool use_single_threaded_blas_unless_configured() {
  if (std::getenv("OPENBLAS_NUM_THREADS") != nullptr || std::getenv("GOTO_NUM_THREADS") != nullptr)
    return false;
  set_blas_threads(1);
  return true;
}

}  // namespace coreclean
