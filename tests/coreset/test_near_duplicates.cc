// Near-duplicate pairs against brute force: every pair of rows of different groups whose cosine
// reaches the threshold, found by the exact search, the approximate one and any thread count;
// the relative threshold against its definition.
#include <coreclean/core/error.h>
#include <coreclean/coreset/near_duplicates.h>

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>
#include <vector>

namespace coreclean::coreset {
namespace {

// Clustered rows (`clusters` centres, spread 1 around them) with `copies` planted near-copies:
// row n0 + c is row c · 7 plus noise of norm ≈ `noise` times the row's.
// Group ids: the row's "image"; pairs within one image are not reported.
struct Planted {
  RowMatrixXf x;
  std::vector<std::int64_t> group;
};

Planted planted(int n0, int d, int clusters, int copies, double noise, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0.0, 1.0);
  RowMatrixXd centres(clusters, d);
  for (Eigen::Index i = 0; i < centres.size(); ++i) centres.data()[i] = 3.0 * g(rng);
  RowMatrixXd x(n0 + copies, d);
  for (int i = 0; i < n0; ++i)
    for (int c = 0; c < d; ++c) x(i, c) = centres(i % clusters, c) + g(rng);
  for (int c = 0; c < copies; ++c) {
    const int source = c * 7;
    const double scale = x.row(source).norm() * noise / std::sqrt(static_cast<double>(d));
    for (int k = 0; k < d; ++k) x(n0 + c, k) = x(source, k) + scale * g(rng);
  }
  Planted out{x.cast<float>(), std::vector<std::int64_t>(static_cast<std::size_t>(n0 + copies))};
  for (int i = 0; i < n0 + copies; ++i) out.group[static_cast<std::size_t>(i)] = i / 3;
  return out;
}

// Rows scaled to unit length, in double precision.
RowMatrixXd unit(const RowMatrixXf& xf) {
  RowMatrixXd u = xf.cast<double>();
  for (Eigen::Index i = 0; i < u.rows(); ++i) u.row(i).normalize();
  return u;
}

// Every pair of different groups with cosine ≥ t, in double precision.
std::vector<NearDuplicatePair> brute_force(const RowMatrixXf& xf, const std::vector<std::int64_t>& group,
                                           double t) {
  const RowMatrixXd u = unit(xf);
  std::vector<NearDuplicatePair> out;
  for (Eigen::Index i = 0; i < u.rows(); ++i)
    for (Eigen::Index j = i + 1; j < u.rows(); ++j) {
      if (!group.empty() && group[static_cast<std::size_t>(i)] == group[static_cast<std::size_t>(j)])
        continue;
      const double c = u.row(i).dot(u.row(j));
      if (c >= t) out.push_back({i, j, c});
    }
  return out;
}

// The same pairs in the same order, cosines to float precision; a pair within 1e-5 of the
// threshold may fall either way.
void expect_same_pairs(const std::vector<NearDuplicatePair>& got,
                       const std::vector<NearDuplicatePair>& expected, double t) {
  std::set<std::pair<Eigen::Index, Eigen::Index>> got_set, expected_set;
  for (const auto& p : got) got_set.emplace(p.first, p.second);
  for (const auto& p : expected) {
    expected_set.emplace(p.first, p.second);
    if (p.cosine > t + 1e-5) {
      EXPECT_TRUE(got_set.contains({p.first, p.second})) << "missed " << p.first << "," << p.second;
    }
  }
  for (const auto& p : got) {
    if (p.cosine > t + 1e-5) {
      EXPECT_TRUE(expected_set.contains({p.first, p.second})) << "extra " << p.first << "," << p.second;
    }
    EXPECT_LT(p.first, p.second);
  }
  for (std::size_t a = 1; a < got.size(); ++a)
    EXPECT_TRUE(got[a - 1].first < got[a].first ||
                (got[a - 1].first == got[a].first && got[a - 1].second < got[a].second));
  // Cosines agree with brute force.
  std::size_t e = 0;
  for (const auto& p : got) {
    while (e < expected.size() &&
           (expected[e].first < p.first || (expected[e].first == p.first && expected[e].second < p.second)))
      ++e;
    if (e < expected.size() && expected[e].first == p.first && expected[e].second == p.second) {
      EXPECT_NEAR(p.cosine, expected[e].cosine, 2e-6);
    }
  }
}

TEST(NearDuplicates, ExactSearchMatchesBruteForce) {
  // d = 80 > 32: candidates come from the projection, then are confirmed.
  const Planted data = planted(900, 80, 12, 40, 0.1, 3);
  for (const double t : {0.99, 0.98, 0.9, 0.8}) {
    const auto expected = brute_force(data.x, data.group, t);
    const auto got = find_near_duplicates(data.x, data.group, t, Context{});
    expect_same_pairs(got, expected, t);
    if (t == 0.98) {
      // The 40 planted copies (noise 0.1: cosine ≈ 0.995) are all found; none of the
      // clusters' distinct members is that close.
      EXPECT_GE(expected.size(), 40u);
      EXPECT_LE(expected.size(), 45u);
    }
    if (t == 0.8) {
      EXPECT_GT(expected.size(), 1000u);  // many candidates per query block
    }
  }
}

TEST(NearDuplicates, FewColumnsNoProjection) {
  const Planted data = planted(300, 8, 5, 20, 0.05, 5);
  for (const double t : {0.999, 0.95}) {
    expect_same_pairs(find_near_duplicates(data.x, data.group, t, Context{}),
                      brute_force(data.x, data.group, t), t);
  }
  // Without groups, pairs within an image count too.
  expect_same_pairs(find_near_duplicates(data.x, {}, 0.95, Context{}),
                    brute_force(data.x, {}, 0.95), 0.95);
}

TEST(NearDuplicates, ApproximateSearchFindsPlantedCopies) {
  const Planted data = planted(3000, 64, 40, 60, 0.1, 7);
  const auto expected = brute_force(data.x, data.group, 0.98);
  // Cells instead of one exact search: everything reported is a true pair; the planted ones
  // are found.
  const auto got = find_near_duplicates(data.x, data.group, 0.98, Context{}, /*exact_rows=*/500);
  std::set<std::pair<Eigen::Index, Eigen::Index>> expected_set;
  for (const auto& p : expected) expected_set.emplace(p.first, p.second);
  std::size_t found = 0;
  for (const auto& p : got) {
    EXPECT_TRUE(expected_set.contains({p.first, p.second}));
    found += expected_set.contains({p.first, p.second});
  }
  EXPECT_GE(static_cast<double>(found), 0.95 * static_cast<double>(expected.size()));
  EXPECT_GE(expected.size(), 60u);
}

TEST(NearDuplicates, SamePairsForAnyThreadCount) {
  const Planted data = planted(2500, 40, 10, 50, 0.2, 9);
  Context one;
  one.threads = 1;
  Context two;
  two.threads = 2;
  EXPECT_EQ(find_near_duplicates(data.x, data.group, 0.95, one),
            find_near_duplicates(data.x, data.group, 0.95, two));
  EXPECT_EQ(find_near_duplicates(data.x, data.group, 0.95, one, 400),
            find_near_duplicates(data.x, data.group, 0.95, two, 400));
}

// The threshold is 1 − share × the median nearest-neighbour distance (all rows up to 2,000).
TEST(NearDuplicates, RelativeThresholdIsShareOfMedianNeighbourDistance) {
  const Planted data = planted(900, 80, 12, 40, 0.1, 3);
  const RowMatrixXd u = unit(data.x);
  const RowMatrixXd sim = u * u.transpose();
  std::vector<double> nearest;
  for (Eigen::Index i = 0; i < u.rows(); ++i) {
    double best = -2.0;
    for (Eigen::Index j = 0; j < u.rows(); ++j)
      if (j != i) best = std::max(best, sim(i, j));
    nearest.push_back(1.0 - best);
  }
  std::sort(nearest.begin(), nearest.end());
  const double median = nearest[nearest.size() / 2];
  for (const double share : {0.2, 0.5, 1.0})
    EXPECT_NEAR(relative_near_duplicate_cosine(data.x, share, Context{}), 1.0 - share * median, 1e-6);
  // With the default share, the planted copies (1 − cos ≈ 0.005) are below it and the
  // clusters' members (median distance ≈ 0.1) are not.
  const double t = relative_near_duplicate_cosine(data.x, kNearDuplicateShare, Context{});
  const auto pairs = find_near_duplicates(data.x, data.group, t, Context{});
  EXPECT_GE(pairs.size(), 40u);
  EXPECT_LE(pairs.size(), 45u);
  EXPECT_EQ(relative_near_duplicate_cosine(RowMatrixXf(1, 3), 0.2, Context{}), 1.0);
  EXPECT_THROW(relative_near_duplicate_cosine(data.x, 0.0, Context{}), InvalidArgument);
  EXPECT_THROW(relative_near_duplicate_cosine(data.x, std::nan(""), Context{}), InvalidArgument);
}

// Exact copies have cosine 1 to double rounding: a threshold of 1 finds every one of them
// (float unit rows would put about half of them just below 1), and only them.
TEST(NearDuplicates, ThresholdOneFindsEveryExactCopy) {
  std::mt19937_64 rng(21);
  std::normal_distribution<float> g(0.0f, 1.0f);
  RowMatrixXf x(400, 256);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = g(rng);
  for (int c = 0; c < 100; ++c) x.row(300 + c) = x.row(3 * c);
  const auto pairs = find_near_duplicates(x, {}, 1.0, Context{});
  ASSERT_EQ(pairs.size(), 100u);
  for (int c = 0; c < 100; ++c) {
    EXPECT_EQ(pairs[static_cast<std::size_t>(c)].first, 3 * c);
    EXPECT_EQ(pairs[static_cast<std::size_t>(c)].second, 300 + c);
  }
  // More than half the rows duplicated: the median distance to the nearest row is 0, the
  // relative threshold 1, and the copies are still found.
  RowMatrixXf many(300, 256);
  for (int i = 0; i < 100; ++i)
    for (int r = 0; r < 3; ++r) many.row(3 * i + r) = x.row(i);
  EXPECT_EQ(relative_near_duplicate_cosine(many, kNearDuplicateShare, Context{}), 1.0);
  EXPECT_EQ(find_near_duplicates(many, {}, 1.0, Context{}).size(), 300u);
}

TEST(NearDuplicates, IdenticalRowsAndBadInput) {
  // Every row the same: all are duplicates of each other.
  RowMatrixXf same = RowMatrixXf::Constant(6, 40, 0.5f);
  const auto pairs = find_near_duplicates(same, {}, 0.99, Context{});
  ASSERT_EQ(pairs.size(), 15u);
  for (const auto& p : pairs) EXPECT_NEAR(p.cosine, 1.0, 1e-6);
  // Two distinct rows and their exact copies: each copy pairs with its original only.
  RowMatrixXf x(4, 3);
  x << 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0;
  const auto two = find_near_duplicates(x, {}, 0.99, Context{});
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0].first, 0);
  EXPECT_EQ(two[0].second, 2);
  EXPECT_EQ(two[1].first, 1);
  EXPECT_EQ(two[1].second, 3);
  EXPECT_NEAR(two[0].cosine, 1.0, 1e-6);
  EXPECT_TRUE(find_near_duplicates(x, std::vector<std::int64_t>{1, 2, 1, 2}, 0.99, Context{}).empty());
  EXPECT_TRUE(find_near_duplicates(RowMatrixXf(1, 3), {}, 0.9, Context{}).empty());
  // Rows of norm 0 have no direction: no pair, not even with each other.
  EXPECT_TRUE(find_near_duplicates(RowMatrixXf::Zero(3, 4), {}, 0.5, Context{}).empty());
  EXPECT_THROW(find_near_duplicates(x, {}, 0.0, Context{}), InvalidArgument);
  EXPECT_THROW(find_near_duplicates(x, {}, 1.5, Context{}), InvalidArgument);
  EXPECT_THROW(find_near_duplicates(x, {}, std::nan(""), Context{}), InvalidArgument);
  EXPECT_THROW(find_near_duplicates(x, std::vector<std::int64_t>{1, 2}, 0.9, Context{}), InvalidArgument);
}

}  // namespace
}  // namespace coreclean::coreset
