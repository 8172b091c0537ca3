#include <coreclean/coreset/coreset_fit.h>

#include <coreclean/io/npz.h>
#include <coreclean/linear/metrics.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/check.h"

namespace coreclean::coreset {

CoresetFitComparison compare_coreset_fit(const CoresetTree& tree,
                                         const linear::LogisticRegressionParams& params,
                                         int folds, int level, const Context& context) {
  CORECLEAN_THROW_IF_NOT(folds >= 2, "coreset fit: folds = {} (must be >= 2)", folds);
  CORECLEAN_THROW_IF_NOT(tree.params().optimized_for == OptimizedFor::kTraining,
                         "coreset fit: the tree was built for cleaning; build it for training "
                         "to fit on its coreset");
  CoresetFitComparison out;
  out.coreset = tree.coreset(level);
  const RowMatrixXf& phi = tree.features();
  const std::vector<SampleScore> scores = tree.scores();
  // The full data: samples of weight > 0, with their labels and weights.
  std::vector<Eigen::Index> active;
  for (std::size_t i = 0; i < scores.size(); ++i)
    if (scores[i].weight > 0.0) active.push_back(static_cast<Eigen::Index>(i));
  RowMatrixXf x(static_cast<Eigen::Index>(active.size()), phi.cols());
  Labels y(active.size());
  std::vector<double> w(active.size());
  std::unordered_map<SampleId, std::size_t> row_of;
  for (std::size_t j = 0; j < active.size(); ++j) {
    x.row(static_cast<Eigen::Index>(j)) = phi.row(active[j]);
    y[j] = scores[active[j]].label;
    w[j] = scores[active[j]].weight;
    row_of[scores[active[j]].id] = j;
  }
  // The coreset as weights over the same rows (0 = not in the coreset).
  std::vector<double> core_weight(active.size(), 0.0);
  for (std::size_t q = 0; q < out.coreset.ids.size(); ++q)
    core_weight[row_of.at(out.coreset.ids[q])] += out.coreset.weights[q];
  out.samples = static_cast<std::int64_t>(active.size());
  out.core_rows = std::count_if(core_weight.begin(), core_weight.end(),
                                [](double cw) { return cw > 0.0; });

  // k-fold AUC: the same folds for both; the coreset's models train on the coreset samples of
  // the other folds only (weight 0 leaves a sample out of training).
  const Labels& classes = tree.classes();
  const std::vector<int> fold = linear::stratified_kfold(y, folds, context.seed);
  const auto auc = [&](std::span<const double> weights) {
    const RowMatrixXd proba = linear::cross_val_predict_proba(params, x, y, fold, weights, context);
    Labels present = y;
    std::sort(present.begin(), present.end());
    present.erase(std::unique(present.begin(), present.end()), present.end());
    return linear::roc_auc_ovr(proba, y, present, linear::AucAverage::kMacro);
  };
  out.auc_full = auc(w);
  out.auc_core = auc(core_weight);

  // The final models on everything, and the full-data objective of each.
  linear::LogisticRegression full(params);
  full.fit(x, y, w, context);
  out.model = tree.fit(params, level, context);
  CORECLEAN_THROW_IF_NOT(out.model.classes() == classes,
                         "coreset fit: the coreset at level {} lacks some of the tree's {} "
                         "classes; use a larger level",
                         level, classes.size());
  out.objective_full = linear::logistic_objective_value(full, x, y, w);
  out.objective_core = linear::logistic_objective_value(out.model, x, y, w);
  return out;
}

namespace {

// A float64 array of the given shape for an .npz member.
io::NpyArray float64_array(const double* values, std::vector<std::int64_t> shape) {
  std::int64_t count = 1;
  for (std::int64_t extent : shape) count *= extent;
  auto storage = std::make_shared<std::vector<double>>(values, values + count);
  return io::NpyArray(io::DType::kFloat64, std::move(shape), storage,
                      reinterpret_cast<const std::byte*>(storage->data()));
}

template <typename Integer>
io::NpyArray int64_array(const std::vector<Integer>& values) {
  auto storage = std::make_shared<std::vector<std::int64_t>>(values.begin(), values.end());
  return io::NpyArray(io::DType::kInt64, {static_cast<std::int64_t>(values.size())}, storage,
                      reinterpret_cast<const std::byte*>(storage->data()));
}

}  // namespace

void save_coreset_model(const std::filesystem::path& path, const CoresetTree& tree,
                        const CoresetFitComparison& fit) {
  const linear::LogisticRegression& model = fit.model;
  std::map<std::string, io::NpyArray> arrays;
  const RowMatrixXd& coef = model.coef();
  arrays["coef"] = float64_array(coef.data(), {coef.rows(), coef.cols()});
  arrays["intercept"] = float64_array(model.intercept().data(), {model.intercept().size()});
  arrays["classes"] = int64_array(model.classes());
  const Eigen::VectorXd& mu = tree.feature_mean();
  arrays["feature_mean"] = float64_array(mu.data(), {mu.size()});
  const RowMatrixXd& projection = tree.feature_projection();
  if (projection.size() > 0)
    arrays["feature_projection"] = float64_array(projection.data(), {projection.rows(), projection.cols()});
  arrays["coreset_ids"] = int64_array(fit.coreset.ids);
  arrays["coreset_weights"] = float64_array(fit.coreset.weights.data(),
                                            {static_cast<std::int64_t>(fit.coreset.weights.size())});
  io::write_npz(path, arrays);
}

}  // namespace coreclean::coreset
