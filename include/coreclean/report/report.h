#ifndef CORECLEAN_REPORT_REPORT_H_
#define CORECLEAN_REPORT_REPORT_H_
/// @file
/// The report of a cleaning session: the series of its iterations (cross-validated AUC,
/// reviewed, fixed, cumulative errors found), the estimate of errors left from random audits,
/// the importance histogram of the class of interest at the start and now, the confusion matrix
/// that picked the class, the box checks' findings, every decision, and examples of fixed boxes
/// with their renderings — as one self-contained HTML file (charts drawn by the embedded uPlot
/// library; no network needed to open it) and as CSV files.

#include <coreclean/session/session.h>

#include <filesystem>
#include <string>
#include <vector>

namespace coreclean::report {

/// A curve to compare the session with: the errors another review strategy found after each
/// iteration with the same budget (index 0 = before any review, so 0).
struct Baseline {
  std::string name;                     ///< e.g. "random review"
  std::vector<double> cumulative_found;  ///< one value per iteration of the session
  std::vector<double> auc;               ///< the AUC after each iteration; empty = not known
};

/// What goes into a report.
struct ReportOptions {
  std::vector<Baseline> baselines;
  int max_examples = 12;     ///< fixed boxes shown with their renderings (highest importance first)
  int histogram_bins = 40;   ///< bins of the importance histogram
  bool embed_images = true;  ///< renderings as data URIs (false: examples without images)
};

/// The report's data as a JSON object (the format is in docs/formats.md): title, session folder
/// name (never a full path), classes, summary, audit estimate, iterations, baselines, importance
/// histogram, confusion matrix, findings, decisions, examples. The review page's charts use the
/// same object.
std::string report_data_json(const session::Session& session, const ReportOptions& options = {});

/// The self-contained HTML page that renders `data_json` (from report_data_json).
std::string report_html(const std::string& data_json);

/// The iteration series as CSV: iteration,auc,reviewed,relabelled,deleted,kept,fixed,
/// fixed_share,cumulative_reviewed,cumulative_fixed, then per baseline `<name>_found` and, when
/// it has an AUC series, `<name>_auc` (fixed_share is empty when nothing was reviewed).
std::string iterations_csv(const session::Session& session,
                           const std::vector<Baseline>& baselines = {});

/// The importance histogram as CSV: bin_start,bin_end,first,last (counts of the class of
/// interest's samples at iteration 0 and at the last iteration).
std::string importance_csv(const session::Session& session, int bins = 40);

/// Every stored decision as CSV, by batch then sample id, in its final state (a revision
/// replaces the decision): batch,id,decision,old_label,new_label,reviewer,decided_at,applied,
/// revised,original_decision,original_new_label — labels as class names, new_label empty unless
/// relabel, applied and revised as 0/1; original_* hold the decision before its first revision
/// (empty when never revised).
std::string decisions_csv(const session::Session& session);

/// Files written by write_report.
struct ReportFiles {
  std::filesystem::path html;            ///< the report
  std::filesystem::path iterations_csv;  ///< `<stem>-iterations.csv` beside it
  std::filesystem::path importance_csv;  ///< `<stem>-importance.csv` beside it
  std::filesystem::path decisions_csv;   ///< `<stem>-decisions.csv` beside it
};

/// Writes the HTML report to `html` (atomically; parent folders created) and the three CSV files
/// beside it (the page links them by file name). Each of the four must pass
/// session.check_output_file (none is an input of the session; an existing one was written by
/// the session and is unchanged), or nothing is written; they are recorded as the session's, so
/// a later report replaces them.
ReportFiles write_report(session::Session& session, const std::filesystem::path& html,
                         const ReportOptions& options = {});

}  // namespace coreclean::report

#endif  // CORECLEAN_REPORT_REPORT_H_
