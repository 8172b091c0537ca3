// Building a tree with several processes (simulated by threads) equals building it in one:
// the same features and summaries bit for bit, the same importances up to the round-off of
// summing the class Gram matrices in another order (1e-12), the same top of the ranking. Also the distributed logistic
// regression against the ordinary fit.
#include <coreclean/core/error.h>
#include <coreclean/coreset/coreset_tree.h>
#include <coreclean/linear/logistic_regression.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <numeric>
#include <optional>

#include "testing/data.h"
#include "testing/thread_group.h"

namespace coreclean::coreset {
namespace {

// The ids of the `top` most important samples of class `label` (ties by id).
std::vector<SampleId> top_of_class(const CoresetTree& tree, Label label, std::size_t top) {
  std::vector<SampleScore> scores = tree.scores();
  std::erase_if(scores, [&](const SampleScore& s) { return s.label != label; });
  std::sort(scores.begin(), scores.end(), [](const SampleScore& a, const SampleScore& b) {
    return a.importance != b.importance ? a.importance > b.importance : a.id < b.id;
  });
  std::vector<SampleId> ids;
  for (std::size_t j = 0; j < std::min(top, scores.size()); ++j) ids.push_back(scores[j].id);
  return ids;
}

// Builds with `processes` thread members; returns process 0's tree and checks that the others
// got none.
CoresetTree build_with(int processes, const CoresetTreeParams& params, const RowMatrixXf& x,
                       const Labels& y, const std::vector<double>& w,
                       const std::vector<SampleId>& ids) {
  std::optional<CoresetTree> result;
  std::mutex mutex;
  int others_with_a_tree = 0;
  testing::run_thread_group(processes, [&](const Collective& group) {
    Context context;
    context.seed = 11;
    context.threads = 1;
    std::optional<CoresetTree> tree =
        build_distributed(params, StreamedSamples{x, {}}, y, w, ids, context, group);
    const std::lock_guard lock(mutex);
    if (group.rank() == 0) {
      result = std::move(tree);
    } else if (tree.has_value()) {
      ++others_with_a_tree;
    }
  });
  EXPECT_EQ(others_with_a_tree, 0);
  EXPECT_TRUE(result.has_value());
  return std::move(*result);
}

void expect_same_tree(const CoresetTree& one, const CoresetTree& many) {
  ASSERT_EQ(one.size(), many.size());
  ASSERT_EQ(one.num_nodes(), many.num_nodes());
  // Features, centre and leaf summaries: the same bits (the same products, exact exchange).
  EXPECT_TRUE(one.features() == many.features());
  EXPECT_TRUE(one.feature_mean() == many.feature_mean());
  EXPECT_TRUE(one.feature_projection() == many.feature_projection());
  for (Eigen::Index j = 0; j < one.num_nodes(); ++j) {
    const NodeSummary a = one.node(j), b = many.node(j);
    EXPECT_EQ(a.begin, b.begin);
    EXPECT_TRUE(a.gram == b.gram) << "node " << j;
    EXPECT_TRUE(a.moments == b.moments) << "node " << j;
    EXPECT_TRUE(a.class_count == b.class_count) << "node " << j;
  }
  const std::vector<SampleScore> a = one.scores(), b = many.scores();
  double worst = 0.0;
  int suggested_differ = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].id, b[i].id);
    worst = std::max({worst, std::abs(a[i].importance - b[i].importance),
                      std::abs(a[i].misfit - b[i].misfit), std::abs(a[i].atypical - b[i].atypical)});
    suggested_differ += a[i].suggested_label != b[i].suggested_label ? 1 : 0;
  }
  // The held-out models are the same bits; the class Gram matrices sum in another order.
  EXPECT_LT(worst, 1e-12);
  EXPECT_EQ(suggested_differ, 0);
  for (Label label : one.classes())
    EXPECT_EQ(top_of_class(one, label, 50), top_of_class(many, label, 50)) << "class " << label;
}

TEST(BuildDistributed, EqualsOneProcessForAnyNumberOfProcesses) {
  const int n = 3000;
  const auto data = testing::make_blobs(n, 40, 4, 1.2, 0.08, 23);
  // An offset far from 0 makes a mistake in the shared centring visible.
  const RowMatrixXf x = (data.x.array() + 20.0f).matrix();
  const std::vector<double> w = testing::make_weights(n, 5);
  std::vector<SampleId> ids(n);
  std::iota(ids.begin(), ids.end(), 1000);
  CoresetTreeParams params;
  params.chunk_size = 256;  // 12 leaves, unevenly dealt to 5 processes
  params.sketch_dim = 16;   // PCA: fitted on process 0, sent to the others
  params.cross_fit_max_rows = 1500;  // sampled training rows spread over the processes
  CoresetTree one(params);
  Context context;
  context.seed = 11;
  context.threads = 1;
  one.build(x, data.y, w, ids, context);
  for (int processes : {1, 2, 3, 5}) {
    SCOPED_TRACE(fmt::format("{} processes", processes));
    expect_same_tree(one, build_with(processes, params, x, data.y, w, ids));
  }
}

