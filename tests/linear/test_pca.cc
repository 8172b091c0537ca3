// PCA against an SVD oracle and hand-checkable invariants.
#include <coreclean/core/error.h>
#include <coreclean/io/npy.h>
#include <coreclean/linear/pca.h>

#include "testing/data.h"
#include "testing/helpers.h"

#include <Eigen/SVD>
#include <gtest/gtest.h>

#include <random>

namespace coreclean::linear {
namespace {

// Data with a decaying spectrum (so the top components are well separated) and a large mean.
RowMatrixXf spectrum_data(int n, int d, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  RowMatrixXf x(n, d);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < d; ++j) x(i, j) = static_cast<float>(normal(rng) * 8.0 / (1.0 + j) + 3.0);
  // A random rotation so that components are not the coordinate axes.
  Eigen::MatrixXd g(d, d);
  for (auto& v : g.reshaped()) v = normal(rng);
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(g);
  const Eigen::MatrixXd q = qr.householderQ();
  return (x.cast<double>() * q).cast<float>();
}

// Largest principal angle between the row spaces of a and b (both with orthonormal rows).
double largest_principal_angle(const RowMatrixXd& a, const RowMatrixXd& b) {
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(a * b.transpose());
  const double smallest_cos = std::min(1.0, svd.singularValues().minCoeff());
  return std::acos(smallest_cos);
}

// Exact and randomized PCA span the same subspace as numpy's SVD (angle ≤ 1e-4 rad for exact)
// and give the same variances.
TEST(Pca, MatchesSvdOracle) {
  CORECLEAN_REQUIRE_ORACLE();
  const RowMatrixXf x = spectrum_data(800, 40, 3);
  testing::TempDir dir;
  io::write_npy(dir / "X.npy", x);
  testing::run_oracle("svd_pca.py", {dir.path().string(), "6"});
  const auto comp = io::read_npy(dir / "svd_components.npy");
  const auto var = io::read_npy(dir / "svd_variance.npy");
  const Eigen::Map<const RowMatrixXd> oracle(comp.data<double>(), 6, 40);
  const Eigen::Map<const Eigen::VectorXd> oracle_var(var.data<double>(), 6);
  for (PcaSolver solver : {PcaSolver::kFull, PcaSolver::kRandomized}) {
    PcaParams p;
    p.n_components = 6;
    p.solver = solver;
    Pca pca(p);
    pca.fit(x);
    const double tolerance = solver == PcaSolver::kFull ? 1e-4 : 1e-3;
    EXPECT_LE(largest_principal_angle(pca.components(), oracle), tolerance);
    EXPECT_LE(((pca.explained_variance() - oracle_var).array() / oracle_var.array()).abs().maxCoeff(),
              1e-4);
    // Rows are orthonormal.
    EXPECT_LE((pca.components() * pca.components().transpose() -
               Eigen::MatrixXd::Identity(6, 6)).cwiseAbs().maxCoeff(), 1e-9);
  }
}

// Data of exact rank `rank` after centring (a mean of 3 added): Gaussian scores with standard
// deviations 10 / (1 + j / 4) on `rank` random orthonormal directions.
RowMatrixXf low_rank_data(int n, int d, int rank, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  Eigen::MatrixXd g(d, rank);
  for (auto& v : g.reshaped()) v = normal(rng);
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(g);
  const Eigen::MatrixXd basis = qr.householderQ() * Eigen::MatrixXd::Identity(d, rank);
  Eigen::MatrixXd scores(n, rank);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < rank; ++j) scores(i, j) = normal(rng) * 10.0 / (1.0 + j / 4.0);
  return ((scores * basis.transpose()).array() + 3.0).cast<float>();
}

