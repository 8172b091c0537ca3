// The test binary's main: GoogleTest's, after the restart every coreclean program makes when
// OpenBLAS picked kernels older than the CPU (so that results computed here and by the CLI in
// child processes come from the same kernels).
#include <gtest/gtest.h>

#include "cli_common.h"

int main(int argc, char** argv) {
  coreclean::cli::restart_with_fitting_blas_kernels(argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
