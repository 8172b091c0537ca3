#ifndef CORECLEAN_APPS_CLI_TREE_COMMANDS_H_
#define CORECLEAN_APPS_CLI_TREE_COMMANDS_H_

// `coreclean build`, `rank` and `update`: the coreset tree from the command line.

#include <coreclean/core/collective.h>
#include <coreclean/core/context.h>

#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace coreclean::cli {

/// Options of `coreclean build`.
struct BuildOptions {
  std::filesystem::path features;   ///< features directory (a new tree)
  std::vector<std::string> classes; ///< keep only these classes (names or ids); empty = all
  long chunk_size = 0;              ///< samples per leaf; 0 = automatic
  std::string optimized_for = "cleaning";  ///< cleaning | training
  std::filesystem::path out;        ///< tree file to write
  std::filesystem::path append;     ///< features directory whose samples join `tree`
  std::filesystem::path tree;       ///< with `append`: the tree file to add them to
  long held_out_rows = 50000;       ///< training rows of each held-out model at most; 0 = all
  int neighbours = 10;              ///< k of the neighbour view; 0 = no neighbour view
  double max_memory_gb = 0.0;       ///< refuse a build that would need more (GiB); 0 = no limit
};

/// Options of `coreclean rank`.
struct RankOptions {
  std::filesystem::path tree;
  std::string class_name = "all";   ///< a class name or id, or "all"
  long top = 60;
  bool include_seen = false;
  bool mark_seen = false;
  std::optional<std::filesystem::path> out;  ///< CSV file; standard output when absent
};

/// Options of `coreclean update`.
struct UpdateOptions {
  std::filesystem::path tree;
  std::filesystem::path decisions;  ///< CSV: id,decision,new_label
  /// Re-score every sample after the decisions (CoresetTree::refresh: refits the cross-fitted
  /// models on the corrected labels), so the next ranking equals a fresh build's. Off, only
  /// the exact incremental update runs (faster on very large trees; scores partly stale).
  bool refresh = true;
};

/// Options of `coreclean fit`.
struct FitOptions {
  std::filesystem::path tree;   ///< a tree built with --optimized-for training
  int level = 0;                ///< 0 = the root's coreset; deeper levels union more nodes
  int folds = 5;
  double c = 1.0;
  std::filesystem::path out;    ///< model file (.npz)
};

/// Builds a tree from a features directory and saves it. Returns the exit code. With a group of
/// several processes (an MPI job), each works on its share of the samples and process 0 saves
/// the tree and reports; the others print nothing.
int run_build(const BuildOptions& options, const Context& context, std::ostream& out,
              const Collective& group = SingleProcess());
/// Prints (or writes) the most important samples as CSV:
/// id,label,importance,misfit,atypical,suggested_label.
int run_rank(const RankOptions& options, const Context& context, std::ostream& out);
/// Applies keep / relabel / delete decisions to a tree file, atomically; every row is validated
/// before anything changes.
int run_update(const UpdateOptions& options, const Context& context, std::ostream& out);
/// Trains a weighted logistic regression on the tree's coreset, reports its k-fold AUC and
/// training objective next to the full-data model's, and writes the model (with the feature
/// map, so it applies to raw features) as .npz.
int run_fit(const FitOptions& options, const Context& context, std::ostream& out);

}  // namespace coreclean::cli

#endif  // CORECLEAN_APPS_CLI_TREE_COMMANDS_H_
