// compare_coreset_fit against an independent k-fold loop and independent final fits.
#include <coreclean/core/error.h>
#include <coreclean/coreset/coreset_fit.h>
#include <coreclean/linear/metrics.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <unordered_map>
#include <vector>

#include "testing/data.h"

namespace coreclean::coreset {
namespace {

CoresetTree training_tree(const testing::Dataset& data) {
  CoresetTreeParams p;
  p.optimized_for = OptimizedFor::kTraining;
  p.chunk_size = 100;
  p.coreset_size = 60;
  CoresetTree tree(p);
  tree.build(data.x, data.y);
  return tree;
}

// Out-of-fold probabilities by hand: for fold f, train on the other folds' rows of positive
// weight, predict the rows of f; columns in `classes` order.
RowMatrixXd k_fold_by_hand(const linear::LogisticRegressionParams& params, const RowMatrixXf& x,
                           const Labels& y, const std::vector<double>& w,
                           const std::vector<int>& fold, int k, const Labels& classes) {
  RowMatrixXd proba = RowMatrixXd::Zero(x.rows(), static_cast<Eigen::Index>(classes.size()));
  for (int f = 0; f < k; ++f) {
    std::vector<Eigen::Index> train;
    for (Eigen::Index i = 0; i < x.rows(); ++i)
      if (fold[i] != f && w[i] > 0.0) train.push_back(i);
    RowMatrixXf xt(static_cast<Eigen::Index>(train.size()), x.cols());
    Labels yt;
    std::vector<double> wt;
    for (std::size_t j = 0; j < train.size(); ++j) {
      xt.row(static_cast<Eigen::Index>(j)) = x.row(train[j]);
      yt.push_back(y[train[j]]);
      wt.push_back(w[train[j]]);
    }
    linear::LogisticRegression model(params);
    model.fit(xt, yt, wt);
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
      if (fold[i] != f) continue;
      const RowMatrixXd p = model.predict_proba(x.row(i));
      for (std::size_t c = 0; c < model.classes().size(); ++c) {
        const auto col =
            std::lower_bound(classes.begin(), classes.end(), model.classes()[c]) - classes.begin();
        proba(i, col) = p(0, static_cast<Eigen::Index>(c));
      }
    }
  }
  return proba;
}

TEST(CoresetFit, MatchesAnIndependentKFoldComputation) {
  const auto data = testing::make_blobs(600, 4, 3, 1.5, 0.05, 7);
  const CoresetTree tree = training_tree(data);
  linear::LogisticRegressionParams params;
  params.max_iter = 300;
  Context context;
  context.seed = 11;
  const CoresetFitComparison cmp = compare_coreset_fit(tree, params, 4, 0, context);

  // Every sample has weight 1 in a fresh tree: the full data is the tree's features.
  const RowMatrixXf& x = tree.features();
  Labels y;
  std::unordered_map<SampleId, Eigen::Index> row_of;
  for (const SampleScore& s : tree.scores()) {
    row_of[s.id] = static_cast<Eigen::Index>(y.size());
    y.push_back(s.label);
  }
  const std::vector<double> ones(y.size(), 1.0);
  const std::vector<int> fold = linear::stratified_kfold(y, 4, context.seed);
  const Labels& classes = tree.classes();
  const double auc_full = linear::roc_auc_ovr(
      k_fold_by_hand(params, x, y, ones, fold, 4, classes), y, classes, linear::AucAverage::kMacro);
  std::vector<double> core(y.size(), 0.0);
  const Coreset expected_core = tree.coreset(0);
  for (std::size_t q = 0; q < expected_core.ids.size(); ++q)
    core[row_of.at(expected_core.ids[q])] += expected_core.weights[q];
  const double auc_core = linear::roc_auc_ovr(
      k_fold_by_hand(params, x, y, core, fold, 4, classes), y, classes, linear::AucAverage::kMacro);

  EXPECT_EQ(cmp.samples, 600);
  EXPECT_EQ(cmp.core_rows, std::count_if(core.begin(), core.end(), [](double c) { return c > 0; }));
  EXPECT_LT(cmp.core_rows, 600);
  EXPECT_EQ(cmp.coreset.ids, expected_core.ids);
  EXPECT_NEAR(cmp.auc_full, auc_full, 1e-9);
  EXPECT_NEAR(cmp.auc_core, auc_core, 1e-9);
  EXPECT_GT(cmp.auc_full, 0.9);

  // The final models: the coreset model is tree.fit; both objectives on all data.
  linear::LogisticRegression full(params);
  full.fit(x, y, ones);
  const linear::LogisticRegression fitted = tree.fit(params, 0, context);
  EXPECT_EQ(cmp.model.coef(), fitted.coef());
  EXPECT_NEAR(cmp.objective_full, linear::logistic_objective_value(full, x, y, ones), 1e-9);
  EXPECT_NEAR(cmp.objective_core, linear::logistic_objective_value(fitted, x, y, ones), 1e-9);
  // The full-data model minimises that objective, so the coreset model cannot beat it.
  EXPECT_GE(cmp.objective_core, cmp.objective_full * (1.0 - 1e-6));
}

TEST(CoresetFit, RefusesCleaningTreesAndTooFewFolds) {
  const auto data = testing::make_blobs(300, 4, 3, 1.5, 0.05, 7);
  const CoresetTree tree = training_tree(data);
  EXPECT_THROW((void)compare_coreset_fit(tree, {}, 1), InvalidArgument);
  CoresetTree cleaning;
  cleaning.build(data.x, data.y);
  EXPECT_THROW((void)compare_coreset_fit(cleaning, {}, 5), InvalidArgument);
}

}  // namespace
}  // namespace coreclean::coreset
