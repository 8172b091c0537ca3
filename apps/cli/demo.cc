#include "demo.h"

#include "cli_common.h"
#include "embed.h"
#include "session_commands.h"

#include <coreclean/core/error.h>
#include <coreclean/detect/demo_scenes.h>
#include <coreclean/io/feature_set.h>
#include <coreclean/linear/class_selection.h>
#include <coreclean/session/session.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

namespace coreclean::cli {

CLI::App* add_demo_command(CLI::App& app, DemoOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "demo",
      "Run the whole cleaning loop on built-in data: detection scenes made from Debian's "
      "Fashion-MNIST with known injected errors, built-in embeddings, the class picked "
      "automatically, then review iterations answered by a simulated reviewer that knows the "
      "truth. Prints and writes (summary.json) the errors found against random review of the "
      "same budget.");
  cmd->add_option("--out", o.out, "Output folder (replaced)")->capture_default_str();
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
  fs::remove_all(o.out);
  fs::create_directories(o.out);
  const fs::path data = o.out / "data", features = o.out / "features", session_dir = o.out / "session";

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
  EmbedOptions embed;
  embed.coco = data / "annotations.json";
  embed.images = data / "images";
  embed.out = features;
  std::ostringstream quiet;
  run_embed(embed, context, quiet);
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
  session::Session s = session::Session::create(session_dir, so, context);
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

  // 3. The review loop, answered from the truth.
  std::int64_t found = 0, box_errors = 0, budget = 0;
  for (int it = 0; it < o.iterations; ++it) {
    const session::Batch b = s.next_batch(batch, context);
    if (b.items.empty()) break;
    export_batch(s, b, context);
    for (const session::BatchItem& item : b.items) {
      const auto t = truth.find(item.id);
      if (t == truth.end()) continue;  // kept
      if (t->second->kind == detect::DemoErrorKind::kFlip) {
        // A true class outside the session's classes cannot be relabelled to: the box is
        // deleted from this class's data, as ARCHITECTURE's "a class not in the label set".
        const Label true_label = t->second->true_category_id;
        const bool known = std::binary_search(s.classes().begin(), s.classes().end(), true_label);
        s.record_decision({item.id, known ? session::DecisionKind::kRelabel : session::DecisionKind::kDelete,
                           true_label, "demo"});
        ++found;
      } else {
        s.record_decision({item.id, session::DecisionKind::kDelete, 0, "demo"});
        ++box_errors;
      }
    }
    budget += static_cast<std::int64_t>(b.items.size());
    const session::ApplyReport r = s.apply(std::nullopt, context);
    out << fmt::format("  iteration {:>2}: {} reviewed, {} relabelled, {} deleted; AUC {:.4f}\n",
                       r.batch, r.metrics.reviewed, r.metrics.relabelled, r.metrics.deleted,
                       r.metrics.auc);
  }
  s.export_coco(o.out / "corrected.json");

  // 4. Random review of the same budget finds, in expectation, budget · injected / class size.
  const session::SessionStatus last = s.status();
  const double random_found = first.class_size > 0 ? static_cast<double>(budget) *
                                                         static_cast<double>(injected) /
                                                         static_cast<double>(first.class_size)
                                                   : 0.0;
  const nlohmann::json summary = {
      {"class_of_interest", s.class_name(interest)},
      {"class_size", first.class_size},
      {"budget", budget},
      {"injected_errors", injected},
      {"coreclean_found", found},
      {"random_found", random_found},
      {"box_errors_found", box_errors},
      {"auc_start", first.iterations.front().auc},
      {"auc_end", last.iterations.back().auc},
      {"seconds", seconds()}};
  std::ofstream(o.out / "summary.json") << summary.dump(2) << "\n";
  out << fmt::format(
      "\nreviewed {} of {} '{}' boxes: coreclean found {} of the {} label errors in the class "
      "(random review of the same budget: {:.1f} expected), plus {} faulty boxes; AUC {:.4f} → "
      "{:.4f}; {:.0f} s.\nsession: {}  corrected COCO: {}  summary: {}\n",
      budget, first.class_size, s.class_name(interest), found, injected, random_found, box_errors,
      first.iterations.front().auc, last.iterations.back().auc, seconds(), session_dir.string(),
      (o.out / "corrected.json").string(), (o.out / "summary.json").string());
  return kExitOk;
}

}  // namespace coreclean::cli
