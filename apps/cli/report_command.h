#ifndef CORECLEAN_APPS_CLI_REPORT_COMMAND_H_
#define CORECLEAN_APPS_CLI_REPORT_COMMAND_H_

// `coreclean report`: the session's HTML report and its CSV series.

#include <coreclean/core/context.h>

#include <CLI/CLI.hpp>

#include <filesystem>
#include <ostream>

namespace coreclean::cli {

/// Options of `coreclean report`.
struct ReportCommandOptions {
  std::filesystem::path session;
  std::filesystem::path out;  ///< default SESSION/report/report.html
  int examples = 12;
};

/// Adds the `report` subcommand to `app`.
CLI::App* add_report_command(CLI::App& app, ReportCommandOptions& options);

/// Writes the report (and `<stem>-iterations.csv`, `<stem>-importance.csv` beside it); prints
/// the paths.
int run_report(const ReportCommandOptions& options, const Context& context, std::ostream& out);

}  // namespace coreclean::cli

#endif  // CORECLEAN_APPS_CLI_REPORT_COMMAND_H_
