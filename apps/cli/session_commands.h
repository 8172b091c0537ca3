#ifndef CORECLEAN_APPS_CLI_SESSION_COMMANDS_H_
#define CORECLEAN_APPS_CLI_SESSION_COMMANDS_H_

// The cleaning session's commands: `init`, `next`, `apply`, `status`, `export`.

#include <coreclean/core/context.h>
#include <coreclean/session/batch_export.h>
#include <coreclean/session/session.h>

#include <CLI/CLI.hpp>

#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace coreclean::cli {

/// Options of the session commands (one struct: they share the session folder).
struct SessionCommandOptions {
  std::filesystem::path session;       ///< the session folder
  // init
  std::filesystem::path features, coco, images, guidelines;
  std::string class_of_interest = "auto";
  std::vector<std::string> classes;
  // next
  std::int64_t batch_size = 60;
  bool random = false;
  bool findings = false;
  // apply, revise
  std::optional<std::filesystem::path> review_csv;
  std::string undecided;  ///< "", "keep" or "return"
  // status
  bool json = false;
  // export
  std::optional<std::filesystem::path> coco_out, labels_out;
};

/// The subcommands, each bound to `options`.
struct SessionCommands {
  CLI::App* init = nullptr;
  CLI::App* next = nullptr;
  CLI::App* apply = nullptr;
  CLI::App* status = nullptr;
  CLI::App* export_ = nullptr;
  CLI::App* revise = nullptr;
};

/// Adds init, next, apply, revise, status and export to `app`.
SessionCommands add_session_commands(CLI::App& app, SessionCommandOptions& options);

int run_init(const SessionCommandOptions& options, const Context& context, std::ostream& out);
int run_next(const SessionCommandOptions& options, const Context& context, std::ostream& out);
int run_apply(const SessionCommandOptions& options, const Context& context, std::ostream& out);
int run_revise(const SessionCommandOptions& options, const Context& context, std::ostream& out);
int run_status(const SessionCommandOptions& options, const Context& context, std::ostream& out);
int run_export(const SessionCommandOptions& options, const Context& context, std::ostream& out);


}  // namespace coreclean::cli

#endif  // CORECLEAN_APPS_CLI_SESSION_COMMANDS_H_
