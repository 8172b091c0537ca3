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

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <numeric>
#include <random>

namespace coreclean::cli {
namespace {

/// Random review of the class, batch by batch: what it finds on average over many orders.
struct RandomReview {
  std::vector<double> cumulative_found;  ///< errors of any kind, [0] = 0, one per batch after
  double label_errors_found = 0.0;       ///< flips found within the whole budget
};

RandomReview simulate_random_review(std::vector<SampleId> members,
                                    const std::map<SampleId, const detect::DemoError*>& truth,
                                    const std::vector<std::int64_t>& batch_sizes,
                                    std::uint64_t seed) {
  constexpr int kOrders = 500;
  RandomReview r;
  r.cumulative_found.assign(batch_sizes.size() + 1, 0.0);
  std::mt19937_64 rng(seed ^ 0x5eedu);
  for (int order = 0; order < kOrders; ++order) {
    std::shuffle(members.begin(), members.end(), rng);
    std::size_t next = 0;
    std::int64_t found = 0;
    for (std::size_t b = 0; b < batch_sizes.size(); ++b) {
      for (std::int64_t i = 0; i < batch_sizes[b] && next < members.size(); ++i, ++next) {
        const auto t = truth.find(members[next]);
        if (t == truth.end()) continue;
        ++found;
        if (t->second->kind == detect::DemoErrorKind::kFlip) r.label_errors_found += 1.0;
      }
      r.cumulative_found[b + 1] += static_cast<double>(found);
    }
  }
  for (double& v : r.cumulative_found) v /= kOrders;
  r.label_errors_found /= kOrders;
  return r;
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
  std::map<SampleId, const detect::DemoError*> truth;
  for (const detect::DemoError& e : scenes.errors) truth[e.annotation_id] = &e;
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
  std::int64_t injected = 0;  // label errors whose (wrong) label is the class of interest
  for (const detect::DemoError& e : scenes.errors) {
    const auto a = scenes.coco.annotation_index(e.annotation_id);
    if (e.kind == detect::DemoErrorKind::kFlip && a &&
        scenes.coco.annotations[*a].category_id == interest)
      ++injected;
  }
  const auto batch = static_cast<std::int64_t>(
      std::ceil(o.batch_share * static_cast<double>(first.class_size)));
  out << fmt::format("class of interest: '{}' ({} boxes, {} with a flipped label), confused with "
                     "'{}'; AUC {:.4f}; {} iterations of {} boxes ({:.0f} s)\n",
                     s.class_name(interest), first.class_size, injected,
                     s.class_name(first.confused_with), first.iterations.front().auc, o.iterations,
                     batch, seconds());

  // 3. The review loop, answered from the truth, for coreclean's ranking and for random
  // batches of the same size.
  struct Found {
    std::int64_t label_errors = 0, box_errors = 0;
  };
  auto answer_from_truth = [&](session::Session& session, const session::Batch& b) {
    Found f;
    for (const session::BatchItem& item : b.items) {
      const auto t = truth.find(item.id);
      if (t == truth.end()) continue;  // kept
      if (t->second->kind == detect::DemoErrorKind::kFlip) {
        // A true class outside the session's classes cannot be relabelled to: the box is
        // deleted from this class's data, as ARCHITECTURE's "a class not in the label set".
        const Label true_label = t->second->true_category_id;
        const bool known =
            std::binary_search(session.classes().begin(), session.classes().end(), true_label);
        session.record_decision(
            {item.id, known ? session::DecisionKind::kRelabel : session::DecisionKind::kDelete,
             true_label, "demo"});
        ++f.label_errors;
      } else {
        session.record_decision({item.id, session::DecisionKind::kDelete, 0, "demo"});
        ++f.box_errors;
      }
    }
    return f;
  };
  std::int64_t found = 0, box_errors = 0, budget = 0, random_session_found = 0;
  std::vector<std::int64_t> batch_sizes;
  std::vector<double> random_auc = {random_session.status().iterations.front().auc};
  std::vector<double> random_fixed = {0.0};
  for (int it = 0; it < o.iterations; ++it) {
    const session::Batch b = s.next_batch(batch, context);
    if (b.items.empty()) break;
    export_batch(s, b, context);
    const Found f = answer_from_truth(s, b);
    found += f.label_errors;
    box_errors += f.box_errors;
    budget += static_cast<std::int64_t>(b.items.size());
    batch_sizes.push_back(static_cast<std::int64_t>(b.items.size()));
    // The simulated reviewer answers every box: those it did not fix are right.
    session::ApplyOptions keep_rest;
    keep_rest.undecided = session::UndecidedPolicy::kKeep;
    const session::ApplyReport r = s.apply(keep_rest, context);

    const session::Batch rb = random_session.next_batch(
        static_cast<std::int64_t>(b.items.size()), context, session::BatchSelection::kRandom);
    const Found rf = answer_from_truth(random_session, rb);
    random_session_found += rf.label_errors;
    const session::ApplyReport rr = random_session.apply(keep_rest, context);
    random_auc.push_back(rr.metrics.auc);
    random_fixed.push_back(random_fixed.back() + static_cast<double>(rf.label_errors + rf.box_errors));
    out << fmt::format("  iteration {:>2}: {} reviewed, {} relabelled, {} deleted; AUC {:.4f}  "
                       "(random review: {} fixed; AUC {:.4f})\n",
                       r.batch, r.metrics.reviewed, r.metrics.relabelled, r.metrics.deleted,
                       r.metrics.auc, rf.label_errors + rf.box_errors, rr.metrics.auc);
  }
  s.export_coco(corrected);

  // 4. Random review: the run above (one draw, with its AUC) and, for a stable expectation, the
  // mean over many random orders of the class.
  std::vector<SampleId> members;
  for (std::size_t r = 0; r < embedded.ids.size(); ++r)
    if (embedded.y_train[r] == interest) members.push_back(embedded.ids[r]);
  const RandomReview expected = simulate_random_review(members, truth, batch_sizes, context.seed);
  const session::SessionStatus last = s.status();
  report::ReportOptions report_options;
  report_options.baselines.push_back({"random review", random_fixed, random_auc});
  report_options.baselines.push_back(
      {"random review (mean of 500 orders)", expected.cumulative_found, {}});
  const report::ReportFiles report = report::write_report(s, report_html, report_options);
  const nlohmann::json summary = {
      {"report", report.html.string()},
      {"class_of_interest", s.class_name(interest)},
      {"class_size", first.class_size},
      {"budget", budget},
      {"injected_errors", injected},
      {"coreclean_found", found},
      {"random_found", random_session_found},
      {"random_expected", expected.label_errors_found},
      {"random_auc_end", random_auc.back()},
      {"box_errors_found", box_errors},
      {"auc_start", first.iterations.front().auc},
      {"auc_end", last.iterations.back().auc},
      {"seconds", seconds()}};
  std::ofstream(summary_path) << summary.dump(2) << "\n";
  out << fmt::format(
      "\nreviewed {} of {} '{}' boxes: coreclean found {} of the {} label errors in the class, "
      "random review of the same budget {} ({:.1f} on average), plus {} faulty boxes; AUC {:.4f} → "
      "{:.4f} (random review: → {:.4f}); {:.0f} s.\nsession: {}  corrected COCO: {}  summary: {}\n"
      "report: {}\n",
      budget, first.class_size, s.class_name(interest), found, injected, random_session_found,
      expected.label_errors_found, box_errors, first.iterations.front().auc,
      last.iterations.back().auc, random_auc.back(), seconds(), session_dir.string(),
      corrected.string(), summary_path.string(), report.html.string());
  return kExitOk;
}

}  // namespace coreclean::cli
