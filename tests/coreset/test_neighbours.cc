// The neighbour view and the fusion of the views: neighbour lists and votes against brute force,
// incremental updates against a fresh search, the approximate search's recall, and the view
// weights against their definition.
#include <coreclean/core/error.h>
#include <coreclean/coreset/coreset_tree.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "coreset/neighbours.h"
#include "coreset/view_fusion.h"
#include "testing/data.h"
#include "testing/helpers.h"

namespace coreclean::coreset {
namespace {

// The k most cosine-similar other rows of φ for row i, by brute force (ties by index).
std::vector<std::pair<double, Eigen::Index>> brute_force(const RowMatrixXf& phi, Eigen::Index i,
                                                         int k) {
  std::vector<std::pair<double, Eigen::Index>> all;
  const Eigen::VectorXd a = phi.row(i).cast<double>().transpose();
  for (Eigen::Index j = 0; j < phi.rows(); ++j) {
    if (j == i) continue;
    const Eigen::VectorXd b = phi.row(j).cast<double>().transpose();
    all.emplace_back(a.dot(b) / (a.norm() * b.norm()), j);
  }
  std::sort(all.begin(), all.end(), [](const auto& x, const auto& y) {
    return x.first != y.first ? x.first > y.first : x.second < y.second;
  });
  all.resize(static_cast<std::size_t>(k));
  return all;
}

CoresetTreeParams neighbour_params(int k) {
  CoresetTreeParams p;
  p.chunk_size = 60;
  p.neighbours = k;
  return p;
}

// Lists, votes, the view's loss and majority label of every sample against brute force, with
// sample weights counted in the votes.
TEST(NeighbourView, ListsAndVotesMatchBruteForce) {
  const auto data = testing::make_blobs(300, 6, 4, 1.0, 0.1, 11);
  const std::vector<double> w = testing::make_weights(300, 5);
  CoresetTree tree(neighbour_params(7));
  tree.build(data.x, data.y, w);
  const RowMatrixXf& phi = tree.features();
  const Labels& classes = tree.classes();
  const auto scores = tree.scores();
  for (Eigen::Index i = 0; i < 300; ++i) {
    const auto expected = brute_force(phi, i, 7);
    const std::vector<Neighbour> got = tree.neighbours(i);
    ASSERT_EQ(got.size(), 7u);
    for (std::size_t q = 0; q < 7; ++q) {
      EXPECT_NEAR(got[q].similarity, expected[q].first, 1e-5) << "sample " << i << " rank " << q;
      // Near-ties may swap; the similarity at each rank is what must agree.
      if (std::abs(expected[q].first - (q + 1 < 7 ? expected[q + 1].first : -2.0)) > 1e-5 &&
          (q == 0 || std::abs(expected[q].first - expected[q - 1].first) > 1e-5))
        EXPECT_EQ(got[q].id, expected[q].second) << "sample " << i << " rank " << q;
    }
    std::vector<double> votes(classes.size(), 0.0);
    double total = 0.0;
    for (const Neighbour& nb : got) {
      const double v = w[nb.id] * std::max(0.0, static_cast<double>(nb.similarity));
      votes[std::find(classes.begin(), classes.end(), data.y[nb.id]) - classes.begin()] += v;
      total += v;
    }
    const auto own = std::find(classes.begin(), classes.end(), data.y[i]) - classes.begin();
    EXPECT_NEAR(scores[i].neighbour, 1.0 - votes[own] / total, 1e-6) << "sample " << i;
    const auto top = std::max_element(votes.begin(), votes.end()) - votes.begin();
    EXPECT_EQ(scores[i].neighbour_label, classes[top]) << "sample " << i;
  }
  EXPECT_GT(tree.fusion_weights().neighbour, 0.0);
}

// Relabels and removals change the votes of exactly the samples that list the changed ones; the
// result equals a tree built afresh with the new labels and weights. New features re-search the
// changed samples' lists.
TEST(NeighbourView, IncrementalUpdatesEqualAFreshSearch) {
  const auto data = testing::make_blobs(400, 5, 3, 1.2, 0.15, 21);
  CoresetTree tree(neighbour_params(10));
  tree.build(data.x, data.y);
  const std::vector<SampleId> relabel = {3, 50, 51, 222, 399};
  Labels to;
  for (SampleId id : relabel) to.push_back(tree.classes()[(std::find(tree.classes().begin(), tree.classes().end(), data.y[id]) - tree.classes().begin() + 1) % 3]);
  tree.update_targets(relabel, to);
  const std::vector<SampleId> removed = {10, 11, 300};
  tree.remove_samples(removed);

  Labels y = data.y;
  for (std::size_t j = 0; j < relabel.size(); ++j) y[relabel[j]] = to[j];
  std::vector<double> w(400, 1.0);
  for (SampleId id : removed) w[id] = 0.0;
  CoresetTree fresh(neighbour_params(10));
  fresh.build(data.x, y, w);
  ASSERT_TRUE(tree.features() == fresh.features()) << "the same φ, hence the same lists";
  const auto a = tree.scores(), b = fresh.scores();
  int changed = 0;
  const auto before = [&] {
    CoresetTree t(neighbour_params(10));
    t.build(data.x, data.y);
    return t.scores();
  }();
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_NEAR(a[i].neighbour, b[i].neighbour, 1e-9) << "sample " << i;
    EXPECT_EQ(a[i].neighbour_label, b[i].neighbour_label) << "sample " << i;
    if (std::abs(a[i].neighbour - before[i].neighbour) > 1e-12) ++changed;
  }
  EXPECT_GT(changed, 5) << "the updates changed the views of the changed samples' neighbours";

