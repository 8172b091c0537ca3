#include "cli_common.h"

#include <coreclean/core/error.h>

#include <unistd.h>  // for isatty

#include <chrono>
#include <fmt/format.h>
#include <memory>

namespace coreclean::cli {

int run_guarded(const std::function<int()>& command, std::ostream& err) {
  try {
    return command();
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

Context make_cli_context(std::ostream& err, std::uint64_t seed, bool show_progress) {
  Context ctx;
  ctx.seed = seed;
  ctx.logger = [&err](LogLevel level, std::string_view message) {
    if (level == LogLevel::kDebug) return;
    err << "coreclean: " << (level == LogLevel::kWarning ? "warning: " : "") << message << '\n';
  };
  if (show_progress && isatty(STDERR_FILENO)) {
    auto start = std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
    ctx.progress = [&err, start](std::int64_t done, std::int64_t total, std::string_view what) {
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - *start).count();
      const double share = total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 0;
      const int filled = static_cast<int>(share * 30);
      const double eta = done > 0 ? elapsed * static_cast<double>(total - done) / done : 0.0;
      err << fmt::format("\r{:<28} [{:<30}] {}/{}  {:.1f}/s  ETA {:.0f}s", what,
                         std::string(filled, '#'), done, total,
                         elapsed > 0 ? done / elapsed : 0.0, eta)
          << (done >= total ? "\n" : "") << std::flush;
    };
  }
  return ctx;
}

}  // namespace coreclean::cli
