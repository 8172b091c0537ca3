// Metrics against scikit-learn and hand-computed values.
#include <coreclean/core/error.h>
#include <coreclean/io/npy.h>
#include <coreclean/linear/metrics.h>

#include "testing/helpers.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>
#include <random>

namespace coreclean::linear {
namespace {

// Hand case with a tie: scores (0.9+, 0.5+, 0.5−, 0.1−): pairs (+,−) ranked right 3, tied 1 → 3.5/4.
TEST(Metrics, RocAucCountsTiesHalf) {
  const std::vector<double> s{0.9, 0.5, 0.5, 0.1};
  const std::vector<std::uint8_t> pos{1, 1, 0, 0};
  EXPECT_DOUBLE_EQ(roc_auc(s, pos), 3.5 / 4.0);
  // Weighting the tied negative by 3: right pairs 1·(3+1) + 1·1 = 5, tied 1·3 → (5 + 1.5) / 8.
  const std::vector<double> w{1, 1, 3, 1};
  EXPECT_DOUBLE_EQ(roc_auc(s, pos, w), 6.5 / 8.0);
  const std::vector<std::uint8_t> all_pos{1, 1, 1, 1};
  EXPECT_THROW(roc_auc(s, all_pos), InvalidArgument);
}

// Binary and one-vs-rest AUC (macro and weighted, with weights) and the normalised confusion
// matrix agree with scikit-learn on random data with many ties.
TEST(Metrics, MatchScikitLearn) {
  CORECLEAN_REQUIRE_ORACLE();
  std::mt19937_64 rng(99);
  const int n = 300, k = 4;
  Labels y(n), pred(n);
  RowMatrixXd proba(n, k);
  std::vector<double> w(n), binary_scores(n);
  std::uniform_int_distribution<int> cls(0, k - 1);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int i = 0; i < n; ++i) {
    y[i] = 10 * cls(rng);
    pred[i] = u(rng) < 0.6 ? y[i] : 10 * cls(rng);
    for (int j = 0; j < k; ++j) proba(i, j) = std::round(u(rng) * 20) / 20 + (y[i] == 10 * j);
    proba.row(i) /= proba.row(i).sum();
    w[i] = 0.5 + u(rng);
  }
  const Labels classes{0, 10, 20, 30};
  testing::TempDir dir;
  const std::int64_t shape[] = {n, k};
  io::write_npy(dir / "scores.npy", io::DType::kFloat64, shape, proba.data());
  io::write_npy(dir / "y.npy", std::span<const std::int64_t>(y));
  io::write_npy(dir / "pred.npy", std::span<const std::int64_t>(pred));
  io::write_npy(dir / "w.npy", io::DType::kFloat64, std::span(shape, 1), w.data());
  const auto oracle = nlohmann::json::parse(testing::run_oracle("sklearn_metrics.py", {dir.path().string()}));
  EXPECT_NEAR(roc_auc_ovr(proba, y, classes, AucAverage::kMacro, w),
              oracle["auc_macro"].get<double>(), 1e-12);
  EXPECT_NEAR(roc_auc_ovr(proba, y, classes, AucAverage::kWeighted, w),
              oracle["auc_weighted"].get<double>(), 1e-12);
  const Eigen::MatrixXd cm = confusion_matrix(y, pred, classes).normalized_by_true();
  for (int i = 0; i < k; ++i)
    for (int j = 0; j < k; ++j)
      EXPECT_NEAR(cm(i, j), oracle["confusion"][i][j].get<double>(), 1e-12);