  // New features for two samples: their lists are searched again (brute force), and the
  // similarity of every pair that lists them is their new one.
  RowMatrixXf moved(2, 5);
  moved.row(0) = data.x.row(200);
  moved.row(1) = data.x.row(7);
  const std::vector<SampleId> ids = {100, 101};
  tree.update_features(ids, moved);
  for (SampleId id : ids) {
    const auto expected = brute_force(tree.features(), id, 10);
    const std::vector<Neighbour> got = tree.neighbours(id);
    for (std::size_t q = 0; q < 10; ++q) EXPECT_NEAR(got[q].similarity, expected[q].first, 1e-5);
  }
  for (Eigen::Index i = 0; i < tree.size(); ++i) {
    for (const Neighbour& nb : tree.neighbours(i)) {
      if (nb.id != 100 && nb.id != 101) continue;
      const Eigen::VectorXd u = tree.features().row(i).cast<double>().transpose();
      const Eigen::VectorXd v = tree.features().row(nb.id).cast<double>().transpose();
      EXPECT_NEAR(nb.similarity, u.dot(v) / (u.norm() * v.norm()), 1e-5) << i << " lists " << nb.id;
    }
  }
}

// The approximate search (cells searched together) finds at least 95 % of the exact lists on
// clustered data, and both searches give the same lists for any thread count.
TEST(NeighbourSearch, ApproximateRecallAndThreadIndependence) {
  const auto data = testing::make_blobs(12000, 24, 12, 2.0, 0.0, 4);
  Context one, two;
  one.threads = 1;
  two.threads = 2;
  const NeighbourLists exact = search_neighbours(data.x, 10, false, two);
  const NeighbourLists approx = search_neighbours(data.x, 10, false, two, 0);
  EXPECT_TRUE(search_neighbours(data.x, 10, false, one) == exact);
  EXPECT_TRUE(search_neighbours(data.x, 10, false, one, 0) == approx);
  std::int64_t found = 0;
  for (Eigen::Index i = 0; i < 12000; ++i) {
    const auto e = exact.of(i), a = approx.of(i);
    for (std::int64_t j : a) found += std::find(e.begin(), e.end(), j) != e.end() ? 1 : 0;
  }
  const double recall = static_cast<double>(found) / (12000.0 * 10);
  EXPECT_GE(recall, 0.95);
  // Spot check of the exact lists against brute force.
  for (Eigen::Index i : {0L, 5000L, 11999L}) {
    const auto expected = brute_force(data.x, i, 10);
    for (int q = 0; q < 10; ++q)
      EXPECT_NEAR(exact.similarities(i)[q], expected[q].first, 1e-5) << "sample " << i;
  }
}

// The fitted weights minimise the penalised loss (zero gradient where positive, checked by
// finite differences), a view that carries no information gets weight ~0, and perfectly
// separating views keep finite weights.
TEST(ViewFusion, WeightsMaximiseTheLikelihoodAndDropAnUninformativeView) {
  std::mt19937_64 rng(9);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const Eigen::Index m = 3000, k = 4;
  std::vector<int> y(m);
  std::vector<double> w(m, 1.0);
  ViewScores views;
  views.ridge.resize(m, k);
  views.held_out.resize(m, k);
  views.votes.resize(m, k);
  for (Eigen::Index i = 0; i < m; ++i) {
    y[i] = static_cast<int>(i % k);
    // One label in ten is wrong: the views point at the true class, not at it.
    const int truth = i % 10 == 0 ? (y[i] + 1) % static_cast<int>(k) : y[i];
    // Ridge: informative (the label's score raised); held-out: pure noise probabilities;
    // votes: informative and sharper.
    for (Eigen::Index c = 0; c < k; ++c) views.ridge(i, c) = 0.3 * noise(rng) + (c == truth ? 0.6 : 0.0);
    Eigen::RowVectorXd p(k), v(k);
    for (Eigen::Index c = 0; c < k; ++c) {
      p[c] = unit(rng);
      v[c] = unit(rng) * 0.2 + (c == truth ? 0.8 : 0.0);
    }
    views.held_out.row(i) = p / p.sum();
    views.votes.row(i) = v / v.sum();
  }
  // The plain maximum-likelihood fit first (no trimming).
  const ViewWeights alpha = fit_view_weights(views, y, w, 0);
  EXPECT_GT(alpha[0], 0.1);
  EXPECT_GT(alpha[2], 0.1);
  EXPECT_LT(alpha[1], 0.05 * std::max(alpha[0], alpha[2])) << "the noise view is dropped";
  const double base = view_loss(views, y, w, alpha);
  for (int v = 0; v < kViewCount; ++v) {
    ViewWeights up = alpha, down = alpha;
    const double h = 1e-4;
    up[v] += h;
    down[v] = std::max(0.0, down[v] - h);
    const double slope = (view_loss(views, y, w, up) - view_loss(views, y, w, down)) / (up[v] - down[v]);
    if (alpha[v] > 1e-6) {
      EXPECT_NEAR(slope, 0.0, 1e-3 * base) << "view " << v;
    } else {
      EXPECT_GE(slope, -1e-3 * base) << "view " << v << " at its bound";
    }
  }
  // One trimmed refit: the maximum-likelihood fit over the samples whose fused misfit under the
  // plain fit is below its 90th percentile (stationary there, by finite differences); the wrong
  // labels are mostly among those left out.
  const Eigen::MatrixXd z = pooled_logits(views, alpha);
  std::vector<double> misfit(m);
  for (Eigen::Index i = 0; i < m; ++i)
    misfit[i] = 1.0 - std::exp(z(i, y[i]) - z.row(i).maxCoeff()) /
                          (z.row(i).array() - z.row(i).maxCoeff()).exp().sum();
  std::vector<double> sorted = misfit;
  std::sort(sorted.begin(), sorted.end());
  const double cut = sorted[static_cast<std::size_t>(std::floor(0.9 * m))];
  std::vector<double> kept(m);
  int wrong_left_out = 0;
  for (Eigen::Index i = 0; i < m; ++i) {
    kept[i] = misfit[i] < cut ? 1.0 : 0.0;
    if (i % 10 == 0 && kept[i] == 0.0) ++wrong_left_out;
  }
  EXPECT_GT(wrong_left_out, 250) << "of the 300 wrong labels";
  const ViewWeights trimmed = fit_view_weights(views, y, w, 1);
  const double kept_loss = view_loss(views, y, kept, trimmed);
  for (int v : {0, 2}) {
    ViewWeights up = trimmed, down = trimmed;
    up[v] += 1e-4;
    down[v] -= 1e-4;
    EXPECT_NEAR((view_loss(views, y, kept, up) - view_loss(views, y, kept, down)) / 2e-4, 0.0,
                1e-3 * kept_loss)
        << "view " << v;
  }
  EXPECT_GT(trimmed[2], alpha[2]) << "the clean labels are predicted more sharply";

  // Views that agree with every label: the weights stay finite, the misfits ordered.
  ViewScores clean = views;
  for (Eigen::Index i = 0; i < m; ++i) {
    clean.votes.row(i).setConstant(0.05);
    clean.votes(i, y[i]) = 0.85;
  }
  const ViewWeights sep = fit_view_weights(clean, y, w);
  EXPECT_TRUE(std::isfinite(sep[2]) && sep[2] > 0.0 && sep[2] < 1e3) << sep[2];
  // Without the held-out view the weights of the others stay positive, and missing views get 0.
  ViewScores two = views;
  two.held_out.resize(0, 0);
  const ViewWeights beta = fit_view_weights(two, y, w);
  EXPECT_EQ(beta[1], 0.0);
  EXPECT_GT(beta[0], 0.0);
}

// A synthetic reviewer: view 0 predicts the given labels well, wrong ones included (it learned
// the noise), view 2 points at the true class. Fitted to the labels alone, view 0 gets the larger
// weight; after verdicts on reviewed samples (the wrong labels relabelled to the truth, some
// right labels kept), the learned weights favour view 2 — the informative view is recovered —
// and they minimise the reviewed objective (no perturbation does better). Without verdicts the
// learned weights are the default ones.
TEST(ViewFusion, WeightsLearnedFromReviewersRecoverTheInformativeView) {
  std::mt19937_64 rng(17);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const Eigen::Index m = 2000, k = 3;
  std::vector<int> y(m), truth(m);
  std::vector<double> w(m, 1.0);
  ViewScores views;
  views.ridge.resize(m, k);
  views.votes.resize(m, k);
  for (Eigen::Index i = 0; i < m; ++i) {
    truth[i] = static_cast<int>(i % k);
    y[i] = i % 8 == 0 ? (truth[i] + 1) % static_cast<int>(k) : truth[i];  // 1 in 8 wrong
    for (Eigen::Index c = 0; c < k; ++c) {
      views.ridge(i, c) = 0.5 * unit(rng) + (c == y[i] ? 1.0 : 0.0);   // follows the given label
      views.votes(i, c) = 0.3 * unit(rng) + (c == truth[i] ? 0.5 : 0.0);  // follows the truth
    }
    views.votes.row(i) /= views.votes.row(i).sum();
  }
  const ViewWeights prior = fit_view_weights(views, y, w, 0);
  EXPECT_GT(prior[0], prior[2]) << "fitted to the labels alone, the noise-following view wins";
  // Review: 60 wrong labels (relabelled to the truth: the label is then right) and 60 right ones.
  ViewScores reviewed;
  reviewed.ridge.resize(120, k);
  reviewed.votes.resize(120, k);
  std::vector<int> verdict_label;
  std::vector<std::uint8_t> no_class;
  Eigen::Index r = 0;
  for (Eigen::Index i = 0; i < m && r < 120; ++i) {
    const bool wrong = y[i] != truth[i];
    if ((wrong && r % 2 == 0) || (!wrong && r % 2 == 1)) {
      // The reviewer's answer is the true class. The ridge view "followed the given label": its
      // scores do not move with the relabel (they were computed before it).
      reviewed.ridge.row(r) = views.ridge.row(i);
      reviewed.votes.row(r) = views.votes.row(i);
      verdict_label.push_back(truth[i]);
      no_class.push_back(0);
      ++r;
    }
  }
  ASSERT_EQ(r, 120);
  const ViewWeights learned = fit_reviewed_weights(reviewed, verdict_label, no_class, prior);
  EXPECT_GT(learned[2] / std::max(learned[0], 1e-12), 2.0 * prior[2] / prior[0])
      << "the informative view gains weight relative to the other";
  const double best = reviewed_loss(reviewed, verdict_label, no_class, prior, learned);
  for (int v : {0, 2})
    for (double d : {-0.05, 0.05}) {
      ViewWeights other = learned;
      other[v] = std::max(0.0, other[v] + d);
      EXPECT_GE(reviewed_loss(reviewed, verdict_label, no_class, prior, other), best - 1e-9)
          << "view " << v << " moved by " << d;
    }
  // Deletions: "no class fits" pushes towards views that doubted the given label.
  std::vector<std::uint8_t> deleted(120, 1);
  std::vector<int> given(120);
  for (Eigen::Index q = 0; q < 120; ++q) {
    Eigen::Index at = 0;
    reviewed.ridge.row(q).maxCoeff(&at);
    given[q] = static_cast<int>(at);  // the label the box carried
  }
  const ViewWeights from_deletions = fit_reviewed_weights(reviewed, given, deleted, prior);
  EXPECT_LT(from_deletions[0], prior[0]) << "the view that believed the deleted labels loses weight";
  // No verdicts: the default weights.
  const ViewScores none{Eigen::MatrixXd(0, k), Eigen::MatrixXd(), Eigen::MatrixXd(0, k)};
  EXPECT_EQ(fit_reviewed_weights(none, {}, {}, prior), prior);
}

// In the tree: verdicts that the most important samples' labels are right make the learned
// weights lower those samples' misfits; the default weights stay; the verdicts and both sets of
// weights survive a save and load; forgetting every verdict restores the default weights.
TEST(NeighbourView, RecordedVerdictsTeachTheFusion) {
  const auto data = testing::make_blobs(600, 6, 3, 1.0, 0.1, 31);
  CoresetTree tree(neighbour_params(10));
  tree.build(data.x, data.y);
  const FusionWeights before = tree.fusion_weights();
  ImportantSamplesQuery q;
  q.size = 30;
  q.mark_seen = false;
  const ImportantSamples top = tree.important_samples(q);
  double misfit_before = 0.0;
  for (SampleId id : top.ids) misfit_before += tree.score(id).misfit;
  const std::vector<Verdict> right(top.ids.size(), Verdict::kLabelRight);
  tree.record_verdicts(top.ids, right);
  double misfit_after = 0.0;
  for (SampleId id : top.ids) misfit_after += tree.score(id).misfit;
  EXPECT_LT(misfit_after, misfit_before);
  const FusionWeights learned = tree.fusion_weights(), base = tree.default_fusion_weights();
  EXPECT_EQ(base.ridge, before.ridge);
  EXPECT_EQ(base.neighbour, before.neighbour);
  EXPECT_NE(learned.neighbour, before.neighbour);
  testing::TempDir dir;
  save_tree(tree, dir / "t.tree");
  const CoresetTree loaded = load_tree(dir / "t.tree");
  EXPECT_TRUE(loaded == tree);
  EXPECT_EQ(loaded.fusion_weights().neighbour, learned.neighbour);
  const std::vector<Verdict> forget(top.ids.size(), Verdict::kNone);
  tree.record_verdicts(top.ids, forget);
  EXPECT_EQ(tree.fusion_weights().neighbour, before.neighbour);
  EXPECT_THROW(tree.record_verdicts(std::vector<SampleId>{99999}, std::vector<Verdict>{Verdict::kNoClass}),
               InvalidArgument);
}

}  // namespace
}  // namespace coreclean::coreset
