#ifndef CORECLEAN_APPS_CLI_CLI_COMMON_H_
#define CORECLEAN_APPS_CLI_CLI_COMMON_H_

// Pieces shared by the subcommands: exit codes, error mapping, a terminal progress bar.

#include <coreclean/core/context.h>
#include <coreclean/core/error.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <functional>
#include <ostream>
#include <string_view>
#include <type_traits>

/// Throws coreclean::InvalidArgument (exit code 2) with a formatted message unless cond holds.
#define CORECLEAN_CLI_REQUIRE(cond, ...) \
  do {                                   \
    if (!(cond)) throw ::coreclean::InvalidArgument(fmt::format(__VA_ARGS__)); \
  } while (false)

namespace coreclean::cli {

/// Process exit codes of the command-line tool.
enum ExitCode : int {
  kExitOk = 0,
  kExitRuntimeFailure = 1,  ///< something failed that is not the input's fault
  kExitBadInput = 2,        ///< bad input or usage; the message names file, field and value
  kExitInterrupted = 130,   ///< stopped by Ctrl-C (128 + SIGINT, as shells report it)
};

/// While it lives, Ctrl-C (SIGINT) sets `context.cancel`, so the running command stops at its
/// next check and run_guarded says what was kept; a second Ctrl-C ends the process at once.
/// Destroy it before `context` (it restores the default handler).
class InterruptScope {
 public:
  explicit InterruptScope(const Context& context);
  ~InterruptScope();
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;
};

/// Runs a subcommand, turning exceptions into a message on `err` and an exit code:
/// InvalidArgument / FormatError / IoError → 2 (the input's fault), Cancelled → 130 (with what
/// was kept and how to resume), anything else → 1.
int run_guarded(const std::function<int()>& command, std::ostream& err);

/// Replaces CLI11's messages for its PositiveNumber and NonNegativeNumber checks ("Value 0 not in
/// range 2.225074e-308 to 1.797693e+308") by plain ones ("--size: must be at least 1, got 0"), on
/// every option of `app` and of its subcommands. Call after every option is added.
void use_plain_range_messages(CLI::App& app);

/// A Context whose logger writes warnings to `err` and whose progress sink draws a bar per step
/// on `err` when `show_progress` is set and `err` is a terminal (steps shorter than half a
/// second draw nothing). `err` must live as long as the process (std::cerr): a ticker thread
/// redraws the bar every second.
Context make_cli_context(std::ostream& err, std::uint64_t seed, bool show_progress);

/// Programs call this first thing in main(): when OpenBLAS fell back to kernels far older than
/// this CPU (coreclean/core/blas.h), the process restarts itself (exec, same arguments) with
/// OPENBLAS_CORETYPE naming the right ones — a few milliseconds, against half the speed of every
/// BLAS product. The variable it sets stops a second restart; if exec fails, the program simply
/// goes on with the kernels it has.
void restart_with_fitting_blas_kernels(char** argv);

/// Runs f() as one progress step named `what` (reported at its start and its end): a step
/// without progress of its own — reading or writing a file of gigabytes — then shows on the bar,
/// whose ticker redraws its elapsed time every second. Returns f()'s result.
template <typename F>
auto as_progress_step(const Context& context, std::string_view what, F&& f) {
  context.report_progress(0, 1, what);
  if constexpr (std::is_void_v<decltype(f())>) {
    f();
    context.report_progress(1, 1, what);
  } else {
    auto result = f();
    context.report_progress(1, 1, what);
    return result;
  }
}

/// The number of processes of the MPI job an MPI launcher (mpirun, mpiexec, srun) started this
/// process in, as the launcher's environment names it; 1 when none did.
int mpi_job_size();

}  // namespace coreclean::cli

#endif  // CORECLEAN_APPS_CLI_CLI_COMMON_H_