  // Binary AUC with ties.
  Labels yb(n);
  for (int i = 0; i < n; ++i) {
    yb[i] = y[i] == 0 ? 1 : 0;
    binary_scores[i] = std::round(proba(i, 0) * 10);
  }
  testing::TempDir dir2;
  io::write_npy(dir2 / "scores.npy", io::DType::kFloat64, std::span(shape, 1), binary_scores.data());
  io::write_npy(dir2 / "y.npy", std::span<const std::int64_t>(yb));
  const auto oracle2 = nlohmann::json::parse(testing::run_oracle("sklearn_metrics.py", {dir2.path().string()}));
  std::vector<std::uint8_t> positive(yb.begin(), yb.end());
  EXPECT_NEAR(roc_auc(binary_scores, positive), oracle2["auc"].get<double>(), 1e-12);
}

// Confusion matrix by hand, in the caller's class order; rows normalised by the true class.
TEST(Metrics, ConfusionMatrixByHand) {
  const Labels t{1, 1, 1, 2, 2, 3};
  const Labels p{1, 2, 2, 2, 3, 3};
  const ConfusionMatrix cm = confusion_matrix(t, p, {3, 2, 1});
  EXPECT_EQ(cm.counts(2, 1), 2.0);  // true 1 predicted 2
  EXPECT_EQ(cm.counts(0, 0), 1.0);  // true 3 predicted 3
  const Eigen::MatrixXd nm = cm.normalized_by_true();
  EXPECT_DOUBLE_EQ(nm(2, 1), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(nm(1, 0), 0.5);
  EXPECT_THROW(confusion_matrix(t, p, {1, 2}), InvalidArgument);  // 3 is not a class
}

// Stratified folds: every class is spread evenly over the folds, and the seed fixes the split.
TEST(Metrics, StratifiedKFoldBalancesClassesAndIsSeeded) {
  Labels y;
  for (int i = 0; i < 103; ++i) y.push_back(i % 3 == 0 ? 7 : (i % 3 == 1 ? 8 : 9));
  for (int i = 0; i < 20; ++i) y.push_back(42);
  const auto folds = stratified_kfold(y, 5, 1);
  std::map<Label, std::vector<int>> per_class;
  std::vector<int> sizes(5, 0);
  for (std::size_t i = 0; i < y.size(); ++i) {
    auto& counts = per_class[y[i]];
    counts.resize(5, 0);
    ++counts[folds[i]];
    ++sizes[folds[i]];
  }
  for (const auto& [label, counts] : per_class) {
    const auto [lo, hi] = std::minmax_element(counts.begin(), counts.end());
    EXPECT_LE(*hi - *lo, 1) << "class " << label;
  }
  const auto [lo, hi] = std::minmax_element(sizes.begin(), sizes.end());
  EXPECT_LE(*hi - *lo, 1);
  EXPECT_EQ(folds, stratified_kfold(y, 5, 1));
  EXPECT_NE(folds, stratified_kfold(y, 5, 2));
  EXPECT_THROW(stratified_kfold(y, 1, 0), InvalidArgument);
}


// Values from the formula evaluated independently (Python, math module).
TEST(Metrics, WilsonIntervalByHand) {
  Interval i = wilson_interval(3, 60);
  EXPECT_NEAR(i.low, 0.01714950216439568, 1e-12);
  EXPECT_NEAR(i.high, 0.1370051647634852, 1e-12);
  i = wilson_interval(0, 20);
  EXPECT_NEAR(i.low, 0.0, 1e-12);
  EXPECT_NEAR(i.high, 0.16112515805281938, 1e-12);
  i = wilson_interval(20, 20);
  EXPECT_NEAR(i.low, 0.8388748419471806, 1e-12);
  EXPECT_NEAR(i.high, 1.0, 1e-12);
  EXPECT_THROW(wilson_interval(1, 0), InvalidArgument);
  EXPECT_THROW(wilson_interval(5, 4), InvalidArgument);
}

// Balanced accuracy by hand: recalls 1/2 and 1 → 0.75.
TEST(Metrics, BalancedAccuracyByHand) {
  EXPECT_DOUBLE_EQ(balanced_accuracy(Labels{1, 1, 2}, Labels{1, 2, 2}), 0.75);
}

}  // namespace
}  // namespace coreclean::linear
