#ifndef CORECLEAN_APPS_CLI_DEMO_H_
#define CORECLEAN_APPS_CLI_DEMO_H_

// `coreclean demo`: the whole cleaning loop on built-in data, with a simulated reviewer, next to
// random review of the same budget.

#include <coreclean/core/context.h>

#include <CLI/CLI.hpp>

#include <filesystem>
#include <ostream>

namespace coreclean::cli {

/// Options of `coreclean demo`.
struct DemoOptions {
  std::filesystem::path out = "demo-output";  ///< folder for the data, features and session
  int images = 4100;           ///< scenes to generate (≈ 5 boxes each)
  double error_rate = 0.03;    ///< share of boxes with an injected error
  int iterations = 10;         ///< review iterations
  double batch_share = 0.01;   ///< batch size as a share of the class of interest
  std::filesystem::path fashion_dir = "/usr/share/datasets/fashion-mnist";
};

/// Adds the `demo` subcommand and its options to `app`.
CLI::App* add_demo_command(CLI::App& app, DemoOptions& options);

/// Generates the demo data (make-demo on Fashion-MNIST's training split), embeds it with the
/// built-in features, picks the class to clean and creates a session with it and the class it
/// is confused with (as the seed keeps orange and apple), runs `iterations` batches of
/// ⌈batch_share · class size⌉ boxes answered from the ground truth (flips relabelled, faulty
/// boxes deleted, the rest kept) — and, side by side on a copy of the fresh session
/// (`session-random`), random batches of the same sizes answered the same way. Exports the
/// corrected COCO file, writes the report (`report.html`, both curves) and `summary.json`
/// {"budget", "injected_errors", "coreclean_found", "random_found" (the random run),
/// "random_expected" (mean over 500 random orders), "random_auc_end", "auc_start", "auc_end",
/// "seconds", "box_errors_found", ...}. Label errors are counted; box errors found are beside.
/// `options.out` is claimed as an io::OutputFolder (new, empty, or written by an earlier demo;
/// InvalidArgument otherwise): what an earlier demo wrote there is removed first, and nothing
/// else in the folder is touched.
int run_demo(const DemoOptions& options, const Context& context, std::ostream& out);

/// Options of `coreclean demo-summary`.
struct DemoSummaryOptions {
  /// A folder holding `data/truth.json` (make-demo's ground truth) and the session `session/`
  /// of a review of that data (the layout of `./run walkthrough` and of `demo`).
  std::filesystem::path dir;
};

/// Adds the `demo-summary` subcommand and its argument to `app`.
CLI::App* add_demo_summary_command(CLI::App& app, DemoSummaryOptions& options);

/// Measures the review in `dir/session` against `dir/data/truth.json`
/// (session::summarize_review): writes `dir/summary.json` {"class_of_interest", "class_size",
/// "budget", "injected_errors", "coreclean_found", "random_expected", "box_errors_found",
/// "auc_start", "auc_end"} — the fields of demo's summary.json that need no second session —
/// and prints them as one paragraph. The file is checked as the session's output
/// (Session::check_output_file): a summary.json it did not write is not replaced.
int run_demo_summary(const DemoSummaryOptions& options, const Context& context, std::ostream& out);

}  // namespace coreclean::cli

#endif  // CORECLEAN_APPS_CLI_DEMO_H_
