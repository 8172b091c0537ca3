#include "report_command.h"

#include "cli_common.h"

#include <coreclean/report/report.h>
#include <coreclean/session/session.h>

namespace coreclean::cli {

CLI::App* add_report_command(CLI::App& app, ReportCommandOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "report",
      "Write the session's report: one self-contained HTML file (opens offline in any browser) "
      "with the AUC across iterations, the share of reviewed boxes that were fixed, the "
      "cumulative errors found, the errors left as estimated by random audits, the importance "
      "histogram of the class at the start and now, the confusion matrix that picked the class, "
      "the box checks' findings, every decision, and examples of fixed boxes with their "
      "renderings; plus CSV files beside it (<stem>-iterations.csv, <stem>-importance.csv, "
      "<stem>-decisions.csv).");
  cmd->add_option("session", o.session, "Session folder")->required();
  cmd->add_option("--out", o.out, "HTML file to write (default: SESSION/report/report.html)");
  cmd->add_option("--examples", o.examples, "Fixed boxes shown with their renderings")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  return cmd;
}

int run_report(const ReportCommandOptions& o, const Context& context, std::ostream& out) {
  session::Session s = session::Session::open(o.session, context);
  report::ReportOptions options;
  options.max_examples = o.examples;
  const std::filesystem::path html = o.out.empty() ? s.dir() / "report" / "report.html" : o.out;
  const report::ReportFiles files = report::write_report(s, html, options);
  out << fmt::format("report: {}\nseries: {}, {}\ndecisions: {}\n", files.html.string(),
                     files.iterations_csv.string(), files.importance_csv.string(),
                     files.decisions_csv.string());
  return kExitOk;
}

}  // namespace coreclean::cli
