#ifndef CORECLEAN_LINEAR_METRICS_H_
#define CORECLEAN_LINEAR_METRICS_H_

/// @file
/// Classification metrics and cross-validation splits.

#include <coreclean/core/types.h>

#include <cstdint>
#include <span>
#include <vector>

namespace coreclean::linear {

/// Counts of (true class, predicted class) pairs.
struct ConfusionMatrix {
  /// Row/column order: counts(i, j) = samples of class classes[i] predicted as classes[j].
  Labels classes;
  Eigen::MatrixXd counts;

  /// Each row divided by its sum (scikit-learn's normalize="true"); all-zero rows stay zero.
  [[nodiscard]] Eigen::MatrixXd normalized_by_true() const;
};

/// Builds the confusion matrix. `classes` fixes the order; when empty, the sorted union of the
/// labels in y_true and y_pred is used. Throws when a label is not in a given `classes`.
ConfusionMatrix confusion_matrix(std::span<const Label> y_true, std::span<const Label> y_pred,
                                 Labels classes = {});

/// Area under the ROC curve of `scores` for the binary truth `positive` (tied scores count
/// half, as the trapezoidal rule). Optional non-negative sample weights. Throws when only one
/// class is present.
double roc_auc(std::span<const double> scores, std::span<const std::uint8_t> positive,
               std::span<const double> sample_weight = {});

/// How per-class one-vs-rest AUCs are combined.
enum class AucAverage {
  kMacro,     ///< unweighted mean over classes
  kWeighted,  ///< mean weighted by each class's (weighted) prevalence
};

/// One-vs-rest ROC AUC of class probabilities (n × K, columns in the order of `classes`).
/// With K = 2 this is the binary AUC of the second column, as scikit-learn does.
double roc_auc_ovr(const RowMatrixXd& proba, std::span<const Label> y, const Labels& classes,
                   AucAverage average = AucAverage::kMacro,
                   std::span<const double> sample_weight = {});

/// Stratified k-fold assignment: returns a fold index in [0, k) per sample, with each class's
/// samples shuffled by `seed` and dealt round-robin, so every fold holds ⌊n_c/k⌋ or ⌈n_c/k⌉
/// samples of class c (the class order of the deal rotates so fold sizes stay balanced).
/// Throws when k < 2 or k > n.
std::vector<int> stratified_kfold(std::span<const Label> y, int k, std::uint64_t seed);

/// Balanced accuracy: the mean over classes of the recall (classes from y_true).
double balanced_accuracy(std::span<const Label> y_true, std::span<const Label> y_pred);

/// A proportion's confidence interval.
struct Interval {
  double low = 0.0, high = 0.0;
};

/// Wilson score interval of a proportion of `successes` among `n` trials at confidence given by
/// the normal quantile `z` (1.96 ≈ 95 %): (p + z²/2n ± z·√(p(1−p)/n + z²/4n²)) / (1 + z²/n).
/// Unlike p ± z·√(p(1−p)/n) it stays inside [0, 1] and is not empty at 0 or n successes.
/// Throws when n < 1 or successes is outside [0, n].
Interval wilson_interval(std::int64_t successes, std::int64_t n, double z = 1.959963984540054);

}  // namespace coreclean::linear

#endif  // CORECLEAN_LINEAR_METRICS_H_
