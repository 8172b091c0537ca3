// The coreset tree: closed forms against brute force, incremental updates against fresh builds,
// query semantics, persistence, and label-error detection on real digits.
#include <coreclean/core/error.h>
#include <coreclean/coreset/coreset_tree.h>
#include <coreclean/io/feature_set.h>
#include <coreclean/linear/metrics.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <random>
#include <span>
#include <tuple>

#include "coreset/tree_state.h"
#include "testing/data.h"
#include "testing/helpers.h"

namespace coreclean::coreset {
namespace {

CoresetTreeParams small_params(Eigen::Index chunk = 40) {
  CoresetTreeParams p;
  p.chunk_size = chunk;
  p.misfit_ridges = {0.05};
  p.cross_fit_folds = 0;  // the ridge view alone; the others are tested separately
  p.neighbours = 0;
  return p;
}

// Leave-one-out misfit and within-class leverage equal their definitions computed by refitting
// without each sample and by inverting the class Gram matrix directly.
TEST(CoresetTree, ScoresMatchBruteForce) {
  const auto data = testing::make_blobs(120, 4, 3, 1.5, 0.1, 7);
  std::vector<double> w = testing::make_weights(120, 3);
  CoresetTree tree(small_params());
  tree.build(data.x, data.y, w);
  const Labels& classes = tree.classes();
  const RowMatrixXf& phi = tree.features();
  ASSERT_EQ(phi.cols(), 4);  // d ≤ sketch_dim: centred features
  const Eigen::Index n = 120, r1 = 5;
  Eigen::MatrixXd a(n, r1), y = Eigen::MatrixXd::Zero(n, 3);
  for (Eigen::Index i = 0; i < n; ++i) {
    a.row(i).head(4) = phi.row(i).cast<double>();
    a(i, 4) = 1.0;
    y(i, std::find(classes.begin(), classes.end(), data.y[i]) - classes.begin()) = 1.0;
  }
  const Eigen::VectorXd wv = Eigen::Map<const Eigen::VectorXd>(w.data(), n);
  const Eigen::MatrixXd g_full = a.transpose() * wv.asDiagonal() * a;
  const double lambda = 0.05 * g_full.diagonal().head(4).mean();
  const auto scores = tree.scores();
  // Leave-one-out scores of every sample: a ridge fit without it.
  Eigen::MatrixXd f_loo(n, 3);
  std::vector<int> label(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    Eigen::VectorXd wi = wv;
    wi[i] = 0.0;
    const Eigen::MatrixXd g = a.transpose() * wi.asDiagonal() * a + lambda * Eigen::MatrixXd::Identity(r1, r1);
    const Eigen::MatrixXd theta = g.ldlt().solve(a.transpose() * wi.asDiagonal() * y);
    f_loo.row(i) = a.row(i) * theta;
    label[i] = static_cast<int>(std::find(classes.begin(), classes.end(), data.y[i]) - classes.begin());
  }
  // The fused misfit with the ridge view alone is 1 − softmax(α F₋ᵢ)_yᵢ, α maximising the
  // weighted likelihood of the labels less ½ μ α² (μ = 10⁻⁴ Σ w), then twice again over the
  // samples whose misfit under the last α is below its 90th percentile. Recomputed here by
  // golden-section search on the loss written out (an independent one-dimensional optimiser).
  const double alpha = tree.fusion_weights().ridge;
  EXPECT_GT(alpha, 0.0);
  EXPECT_EQ(tree.fusion_weights().neighbour, 0.0);
  EXPECT_EQ(tree.fusion_weights().held_out, 0.0);
  const auto loss = [&](double al, const std::vector<double>& weight) {
    const double mu = 1e-4 * std::accumulate(weight.begin(), weight.end(), 0.0);  // of those fitted
    double sum = 0.0;
    for (Eigen::Index i = 0; i < n; ++i) {
      const Eigen::RowVectorXd z = al * f_loo.row(i);
      sum += weight[i] * (std::log((z.array() - z.maxCoeff()).exp().sum()) + z.maxCoeff() - z[label[i]]);
    }
    return sum + 0.5 * mu * al * al;
  };
  const auto golden = [&](const std::vector<double>& weight) {
    double lo = 0.0, hi = 1000.0;
    const double g = (std::sqrt(5.0) - 1.0) / 2.0;
    for (int it = 0; it < 200; ++it) {
      const double a1 = hi - g * (hi - lo), a2 = lo + g * (hi - lo);
      (loss(a1, weight) < loss(a2, weight) ? hi : lo) = loss(a1, weight) < loss(a2, weight) ? a2 : a1;
    }
    return 0.5 * (lo + hi);
  };
  double expected_alpha = golden(w);
  for (int round = 0; round < 2; ++round) {
    std::vector<double> misfit(n), sorted;
    for (Eigen::Index i = 0; i < n; ++i) {
      const Eigen::RowVectorXd z = expected_alpha * f_loo.row(i);
      misfit[i] = 1.0 - std::exp(z[label[i]] - z.maxCoeff()) / (z.array() - z.maxCoeff()).exp().sum();
    }
    sorted = misfit;
    std::sort(sorted.begin(), sorted.end());
    const double cut = sorted[static_cast<std::size_t>(std::floor(0.9 * n))];
    std::vector<double> kept(n);
    for (Eigen::Index i = 0; i < n; ++i) kept[i] = misfit[i] < cut ? w[i] : 0.0;
    expected_alpha = golden(kept);
  }
  EXPECT_NEAR(alpha, expected_alpha, 1e-5 * expected_alpha);
  for (Eigen::Index i : {0L, 17L, 63L, 119L}) {
    const Eigen::RowVectorXd f = f_loo.row(i);
    const int yi = label[i];
    double other = -1e300;
    for (int c = 0; c < 3; ++c)
      if (c != yi) other = std::max(other, f[c]);
    EXPECT_NEAR(scores[i].ridge, 0.5 * std::max(0.0, 1.0 + other - f[yi]), 1e-9) << "sample " << i;
    const Eigen::RowVectorXd p = (alpha * f.array()).exp().matrix() / (alpha * f.array()).exp().sum();
    EXPECT_NEAR(scores[i].misfit, 1.0 - p[yi], 1e-9) << "sample " << i;
    EXPECT_EQ(scores[i].held_out, 0.0);
    EXPECT_EQ(scores[i].neighbour, 0.0);
    EXPECT_EQ(scores[i].neighbour_label, scores[i].label) << "no neighbour view";
    Eigen::Index best = 0;
    f.maxCoeff(&best);
    EXPECT_EQ(scores[i].suggested_label, classes[best]);
    // Within-class leverage, scaled by W_c / r̃.
    Eigen::MatrixXd gc = Eigen::MatrixXd::Zero(r1, r1);
    double wc = 0.0;
    for (Eigen::Index j = 0; j < n; ++j)
      if (data.y[j] == data.y[i]) {
        gc += w[j] * a.row(j).transpose() * a.row(j);
        wc += w[j];
      }
    const double lambda_c = 1e-3 * gc.diagonal().head(4).mean();
    const Eigen::MatrixXd gi = (gc + lambda_c * Eigen::MatrixXd::Identity(r1, r1)).inverse();
    const double lev = w[i] * a.row(i) * gi * a.row(i).transpose();
    EXPECT_NEAR(scores[i].atypical, lev * wc / r1, 1e-6 * std::max(1.0, lev * wc / r1));
    // importance = surprisal −log p(label) + 0.01 · atypicality (the default weight).
    EXPECT_NEAR(scores[i].importance,
                -std::log(p[yi]) + 0.01 * scores[i].atypical, 1e-9 * std::max(1.0, scores[i].importance));
  }
}

// The held-out model of fold f as the tree fits it, independently: a logistic regression on the
// tree's features φ of the other folds' samples, C = c · r / mean ‖φ‖², tolerance 1e-2; from
// `start`'s solution when given.
linear::LogisticRegression fit_without_fold(const RowMatrixXf& phi, const Labels& labels,
                                            const std::vector<int>& folds, int f, double c,
                                            const linear::LogisticRegression* start = nullptr) {
  double mean_sq = 0.0;
  for (Eigen::Index i = 0; i < phi.rows(); ++i) mean_sq += phi.row(i).cast<double>().squaredNorm();
  linear::LogisticRegressionParams lp;
  lp.c = c * static_cast<double>(phi.cols()) / (mean_sq / static_cast<double>(phi.rows()));
  lp.tol = 1e-2;
  lp.max_iter = 50;
  lp.warm_start = start != nullptr;
  RowMatrixXf x(0, phi.cols());
  Labels y;
  for (Eigen::Index i = 0; i < phi.rows(); ++i)
    if (folds[i] != f) {
      x.conservativeResize(x.rows() + 1, Eigen::NoChange);
      x.row(x.rows() - 1) = phi.row(i);
      y.push_back(labels[i]);
    }
  linear::LogisticRegression model(lp);
  if (start != nullptr) model.set_model(start->classes(), start->coef(), start->intercept());
  model.fit(x, y);
  return model;
}

// With cross-fitting, the held-out view is 1 − p̂(label) of a logistic regression fitted
// without the sample's (stratified, seeded) fold, and it joins the fused misfit.
TEST(CoresetTree, CrossFittedMisfitUsesModelsWithoutTheFold) {
  const auto data = testing::make_blobs(200, 4, 3, 1.5, 0.1, 29);
  CoresetTreeParams with = small_params();
  with.cross_fit_folds = 4;
  with.cross_fit_c = 1.0;
  CoresetTree ridge_only(small_params()), tree(with);
  ridge_only.build(data.x, data.y);
  tree.build(data.x, data.y);
  const std::vector<int> folds = linear::stratified_kfold(data.y, 4, 0);
  const RowMatrixXf& phi = tree.features();
  for (int f = 0; f < 4; ++f) {
    const linear::LogisticRegression model = fit_without_fold(phi, data.y, folds, f, 1.0);
    for (Eigen::Index i = 0; i < 200; ++i) {
      if (folds[i] != f) continue;
      const RowMatrixXd prob = model.predict_proba(phi.row(i));
      const auto c = std::find(model.classes().begin(), model.classes().end(), data.y[i]) -
                     model.classes().begin();
      EXPECT_NEAR(tree.score(i).held_out, 1.0 - prob(0, c), 1e-6) << "sample " << i;
      EXPECT_EQ(tree.score(i).ridge, ridge_only.score(i).ridge) << "sample " << i;
      // The held-out probabilities are this model's, in classes() order.
      const std::vector<double> held_out = tree.held_out_probabilities(i);
      ASSERT_EQ(held_out.size(), 3u);
      for (int k = 0; k < 3; ++k) EXPECT_NEAR(held_out[k], prob(0, k), 1e-6) << "sample " << i;
    }
  }
  EXPECT_TRUE(ridge_only.held_out_probabilities(0).empty()) << "no cross-fitted models";
  tree.remove_samples(std::vector<SampleId>{7});
  EXPECT_TRUE(tree.held_out_probabilities(7).empty()) << "a removed sample";
}

// cross_fit_c = 0: the held-out models use the candidate C whose fold-0 model gives fold 0's
// labels the highest likelihood — checked against models fitted here for every candidate. Two
// data sets that want different amounts of regularisation: few samples in many noise columns
// with noisy labels (strong), many samples in few clean columns (weak).
TEST(CoresetTree, HeldOutRegularisationChosenByHeldOutLikelihood) {
  const std::vector<double> candidates = {0.03, 0.1, 0.3, 1.0};
  std::vector<double> chosen;
  for (const auto& config : {std::tuple{240, 60, 1.0, 0.25}, std::tuple{1200, 3, 4.0, 0.0}}) {
    const int n = std::get<0>(config);
    const auto data = testing::make_blobs(n, std::get<1>(config), 3, std::get<2>(config),
                                          std::get<3>(config), 41);
    CoresetTreeParams p = small_params(60);
    p.cross_fit_folds = 4;
    ASSERT_EQ(p.cross_fit_c, 0.0) << "chosen by default";
    CoresetTree tree(p);
    tree.build(data.x, data.y);
    const std::vector<int> folds = linear::stratified_kfold(data.y, 4, 0);
    const RowMatrixXf& phi = tree.features();
    // Fold 0 at every candidate, strongest regularisation first, each from the previous fit.
    std::vector<linear::LogisticRegression> path;
    double best = -std::numeric_limits<double>::infinity(), best_c = 0.0;
    std::size_t best_at = 0;
    for (double c : candidates) {
      path.push_back(fit_without_fold(phi, data.y, folds, 0, c, path.empty() ? nullptr : &path.back()));
      const linear::LogisticRegression& model = path.back();
      double loglik = 0.0;
      for (Eigen::Index i = 0; i < n; ++i) {
        if (folds[i] != 0) continue;
        const RowMatrixXd prob = model.predict_proba(phi.row(i));
        const auto k = std::find(model.classes().begin(), model.classes().end(), data.y[i]) -
                       model.classes().begin();
        loglik += std::log(prob(0, k));
      }
      if (loglik > best) best = loglik, best_c = c, best_at = path.size() - 1;
    }
    chosen.push_back(best_c);
    // Fold 0 keeps its model at the chosen C; folds 1–3 are fitted from zero at that C.
    for (int f = 0; f < 4; ++f) {
      const linear::LogisticRegression model =
          f == 0 ? path[best_at] : fit_without_fold(phi, data.y, folds, f, best_c);
      for (Eigen::Index i = 0; i < n; ++i) {
        if (folds[i] != f) continue;
        const RowMatrixXd prob = model.predict_proba(phi.row(i));
        const std::vector<double> held_out = tree.held_out_probabilities(i);
        for (int k = 0; k < 3; ++k)
          ASSERT_NEAR(held_out[k], prob(0, k), 1e-6) << "n " << n << ", C " << best_c << ", sample " << i;
      }
    }
  }
  EXPECT_EQ(chosen[0], 0.03) << "noisy labels in many noise columns want strong regularisation";
  EXPECT_EQ(chosen[1], 1.0) << "clean, well separated labels want little";
  // A C given by the user is used as given.
  const auto data = testing::make_blobs(240, 60, 3, 1.0, 0.25, 41);
  CoresetTreeParams p = small_params(60);
  p.cross_fit_folds = 4;
  p.cross_fit_c = 0.3;
  CoresetTree fixed(p), chosen_tree(small_params(60));
  fixed.build(data.x, data.y);
  p.cross_fit_c = 0.0;
  chosen_tree = CoresetTree(p);
  chosen_tree.build(data.x, data.y);
  const std::vector<int> folds = linear::stratified_kfold(data.y, 4, 0);
  double differ = 0.0;
  for (Eigen::Index i = 0; i < 240; ++i)
    if (folds[i] == 1) differ += std::abs(fixed.score(i).held_out - chosen_tree.score(i).held_out);
  EXPECT_GT(differ, 1e-3) << "C = 0.3 was used, not the chosen 0.03";
  CoresetTreeParams bad = small_params();
  bad.cross_fit_c = -1.0;
  EXPECT_THROW(bad.validate(), InvalidArgument);
}

void expect_same_summaries(const CoresetTree& a, const CoresetTree& b) {
  ASSERT_EQ(a.num_nodes(), b.num_nodes());
  for (Eigen::Index j = 0; j < a.num_nodes(); ++j) {
    const NodeSummary x = a.node(j), y = b.node(j);
    EXPECT_EQ(x.class_count, y.class_count) << "node " << j;
    EXPECT_LE((x.class_weight - y.class_weight).norm(), 1e-6 * y.class_weight.norm());
    EXPECT_LE((x.gram - y.gram).norm(), 1e-6 * y.gram.norm()) << "node " << j;
    EXPECT_LE((x.moments - y.moments).norm(), 1e-6 * std::max(1.0, y.moments.norm()));
  }
  const auto ga = a.class_grams(), gb = b.class_grams();
  for (std::size_t c = 0; c < ga.size(); ++c)
    EXPECT_LE((ga[c] - gb[c]).norm(), 1e-6 * std::max(1.0, gb[c].norm()));
}

// Relabelling and removing incrementally gives the summaries of a fresh build
// over the same leaf assignment, touches only the leaves and their paths, and after refresh()
// the same scores and the same selections.
TEST(CoresetTree, IncrementalUpdatesEqualFreshBuild) {
  auto data = testing::make_blobs(400, 6, 3, 1.2, 0.1, 11);
  // Build-time centring: the fresh build must see the same features, so only labels and weights
  // change here.
  std::vector<SampleId> ids(400);
  for (int i = 0; i < 400; ++i) ids[i] = 5000 + 3 * i;
  CoresetTree tree(small_params(50));
  tree.build(data.x, data.y, {}, ids);
  EXPECT_EQ(tree.num_leaves(), 8);
  EXPECT_EQ(tree.num_nodes(), 15);

  const std::vector<SampleId> relabel_ids{5000 + 3 * 10, 5000 + 3 * 20};  // both in leaf 0
  const Labels relabel_to{data.y[10] == 2 ? 5 : 2, data.y[20] == 8 ? 2 : 8};
  const UpdateReport r1 = tree.update_targets(relabel_ids, relabel_to);
  EXPECT_EQ(r1.samples_changed, 2);
  EXPECT_EQ(r1.nodes_touched, 4);  // one leaf and its three ancestors
  EXPECT_EQ(r1.samples_rescored, 2);  // the changed samples; the rest wait for refresh()
  data.y[10] = relabel_to[0];
  data.y[20] = relabel_to[1];

  const std::vector<SampleId> removed{5000 + 3 * 399};
  EXPECT_EQ(tree.remove_samples(removed).nodes_touched, 4);
  std::vector<double> weights(400, 1.0);
  weights[399] = 0.0;

  // A fresh build with the final labels and weights over the same leaf assignment. (Feature
  // updates are checked separately: the feature map is fitted at build time.)
  CoresetTree b(small_params(50));
  b.build(data.x, data.y, weights, ids);
  CoresetTree& a = tree;
  expect_same_summaries(a, b);
  EXPECT_GT(a.stale_updates(), 0);
  a.refresh();
  EXPECT_EQ(a.stale_updates(), 0);
  const auto sa = a.scores(), sb = b.scores();
  for (std::size_t i = 0; i < sa.size(); ++i) {
    EXPECT_NEAR(sa[i].importance, sb[i].importance, 1e-6 * std::max(1.0, sb[i].importance));
    EXPECT_EQ(sa[i].suggested_label, sb[i].suggested_label);
  }
  ImportantSamplesQuery q;
  q.size = 30;
  EXPECT_EQ(a.important_samples(q).ids, b.important_samples(q).ids);
  EXPECT_EQ(a.score(removed[0]).importance, 0.0);
}

// A reviewed batch in one update (apply_review) gives the tree that relabelling and then removing
// give, with the summaries of a fresh build, counted as one stale update; an id in both lists,
// or an unknown one, changes nothing.
TEST(CoresetTree, ApplyReviewEqualsRelabelsThenRemovals) {
  const auto data = testing::make_blobs(400, 6, 3, 1.2, 0.1, 11);
  CoresetTree one(small_params(50)), two(small_params(50));
  one.build(data.x, data.y);
  two.build(data.x, data.y);
  const std::vector<SampleId> relabel{10, 20, 250};
  const Labels to{data.y[10] == 2 ? 5 : 2, data.y[20] == 8 ? 2 : 8, data.y[250] == 5 ? 8 : 5};
  const std::vector<SampleId> removed{7, 399};
  const UpdateReport r = one.apply_review(relabel, to, removed);
  EXPECT_EQ(r.samples_changed, 5);
  EXPECT_EQ(one.stale_updates(), 1);
  two.update_targets(relabel, to);
  two.remove_samples(removed);
  expect_same_summaries(one, two);
  // Before a refresh the changed samples' atypicality is the one place they differ: the
  // relabelled ones are re-scored against the model after every change here, after the relabels
  // only there. Every other sample, and every sample after refresh(), scores the same.
  auto sa = one.scores(), sb = two.scores();
  for (std::size_t i = 0; i < sa.size(); ++i) {
    if (i != 10 && i != 20 && i != 250) {
      EXPECT_NEAR(sa[i].importance, sb[i].importance, 1e-9 * std::max(1.0, sb[i].importance)) << i;
    }
    EXPECT_NEAR(sa[i].misfit, sb[i].misfit, 1e-9) << i;
    EXPECT_EQ(sa[i].label, sb[i].label);
    EXPECT_EQ(sa[i].weight, sb[i].weight);
  }
  one.refresh();
  two.refresh();
  sa = one.scores();
  sb = two.scores();
  for (std::size_t i = 0; i < sa.size(); ++i)
    EXPECT_NEAR(sa[i].importance, sb[i].importance, 1e-9 * std::max(1.0, sb[i].importance)) << i;
  const auto before = one.scores();
  EXPECT_THROW(one.apply_review(std::vector<SampleId>{30}, Labels{2}, std::vector<SampleId>{30}),
               InvalidArgument);
  EXPECT_THROW(one.apply_review(std::vector<SampleId>{30}, Labels{2}, std::vector<SampleId>{4000}),
               InvalidArgument);
  EXPECT_THROW(one.apply_review(std::vector<SampleId>{30}, Labels{}, {}), InvalidArgument);
  const auto after = one.scores();
  for (std::size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i].label, before[i].label);
}

// With cross-fitting on, refresh() also re-deals the folds by the current labels and refits the
// fold models: the refreshed tree scores exactly like a fresh build.
TEST(CoresetTree, RefreshWithCrossFittingEqualsFreshBuild) {
  auto data = testing::make_blobs(300, 5, 3, 1.2, 0.1, 31);
  CoresetTreeParams p = small_params(50);
  p.cross_fit_folds = 5;
  CoresetTree tree(p);
  tree.build(data.x, data.y);
  std::vector<SampleId> ids;
  Labels to;
  for (SampleId i = 0; i < 300; i += 7) {
    ids.push_back(i);
    to.push_back(data.y[i] == 2 ? 8 : 2);
    data.y[i] = to.back();
  }
  tree.update_targets(ids, to);
  tree.refresh();
  CoresetTree fresh(p);
  fresh.build(data.x, data.y);
  const auto a = tree.scores(), b = fresh.scores();
  for (std::size_t i = 0; i < a.size(); ++i)
    EXPECT_NEAR(a[i].importance, b[i].importance, 1e-6) << "sample " << i;
}

// Feature updates are exact too: the summaries equal a build whose feature map is the same.
TEST(CoresetTree, FeatureUpdateMatchesSummariesFromScratch) {
  auto data = testing::make_blobs(200, 5, 2, 1.0, 0.0, 13);
  CoresetTree tree(small_params(50));
  tree.build(data.x, data.y);
  RowMatrixXf new_rows = RowMatrixXf::Random(2, 5);
  const std::vector<SampleId> ids{3, 150};
  const UpdateReport r = tree.update_features(ids, new_rows);
  EXPECT_EQ(r.samples_changed, 2);
  EXPECT_EQ(r.nodes_touched, 5);  // leaves 0 and 3, their parents, the root
  // Recompute the root Gram from the tree's own (updated) mapped features.
  const RowMatrixXf& phi = tree.features();
  Eigen::MatrixXd a(200, 6);
  a.leftCols(5) = phi.cast<double>();
  a.col(5).setOnes();
  const NodeSummary root = tree.node(tree.num_nodes() - 1);
  EXPECT_LE((root.gram - a.transpose() * a).norm(), 1e-9 * root.gram.norm());
  EXPECT_NEAR(phi(3, 0), new_rows(0, 0) - data.x.col(0).cast<double>().mean(), 1e-5);
}

// append() adds leaves without a rebuild: the old full leaves keep their summaries, and the tree
// equals a fresh build over all samples when the feature map is the same (the second part is
// shifted to the first part's mean, so the build-time centring is identical).
TEST(CoresetTree, AppendEqualsFreshBuildOverAllSamples) {
  auto data = testing::make_blobs(400, 6, 3, 1.2, 0.1, 23);
  const Eigen::Index n0 = 230;  // 4 full leaves of 50 and a partial one
  RowMatrixXf x = data.x;
  const Eigen::RowVectorXd mean_a = x.topRows(n0).cast<double>().colwise().mean();
  const Eigen::RowVectorXd mean_b = x.bottomRows(400 - n0).cast<double>().colwise().mean();
  x.bottomRows(400 - n0).rowwise() += (mean_a - mean_b).cast<float>();
  std::vector<SampleId> ids(400);
  for (int i = 0; i < 400; ++i) ids[i] = 100 + 2 * i;
  const std::span<const Label> y(data.y);
  const std::span<const SampleId> all_ids(ids);

  CoresetTree tree(small_params(50));
  tree.build(x.topRows(n0), y.first(n0), {}, all_ids.first(n0));
  const NodeSummary kept_leaf = tree.node(1);
  const UpdateReport r = tree.append(x.bottomRows(400 - n0), y.subspan(n0), {}, all_ids.subspan(n0));
  EXPECT_EQ(r.samples_changed, 170);
  EXPECT_EQ(tree.size(), 400);
  EXPECT_EQ(tree.num_leaves(), 8);
  // Leaves 0–3 kept, leaves 4–7 summarised, the 7 internal nodes re-summed.
  EXPECT_EQ(r.nodes_touched, 4 + 7);
  EXPECT_EQ(tree.node(1).gram, kept_leaf.gram);

  CoresetTree fresh(small_params(50));
  fresh.build(x, data.y, {}, ids);
  expect_same_summaries(tree, fresh);
  // The ridge view is exact at once for every sample; atypicality of the old samples waits for
  // refresh(), after which every score equals the fresh build's.
  const auto before = tree.scores(), expected = fresh.scores();
  for (std::size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(before[i].id, expected[i].id);
    EXPECT_NEAR(before[i].ridge, expected[i].ridge, 1e-6) << "sample " << i;
    if (i >= static_cast<std::size_t>(n0))
      EXPECT_NEAR(before[i].atypical, expected[i].atypical, 1e-6) << "sample " << i;
  }
  tree.refresh();
  const auto after = tree.scores();
  for (std::size_t i = 0; i < expected.size(); ++i)
    EXPECT_NEAR(after[i].importance, expected[i].importance, 1e-6) << "sample " << i;

  // Every argument is checked before anything changes.
  const CoresetTree snapshot = tree;
  const RowMatrixXf one = x.topRows(1);
  RowMatrixXf two = x.topRows(2);
  const Label known[] = {data.y[0]}, unknown[] = {77}, known2[] = {data.y[0], data.y[1]};
  const SampleId taken[] = {100}, fresh_id[] = {1}, twice[] = {3, 3};
  EXPECT_THROW(tree.append(one, known, {}, taken), InvalidArgument);
  EXPECT_THROW(tree.append(one, unknown, {}, fresh_id), InvalidArgument);
  EXPECT_THROW(tree.append(RowMatrixXf::Zero(1, 5), known, {}, fresh_id), InvalidArgument);
  EXPECT_THROW(tree.append(two, known, {}, fresh_id), InvalidArgument);  // 2 rows, 1 label
  EXPECT_THROW(tree.append(two, known2, {}, twice), InvalidArgument);
  two(1, 3) = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(tree.append(two, known2), InvalidArgument);
  EXPECT_TRUE(tree == snapshot);

  // Without ids, the new samples are numbered after the largest id (898).
  tree.append(one, known);
  EXPECT_EQ(tree.scores().back().id, 899);
}

// append() with the held-out models: each new sample gets the view of a fold model that never
// saw it; the tree survives save/load; a training tree keeps every importance on one scale (each
// class's importances sum to about 1, as after a fresh build).
TEST(CoresetTree, AppendWithHeldOutModelsAndTrainingCoresets) {
  auto data = testing::make_blobs(600, 6, 3, 1.2, 0.1, 29);
  const std::span<const Label> y(data.y);
  CoresetTreeParams p = small_params(64);
  p.cross_fit_folds = 5;
  CoresetTree tree(p);
  tree.build(data.x.topRows(300), y.first(300));
  tree.append(data.x.bottomRows(300), y.subspan(300));
  for (SampleId id : {300, 450, 599}) {
    const std::vector<double> prob = tree.held_out_probabilities(id);
    ASSERT_EQ(prob.size(), 3u) << "sample " << id;
    EXPECT_NEAR(prob[0] + prob[1] + prob[2], 1.0, 1e-9);
  }
  const testing::TempDir dir;
  save_tree(tree, dir / "t.bin");
  EXPECT_TRUE(load_tree(dir / "t.bin") == tree);

  CoresetTreeParams tp = small_params(64);
  tp.optimized_for = OptimizedFor::kTraining;
  CoresetTree training(tp);
  training.build(data.x.topRows(300), y.first(300));
  training.append(data.x.bottomRows(300), y.subspan(300));
  std::map<Label, double> sum_old, sum_new;
  for (const SampleScore& s : training.scores())
    (s.id < 300 ? sum_old : sum_new)[s.label] += s.importance;
  for (const auto& [label, old_sum] : sum_old) {
    EXPECT_NEAR(old_sum + sum_new[label], 1.0, 0.1) << "class " << label;
    // Half the samples of each class are new: half the importance, not a third.
    EXPECT_NEAR(sum_new[label] / (old_sum + sum_new[label]), 0.5, 0.1) << "class " << label;
  }
  const Coreset core = training.coreset();
  EXPECT_FALSE(core.ids.empty());
}

// Query semantics: per-class counts, all, any; seen flags; ignore and select_from lists.
// A streamed build (rows released once a pass is done with them) equals the in-memory build,
// and every row is released: with the PCA fitted on every sample (n small) and on a uniform
// sample of 65,536 (n larger), where φ must still be (x − μ) Pᵀ with μ the mean of all rows.
TEST(CoresetTree, StreamedBuildEqualsInMemoryBuild) {
  for (const int n : {3000, 70000}) {
    SCOPED_TRACE(fmt::format("n = {}", n));
    const auto data = testing::make_blobs(n, 24, 4, 1.2, 0.05, 41);
    // An offset far from 0 makes any mistake in the centring visible.
    const RowMatrixXf x = (data.x.array() + 50.0f).matrix();
    CoresetTreeParams params;
    params.sketch_dim = 8;
    params.cross_fit_folds = 2;
    std::vector<int> released(static_cast<std::size_t>(n), 0);
    const StreamedSamples streamed{x, [&](Eigen::Index begin, Eigen::Index end) {
                                     for (Eigen::Index i = begin; i < end; ++i) ++released[i];
                                   }};
    CoresetTree a(params), b(params);
    Context context;
    context.seed = 5;
    a.build(x, data.y, {}, {}, context);
    b.build(streamed, data.y, {}, {}, context);
    EXPECT_TRUE(a == b);
    EXPECT_EQ(std::count(released.begin(), released.end(), 0), 0);
    // Exact mean of all rows (in double), and the stored features are the map applied to x.
    const Eigen::VectorXd mean = x.cast<double>().colwise().mean().transpose();
    EXPECT_LT((b.feature_mean() - mean).cwiseAbs().maxCoeff(), 1e-9);
    const RowMatrixXf mapped = b.map_features(x);
    EXPECT_LT((mapped - b.features()).cwiseAbs().maxCoeff(), 2e-4f * (1.0f + mapped.cwiseAbs().maxCoeff()));
    // The components keep almost all the variance the best 8 directions of all rows keep
    // (exact covariance eigenvalues as the oracle).
    const Eigen::MatrixXd centred = x.cast<double>().rowwise() - mean.transpose();
    const Eigen::MatrixXd cov = centred.transpose() * centred / static_cast<double>(n - 1);
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(cov);
    const double best = eig.eigenvalues().tail(8).sum();
    const Eigen::MatrixXd p = b.feature_projection();
    ASSERT_EQ(p.rows(), 8);
    EXPECT_GT((p * cov * p.transpose()).trace(), 0.99 * best);
  }
}

TEST(CoresetTree, QuerySemantics) {
  const auto data = testing::make_blobs(300, 4, 3, 1.0, 0.2, 17);  // labels 2, 5, 8
  CoresetTree tree(small_params(64));
  tree.build(data.x, data.y);
  const auto scores = tree.scores();
  ImportantSamplesQuery q;
  q.class_size = {{5, {ClassQuota::Kind::kCount, 7}}};
  q.mark_seen = false;
  const ImportantSamples first = tree.important_samples(q);
  ASSERT_EQ(first.ids.size(), 7u);
  // The 7 most important samples of class 5, in decreasing order.
  std::vector<std::pair<double, SampleId>> of5;
  for (const auto& s : scores)
    if (s.label == 5) of5.push_back({s.importance, s.id});
  std::sort(of5.begin(), of5.end(), [](auto& x, auto& y) { return x.first > y.first; });
  for (int j = 0; j < 7; ++j) EXPECT_EQ(first.ids[j], of5[j].second);
  EXPECT_TRUE(std::is_sorted(first.importance.rbegin(), first.importance.rend()));
  // Marking seen: the next query continues with the next samples.
  q.mark_seen = true;
  tree.important_samples(q);
  const ImportantSamples next = tree.important_samples(q);
  EXPECT_EQ(next.ids[0], of5[7].second);
  EXPECT_TRUE(tree.score(of5[0].second).seen);
  tree.set_seen(std::vector<SampleId>{of5[0].second}, false);
  EXPECT_FALSE(tree.score(of5[0].second).seen);
  // all + any: every unseen sample of class 2, plus the best 5 of the rest.
  ImportantSamplesQuery q2;
  q2.size = 5;
  q2.mark_seen = false;
  q2.ignore_seen = false;
  q2.class_size = {{2, {ClassQuota::Kind::kAll, 0}}, {8, {ClassQuota::Kind::kAny, 0}},
                   {5, {ClassQuota::Kind::kAny, 0}}};
  const auto both = tree.important_samples(q2);
  std::size_t count2 = 0;
  for (const auto& s : scores) count2 += s.label == 2;
  EXPECT_EQ(both.ids.size(), count2);  // size 5 already used up by class 2's samples
  // ignore / select_from.
  ImportantSamplesQuery q3;
  q3.size = 3;
  q3.mark_seen = false;
  q3.ignore_seen = false;
  q3.select_from_ids = {0, 1, 2, 3};
  q3.ignore_ids = {1};
  const auto some = tree.important_samples(q3);
  EXPECT_EQ(some.ids.size(), 3u);
  for (SampleId id : some.ids) EXPECT_NE(id, 1);
  // Unknown ids and classes are refused.
  q3.ignore_ids = {99999};
  EXPECT_THROW(tree.important_samples(q3), InvalidArgument);
  EXPECT_THROW(tree.update_targets(std::vector<SampleId>{0}, Labels{77}), InvalidArgument);
  EXPECT_THROW(tree.update_targets(std::vector<SampleId>{0, 0}, Labels{2, 5}), InvalidArgument);
}

// save → load gives an equal tree; corrupt, truncated and future-version files are refused.
TEST(CoresetTree, SaveLoadRoundTripAndRefusals) {
  const auto data = testing::make_blobs(150, 5, 3, 1.0, 0.1, 19);
  CoresetTree tree(small_params(40));
  tree.build(data.x, data.y);
  ImportantSamplesQuery q;
  q.size = 10;
  tree.important_samples(q);  // some seen flags
  testing::TempDir dir;
  save_tree(tree, dir / "t.tree");
  const CoresetTree back = load_tree(dir / "t.tree");
  EXPECT_TRUE(back == tree);
  EXPECT_EQ(back.scores()[5].importance, tree.scores()[5].importance);
  // Corrupt one byte in the middle.
  std::string bytes;
  {
    std::ifstream in(dir / "t.tree", std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto write = [&](const std::string& name, const std::string& content) {
    std::ofstream(dir / name, std::ios::binary) << content;
    return dir / name;
  };
  std::string corrupt = bytes;
  corrupt[corrupt.size() / 2] ^= 0x5a;
  try {
    load_tree(write("corrupt.tree", corrupt));
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("checksum"), std::string::npos) << e.what();
  }
  std::string future = bytes;
  future[8] = 9;  // format version 9
  try {
    load_tree(write("future.tree", future));
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("version 9"), std::string::npos) << e.what();
  }
  // Version 4 has version 5's layout (5 only lets cross_fit_c be 0): such files still load.
  std::string v4 = bytes;
  ASSERT_EQ(v4[8], 5) << "the current format version";
  v4[8] = 4;
  const std::uint64_t v4_sum = tree_file_checksum(std::as_bytes(std::span(v4.data(), v4.size() - 8)), 4);
  std::memcpy(v4.data() + v4.size() - 8, &v4_sum, sizeof(v4_sum));
  EXPECT_NO_THROW(load_tree(write("v4.tree", v4)));
  EXPECT_THROW(load_tree(write("short.tree", bytes.substr(0, 20))), FormatError);
  EXPECT_THROW(load_tree(write("other.tree", "hello world, not a tree at all")), FormatError);
}

// ---- tree files with a valid checksum but inconsistent content ------------------------------

// A tree file whose state was changed by `mutate` after a build, written by the normal writer
// (valid checksum); `kind` picks the build: cleaning (ridge view only), cross-fitted, training.
enum class TreeKind { kCleaning, kCrossFitted, kTraining };

std::filesystem::path crafted_tree(
    const testing::TempDir& dir, const std::string& name, TreeKind kind,
    const std::function<void(CoresetTreeParams&, CoresetTreeState&)>& mutate) {
  const auto data = testing::make_blobs(150, 5, 3, 1.0, 0.1, 19);
  CoresetTreeParams params = small_params(40);  // 4 leaves (40, 40, 40, 30), 7 nodes
  if (kind == TreeKind::kCleaning) params.neighbours = 10;  // the neighbour view too
  if (kind == TreeKind::kCrossFitted) params.cross_fit_folds = 3;
  if (kind == TreeKind::kTraining) params.optimized_for = OptimizedFor::kTraining;
  CoresetTree tree(params);
  tree.build(data.x, data.y);
  mutate(TreeStateAccess::params(tree), TreeStateAccess::state(tree));
  save_tree(tree, dir / name);
  return dir / name;
}

// Every structural invariant is checked on load: out-of-range or cyclic node links, row ranges,
// label and class indices, lengths, coreset indices, non-finite values, shapes. Each used to
// crash, hang or fail far from the file; now load_tree throws FormatError naming the file, the
// field and the value.
TEST(CoresetTreeFile, InconsistentStateRefusedNamingFieldAndValue) {
  using Mutation = std::function<void(CoresetTreeParams&, CoresetTreeState&)>;
  struct Case {
    TreeKind kind;
    Mutation mutate;
    std::string expected;
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<Case> cases = {
      {TreeKind::kCleaning, [](auto&, auto& s) { s.nodes[4].parent = 4; },
       "nodes[4].parent is 4 (expected 6 in a tree of 150 samples in leaves of 40)"},
      {TreeKind::kCleaning, [](auto&, auto& s) { s.nodes[6].parent = 4; }, "nodes[6].parent is 4"},
      {TreeKind::kCleaning, [](auto&, auto& s) { s.nodes[6].left = 99; }, "nodes[6].left is 99"},
      {TreeKind::kCleaning, [](auto&, auto& s) { s.nodes[1].right = -7; }, "nodes[1].right is -7"},
      {TreeKind::kCleaning, [](auto&, auto& s) { s.nodes[2].begin = -5; }, "nodes[2].begin is -5"},
      {TreeKind::kCleaning, [](auto&, auto& s) { s.nodes[3].end = 400; }, "nodes[3].end is 400"},
      {TreeKind::kCleaning, [](auto&, auto& s) { s.nodes[5].level = 9; }, "nodes[5].level is 9"},
      {TreeKind::kCleaning, [](auto&, auto& s) { s.nodes.pop_back(); },
       "nodes is 6 nodes (expected 7 for 150 samples in leaves of 40)"},
      {TreeKind::kCleaning, [](auto&, auto& s) { s.chunk = 0; }, "chunk is 0"},
      {TreeKind::kCleaning, [](auto&, auto& s) { s.chunk = 1000; }, "chunk is 1000"},
      {TreeKind::kCleaning, [](auto&, auto& s) { s.label[3] = 7; },
       "label[3] is 7 (expected a class index from 0 to 2)"},
      {TreeKind::kCleaning, [](auto&, auto& s) { s.suggested[2] = -1; }, "suggested[2] is -1"},
      {TreeKind::kCleaning, [](auto&, auto& s) { s.label.pop_back(); },
       "label is 149 values (expected 150)"},
      {TreeKind::kCleaning, [](auto&, auto& s) { s.importance.resize(1000); },
       "importance is 1000 values"},
      {TreeKind::kCleaning, [=](auto&, auto& s) { s.weight[1] = nan; }, "weight[1] is nan"},
      {TreeKind::kCleaning, [](auto&, auto& s) { s.weight[1] = -1; }, "weight[1] is -1"},
      {TreeKind::kCleaning, [=](auto&, auto& s) { s.importance[0] = nan; }, "importance[0] is nan"},
      {TreeKind::kCleaning, [](auto&, auto& s) { s.ids[1] = s.ids[0]; },
       "ids is 0 (expected ids are unique)"},
      {TreeKind::kCleaning, [](auto&, auto& s) { s.classes[1] = s.classes[0]; }, "classes[1] is "},
      {TreeKind::kCleaning, [](auto&, auto& s) { s.phi(3, 2) = INFINITY; },
       "phi holds inf at position 17"},
      {TreeKind::kCleaning, [](auto&, auto& s) { s.input_dim = 9; },
       "feature_mean is 5 × 1 (expected 9 × 1)"},
      {TreeKind::kCleaning, [](auto&, auto& s) { s.nodes[2].gram.resize(1, 1); },
       "nodes[2].gram is 1 × 1 (expected 6 × 6)"},
      {TreeKind::kCleaning, [=](auto&, auto& s) { s.nodes[1].gram(0, 0) = nan; },
       "nodes[1].gram holds nan at position 0"},
      {TreeKind::kCleaning, [](auto&, auto& s) { s.nodes[0].class_weight.resize(2); },
       "nodes[0].class_weight is 2 × 1 (expected 3 × 1)"},
      {TreeKind::kCleaning, [](auto&, auto& s) { s.class_gram.pop_back(); },
       "class_gram is 2 values"},
      {TreeKind::kCleaning, [](auto&, auto& s) { s.model.eigenvectors.resize(0, 0); },
       "model.eigenvectors is 0 × 0 (expected 6 × 6)"},
      {TreeKind::kCleaning, [](auto&, auto& s) { s.model.eigenvalues[2] = -1e-3; },
       "model.eigenvalues[2] is -0.001 (expected >= 0)"},
      {TreeKind::kCleaning, [](auto&, auto& s) { s.model.lambda = 0; }, "model.lambda is 0"},
      {TreeKind::kCleaning, [](auto&, auto& s) { s.model.class_ready.push_back(true); },
       "model.class_ready is 4 values (expected 3)"},
      {TreeKind::kCleaning, [](auto& p, auto&) { p.misfit_ridges.clear(); },
       "parameters: coreset tree: misfit_ridges is empty"},
      {TreeKind::kCrossFitted, [](auto&, auto& s) { s.fold[5] = 7; },
       "fold[5] is 7 (expected a fold from 0 to 2)"},
      {TreeKind::kCrossFitted, [](auto&, auto& s) { s.fold.clear(); },
       "fold is 0 values with 3 fold models"},
      {TreeKind::kCrossFitted,
       [](auto&, auto& s) {
         s.fold_models[1].set_model({0, 1, 5}, RowMatrixXd::Zero(3, 5), Eigen::VectorXd::Zero(3));
       },
       "fold_models[1].classes is 3 values (expected the tree's classes)"},
      {TreeKind::kCrossFitted,
       [](auto&, auto& s) {
         s.fold_models[0].set_model(s.classes, RowMatrixXd::Zero(3, 2), Eigen::VectorXd::Zero(3));
       },
       "fold_models[0].coef is 2 columns (expected 5 (phi's width))"},
      // A leaf count near 2³¹ overflowed the sum of its parent (found by fuzzing).
      {TreeKind::kCleaning, [](auto&, auto& s) { s.nodes[1].class_count[0] = 2147483647; },
       "nodes[1].class_count[0] is 2147483647 (expected "},
      // The neighbour view and the fused views (version 4).
      {TreeKind::kCleaning, [](auto&, auto& s) { s.neighbours.index[25] = 150; },
       "neighbours.index[25] is 150 (expected another sample's index from 0 to 149, or -1)"},
      {TreeKind::kCleaning, [](auto&, auto& s) { s.neighbours.index[s.neighbours.k * 4] = 4; },
       "neighbours.index[40] is 4 (expected another sample's index"},  // itself
      {TreeKind::kCleaning, [](auto&, auto& s) { s.neighbours.similarity[3] = 7.0f; },
       "neighbours.similarity[3] is 7 (expected a cosine similarity from -1 to 1)"},
      {TreeKind::kCleaning, [](auto&, auto& s) { s.neighbours.k = 3; },
       "neighbours.k is 3 (expected 10 (the parameter neighbours))"},
      {TreeKind::kCleaning, [](auto&, auto& s) { s.neighbours.index.pop_back(); },
       "neighbours.index is 1499 values (expected 1500)"},
      {TreeKind::kCleaning, [](auto&, auto& s) { s.view_weight[2] = -1.0; },
       "view_weight[2] is -1 (expected finite and >= 0)"},
      {TreeKind::kCleaning, [=](auto&, auto& s) { s.neighbour_loss[8] = nan; },
       "neighbour_loss[8] is nan"},
      {TreeKind::kCleaning, [](auto&, auto& s) { s.neighbour_label[9] = 3; },
       "neighbour_label[9] is 3 (expected a class index from 0 to 2)"},
      {TreeKind::kTraining, [](auto&, auto& s) { s.nodes[6].coreset[0] = 150; },
       "nodes[6].coreset[0] is 150 (expected a sample index from 0 to 149)"},
      {TreeKind::kTraining, [](auto&, auto& s) { s.nodes[2].coreset_weight.pop_back(); },
       "nodes[2].coreset is "},
  };
  testing::TempDir dir;
  for (std::size_t c = 0; c < cases.size(); ++c) {
    const auto path =
        crafted_tree(dir, fmt::format("bad{}.tree", c), cases[c].kind, cases[c].mutate);
    const std::string message = testing::error_of<FormatError>([&] { (void)load_tree(path); });
    EXPECT_TRUE(
        testing::contains(message, path.string() + ": corrupt tree file: " + cases[c].expected))
        << "case " << c;
  }
  // The unchanged builds load (the checks accept what the writer writes).
  for (const TreeKind kind : {TreeKind::kCleaning, TreeKind::kCrossFitted, TreeKind::kTraining}) {
    const auto path = crafted_tree(dir, "good.tree", kind, [](auto&, auto&) {});
    EXPECT_NO_THROW((void)load_tree(path));
  }
}

// Lengths and shapes in the file are checked against the bytes that remain before anything is
// allocated: a 2^61-element array or a 2^32 × 2^32 matrix (whose size wraps to 0) is refused.
// A tree file of format version 1 (before cross_fit_max_rows was stored) still loads: its
// held-out models trained on every row, so the field reads as 0, and its scores are those of a
// fresh build over the same features with the same parameters.
TEST(CoresetTreeFile, Version1FileStillLoads) {
  const std::filesystem::path dir = std::filesystem::path(CORECLEAN_TEST_DATA_DIR) / "tree_v1";
  const CoresetTree old = load_tree(dir / "tree_v1.cct");
  EXPECT_EQ(old.params().cross_fit_max_rows, 0);
  EXPECT_EQ(old.params().cross_fit_folds, 5);
  const io::FeatureSet features = io::load_feature_set(dir);
  CoresetTree fresh(old.params());
  fresh.build(features.x_train.view(), features.y_train, {}, features.ids);
  const std::vector<SampleScore> a = old.scores(), b = fresh.scores();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].id, b[i].id);
    EXPECT_NEAR(a[i].importance, b[i].importance, 1e-6) << "id " << a[i].id;
    EXPECT_EQ(a[i].suggested_label, b[i].suggested_label) << "id " << a[i].id;
  }
  // The three flipped labels lead the ranking, as when the file was written.
  CoresetTree loaded = old;
  ImportantSamplesQuery query;
  query.size = 3;
  std::vector<SampleId> top = loaded.important_samples(query).ids;
  std::sort(top.begin(), top.end());
  EXPECT_EQ(top, (std::vector<SampleId>{1005, 1017, 1040}));
}