// Without power iterations the randomized solver is exact when the data's rank is at most its
// k + oversamples random directions: their range is then the data's whole row space. Checked
// against the exact solver (itself checked against numpy above) where the range's basis is
// well conditioned (rank = k + oversamples: the fast Rayleigh–Ritz step) and where it is
// singular (rank < k + oversamples: the careful path).
TEST(Pca, RandomizedWithoutPowerIterationsIsExactOnDataOfLowRank) {
  for (const int rank : {16, 9}) {
    SCOPED_TRACE(rank);
    const RowMatrixXf x = low_rank_data(3000, 60, rank, 17);
    PcaParams p;
    p.n_components = 6;
    p.oversamples = 10;
    p.solver = PcaSolver::kFull;
    Pca exact(p);
    exact.fit(x);
    p.solver = PcaSolver::kRandomized;
    p.power_iterations = 0;
    Pca fast(p);
    fast.fit(x);
    EXPECT_LE(largest_principal_angle(fast.components(), exact.components()), 1e-5);
    EXPECT_LE(((fast.explained_variance() - exact.explained_variance()).array() /
               exact.explained_variance().array()).abs().maxCoeff(),
              1e-5);  // the randomized solver's large products are float32
    EXPECT_LE((fast.components() * fast.components().transpose() -
               Eigen::MatrixXd::Identity(6, 6)).cwiseAbs().maxCoeff(), 1e-12);
  }
}

// The randomized solver's products run over blocks of fixed size, their sums added in block
// order: one thread and two give the same bits.
TEST(Pca, RandomizedBitsDoNotDependOnTheThreadCount) {
  const RowMatrixXf x = spectrum_data(5000, 300, 23);
  for (const int q : {0, 2}) {
    SCOPED_TRACE(q);
    auto fitted = [&](int threads) {
      PcaParams p;
      p.n_components = 20;
      p.solver = PcaSolver::kRandomized;
      p.power_iterations = q;
      Pca pca(p);
      Context context;
      context.threads = threads;
      pca.fit(x, context);
      return std::pair(pca.components(), pca.explained_variance());
    };
    const auto one = fitted(1), two = fitted(2);
    EXPECT_EQ(one.first, two.first);
    EXPECT_EQ(one.second, two.second);
  }
}

// Transform centres and projects: the projected data has zero mean and the explained variances.
TEST(Pca, TransformHasZeroMeanAndExplainedVariance) {
  const RowMatrixXf x = spectrum_data(500, 12, 5);
  PcaParams p;
  p.n_components = 3;
  Pca pca(p);
  pca.fit(x);
  const RowMatrixXd z = pca.transform(x).cast<double>();
  const Eigen::RowVectorXd mean = z.colwise().mean();
  EXPECT_LE(mean.cwiseAbs().maxCoeff(), 1e-4);
  const RowMatrixXd centred = z.rowwise() - mean;
  const Eigen::VectorXd var = centred.colwise().squaredNorm().transpose() / (z.rows() - 1.0);
  EXPECT_LE(((var - pca.explained_variance()).array() / var.array()).abs().maxCoeff(), 1e-4);
  EXPECT_GT(pca.explained_variance_ratio().sum(), 0.0);
  EXPECT_LE(pca.explained_variance_ratio().sum(), 1.0 + 1e-12);
  // Whitening gives unit variance.
  p.whiten = true;
  Pca white(p);
  white.fit(x);
  const RowMatrixXd zw = white.transform(x).cast<double>();
  const RowMatrixXd cw = zw.rowwise() - zw.colwise().mean();
  for (Eigen::Index c = 0; c < 3; ++c)
    EXPECT_NEAR(cw.col(c).squaredNorm() / (zw.rows() - 1.0), 1.0, 1e-3);
}

