// Micro-benchmarks of the linear solvers: LogisticRegression::fit (multinomial Newton-CG) and
// Pca::fit (exact and randomized), on fixed-seed synthetic data small enough for the whole
// program to finish in about a minute on a 2-core machine.
//
// These are speed measurements, never tests: they check nothing beyond "the call returned".
// Counters: rows_per_s (rows of the training set processed per second of fit), and solver
// statistics of the last fit (Newton and CG iterations, objective, explained variance).
//
// Run: coreclean_bench [--benchmark_filter=Pca] [--benchmark_out=FILE --benchmark_out_format=json]

#include <coreclean/core/context.h>
#include <coreclean/core/types.h>
#include <coreclean/linear/logistic_regression.h>
#include <coreclean/linear/pca.h>

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <tuple>
#include <vector>

namespace {

using coreclean::Context;
using coreclean::Labels;
using coreclean::RowMatrixXf;

constexpr std::uint64_t kSeed = 20240611;

// A Gaussian mixture: class means ~ N(0, s² I), unit isotropic noise, a shared offset
// ~ N(0, offset² I) (embeddings are not centred: ReLU features have positive means), and 3 %
// uniform label noise. With s = 0.12, d = 256 and 20 classes the Bayes accuracy is about 53 %:
// far from separable, so the optimum has moderate weights, as with real embeddings.
struct ClassificationData {
  RowMatrixXf x;
  Labels y;
};

ClassificationData make_classification(int n, int d, int k, double s, double offset_scale) {
  std::mt19937_64 rng(kSeed);
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int> pick_class(0, k - 1);
  std::uniform_real_distribution<double> unit;
  RowMatrixXf means(k, d);
  for (Eigen::Index j = 0; j < means.size(); ++j)
    means.data()[j] = static_cast<float>(s) * normal(rng);
  Eigen::RowVectorXf offset(d);
  for (int j = 0; j < d; ++j) offset[j] = static_cast<float>(offset_scale) * normal(rng);
  ClassificationData data{RowMatrixXf(n, d), Labels(n)};
  for (int i = 0; i < n; ++i) {
    const int c = pick_class(rng);
    for (int j = 0; j < d; ++j) data.x(i, j) = offset[j] + means(c, j) + normal(rng);
    data.y[i] = unit(rng) < 0.03 ? pick_class(rng) : c;
  }
  return data;
}

// Low-rank structure with a decaying spectrum (σ_j ∝ (j + 1)^−0.8 over `rank` directions) plus
// isotropic noise and an offset: the shape of CNN embedding covariances.
RowMatrixXf make_low_rank(int n, int d, int rank) {
  std::mt19937_64 rng(kSeed + 1);
  std::normal_distribution<float> normal;
  RowMatrixXf basis(rank, d);
  for (Eigen::Index j = 0; j < basis.size(); ++j) basis.data()[j] = normal(rng);
  basis /= std::sqrt(static_cast<float>(d));
  RowMatrixXf z(n, rank);
  for (int j = 0; j < rank; ++j) {
    const float sigma = 3.0f * std::pow(static_cast<float>(j + 1), -0.8f);
    for (int i = 0; i < n; ++i) z(i, j) = sigma * normal(rng);
  }
  RowMatrixXf x = z * basis;
  for (Eigen::Index i = 0; i < x.rows(); ++i)
    for (Eigen::Index j = 0; j < x.cols(); ++j) x(i, j) += 0.05f * normal(rng) + 0.1f;
  return x;
}

// Data sets are generated once per shape and shared by all repetitions.
const ClassificationData& classification(int n, int d, int k, int offset_percent) {
  static std::map<std::tuple<int, int, int, int>, std::unique_ptr<ClassificationData>> cache;
  auto& slot = cache[{n, d, k, offset_percent}];
  if (!slot)
    slot = std::make_unique<ClassificationData>(
        make_classification(n, d, k, 0.12, offset_percent / 100.0));
  return *slot;
}

const RowMatrixXf& low_rank(int n, int d) {
  static std::map<std::pair<int, int>, std::unique_ptr<RowMatrixXf>> cache;
  auto& slot = cache[{n, d}];
  if (!slot) slot = std::make_unique<RowMatrixXf>(make_low_rank(n, d, d / 4));
  return *slot;
}

// Args: rows, features, classes, offset scale in percent of the noise scale. The uncentred
// case (offset 50) is kept smaller: at the time of writing it needs ~40× more Newton iterations
// than the centred one (280 vs 6 at tol 1e-4) although, the intercept being unpenalised, the
// two problems are the same up to a shift of b (equal optimal objective).
void BM_LogisticRegressionFit(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const int d = static_cast<int>(state.range(1));
  const int k = static_cast<int>(state.range(2));
  const ClassificationData& data = classification(n, d, k, static_cast<int>(state.range(3)));
  coreclean::linear::LogisticRegressionParams params;
  params.c = 1.0;
  params.tol = 1e-4;
  params.max_iter = 1000;
  const Context context;
  coreclean::linear::FitReport report;
  for (auto _ : state) {
    coreclean::linear::LogisticRegression model(params);
    report = model.fit(data.x, data.y, {}, context);
    benchmark::DoNotOptimize(model.coef().data());
  }
  state.counters["rows_per_s"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["newton_iterations"] = report.iterations;
  state.counters["cg_iterations"] = report.cg_iterations;
  state.counters["converged"] = report.converged ? 1 : 0;
  state.counters["objective"] = report.objective;
}
BENCHMARK(BM_LogisticRegressionFit)
    ->ArgNames({"rows", "dim", "classes", "offset_pct"})
    ->Args({20000, 256, 20, 0})
    ->Args({20000, 256, 2, 0})
    ->Args({5000, 256, 20, 50})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0)
    ->UseRealTime();

// Args: rows, features, components, solver (0 = full, 1 = randomized).
void BM_PcaFit(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const int d = static_cast<int>(state.range(1));
  coreclean::linear::PcaParams params;
  params.n_components = static_cast<int>(state.range(2));
  params.solver = state.range(3) == 0 ? coreclean::linear::PcaSolver::kFull
                                      : coreclean::linear::PcaSolver::kRandomized;
  const RowMatrixXf& x = low_rank(n, d);
  Context context;
  context.seed = kSeed;
  double evr_sum = 0.0;
  for (auto _ : state) {
    coreclean::linear::Pca pca(params);
    pca.fit(x, context);
    evr_sum = pca.explained_variance_ratio().sum();
    benchmark::DoNotOptimize(pca.components().data());
  }
  state.SetLabel(state.range(3) == 0 ? "full" : "randomized");
  state.counters["rows_per_s"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["explained_variance_ratio"] = evr_sum;
}
BENCHMARK(BM_PcaFit)
    ->ArgNames({"rows", "dim", "k", "randomized"})
    ->Args({20000, 512, 64, 0})
    ->Args({20000, 512, 64, 1})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