// A version-2 file (every node's summaries stored) loads: its internal nodes are summed from
// its leaves again, and it scores as a fresh build does. A tree saved now stores the leaves'
// summaries only and loads to the same state.
TEST(CoresetTreeFile, Version2FileStillLoads) {
  const std::filesystem::path data = std::filesystem::path(CORECLEAN_TEST_DATA_DIR);
  const CoresetTree old = load_tree(data / "tree_v2" / "tree_v2.cct");
  EXPECT_EQ(old.params().cross_fit_max_rows, 50000);
  ASSERT_EQ(old.num_leaves(), 5);
  ASSERT_EQ(old.num_nodes(), 9);
  const io::FeatureSet features = io::load_feature_set(data / "tree_v1");
  CoresetTree fresh(old.params());
  fresh.build(features.x_train.view(), features.y_train, {}, features.ids);
  for (Eigen::Index j = 0; j < old.num_nodes(); ++j) {
    const NodeSummary a = old.node(j), b = fresh.node(j);
    EXPECT_LT((a.gram - b.gram).cwiseAbs().maxCoeff(), 1e-9) << "node " << j;
    EXPECT_EQ(a.class_count, b.class_count) << "node " << j;
  }
  // The root is the sum of the leaves.
  Eigen::MatrixXd leaves = Eigen::MatrixXd::Zero(old.node(0).gram.rows(), old.node(0).gram.cols());
  for (Eigen::Index j = 0; j < old.num_leaves(); ++j) leaves += old.node(j).gram;
  EXPECT_LT((leaves - old.node(old.num_nodes() - 1).gram).cwiseAbs().maxCoeff(), 1e-12);
  const std::vector<SampleScore> a = old.scores(), b = fresh.scores();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].id, b[i].id);
    EXPECT_NEAR(a[i].importance, b[i].importance, 1e-6) << "id " << a[i].id;
  }
  testing::TempDir dir;
  save_tree(old, dir / "v3.tree");
  // Without the internal nodes' summaries, the file is smaller than the version-2 one but for
  // what version 4 adds: per sample 3 losses, a label and a verdict (29 bytes), k neighbours
  // (12 bytes each), and 11 lengths, two counts and 6 weights.
  const auto added = static_cast<std::uintmax_t>(old.size() * (29 + 12 * old.params().neighbours) +
                                                 11 * 8 + 2 * 4 + 6 * 8);
  EXPECT_LT(std::filesystem::file_size(dir / "v3.tree") - added,
            std::filesystem::file_size(data / "tree_v2" / "tree_v2.cct"));
  EXPECT_TRUE(load_tree(dir / "v3.tree") == old);
  for (Eigen::Index j = 0; j < old.num_nodes(); ++j)
    EXPECT_TRUE(load_tree(dir / "v3.tree").node(j).gram == old.node(j).gram) << "node " << j;
}

