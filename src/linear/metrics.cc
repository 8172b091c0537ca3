#include <coreclean/linear/metrics.h>

#include "core/check.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>

namespace coreclean::linear {
namespace {

Eigen::Index index_of(const Labels& classes, Label l) {
  const auto it = std::lower_bound(classes.begin(), classes.end(), l);
  if (it == classes.end() || *it != l) return -1;
  return it - classes.begin();
}

}  // namespace

Eigen::MatrixXd ConfusionMatrix::normalized_by_true() const {
  Eigen::MatrixXd out = counts;
  for (Eigen::Index i = 0; i < out.rows(); ++i) {
    const double total = out.row(i).sum();
    if (total > 0.0) out.row(i) /= total;
  }
  return out;
}

ConfusionMatrix confusion_matrix(std::span<const Label> y_true, std::span<const Label> y_pred,
                                 Labels classes) {
  CORECLEAN_THROW_IF_NOT(y_true.size() == y_pred.size(),
                         "confusion matrix: {} true labels but {} predictions", y_true.size(),
                         y_pred.size());
  if (classes.empty()) {
    classes.assign(y_true.begin(), y_true.end());
    classes.insert(classes.end(), y_pred.begin(), y_pred.end());
  }
  // Sorted order makes lookups logarithmic; the caller's order is restored through `position`.
  Labels sorted = classes;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  const bool caller_order = classes.size() == sorted.size();
  if (!caller_order) classes = sorted;  // the union built above
  std::vector<Eigen::Index> position(sorted.size());
  for (std::size_t j = 0; j < classes.size(); ++j) position[index_of(sorted, classes[j])] = j;
  ConfusionMatrix cm{classes, Eigen::MatrixXd::Zero(classes.size(), classes.size())};
  for (std::size_t i = 0; i < y_true.size(); ++i) {
    const Eigen::Index t = index_of(sorted, y_true[i]);
    const Eigen::Index p = index_of(sorted, y_pred[i]);
    CORECLEAN_THROW_IF_NOT(t >= 0, "confusion matrix: true label {} at index {} is not a class",
                           y_true[i], i);
    CORECLEAN_THROW_IF_NOT(p >= 0, "confusion matrix: predicted label {} at index {} is not a class",
                           y_pred[i], i);
    cm.counts(position[t], position[p]) += 1.0;
  }
  return cm;
}

double roc_auc(std::span<const double> scores, std::span<const std::uint8_t> positive,
               std::span<const double> sample_weight) {
  CORECLEAN_THROW_IF_NOT(scores.size() == positive.size(), "ROC AUC: {} scores but {} labels",
                         scores.size(), positive.size());
  CORECLEAN_THROW_IF_NOT(sample_weight.empty() || sample_weight.size() == scores.size(),
                         "ROC AUC: {} weights for {} scores", sample_weight.size(), scores.size());
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  // Walk the ROC curve one group of tied scores at a time; the trapezoid over a tie group is the
  // "ties count half" rule of the Mann–Whitney statistic.
  double tp = 0.0, fp = 0.0, area = 0.0;
  for (std::size_t i = 0; i < order.size();) {
    double dtp = 0.0, dfp = 0.0;
    const double s = scores[order[i]];
    for (; i < order.size() && scores[order[i]] == s; ++i) {
      const double w = sample_weight.empty() ? 1.0 : sample_weight[order[i]];
      (positive[order[i]] ? dtp : dfp) += w;
    }
    area += dfp * (tp + 0.5 * dtp);
    tp += dtp;
    fp += dfp;
  }
  CORECLEAN_THROW_IF_NOT(tp > 0.0 && fp > 0.0,
                         "ROC AUC is undefined with only one class present ({} positive, {} "
                         "negative weight)",
                         tp, fp);
  return area / (tp * fp);
}

double roc_auc_ovr(const RowMatrixXd& proba, std::span<const Label> y, const Labels& classes,
                   AucAverage average, std::span<const double> sample_weight) {
  CORECLEAN_THROW_IF_NOT(proba.rows() == static_cast<Eigen::Index>(y.size()),
                         "ROC AUC: {} probability rows for {} labels", proba.rows(), y.size());
  CORECLEAN_THROW_IF_NOT(proba.cols() == static_cast<Eigen::Index>(classes.size()),
                         "ROC AUC: {} probability columns for {} classes", proba.cols(),
                         classes.size());
  CORECLEAN_THROW_IF_NOT(classes.size() >= 2, "ROC AUC: need at least two classes, got {}",
                         classes.size());
  std::vector<double> column(y.size());
  std::vector<std::uint8_t> positive(y.size());
  auto auc_of = [&](std::size_t j) {
    for (std::size_t i = 0; i < y.size(); ++i) {
      column[i] = proba(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j));
      positive[i] = y[i] == classes[j] ? 1 : 0;
    }
    return roc_auc(column, positive, sample_weight);
  };
  if (classes.size() == 2) return auc_of(1);
  double total = 0.0, weight_total = 0.0;
  for (std::size_t j = 0; j < classes.size(); ++j) {
    double prevalence = 0.0;
    for (std::size_t i = 0; i < y.size(); ++i)
      if (y[i] == classes[j]) prevalence += sample_weight.empty() ? 1.0 : sample_weight[i];
    const double w = average == AucAverage::kMacro ? 1.0 : prevalence;
    total += w * auc_of(j);
    weight_total += w;
  }
  return total / weight_total;
}