// Hand case: points on the line y = 2x have one component (1, 2)/√5 with all the variance.
TEST(Pca, LineHasOneComponent) {
  RowMatrixXf x(4, 2);
  x << 0, 0, 1, 2, 2, 4, 3, 6;
  PcaParams p;
  p.n_components = 1;
  Pca pca(p);
  pca.fit(x);
  EXPECT_NEAR(pca.components()(0, 0), 1.0 / std::sqrt(5.0), 1e-9);
  EXPECT_NEAR(pca.components()(0, 1), 2.0 / std::sqrt(5.0), 1e-9);
  // Variance of the projections 0, √5, 2√5, 3√5 around their mean: 5·(2.25+0.25+0.25+2.25)/3.
  EXPECT_NEAR(pca.explained_variance()[0], 5.0 * 5.0 / 3.0, 1e-9);
  EXPECT_NEAR(pca.explained_variance_ratio()[0], 1.0, 1e-9);
}

// The total variance behind explained_variance_ratio equals the sample variance computed
// directly in double, also far from the origin (an offset of 10⁴ on unit-scale data), with both
// solvers.
TEST(Pca, VarianceRatioHoldsFarFromTheOrigin) {
  std::mt19937_64 rng(5);
  std::normal_distribution<float> normal;
  RowMatrixXf x(3000, 12);
  for (Eigen::Index i = 0; i < x.rows(); ++i)
    for (Eigen::Index j = 0; j < x.cols(); ++j) x(i, j) = 1e4f + (1.0f + 0.3f * j) * normal(rng);
  const Eigen::MatrixXd xd = x.cast<double>();
  const Eigen::MatrixXd centred = xd.rowwise() - xd.colwise().mean();
  const double total = centred.squaredNorm() / static_cast<double>(x.rows() - 1);
  for (const PcaSolver solver : {PcaSolver::kFull, PcaSolver::kRandomized}) {
    PcaParams p;
    p.n_components = 4;
    p.solver = solver;
    p.power_iterations = 3;
    Pca pca(p);
    pca.fit(x);
    const Eigen::VectorXd ratio_times_total = pca.explained_variance_ratio() * total;
    EXPECT_LT((ratio_times_total - pca.explained_variance()).cwiseAbs().maxCoeff(),
              1e-9 * pca.explained_variance()[0]);
  }
}

// More components than min(n, d) and transform before fit are refused.
TEST(Pca, BadRequestsAreRefused) {
  RowMatrixXf x = RowMatrixXf::Random(5, 3);
  PcaParams p;
  p.n_components = 4;
  Pca pca(p);
  EXPECT_THROW(pca.fit(x), InvalidArgument);
  EXPECT_THROW((void)pca.transform(x), InvalidArgument);
  p.n_components = 0;
  EXPECT_THROW(Pca{p}, InvalidArgument);
}

// kAuto follows scikit-learn's rule: for a few components of a large matrix (max(n, d) > 500,
// k < 0.8·min(n, d)) it runs the randomized solver (the same seeded result, bit for bit), else
// the exact one.
TEST(Pca, AutoSolverIsRandomizedForFewComponentsOfALargeMatrix) {
  auto fitted = [](const RowMatrixXf& x, int k, PcaSolver solver) {
    PcaParams p;
    p.n_components = k;
    p.solver = solver;
    Pca pca(p);
    Context context;
    context.seed = 3;
    pca.fit(x, context);
    return pca.components();
  };
  const RowMatrixXf large = spectrum_data(600, 20, 11);
  const RowMatrixXd automatic = fitted(large, 3, PcaSolver::kAuto);
  EXPECT_EQ(automatic, fitted(large, 3, PcaSolver::kRandomized));
  EXPECT_NE(automatic, fitted(large, 3, PcaSolver::kFull));  // the two solvers differ in the bits
  // 16 ≥ 0.8 · 20 components: exact.
  EXPECT_EQ(fitted(large, 16, PcaSolver::kAuto), fitted(large, 16, PcaSolver::kFull));
  // max(n, d) = 500: exact.
  const RowMatrixXf small = spectrum_data(500, 20, 11);
  EXPECT_EQ(fitted(small, 3, PcaSolver::kAuto), fitted(small, 3, PcaSolver::kFull));
}

}  // namespace
}  // namespace coreclean::linear