TEST(CoresetTreeFile, ClaimedSizesBoundedByTheFileBeforeAllocating) {
  testing::TempDir dir;
  const auto good = crafted_tree(dir, "good.tree", TreeKind::kCleaning, [](auto&, auto&) {});
  const std::string bytes = testing::read_text(good);
  // `b` with 8 bytes at `at` replaced, and the checksum recomputed with the writer's function.
  const auto with = [](std::string b, std::size_t at, std::uint64_t value) {
    std::memcpy(b.data() + at, &value, 8);
    const std::uint64_t sum = tree_file_checksum(std::as_bytes(std::span(b.data(), b.size() - 8)));
    std::memcpy(b.data() + b.size() - 8, &sum, 8);
    return b;
  };
  const auto refusal = [&](const std::string& name, const std::string& content) {
    testing::write_text(dir / name, content);
    return testing::error_of<FormatError>([&] { (void)load_tree(dir / name); });
  };
  // Header (12 bytes), chunk_size (8), optimized_for (1), sketch_dim (4), two doubles (16): the
  // length of misfit_ridges.
  EXPECT_TRUE(testing::contains(
      refusal("ridges.tree", with(bytes, 12 + 8 + 1 + 4 + 16, std::uint64_t{1} << 61)),
      (dir / "ridges.tree").string() +
          ": corrupt tree file: misfit_ridges claims 2305843009213693952 items"));
  // From the end: checksum (8), the version-4 fields (verdicts 8 + n; default and learned view
  // weights 2 × (8 + 3 × 8); similarities and
  // indices of n × k neighbours 8 + 12 n k; k 4; neighbour labels 8 + 4 n; three losses
  // 3 × (8 + 8 n); neighbours 4), class_ready (3 + 8), the last class factor's values
  // (6 × 6 × 8) and its length (8), columns (8), rows (8).
  const CoresetTree loaded = load_tree(good);
  const auto n = static_cast<std::size_t>(loaded.size());
  const auto k = static_cast<std::size_t>(loaded.params().neighbours);
  const std::size_t views = (8 + n) + 2 * (8 + 3 * 8) + 16 + 12 * n * k + 4 + 8 + 4 * n +
                            3 * (8 + 8 * n) + 4;
  const std::size_t rows_at = bytes.size() - 8 - views - 3 - 8 - 6 * 6 * 8 - 8 - 8 - 8;
  std::int64_t cols = 0;
  std::memcpy(&cols, bytes.data() + rows_at + 8, 8);
  ASSERT_EQ(cols, 6) << "layout of the test's file";
  const std::uint64_t big = std::uint64_t{1} << 32;
  EXPECT_TRUE(testing::contains(refusal("rows.tree", with(bytes, rows_at, big)),
                                "corrupt tree file: model.class_factor claims 4294967296 × 6 "
                                "values"));
  // Both 2^32: the product wraps to 0 in 64 bits.
  EXPECT_TRUE(testing::contains(
      refusal("wide.tree", with(with(bytes, rows_at, big), rows_at + 8, big)),
      "corrupt tree file: model.class_factor claims 4294967296 × 4294967296 values"));
}

