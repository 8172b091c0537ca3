#ifndef CORECLEAN_CORESET_CORESET_FIT_H_
#define CORECLEAN_CORESET_CORESET_FIT_H_

/// @file
/// How well a model trained on a training tree's coreset stands in for one trained on all the
/// data: the k-fold AUC of both, and the full-data objective of both final models.

#include <coreclean/core/context.h>
#include <coreclean/core/types.h>
#include <coreclean/coreset/coreset_tree.h>
#include <coreclean/linear/logistic_regression.h>

#include <cstdint>
#include <filesystem>

namespace coreclean::coreset {

/// The comparison of a coreset model with a full-data model (compare_coreset_fit).
struct CoresetFitComparison {
  /// Macro one-vs-rest AUC of out-of-fold probabilities: each fold predicted by a model trained
  /// on the coreset samples of the other folds, with their coreset weights.
  double auc_core = 0.0;
  /// The same with models trained on all samples of the other folds, with their tree weights.
  double auc_full = 0.0;
  /// Objective f of logistic_objective_value on all samples (tree weights) of `model`, the
  /// model trained on the whole coreset.
  double objective_core = 0.0;
  /// The same for the model trained on all samples.
  double objective_full = 0.0;
  std::int64_t samples = 0;    ///< samples of the tree with weight > 0 (the full data)
  std::int64_t core_rows = 0;  ///< distinct samples in the coreset
  Coreset coreset;             ///< tree.coreset(level)
  /// The model trained on the coreset (CoresetTree::fit), in the tree's feature space.
  linear::LogisticRegression model;
};

/// Trains logistic regressions with `params` on a training tree's coreset at `level` and on
/// all its samples (weight > 0) and compares them: k-fold AUC over `folds` stratified folds
/// (seeded by context.seed) and the full-data objective of the final models. Throws
/// InvalidArgument for a cleaning tree, folds < 2, or a coreset that lacks some of the tree's
/// classes (a larger level holds more samples). Reports progress and honours cancellation
/// through `context`.
CoresetFitComparison compare_coreset_fit(const CoresetTree& tree,
                                         const linear::LogisticRegressionParams& params,
                                         int folds, int level = 0,
                                         const Context& context = Context());

/// Writes the coreset model of a comparison as a NumPy .npz (atomically): `coef` (K' × r),
/// `intercept` (K'), `classes` (K', int64), `feature_mean` (d) and, when the tree maps its
/// features, `feature_projection` (r × d), and the coreset as `coreset_ids` (int64) and
/// `coreset_weights`. Scores of new samples x (1 × d) are then
/// ((x − feature_mean) · feature_projectionᵀ) · coefᵀ + intercept.
void save_coreset_model(const std::filesystem::path& path, const CoresetTree& tree,
                        const CoresetFitComparison& fit);

}  // namespace coreclean::coreset

#endif  // CORECLEAN_CORESET_CORESET_FIT_H_
