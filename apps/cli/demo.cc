#include "demo.h"

#include "cli_common.h"
#include "session_commands.h"

#include <coreclean/core/error.h>
#include <coreclean/detect/demo_scenes.h>
#include <coreclean/embed/dataset_embedding.h>
#include <coreclean/io/feature_set.h>
#include <coreclean/io/output_folder.h>
#include <coreclean/linear/class_selection.h>
#include <coreclean/report/report.h>
#include <coreclean/session/session.h>
#include <coreclean/session/simulated_review.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <fstream>

namespace coreclean::cli {
namespace {

// summary.json's fields that describe the review against the truth.
nlohmann::json summary_json(const session::ReviewSummary& s) {
  return {{"class_of_interest", s.class_of_interest},
          {"class_size", s.class_size},
          {"budget", s.budget},
          {"injected_errors", s.injected_errors},
          {"coreclean_found", s.coreclean_found},
          {"random_expected", s.random_expected},
          {"box_errors_found", s.box_errors_found},
          {"auc_start", s.auc_start},
          {"auc_end", s.auc_end}};
}

// The summary's first sentence.
std::string found_sentence(const session::ReviewSummary& s) {
  return fmt::format("reviewed {} of {} '{}' boxes: coreclean found {} of the {} label errors in "
                     "the class",
                     s.budget, s.class_size, s.class_of_interest, s.coreclean_found,
                     s.injected_errors);
}

}  // namespace

CLI::App* add_demo_command(CLI::App& app, DemoOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "demo",
      "Run the whole cleaning loop on built-in data: detection scenes made from Debian's "
      "Fashion-MNIST with known injected errors, built-in embeddings, the class picked "
      "automatically, then review iterations answered by a simulated reviewer that knows the "
      "truth. Prints and writes (summary.json) the errors found against random review of the "
      "same budget.");
  cmd->add_option("--out", o.out,
                  "Output folder: a new or empty folder, or one an earlier demo wrote (what that "
                  "run wrote is then replaced; nothing else in it is touched)")
      ->capture_default_str();
  cmd->add_option("--images", o.images, "Scenes to generate (about 5 boxes each)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--error-rate", o.error_rate, "Share of boxes with an injected error")
      ->capture_default_str()->check(CLI::Range(0.0, 0.5));
  cmd->add_option("--iterations", o.iterations, "Review iterations")->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--batch-share", o.batch_share,
                  "Batch size as a share of the class of interest")
      ->capture_default_str()->check(CLI::Range(0.0001, 1.0));
  cmd->add_option("--fashion-dir", o.fashion_dir, "Fashion-MNIST files (Debian's dataset-fashion-mnist)")
      ->capture_default_str();
  return cmd;
}

