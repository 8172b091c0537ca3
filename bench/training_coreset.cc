// Training-coreset benchmark: a weighted logistic regression trained on the coreset tree's root
// coreset against uniform and class-stratified uniform samples of the same size.
//
//   coreclean_bench_training DIR --fraction 0.05 [--seeds 5] [--C 1]
//
// DIR holds X_train.npy, y_train.npy, X_test.npy, y_test.npy. For each seed: a training tree
// (root coreset = fraction · n), the three samples, and per method the relative training
// objective error F(β)/F(β_full) − 1 on all training data and the test-accuracy delta against the
// full-data model. Prints one JSON object with per-seed values and medians.
#include <coreclean/core/blas.h>
#include <coreclean/coreset/coreset_tree.h>
#include <coreclean/io/npy.h>
#include <coreclean/linear/logistic_regression.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <random>
#include <string>

using namespace coreclean;

namespace {

struct Sample {
  std::vector<Eigen::Index> rows;
  std::vector<double> weights;
};

double accuracy(const linear::LogisticRegression& m, const RowMatrixXf& x, const Labels& y) {
  const Labels p = m.predict(x);
  double hits = 0;
  for (std::size_t i = 0; i < y.size(); ++i) hits += p[i] == y[i];
  return hits / static_cast<double>(y.size());
}

linear::LogisticRegression fit_sample(const linear::LogisticRegressionParams& params,
                                      const RowMatrixXf& x, const Labels& y, const Sample& s) {
  RowMatrixXf xs(static_cast<Eigen::Index>(s.rows.size()), x.cols());
  Labels ys(s.rows.size());
  for (std::size_t j = 0; j < s.rows.size(); ++j) {
    xs.row(static_cast<Eigen::Index>(j)) = x.row(s.rows[j]);
    ys[j] = y[s.rows[j]];
  }
  linear::LogisticRegression m(params);
  m.fit(xs, ys, s.weights);
  return m;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  // As the CLI: the library's loops are parallel, BLAS runs in the calling thread.
  coreclean::use_single_threaded_blas_unless_configured();
  if (argc < 2) {
    std::cerr << "usage: coreclean_bench_training DIR [--fraction F] [--seeds S] [--C C]\n";
    return 2;
  }
  const std::string dir = argv[1];
  double fraction = 0.05, c = 1.0;
  int seeds = 5;
  for (int a = 2; a + 1 < argc; a += 2) {
    const std::string key = argv[a];
    if (key == "--fraction") fraction = std::stod(argv[a + 1]);
    else if (key == "--seeds") seeds = std::stoi(argv[a + 1]);
    else if (key == "--C") c = std::stod(argv[a + 1]);
  }
  try {
    const RowMatrixXf x_raw = io::to_sample_matrix(io::read_npy(dir + "/X_train.npy"), "X_train").view();
    const Labels y = io::to_labels(io::read_npy(dir + "/y_train.npy"), "y_train");
    const RowMatrixXf xt_raw = io::to_sample_matrix(io::read_npy(dir + "/X_test.npy"), "X_test").view();
    const Labels yt = io::to_labels(io::read_npy(dir + "/y_test.npy"), "y_test");
    const Eigen::Index n = x_raw.rows();
    const Eigen::Index m = std::max<Eigen::Index>(1, static_cast<Eigen::Index>(fraction * n));
    linear::LogisticRegressionParams params;
    params.c = c;
    params.max_iter = 300;

    std::map<std::string, std::vector<double>> excess, acc_delta;
    nlohmann::json per_seed = nlohmann::json::array();
    double full_accuracy = 0.0, build_seconds = 0.0;
    for (int seed = 0; seed < seeds; ++seed) {
      coreset::CoresetTreeParams tp;
      tp.optimized_for = coreset::OptimizedFor::kTraining;
      tp.coreset_size = m;
      coreset::CoresetTree tree(tp);
      Context ctx;
      ctx.seed = static_cast<std::uint64_t>(seed);
      const auto t0 = std::chrono::steady_clock::now();
      tree.build(x_raw, y, {}, {}, ctx);
      build_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      // Every method works in the tree's feature space, so only the sample differs.
      const RowMatrixXf& x = tree.features();
      const RowMatrixXf xt = tree.map_features(xt_raw);
      linear::LogisticRegression full(params);
      full.fit(x, y);
      const double f_full = linear::logistic_objective_value(full, x, y);
      full_accuracy = accuracy(full, xt, yt);

      std::map<std::string, linear::LogisticRegression> models;
      models.emplace("coreset", tree.fit(params, 0, ctx));
      std::mt19937_64 rng(1000 + seed);
      Sample uniform;
      {
        std::vector<Eigen::Index> all(n);
        for (Eigen::Index i = 0; i < n; ++i) all[i] = i;
        std::shuffle(all.begin(), all.end(), rng);
        uniform.rows.assign(all.begin(), all.begin() + m);
        uniform.weights.assign(m, static_cast<double>(n) / static_cast<double>(m));
      }
      Sample stratified;
      {
        std::map<Label, std::vector<Eigen::Index>> by_class;
        for (Eigen::Index i = 0; i < n; ++i) by_class[y[i]].push_back(i);
        for (auto& [label, members] : by_class) {
          std::shuffle(members.begin(), members.end(), rng);
          const Eigen::Index q = std::max<Eigen::Index>(
              1, std::llround(static_cast<double>(m) * members.size() / static_cast<double>(n)));
          for (Eigen::Index j = 0; j < q && j < static_cast<Eigen::Index>(members.size()); ++j) {
            stratified.rows.push_back(members[j]);
            stratified.weights.push_back(static_cast<double>(members.size()) / static_cast<double>(q));
          }
        }
      }
      models.emplace("uniform", fit_sample(params, x, y, uniform));
      models.emplace("stratified", fit_sample(params, x, y, stratified));
      nlohmann::json row = {{"seed", seed}};
      for (auto& [name, model] : models) {
        if (model.classes().size() != full.classes().size()) {
          row[name] = "missing classes";
          continue;
        }
        const double e = linear::logistic_objective_value(model, x, y) / f_full - 1.0;
        const double d = accuracy(model, xt, yt) - full_accuracy;
        excess[name].push_back(e);
        acc_delta[name].push_back(d);
        row[name] = {{"objective_excess", e}, {"test_accuracy_delta", d}};
      }
      per_seed.push_back(row);
    }
    nlohmann::json out = {{"dir", dir},
                          {"n", n},
                          {"d", x_raw.cols()},
                          {"sample_size", m},
                          {"fraction", fraction},
                          {"seeds", seeds},
                          {"C", c},
                          {"full_test_accuracy", full_accuracy},
                          {"mean_build_seconds", build_seconds / seeds},
                          {"per_seed", per_seed}};
    for (auto& [name, v] : excess)
      out["median"][name] = {{"objective_excess", median(v)},
                             {"test_accuracy_delta", median(acc_delta[name])}};
    std::cout << out.dump() << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "coreclean_bench_training: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