// Real digits with 20 % of the 8s relabelled 1: within class 1, the importance ranks the
// injected errors far above the clean ones (AUROC), and beats per-class leverage alone.
TEST(CoresetTree, FindsInjectedFlipsInDigits) {
  CORECLEAN_REQUIRE_SHARED_DATA();
  auto digits = testing::load_digits();
  std::mt19937_64 rng(3);
  std::vector<Eigen::Index> eights;
  for (Eigen::Index i = 0; i < digits.x.rows(); ++i)
    if (digits.y[i] == 8) eights.push_back(i);
  std::shuffle(eights.begin(), eights.end(), rng);
  std::vector<std::uint8_t> flipped(digits.x.rows(), 0);
  for (std::size_t j = 0; j < eights.size() / 5; ++j) {
    digits.y[eights[j]] = 1;
    flipped[eights[j]] = 1;
  }
  CoresetTree tree;
  tree.build(digits.x, digits.y);
  std::vector<double> importance, atypical;
  std::vector<std::uint8_t> is_error;
  for (const auto& s : tree.scores()) {
    if (s.label != 1) continue;
    importance.push_back(s.importance);
    atypical.push_back(s.atypical);
    is_error.push_back(flipped[s.id]);
  }
  const double auc = linear::roc_auc(importance, is_error);
  const double auc_leverage = linear::roc_auc(atypical, is_error);
  EXPECT_GT(auc, 0.95) << "leverage-only AUROC " << auc_leverage;
  std::cout << "digits flips: AUROC " << auc << ", leverage only " << auc_leverage << "\n";
  EXPECT_GT(auc, auc_leverage);
  // Most flipped samples get 8 as the suggested label (measured: 23 of 34).
  int suggested_eight = 0, errors = 0;
  for (const auto& s : tree.scores())
    if (flipped[s.id]) {
      ++errors;
      suggested_eight += s.suggested_label == 8;
    }
  EXPECT_GT(suggested_eight, errors / 2);
}