int run_demo(const DemoOptions& o, const Context& context, std::ostream& out) {
  namespace fs = std::filesystem;
  const auto start = std::chrono::steady_clock::now();
  auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  // Only what an earlier demo wrote is replaced (io/output_folder.h).
  io::OutputFolder folder = io::OutputFolder::claim(o.out, "demo", {o.fashion_dir});
  folder.remove_own();
  const fs::path data = folder.entry("data"), features = folder.entry("features"),
                 session_dir = folder.entry("session"), random_dir = folder.entry("session-random"),
                 corrected = folder.entry("corrected.json"),
                 summary_path = folder.entry("summary.json"),
                 report_html = folder.entry("report.html");
  // write_report also writes <stem>-iterations.csv, <stem>-importance.csv and
  // <stem>-decisions.csv beside the page.
  folder.entry("report-iterations.csv");
  folder.entry("report-importance.csv");
  folder.entry("report-decisions.csv");

  // 1. Data with known errors.
  detect::DemoSceneParams params;
  params.images = o.images;
  params.error_rate = o.error_rate;
  params.validate();
  const detect::DemoScenes scenes =
      detect::write_demo_scenes(data, detect::load_fashion_mnist(o.fashion_dir, "train"), params, context);
  // The truth as any front end reads it: from the data folder.
  const session::ErrorTruth truth = session::read_error_truth(data / "truth.json");
  out << fmt::format("data: {} scenes, {} boxes, {} injected errors ({:.0f} s)\n",
                     scenes.coco.images.size(), scenes.coco.annotations.size(),
                     scenes.errors.size(), seconds());

  // 2. Embeddings and the session.
  embed::EmbedDatasetOptions embed;
  embed.coco = data / "annotations.json";
  embed.images = data / "images";
  embed.out = features;
  embed::embed_dataset(embed, context);
  // The seed's set-up: pick the class to clean, then keep it and the class it is confused
  // with (the two classes whose boundary the review is about).
  const io::FeatureSet embedded = io::load_feature_set(features);
  const linear::ClassSelection pick = linear::select_class_to_clean(
      embedded.x_train.view(), embedded.y_train, std::nullopt, {}, linear::ClassSelectionParams{}, context);
  session::SessionOptions so;
  so.features = features;
  so.coco = embed.coco;
  so.images = embed.images;
  so.class_of_interest = std::to_string(pick.class_of_interest);
  so.classes = {std::to_string(pick.class_of_interest), std::to_string(pick.confused_with)};
  so.confusion = session::to_class_confusion(pick);
  // Random review runs side by side on a copy of the fresh session (same tree, same folds).
  session::Session::create(session_dir, so, context);  // closed here, so the copy is whole
  fs::copy(session_dir, random_dir, fs::copy_options::recursive);
  session::Session s = session::Session::open(session_dir, context);
  session::Session random_session = session::Session::open(random_dir, context);
  const session::SessionStatus first = s.status();
  const Label interest = first.class_of_interest;
  const std::int64_t injected = session::count_label_errors(truth, interest);
  const auto batch = static_cast<std::int64_t>(
      std::ceil(o.batch_share * static_cast<double>(first.class_size)));
  out << fmt::format("class of interest: '{}' ({} boxes, {} with a flipped label), confused with "
                     "'{}'; AUC {:.4f}; {} iterations of {} boxes ({:.0f} s)\n",
                     s.class_name(interest), first.class_size, injected,
                     s.class_name(first.confused_with), first.iterations.front().auc, o.iterations,
                     batch, seconds());

  // 3. The review loop, answered from the truth, for coreclean's ranking and for random
  // batches of the same size.
  session::SimulatedReviewOptions review;
  review.iterations = o.iterations;
  review.batch_size = batch;
  const session::SimulatedReview run = session::run_simulated_review(
      s, &random_session, truth, review, context,
      [&](session::Session& session, const session::Batch& b) { export_batch(session, b, context); },
      [&](const session::SimulatedIteration& it) {
        const session::IterationMetrics& m = it.ranked.metrics;
        out << fmt::format("  iteration {:>2}: {} reviewed, {} relabelled, {} deleted; AUC {:.4f}  "
                           "(random review: {} fixed; AUC {:.4f})\n",
                           it.ranked.batch, m.reviewed, m.relabelled, m.deleted, m.auc,
                           it.random_found.label_errors + it.random_found.box_errors,
                           it.random.metrics.auc);
      });
  s.export_coco(corrected);

  // 4. The review against the truth, and random review: the run above (one draw, with its
  // AUC) and, for a stable expectation, the mean over many random orders of the class.
  const session::ReviewSummary result = session::summarize_review(s, truth, context);
  report::ReportOptions report_options;
  report_options.baselines.push_back({"random review", run.random_fixed, run.random_auc});
  report_options.baselines.push_back(
      {"random review (mean of 500 orders)", result.random_expected_curve, {}});
  const report::ReportFiles report = report::write_report(s, report_html, report_options);
  nlohmann::json summary = summary_json(result);
  summary["report"] = report.html.string();
  summary["random_found"] = run.random_found.label_errors;
  summary["random_auc_end"] = run.random_auc.back();
  summary["seconds"] = seconds();
  std::ofstream(summary_path) << summary.dump(2) << "\n";
  out << fmt::format(
      "\n{}, random review of the same budget {} ({:.1f} on average), plus {} faulty boxes; AUC "
      "{:.4f} → {:.4f} (random review: → {:.4f}); {:.0f} s.\nsession: {}  corrected COCO: {}  "
      "summary: {}\nreport: {}\n",
      found_sentence(result), run.random_found.label_errors, result.random_expected,
      result.box_errors_found, result.auc_start, result.auc_end, run.random_auc.back(),
      seconds(), session_dir.string(),
      corrected.string(), summary_path.string(), report.html.string());
  return kExitOk;
}

CLI::App* add_demo_summary_command(CLI::App& app, DemoSummaryOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "demo-summary",
      "Measure a review of demo data against its ground truth: reads DIR/data/truth.json (from "
      "make-demo) and the session DIR/session, writes DIR/summary.json and prints the label "
      "errors found against random review of the same budget (its mean over 500 orders).");
  cmd->add_option("dir", o.dir, "Folder with data/truth.json and session/")->required();
  return cmd;
}

int run_demo_summary(const DemoSummaryOptions& o, const Context& context, std::ostream& out) {
  const session::ErrorTruth truth = session::read_error_truth(o.dir / "data" / "truth.json");
  session::Session s = session::Session::open(o.dir / "session", context);
  const std::filesystem::path summary_path = o.dir / "summary.json";
  s.check_output_file(summary_path);
  const session::ReviewSummary result = session::summarize_review(s, truth, context);
  std::ofstream file(summary_path);
  file << summary_json(result).dump(2) << "\n";
  if (!file.flush()) throw IoError(fmt::format("{}: cannot write", summary_path.string()));
  file.close();
  s.record_output_file(summary_path);
  out << fmt::format("\n{}; random review of the same budget would find {:.1f} on average; plus {} "
                     "faulty boxes. AUC {:.4f} → {:.4f}.\nsummary: {}\n",
                     found_sentence(result), result.random_expected, result.box_errors_found,
                     result.auc_start, result.auc_end, summary_path.string());
  return kExitOk;
}

}  // namespace coreclean::cli