TEST(BuildDistributed, MoreProcessesThanLeavesAndTrainingTrees) {
  const int n = 900;
  const auto data = testing::make_blobs(n, 6, 3, 1.5, 0.05, 3);  // narrower than the sketch
  const std::vector<double> w;
  const std::vector<SampleId> ids;
  for (const OptimizedFor goal : {OptimizedFor::kCleaning, OptimizedFor::kTraining}) {
    CoresetTreeParams params;
    params.chunk_size = 400;  // 3 leaves for 4 processes: one holds none
    params.optimized_for = goal;
    CoresetTree one(params);
    Context context;
    context.seed = 11;
    context.threads = 1;
    one.build(data.x, data.y, w, ids, context);
    const CoresetTree many = build_with(4, params, data.x, data.y, w, ids);
    expect_same_tree(one, many);
    if (goal == OptimizedFor::kTraining) {
      EXPECT_EQ(one.coreset().ids, many.coreset().ids);
    }
  }
}

// Processes that hold only their own rows (and process 0 the feature map's sample rows) build
// the same tree; 70,000 rows so that the feature map is fitted on a drawn sample.
TEST(BuildDistributed, ProcessesHoldingOnlyTheirShare) {
  const int n = 70000;
  const auto data = testing::make_blobs(n, 24, 3, 1.2, 0.05, 41);
  const RowMatrixXf x = (data.x.array() + 50.0f).matrix();
  CoresetTreeParams params;
  params.sketch_dim = 8;
  params.cross_fit_folds = 2;
  const std::vector<Eigen::Index> fit_rows = feature_map_fit_rows(n, x.cols(), params.sketch_dim, 11);
  ASSERT_EQ(fit_rows.size(), 65536u);
  EXPECT_TRUE(std::is_sorted(fit_rows.begin(), fit_rows.end()));
  EXPECT_TRUE(feature_map_fit_rows(n, 8, 8, 11).empty());  // no map to fit
  RowMatrixXf sample(static_cast<Eigen::Index>(fit_rows.size()), x.cols());
  for (std::size_t j = 0; j < fit_rows.size(); ++j) sample.row(static_cast<Eigen::Index>(j)) = x.row(fit_rows[j]);
  Context context;
  context.seed = 11;
  context.threads = 1;
  CoresetTree one(params);
  one.build(x, data.y, {}, {}, context);
  std::optional<CoresetTree> many;
  testing::run_thread_group(3, [&](const Collective& group) {
    const auto [begin, end] = build_share(n, params, group.rank(), group.size());
    const RowMatrixXf mine = x.middleRows(begin, end - begin);  // a copy: nothing else is held
    std::optional<CoresetTree> tree = build_distributed(
        params, StreamedSamples{mine, {}}, begin,
        group.rank() == 0 ? std::optional<MatrixRef>(sample) : std::nullopt, data.y, {}, {},
        context, group);
    if (group.rank() == 0) many = std::move(tree);
  });
  ASSERT_TRUE(many.has_value());
  expect_same_tree(one, *many);
  // A process handed rows that miss part of its share is refused before any exchange.
  const RowMatrixXf short_share = x.topRows(100);
  EXPECT_THROW(build_distributed(params, StreamedSamples{short_share, {}}, 0, sample, data.y, {}, {},
                                 context, SingleProcess()),
               InvalidArgument);
}

}  // namespace
}  // namespace coreclean::coreset