// Every operation on a tree that was never built is refused, not undefined.
// Held-out models on a weighted per-class sample of their folds (cross_fit_max_rows): a limit
// at or above the training rows changes nothing; a small one keeps the held-out view close to
// the full fits' (probabilities) and finds flipped labels as well; the limit is saved.
TEST(CoresetTree, HeldOutModelsOnAWeightedSampleOfTheirFolds) {
  auto data = testing::make_blobs(4000, 6, 4, 1.3, 0.0, 43);
  std::mt19937_64 rng(9);
  std::vector<std::uint8_t> flipped(data.y.size(), 0);
  const Labels classes = {2, 5, 8, 11};
  for (std::size_t i = 0; i < data.y.size(); ++i)
    if (std::uniform_real_distribution<double>(0.0, 1.0)(rng) < 0.05) {
      data.y[i] = classes[(std::find(classes.begin(), classes.end(), data.y[i]) - classes.begin() + 1) % 4];
      flipped[i] = 1;
    }
  auto build = [&](Eigen::Index max_rows) {
    CoresetTreeParams p;
    p.cross_fit_max_rows = max_rows;
    CoresetTree tree(p);
    tree.build(data.x, data.y);
    return tree;
  };
  const CoresetTree full = build(0), same = build(4000), sampled = build(600);
  const auto a = full.scores(), b = same.scores(), c = sampled.scores();
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i].importance, b[i].importance) << i;
  double diff = 0.0;
  for (const auto& s : a) {
    const std::vector<double> pa = full.held_out_probabilities(s.id);
    const std::vector<double> pc = sampled.held_out_probabilities(s.id);
    ASSERT_EQ(pa.size(), 4u);
    ASSERT_EQ(pc.size(), 4u);
    for (std::size_t k = 0; k < pa.size(); ++k) diff += std::abs(pa[k] - pc[k]);
  }
  EXPECT_LT(diff / static_cast<double>(a.size()), 0.15) << "mean L1 distance of held-out probabilities";
  std::vector<double> ia, ic;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ia.push_back(a[i].importance);
    ic.push_back(c[i].importance);
  }
  const double auc_full = linear::roc_auc(ia, flipped), auc_sampled = linear::roc_auc(ic, flipped);
  EXPECT_GT(auc_sampled, auc_full - 0.02) << "full " << auc_full;
  EXPECT_GT(auc_full, 0.9);
  const testing::TempDir dir;
  save_tree(sampled, dir / "t.cct");
  EXPECT_EQ(load_tree(dir / "t.cct").params().cross_fit_max_rows, 600);
}

