#ifndef CORECLEAN_APPS_CLI_REVIEW_COMMAND_H_
#define CORECLEAN_APPS_CLI_REVIEW_COMMAND_H_

// `coreclean review`: the local review page of a session.

#include <coreclean/core/context.h>

#include <CLI/CLI.hpp>

#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>

namespace coreclean::cli {

/// Options of `coreclean review`.
struct ReviewCommandOptions {
  std::filesystem::path session;
  std::string host = "127.0.0.1";
  int port = 8765;
  std::int64_t batch_size = 60;
};

/// Adds the `review` subcommand to `app`.
CLI::App* add_review_command(CLI::App& app, ReviewCommandOptions& options);

/// Opens the session (exporting the next batch when none is open), prints the page's address
/// on `out` and serves until interrupted (SIGINT / SIGTERM) or `context.cancel` is set.
int run_review(const ReviewCommandOptions& options, Context& context, std::ostream& out,
               std::ostream& err);

}  // namespace coreclean::cli

#endif  // CORECLEAN_APPS_CLI_REVIEW_COMMAND_H_