std::vector<int> stratified_kfold(std::span<const Label> y, int k, std::uint64_t seed) {
  CORECLEAN_THROW_IF_NOT(k >= 2, "stratified k-fold: k = {} (must be >= 2)", k);
  CORECLEAN_THROW_IF_NOT(static_cast<std::size_t>(k) <= y.size(),
                         "stratified k-fold: k = {} exceeds the {} samples", k, y.size());
  std::map<Label, std::vector<std::size_t>> by_class;
  for (std::size_t i = 0; i < y.size(); ++i) by_class[y[i]].push_back(i);
  std::mt19937_64 rng(seed);
  std::vector<int> fold(y.size(), 0);
  std::size_t offset = 0;  // carried across classes so that fold sizes stay balanced overall
  for (auto& [label, members] : by_class) {
    std::shuffle(members.begin(), members.end(), rng);
    for (std::size_t j = 0; j < members.size(); ++j)
      fold[members[j]] = static_cast<int>((offset + j) % static_cast<std::size_t>(k));
    offset += members.size();
  }
  return fold;
}

double balanced_accuracy(std::span<const Label> y_true, std::span<const Label> y_pred) {
  CORECLEAN_THROW_IF_NOT(y_true.size() == y_pred.size() && !y_true.empty(),
                         "balanced accuracy: {} true labels and {} predictions", y_true.size(),
                         y_pred.size());
  std::map<Label, std::pair<double, double>> per_class;  // (correct, total)
  for (std::size_t i = 0; i < y_true.size(); ++i) {
    auto& [correct, total] = per_class[y_true[i]];
    correct += y_true[i] == y_pred[i] ? 1.0 : 0.0;
    total += 1.0;
  }
  double sum = 0.0;
  for (const auto& [label, ct] : per_class) sum += ct.first / ct.second;
  return sum / static_cast<double>(per_class.size());
}

Interval wilson_interval(std::int64_t successes, std::int64_t n, double z) {
  CORECLEAN_THROW_IF_NOT(n >= 1 && successes >= 0 && successes <= n,
                         "wilson interval: {} successes of {} trials", successes, n);
  const double nn = static_cast<double>(n), p = static_cast<double>(successes) / nn;
  const double denominator = 1.0 + z * z / nn;
  const double center = (p + z * z / (2.0 * nn)) / denominator;
  const double half = z * std::sqrt(p * (1.0 - p) / nn + z * z / (4.0 * nn * nn)) / denominator;
  return {std::max(0.0, center - half), std::min(1.0, center + half)};
}

}  // namespace coreclean::linear