TEST(CoresetTree, UseBeforeBuildIsRefused) {
  CoresetTree tree;
  const std::vector<SampleId> ids{1};
  EXPECT_THROW(tree.update_targets(ids, Labels{2}), InvalidArgument);
  EXPECT_THROW(tree.remove_samples(ids), InvalidArgument);
  EXPECT_THROW(tree.update_features(ids, RowMatrixXf::Zero(1, 3)), InvalidArgument);
  EXPECT_THROW(tree.refresh(), InvalidArgument);
  EXPECT_THROW((void)tree.scores(), InvalidArgument);
  EXPECT_THROW(tree.important_samples({}), InvalidArgument);
}

// Training trees keep a weighted coreset whose weights stand for the data they replace.
TEST(CoresetTree, TrainingCoresetWeightsStandForTheData) {
  const auto data = testing::make_blobs(2000, 5, 3, 1.0, 0.05, 23);
  CoresetTreeParams p;
  p.optimized_for = OptimizedFor::kTraining;
  p.chunk_size = 250;
  p.coreset_size = 100;
  CoresetTree tree(p);
  tree.build(data.x, data.y);
  const Coreset root = tree.coreset(0);
  EXPECT_LE(root.ids.size(), 110u);
  EXPECT_GE(root.ids.size(), 90u);
  double total = 0.0;
  for (double w : root.weights) total += w;
  EXPECT_NEAR(total, 2000.0, 300.0);  // an unbiased estimate of the total weight
  const Coreset deeper = tree.coreset(2);
  EXPECT_GT(deeper.ids.size(), root.ids.size());
  CoresetTree cleaning;
  cleaning.build(data.x, data.y);
  EXPECT_THROW((void)cleaning.coreset(0), InvalidArgument);
}

}  // namespace
}  // namespace coreclean::coreset
