#include "cli_common.h"

#include <coreclean/core/blas.h>
#include <coreclean/core/error.h>

#include <unistd.h>  // for isatty, execv

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <string>

#include <chrono>
#include <cmath>
#include <fmt/format.h>
#include <memory>
#include <mutex>
#include <regex>
#include <thread>

namespace coreclean::cli {

namespace {

// The running command's cancellation flag, for the SIGINT handler (a lock-free atomic).
std::atomic<std::atomic<bool>*> g_cancel{nullptr};

void request_cancel(int) {
  if (std::atomic<bool>* flag = g_cancel.load()) {
    if (flag->load()) std::_Exit(kExitInterrupted);  // a second Ctrl-C: stop at once
    flag->store(true);
  }
}

// The progress bar of the current step, shared by the progress sink, the logger and the
// ticker thread (all under its mutex).
struct Bar {
  std::mutex mutex;
  std::string what;
  std::int64_t done = 0, total = 0;
  std::chrono::steady_clock::time_point start, drawn;
  bool shown = false, active = false;

  void draw(std::ostream& err, std::chrono::steady_clock::time_point now) {
    const double elapsed = std::chrono::duration<double>(now - start).count();
    const double share = total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 0;
    const bool last = done >= total;
    std::string eta;
    if (done > 0 && !last)
      eta = fmt::format("  ETA {:.0f}s", elapsed * static_cast<double>(total - done) / done);
    err << fmt::format("\r{:<30} [{:<30}] {}/{}  {:.0f}s{}   ", what,
                       std::string(static_cast<std::size_t>(share * 30), '#'), done, total,
                       elapsed, eta)
        << (last ? "\n" : "") << std::flush;
    drawn = now;
    shown = !last;
    active = !last;
  }
};

}  // namespace

InterruptScope::InterruptScope(const Context& context) {
  g_cancel.store(context.cancel.get());
  std::signal(SIGINT, request_cancel);
}

InterruptScope::~InterruptScope() {
  std::signal(SIGINT, SIG_DFL);
  g_cancel.store(nullptr);
}

int run_guarded(const std::function<int()>& command, std::ostream& err) {
  try {
    return command();
  } catch (const Cancelled& e) {
    err << "\ncoreclean: interrupted (" << e.what()
        << "). Everything saved before is kept: each step of a session (init, next, apply, "
           "revise) and each update of a tree is saved whole or not at all, decisions are saved "
           "as they are made, and embed resumes where it stopped when run again with the same "
           "arguments.\n";
    return kExitInterrupted;
  } catch (const InvalidArgument& e) {
    err << "coreclean: error: " << e.what() << '\n';
    return kExitBadInput;
  } catch (const FormatError& e) {
    err << "coreclean: error: " << e.what() << '\n';
    return kExitBadInput;
  } catch (const IoError& e) {
    err << "coreclean: error: " << e.what() << '\n';
    return kExitBadInput;
  } catch (const std::bad_alloc&) {
    err << "coreclean: error: out of memory\n";
    return kExitRuntimeFailure;
  } catch (const std::exception& e) {
    err << "coreclean: error: " << e.what() << '\n';
    return kExitRuntimeFailure;
  }
}

namespace {

// A CLI11 check (`input` is the option's text) that accepts numbers in [min, max] (above `min`
// when `strict`), with a message a user can act on: "must be <rule>, got <input>".
std::function<std::string(std::string&)> number_check(double min, double max, bool strict,
                                                      std::string rule) {
  return [=, rule = std::move(rule)](std::string& input) -> std::string {
    std::size_t used = 0;
    double value = NAN;
    try {
      value = std::stod(input, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    const bool ok = used == input.size() && !input.empty() && std::isfinite(value) &&
                    (strict ? value > min : value >= min) && value <= max;
    return ok ? std::string() : fmt::format("must be {}, got {}", rule, input);
  };
}

std::function<std::string(std::string&)> at_least(double min, bool strict, std::string rule) {
  return number_check(min, HUGE_VAL, strict, std::move(rule));
}

}  // namespace

void use_plain_range_messages(CLI::App& app) {
  for (CLI::Option* option : app.get_options()) {
    const bool integer =
        option->get_type_name().starts_with("INT") || option->get_type_name().starts_with("UINT");
    // CLI11 2.1 keeps "POSITIVE" / "NONNEGATIVE" as the description of these checks, not their
    // name, and has no way to count an option's checks but asking until it throws.
    for (int i = 0;; ++i) {
      CLI::Validator* check = nullptr;
      try {
        check = option->get_validator(i);
      } catch (const CLI::OptionNotFound&) {
        break;
      }
      const std::string kind = check->get_description();
      if (kind == "POSITIVE") {
        check->operation(integer ? at_least(1, false, "at least 1")
                                 : at_least(0, true, "greater than 0"));
      } else if (kind == "NONNEGATIVE") {
        check->operation(at_least(0, false, "0 or more"));
      } else if (std::smatch m;
                 std::regex_match(kind, m, std::regex(R"(\w+ in \[(\S+) - (\S+)\])"))) {
        // CLI::Range(min, max): "FLOAT in [0 - 0.5]".
        check->operation(number_check(std::stod(m[1]), std::stod(m[2]), false,
                                      fmt::format("between {} and {}", m[1].str(), m[2].str())));
      }
    }
  }
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
    use_plain_range_messages(*sub);
}

void restart_with_fitting_blas_kernels(char** argv) {
  if (const std::string core = recommended_blas_core(); !core.empty()) {
    ::setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
    ::execv("/proc/self/exe", argv);
  }
}

Context make_cli_context(std::ostream& err, std::uint64_t seed, bool show_progress) {
  Context ctx;
  ctx.seed = seed;
  auto bar = std::make_shared<Bar>();
  ctx.logger = [&err, bar](LogLevel level, std::string_view message) {
    if (level == LogLevel::kDebug) return;
    // A message never lands on the line of a bar: the bar ends its line first (the ticker
    // draws it again below).
    std::lock_guard<std::mutex> lock(bar->mutex);
    if (bar->shown) err << '\n';
    bar->shown = false;
    err << "coreclean: " << (level == LogLevel::kWarning ? "warning: " : "") << message << '\n';
  };
  if (show_progress && isatty(STDERR_FILENO)) {
    // One bar per step (a new `what` starts a new line) with the step's own clock. Steps that
    // report rarely (a model fit reports its start and its end) still show their elapsed time:
    // a ticker redraws the current line every second. Nothing is drawn for the first half
    // second, so short steps stay silent.
    std::thread([&err, weak = std::weak_ptr<Bar>(bar)] {
      for (;;) {
        std::this_thread::sleep_for(std::chrono::seconds(1));
        const std::shared_ptr<Bar> b = weak.lock();
        if (!b) return;
        std::lock_guard<std::mutex> lock(b->mutex);
        const auto now = std::chrono::steady_clock::now();
        if (b->active && now - b->start > std::chrono::milliseconds(500) &&
            now - b->drawn >= std::chrono::seconds(1))
          b->draw(err, now);
      }
    }).detach();
    ctx.progress = [&err, bar](std::int64_t done, std::int64_t total, std::string_view what) {
      using clock = std::chrono::steady_clock;
      std::lock_guard<std::mutex> lock(bar->mutex);
      const clock::time_point now = clock::now();
      if (what != bar->what || !bar->active) {
        if (bar->shown) err << '\n';
        bar->what = std::string(what);
        bar->start = bar->drawn = now;
        bar->shown = false;
      }
      bar->done = done;
      bar->total = total;
      bar->active = done < total;
      const bool last = done >= total;
      if (now - bar->start < std::chrono::milliseconds(500)) {
        if (last) bar->what.clear();
        return;
      }
      if (last || now - bar->drawn >= std::chrono::milliseconds(100)) bar->draw(err, now);
      if (last) bar->what.clear();
    };
  }
  return ctx;
}

int mpi_job_size() {
  // Set by the launcher for each process it starts (Open MPI; PMI/PMIx launchers such as srun
  // and MPICH's mpiexec) — not variables a batch script inherits, like SLURM_NTASKS.
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"}) {
    const char* value = std::getenv(name);
    if (value != nullptr && std::atoi(value) > 1) return std::atoi(value);
  }
  return 1;
}

}  // namespace coreclean::cli
