#include "cli_common.h"

#include <coreclean/core/error.h>

#include <unistd.h>  // for isatty

#include <chrono>
#include <cmath>
#include <fmt/format.h>
#include <memory>
#include <regex>
#include <string>

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
