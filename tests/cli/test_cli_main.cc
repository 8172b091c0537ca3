// The coreclean binary's own options and help: --version, the flow in the top-level help, plain
// messages for out-of-range numbers (exit code 2), and update's default.
#include <gtest/gtest.h>

#include <coreclean/core/blas.h>

#include <cstdlib>
#include <regex>
#include <string>

#include "testing/helpers.h"

namespace coreclean::cli {
namespace {

using testing::contains;

testing::CommandResult coreclean(const std::string& arguments) {
  return testing::run_command(testing::shell_quote(CORECLEAN_CLI_PATH) + " " + arguments);
}

TEST(CliMain, VersionPrintsTheProjectVersion) {
  // One line, "coreclean <major.minor.patch> (BLAS kernels: <name>)", exit code 0.
  const testing::CommandResult r = coreclean("--version");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(std::regex_match(
      r.output, std::regex("coreclean [0-9]+\\.[0-9]+\\.[0-9]+ \\(BLAS kernels: [A-Za-z0-9]+\\)\n")))
      << r.output;
}

// Left to itself (no OPENBLAS_CORETYPE), the CLI ends up with kernels that need no advice:
// either OpenBLAS picked fitting ones, or the CLI restarted itself with them.
TEST(CliMain, RunsWithTheBlasKernelsTheCpuSupports) {
  const testing::CommandResult r = testing::run_command(
      "env -u OPENBLAS_CORETYPE " + testing::shell_quote(CORECLEAN_CLI_PATH) + " --version");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.output, m, std::regex("BLAS kernels: ([A-Za-z0-9]+)"))) << r.output;
  EXPECT_EQ(recommended_blas_core_for(m[1].str()), "") << r.output;
}

TEST(CliMain, TheUsersBlasKernelsStand) {
  // OPENBLAS_CORETYPE set by the user: no restart, OpenBLAS uses what it names.
  const testing::CommandResult r = testing::run_command(
      "OPENBLAS_CORETYPE=Haswell " + testing::shell_quote(CORECLEAN_CLI_PATH) + " --version");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "(BLAS kernels: Haswell)")) << r.output;
}

TEST(CliMain, HelpListsTheLoopInOrder) {
  // The flow line names the commands in the order they are used.
  const testing::CommandResult r = coreclean("--help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::size_t at = 0;
  for (const char* step : {"make-demo", "check", "embed", "init", "next", "review", "apply",
                           "status", "export", "report"}) {
    const std::size_t found = r.output.find(step, at);
    ASSERT_NE(found, std::string::npos) << step << " after position " << at << " in\n" << r.output;
    at = found;
  }
  EXPECT_TRUE(contains(r.output, "Lower-level tools"));
  for (const char* tool : {"pick", "build", "rank", "update", "fit"})
    EXPECT_TRUE(contains(r.output, tool));
}

TEST(CliMain, SizeZeroGetsAPlainMessage) {
  // CLI11's range text ("not in range 2.225074e-308 to ...") is replaced; bad input is exit 2.
  testing::TempDir dir;
  const testing::CommandResult r =
      coreclean("next " + testing::shell_quote((dir / "session").string()) + " --size 0");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "--size: must be at least 1, got 0"));
  EXPECT_FALSE(contains(r.output, "e-308"));
  const testing::CommandResult share = coreclean("demo --batch-share 0");
  EXPECT_EQ(share.exit_code, 2) << share.output;
  const testing::CommandResult pca = coreclean("pick --features x --pca=-1");
  EXPECT_EQ(pca.exit_code, 2) << pca.output;
  EXPECT_TRUE(contains(pca.output, "--pca: must be 0 or more, got -1"));
}

TEST(CliMain, UpdateHelpShowsRefreshAsTheDefault) {
  // The help says refreshing is on unless --no-refresh is given (no "{false}" beside it).
  const testing::CommandResult r = coreclean("update --help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "On by default")) << r.output;
  EXPECT_TRUE(contains(r.output, "--no-refresh")) << r.output;
  EXPECT_FALSE(contains(r.output, "{false}")) << r.output;
}

}  // namespace
}  // namespace coreclean::cli