namespace coreclean::linear {
namespace {

// Rows dealt round-robin to 3 processes (so each process lacks whole stretches of the data and
// one has no row of a class): the model equals the ordinary fit on all rows.
TEST(LogisticRegressionDistributed, EqualsTheFitOnAllRows) {
  const auto data = testing::make_blobs(600, 5, 3, 1.0, 0.1, 9);
  for (const bool binary : {false, true}) {
    SCOPED_TRACE(binary ? "binary" : "multinomial");
    Labels y = data.y;
    if (binary)
      for (Label& l : y) l = l == data.y.front() ? 1 : 0;
    Labels classes(y);
    std::sort(classes.begin(), classes.end());
    classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
    const std::vector<double> w = testing::make_weights(600, 2);
    LogisticRegressionParams p;
    p.tol = 1e-8;
    p.class_weight = ClassWeight::kBalanced;
    LogisticRegression all(p);
    all.fit(data.x, y, w);
    std::vector<LogisticRegression> models(3, LogisticRegression(p));
    testing::run_thread_group(3, [&](const Collective& group) {
      // Process 2 gets no row of classes[0].
      std::vector<Eigen::Index> rows;
      for (Eigen::Index i = 0; i < data.x.rows(); ++i) {
        const int owner = (group.size() == 3 && y[i] == classes[0] && i % 3 == 2) ? 0 : static_cast<int>(i % 3);
        if (owner == group.rank()) rows.push_back(i);
      }
      RowMatrixXf x(static_cast<Eigen::Index>(rows.size()), data.x.cols());
      Labels yy;
      std::vector<double> ww;
      for (std::size_t j = 0; j < rows.size(); ++j) {
        x.row(static_cast<Eigen::Index>(j)) = data.x.row(rows[j]);
        yy.push_back(y[rows[j]]);
        ww.push_back(w[rows[j]]);
      }
      Context context;
      context.threads = 1;
      models[static_cast<std::size_t>(group.rank())].fit(x, yy, ww, classes, group, context);
    });
    for (const LogisticRegression& m : models) {
      EXPECT_EQ(m.classes(), all.classes());
      EXPECT_LT((m.coef() - all.coef()).cwiseAbs().maxCoeff(), 1e-7 * (1.0 + all.coef().cwiseAbs().maxCoeff()));
      EXPECT_LT((m.intercept() - all.intercept()).cwiseAbs().maxCoeff(), 1e-7 * (1.0 + all.intercept().cwiseAbs().maxCoeff()));
      // Every process holds the same bits.
      EXPECT_TRUE(m.coef() == models.front().coef());
    }
  }
}

// Processes holding consecutive runs of whole segments get the model one process gets with the
// same segments bit for bit, with any number of threads: the solver's sums are added group by
// group in order across them (Collective::ordered_sum).
TEST(LogisticRegressionDistributed, WholeSegmentsGiveTheSameBits) {
  const auto data = testing::make_blobs(600, 5, 3, 1.0, 0.1, 9);
  Labels classes(data.y);
  std::sort(classes.begin(), classes.end());
  classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
  LogisticRegressionParams p;
  p.tol = 1e-2;  // early-stopped, as the held-out models are: the path matters, not the optimum
  const std::vector<Eigen::Index> segments = {100, 200, 300, 400, 500};
  LogisticRegression one(p);
  Context two_threads;
  two_threads.threads = 2;
  one.fit(data.x, data.y, {}, classes, SingleProcess(), two_threads, segments);
  for (const int processes : {2, 3}) {
    SCOPED_TRACE(fmt::format("{} processes", processes));
    std::vector<LogisticRegression> models(static_cast<std::size_t>(processes), LogisticRegression(p));
    testing::run_thread_group(processes, [&](const Collective& group) {
      // Process q holds segments [6q/P, 6(q+1)/P) of the six.
      const Eigen::Index first = 100 * (6 * group.rank() / processes);
      const Eigen::Index last = 100 * (6 * (group.rank() + 1) / processes);
      std::vector<Eigen::Index> local;
      for (Eigen::Index start = first + 100; start < last; start += 100) local.push_back(start - first);
      const RowMatrixXf x = data.x.middleRows(first, last - first);
      const Labels y(data.y.begin() + first, data.y.begin() + last);
      Context context;
      context.threads = 1;
      models[static_cast<std::size_t>(group.rank())].fit(x, y, {}, classes, group, context, local);
    });
    for (const LogisticRegression& m : models) {
      EXPECT_TRUE(m.coef() == one.coef());
      EXPECT_TRUE(m.intercept() == one.intercept());
    }
  }
}

}  // namespace
}  // namespace coreclean::linear

namespace coreclean {
namespace {

// agree_on_success: a process's own failure comes back to it, the others get IoError with the
// message, and nobody waits; when all succeed, it returns on every process.
TEST(Collective, AgreeOnSuccessStopsEveryProcessWhenOneFails) {
  for (const int failing : {-1, 0, 2}) {
    SCOPED_TRACE(failing);
    std::vector<std::string> outcome(3);
    testing::run_thread_group(3, [&](const Collective& group) {
      std::exception_ptr failure;
      if (group.rank() == failing) failure = std::make_exception_ptr(FormatError("my rows are bad"));
      try {
        agree_on_success(group, failure, "another process failed");
        outcome[static_cast<std::size_t>(group.rank())] = "ok";
      } catch (const FormatError& e) {
        outcome[static_cast<std::size_t>(group.rank())] = std::string("own: ") + e.what();
      } catch (const IoError& e) {
        outcome[static_cast<std::size_t>(group.rank())] = std::string("other: ") + e.what();
      }
    });
    for (int rank = 0; rank < 3; ++rank) {
      const std::string& got = outcome[static_cast<std::size_t>(rank)];
      if (failing < 0) EXPECT_EQ(got, "ok");
      else if (rank == failing) EXPECT_EQ(got, "own: my rows are bad");
      else EXPECT_EQ(got, "other: another process failed");
    }
  }
  // One process alone: its failure is rethrown, success returns.
  EXPECT_NO_THROW(agree_on_success(SingleProcess(), nullptr, "unused"));
  EXPECT_THROW(agree_on_success(SingleProcess(), std::make_exception_ptr(FormatError("x")), "unused"),
               FormatError);
}

}  // namespace
}  // namespace coreclean
