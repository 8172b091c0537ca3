#include "tree_commands.h"

#include "cli_common.h"

#include <coreclean/core/error.h>
#include <coreclean/coreset/coreset_fit.h>
#include <coreclean/coreset/coreset_tree.h>
#include <coreclean/io/csv.h>
#include <coreclean/session/decision_file.h>
#include <coreclean/io/feature_set.h>
#include <coreclean/linear/logistic_regression.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fmt/format.h>
#include <exception>
#include <fstream>
#include <optional>

namespace coreclean::cli {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int run_build(const BuildOptions& options, const Context& context, std::ostream& out,
              const Collective& group) {
  const auto start = std::chrono::steady_clock::now();
  CORECLEAN_CLI_REQUIRE(options.optimized_for == "cleaning" || options.optimized_for == "training",
                        "--optimized-for must be 'cleaning' or 'training', got '{}'",
                        options.optimized_for);
  CORECLEAN_CLI_REQUIRE(options.chunk_size >= 0, "--chunk-size must be >= 0, got {}",
                        options.chunk_size);
  CORECLEAN_CLI_REQUIRE(options.held_out_rows >= 0, "--held-out-rows must be >= 0, got {}",
                        options.held_out_rows);
  CORECLEAN_CLI_REQUIRE(options.neighbours >= 0 && options.neighbours <= 100,
                        "--neighbours must be from 0 to 100, got {}", options.neighbours);
  CORECLEAN_CLI_REQUIRE(std::isfinite(options.max_memory_gb) && options.max_memory_gb >= 0.0,
                        "--max-memory must be >= 0 (GiB; 0 = no limit), got {}",
                        options.max_memory_gb);
  CORECLEAN_CLI_REQUIRE(!options.features.empty() || !options.append.empty(),
                        "build needs --features FEATDIR --out TREE (a new tree) or --append "
                        "FEATDIR --tree TREE (samples added to a tree)");
  const std::filesystem::path& features = options.append.empty() ? options.features : options.append;
  coreset::CoresetTreeParams params;
  params.chunk_size = options.chunk_size;
  params.cross_fit_max_rows = options.held_out_rows;
  params.neighbours = options.neighbours;
  params.optimized_for = options.optimized_for == "training" ? coreset::OptimizedFor::kTraining
                                                             : coreset::OptimizedFor::kCleaning;
  // In an MPI job over every class, a process checks only the rows it will read: its share, and
  // for process 0 every row (it reads the feature map's sample from all over the file). The
  // processes then agree that every check passed before any of them builds.
  const bool share_only = group.size() > 1 && group.rank() != 0 && options.classes.empty();
  std::optional<io::FeatureSet> loaded;
  std::exception_ptr failure;
  try {
    loaded = as_progress_step(context, "reading the features", [&] {
      if (!share_only) return io::load_feature_set(features);
      return io::load_feature_set(features, [&](Eigen::Index rows) {
        return coreset::build_share(rows, params, group.rank(), group.size());
      });
    });
  } catch (...) {
    failure = std::current_exception();
  }
  agree_on_success(group, failure,
                   fmt::format("another process of the job could not read its rows of {} (its "
                               "message says why)",
                               features.string()));
  const io::FeatureSet& all = *loaded;
  // Keep the requested classes only (the seed keeps the class of interest and its confusion).
  const io::FeatureSet fs =
      options.classes.empty() ? all : io::keep_classes(all, all.find_classes(options.classes));
  const auto x = fs.x_train.view();
  if (!options.append.empty()) {
    CORECLEAN_CLI_REQUIRE(group.size() == 1,
                          "build --append runs in one process: start it without mpirun");
    coreset::CoresetTree tree = as_progress_step(context, "reading the tree",
                                                 [&] { return coreset::load_tree(options.tree); });
    const Eigen::Index before_leaves = tree.num_leaves();
    const coreset::UpdateReport r = tree.append(x, fs.y_train, {}, fs.ids, context);
    as_progress_step(context, "writing the tree", [&] { coreset::save_tree(tree, options.tree); });
    out << fmt::format("added {} samples to {} ({} samples, {} → {} leaves of {}; {} tree nodes "
                       "summarised) in {:.2f} s\n",
                       r.samples_changed, options.tree.string(), tree.size(), before_leaves,
                       tree.num_leaves(), tree.chunk_size(), r.nodes_touched, seconds_since(start));
    return kExitOk;
  }
  if (options.max_memory_gb > 0.0) {
    // Before any work: the build's peak (X aside: it is read block by block) against the budget.
    const std::int64_t need = coreset::estimated_build_bytes(
        x.cols(), fs.y_train, params, context.thread_count(), group.size());
    const Eigen::Index r = std::min<Eigen::Index>(x.cols(), params.sketch_dim);
    const double gib = static_cast<double>(std::int64_t{1} << 30);
    CORECLEAN_CLI_REQUIRE(
        static_cast<double>(need) <= options.max_memory_gb * gib,
        "build would need about {:.2f} GiB{} (the {} × {} mapped features alone take {:.2f} GiB; "
        "X is read block by block) but --max-memory is {:g} GiB: raise it, "
        "lower --held-out-rows, or build with `mpirun -np N coreclean build` (docs/scaling.md)",
        static_cast<double>(need) / gib, group.size() > 1 ? " on process 0" : "", x.rows(), r,
        4.0 * static_cast<double>(x.rows()) * r / gib, options.max_memory_gb);
  }
  // Streamed: a memory-mapped X_train.npy is read block by block and never resident as a whole
  // (in an MPI job, each process reads the rows of its share only).
  std::optional<coreset::CoresetTree> built = coreset::build_distributed(
      params, fs.x_train.streamed(), fs.y_train, {}, fs.ids, context, group);
  if (!built) return kExitOk;  // another process of the job saves the tree
  coreset::CoresetTree& tree = *built;
  ClassNames names;
  for (Label l : tree.classes()) names[l] = fs.class_name(l);
  tree.set_class_names(std::move(names));
  as_progress_step(context, "writing the tree", [&] { coreset::save_tree(tree, options.out); });
  out << fmt::format("built {} ({} samples, {} classes, {} features → {}, {} leaves of {}{}) in "
                     "{:.2f} s\n",
                     options.out.string(), tree.size(), tree.classes().size(), x.cols(),
                     tree.feature_dim(), tree.num_leaves(), tree.chunk_size(),
                     group.size() > 1 ? fmt::format(", {} processes", group.size()) : "",
                     seconds_since(start));
  return kExitOk;
}

int run_rank(const RankOptions& options, const Context& context, std::ostream& out) {
  CORECLEAN_CLI_REQUIRE(options.top >= 0, "--top must be >= 0, got {}", options.top);
  coreset::CoresetTree tree = as_progress_step(context, "reading the tree",
                                               [&] { return coreset::load_tree(options.tree); });
  coreset::ImportantSamplesQuery q;
  q.ignore_seen = !options.include_seen;
  q.mark_seen = options.mark_seen;
  if (options.class_name == "all") {
    q.size = options.top;
  } else {
    const Label label = find_class(tree.class_names(), tree.classes(), options.class_name);
    CORECLEAN_CLI_REQUIRE(std::binary_search(tree.classes().begin(), tree.classes().end(), label),
                          "class '{}' has no samples in the tree {}", options.class_name,
                          options.tree.string());
    q.class_size[label] = {coreset::ClassQuota::Kind::kCount, options.top};
  }
  const coreset::ImportantSamples result = tree.important_samples(q);
  std::ofstream file;
  if (options.out) {
    file.open(*options.out);
    if (!file) throw IoError(fmt::format("{}: cannot write", options.out->string()));
  }
  std::ostream& csv = options.out ? file : out;
  csv << "id,label,importance,misfit,atypical,suggested_label,ridge,held_out,neighbour,"
         "neighbour_label\n";
  for (SampleId id : result.ids) {
    const coreset::SampleScore s = tree.score(id);
    csv << fmt::format("{},{},{:.6g},{:.6g},{:.6g},{},{:.6g},{:.6g},{:.6g},{}\n", s.id, s.label,
                       s.importance, s.misfit, s.atypical, s.suggested_label, s.ridge, s.held_out,
                       s.neighbour, s.neighbour_label);
  }
  if (options.mark_seen)
    as_progress_step(context, "writing the tree", [&] { coreset::save_tree(tree, options.tree); });
  return kExitOk;
}

int run_update(const UpdateOptions& options, const Context& context, std::ostream& out) {
  const auto start = std::chrono::steady_clock::now();
  coreset::CoresetTree tree = as_progress_step(context, "reading the tree",
                                               [&] { return coreset::load_tree(options.tree); });
  // Every row is checked before anything changes.
  const session::TreeDecisions done = session::apply_decision_file(options.decisions, tree);
  const double update_seconds = seconds_since(start);
  const bool refresh = options.refresh && tree.stale_updates() > 0;
  if (refresh) tree.refresh(context);
  as_progress_step(context, "writing the tree", [&] { coreset::save_tree(tree, options.tree); });
  out << fmt::format("{} relabelled, {} deleted, {} kept; {} tree nodes recomputed in {:.3f} s",
                     done.relabelled, done.deleted, done.kept, done.nodes_touched, update_seconds);
  if (refresh) out << fmt::format("; scores refreshed in {:.3f} s", seconds_since(start) - update_seconds);
  out << "\n";
  return kExitOk;
}

int run_fit(const FitOptions& options, const Context& context, std::ostream& out) {
  CORECLEAN_CLI_REQUIRE(options.folds >= 2, "--folds must be >= 2, got {}", options.folds);
  const coreset::CoresetTree tree = coreset::load_tree(options.tree);
  CORECLEAN_CLI_REQUIRE(tree.params().optimized_for == coreset::OptimizedFor::kTraining,
                        "{} was built for cleaning; build it with --optimized-for training to "
                        "fit on its coreset",
                        options.tree.string());
  linear::LogisticRegressionParams params;
  params.c = options.c;
  params.max_iter = 300;
  const coreset::CoresetFitComparison fit =
      coreset::compare_coreset_fit(tree, params, options.folds, options.level, context);
  coreset::save_coreset_model(options.out, tree, fit);
  out << fmt::format(
      "coreset: {} of {} samples (level {})\n"
      "{}-fold AUC: coreset model {:.4f}, full-data model {:.4f} (difference {:+.4f})\n"
      "training objective on all data: coreset model {:.6g}, full-data model {:.6g} "
      "(relative excess {:+.3e})\n"
      "model written to {} (apply as: scores = ((x − feature_mean) · feature_projectionᵀ) · coefᵀ "
      "+ intercept)\n",
      fit.core_rows, fit.samples, options.level, options.folds, fit.auc_core, fit.auc_full,
      fit.auc_core - fit.auc_full, fit.objective_core, fit.objective_full,
      fit.objective_core / fit.objective_full - 1.0, options.out.string());
  return kExitOk;
}

}  // namespace coreclean::cli
