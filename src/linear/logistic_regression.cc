#include <coreclean/linear/logistic_regression.h>

#include "core/check.h"
#include "linear/logistic_objective.h"
#include "linear/newton_cg.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <map>

namespace coreclean::linear {
namespace {

// Rows per block when scoring: bounds the double-precision copy of the input.
constexpr Eigen::Index kPredictBlockRows = 8192;

Labels sorted_unique(std::span<const Label> y) {
  Labels classes(y.begin(), y.end());
  std::sort(classes.begin(), classes.end());
  classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
  return classes;
}

std::vector<int> class_indices(std::span<const Label> y, const Labels& classes) {
  std::vector<int> idx(y.size());
  for (std::size_t i = 0; i < y.size(); ++i)
    idx[i] = static_cast<int>(std::lower_bound(classes.begin(), classes.end(), y[i]) -
                              classes.begin());
  return idx;
}

void check_inputs(MatrixRef x, std::span<const Label> y, std::span<const double> sample_weight,
                  bool rows_required = true) {
  CORECLEAN_THROW_IF_NOT((x.rows() > 0 || !rows_required) && x.cols() > 0,
                         "logistic regression: x is empty ({} × {})", x.rows(), x.cols());
  CORECLEAN_THROW_IF_NOT(static_cast<Eigen::Index>(y.size()) == x.rows(),
                         "logistic regression: x has {} rows but y has {} labels", x.rows(),
                         y.size());
  CORECLEAN_THROW_IF_NOT(sample_weight.empty() || sample_weight.size() == y.size(),
                         "logistic regression: sample_weight has {} values for {} samples",
                         sample_weight.size(), y.size());
  for (std::size_t i = 0; i < sample_weight.size(); ++i)
    CORECLEAN_THROW_IF_NOT(std::isfinite(sample_weight[i]) && sample_weight[i] >= 0.0,
                           "logistic regression: sample_weight[{}] = {} (must be finite, >= 0)",
                           i, sample_weight[i]);
}

struct BinarySolution {
  Eigen::VectorXd w;  // d (+1)
  NewtonCgResult result;
};

// Fits one binary problem: positives are the samples with is_positive[i].
BinarySolution fit_binary(const LogisticRegressionParams& p, MatrixRef x,
                          const std::vector<bool>& is_positive, const Eigen::VectorXd& c,
                          const Eigen::VectorXd* warm, int threads,
                          const Eigen::VectorXd& offset, const Collective& group,
                          std::span<const Eigen::Index> segment_starts) {
  std::vector<double> y_sign(static_cast<std::size_t>(x.rows()));
  std::array<double, 2> counts{0.0, static_cast<double>(x.rows())};  // positives, rows
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    y_sign[i] = is_positive[i] ? 1.0 : -1.0;
    counts[0] += is_positive[i] ? 1.0 : 0.0;
  }
  group.sum(counts);
  const auto positives = static_cast<Eigen::Index>(counts[0]);
  const auto n = static_cast<Eigen::Index>(counts[1]);
  BinaryLogisticObjective objective(x, std::move(y_sign), c, p.fit_intercept,
                                    p.regularize_intercept, threads, offset, &group,
                                    segment_starts);
  NewtonCgParams np;
  // LIBLINEAR scales the tolerance by the minority share for binary problems.
  const double minority = static_cast<double>(std::max<Eigen::Index>(
      std::min(positives, n - positives), 1));
  np.tol = p.tol * minority / static_cast<double>(n);
  np.max_iter = p.max_iter;
  np.max_cg_iter = p.max_cg_iter;
  BinarySolution sol;
  sol.w = Eigen::VectorXd::Zero(objective.dimension());
  if (warm != nullptr && warm->size() == sol.w.size()) {
    Eigen::VectorXd g0(sol.w.size());
    objective.value_and_gradient(sol.w, g0);
    np.gradient_norm0 = g0.norm();
    sol.w = *warm;
  }
  sol.result = newton_cg_minimize(objective, sol.w, np);
  return sol;
}

}  // namespace

void LogisticRegressionParams::validate() const {
  CORECLEAN_THROW_IF_NOT(std::isfinite(c) && c > 0.0, "logistic regression: C = {} (must be > 0)",
                         c);
  CORECLEAN_THROW_IF_NOT(std::isfinite(tol) && tol > 0.0,
                         "logistic regression: tol = {} (must be > 0)", tol);
  CORECLEAN_THROW_IF_NOT(max_iter > 0, "logistic regression: max_iter = {} (must be > 0)",
                         max_iter);
  CORECLEAN_THROW_IF_NOT(max_cg_iter > 0, "logistic regression: max_cg_iter = {} (must be > 0)",
                         max_cg_iter);
}

LogisticRegression::LogisticRegression(LogisticRegressionParams params)
    : params_(std::move(params)) {
  params_.validate();
}

std::vector<double> effective_sample_weights(const LogisticRegressionParams& params,
                                             std::span<const Label> y,
                                             std::span<const double> sample_weight) {
  std::vector<double> s(y.size(), 1.0);
  if (!sample_weight.empty()) s.assign(sample_weight.begin(), sample_weight.end());
  if (params.class_weight == ClassWeight::kBalanced) {
    // scikit-learn's rule: class k weighs n / (K · n_k), counting samples (not their weights).
    std::map<Label, double> counts;
    for (Label l : y) counts[l] += 1.0;
    const double n = static_cast<double>(y.size());
    const double k = static_cast<double>(counts.size());
    for (std::size_t i = 0; i < y.size(); ++i) s[i] *= n / (k * counts[y[i]]);
  }
  return s;
}

FitReport LogisticRegression::fit(MatrixRef x, std::span<const Label> y,
                                  std::span<const double> sample_weight, const Context& context) {
  check_inputs(x, y, sample_weight);
  const Labels classes = sorted_unique(y);
  CORECLEAN_THROW_IF_NOT(classes.size() >= 2,
                         "logistic regression: y has a single class ({}); need at least two",
                         classes.front());
  return fit(x, y, sample_weight, classes, SingleProcess(), context);
}

FitReport LogisticRegression::fit(MatrixRef x, std::span<const Label> y,
                                  std::span<const double> sample_weight, const Labels& classes,
                                  const Collective& group, const Context& context,
                                  std::span<const Eigen::Index> segment_starts) {
  check_inputs(x, y, sample_weight, /*rows_required=*/false);
  CORECLEAN_THROW_IF_NOT(classes.size() >= 2 && std::adjacent_find(classes.begin(), classes.end(),
                                                                    std::greater_equal<>()) ==
                                                     classes.end(),
                         "logistic regression: classes must be at least two, sorted and "
                         "distinct; got {}",
                         classes.size());
  for (std::size_t i = 0; i < y.size(); ++i)
    CORECLEAN_THROW_IF_NOT(std::binary_search(classes.begin(), classes.end(), y[i]),
                           "logistic regression: y[{}] = {} is not among the classes", i, y[i]);
  const bool warm = params_.warm_start && classes == classes_ && coef_.cols() == x.cols();
  const Eigen::Index n = x.rows(), d = x.cols();
  const int k = static_cast<int>(classes.size());
  const int threads = context.thread_count();
  const std::vector<int> yi = class_indices(y, classes);
  std::vector<double> s(y.size(), 1.0);
  if (!sample_weight.empty()) s.assign(sample_weight.begin(), sample_weight.end());
  if (params_.class_weight == ClassWeight::kBalanced) {
    // scikit-learn's rule over all rows: class k weighs n / (K · n_k), counting samples.
    std::vector<double> counts(static_cast<std::size_t>(k) + 1, 0.0);  // per class, then n
    for (int c : yi) counts[static_cast<std::size_t>(c)] += 1.0;
    counts.back() = static_cast<double>(n);
    group.sum(counts);
    for (std::size_t i = 0; i < y.size(); ++i)
      s[i] *= counts.back() / (k * counts[static_cast<std::size_t>(yi[i])]);
  }
  const Eigen::VectorXd c =
      params_.c * Eigen::Map<const Eigen::VectorXd>(s.data(), static_cast<Eigen::Index>(s.size()));
  // With an unpenalised intercept the solver works on centred data (weighted mean μ): the same
  // optimum, far better conditioned. Intercepts convert as b = b̄ − wᵀμ.
  Eigen::VectorXd offset;
  if (params_.fit_intercept && !params_.regularize_intercept) {
    // Per summation group [Σ c_i x_i; Σ c_i], then their ordered sum (as the objective sums:
    // the same bits for one process and for processes that hold whole segments).
    const auto groups = summation_groups(n, segment_starts);
    Eigen::MatrixXd parts = Eigen::MatrixXd::Zero(d + 1, static_cast<Eigen::Index>(groups.size()));
    for (std::size_t g = 0; g < groups.size(); ++g) {
      auto part = parts.col(static_cast<Eigen::Index>(g));
      for (Eigen::Index i = groups[g].first; i < groups[g].second; ++i) {
        part.head(d) += c[i] * x.row(i).cast<double>().transpose();
        part[d] += c[i];
      }
    }
    Eigen::VectorXd sums(d + 1);
    group.ordered_sum({parts.data(), static_cast<std::size_t>(parts.size())},
                      {sums.data(), static_cast<std::size_t>(sums.size())});
    offset = sums.head(d);
    if (sums[d] > 0.0) offset /= sums[d];
  }
  auto offset_dot = [&](const Eigen::VectorXd& w) {
    return offset.size() > 0 ? w.head(d).dot(offset) : 0.0;
  };

  FitReport report;
  RowMatrixXd coef;
  Eigen::VectorXd intercept;
  auto unpack_binary = [&](const Eigen::VectorXd& w, Eigen::Index row) {
    coef.row(row) = w.head(d).transpose();
    intercept[row] = params_.fit_intercept ? w[d] - offset_dot(w) : 0.0;
  };
  auto pack_binary = [&](Eigen::Index row) {
    Eigen::VectorXd w(d + (params_.fit_intercept ? 1 : 0));
    w.head(d) = coef_.row(row).transpose();
    if (params_.fit_intercept) w[d] = intercept_[row] + offset_dot(w);
    return w;
  };

  if (k == 2 || params_.multi_class == MultiClass::kOneVsRest) {
    const int models = k == 2 ? 1 : k;
    coef.resize(models, d);
    intercept.resize(models);
    for (int m = 0; m < models; ++m) {
      context.throw_if_cancelled();
      const int positive_class = k == 2 ? 1 : m;
      std::vector<bool> is_positive(n);
      for (Eigen::Index i = 0; i < n; ++i) is_positive[i] = yi[i] == positive_class;
      Eigen::VectorXd start;
      if (warm) start = pack_binary(m);
      BinarySolution sol = fit_binary(params_, x, is_positive, c, warm ? &start : nullptr,
                                      threads, offset, group, segment_starts);
      unpack_binary(sol.w, m);
      report.converged = (m == 0 || report.converged) && sol.result.converged;
      report.iterations += sol.result.iterations;
      report.cg_iterations += sol.result.cg_iterations;
      report.gradient_ratio = std::max(report.gradient_ratio, sol.result.gradient_ratio);
      report.objective += sol.result.objective;
    }
  } else {
    SoftmaxObjective objective(x, yi, k, c, params_.fit_intercept, params_.regularize_intercept,
                               threads, offset, &group, segment_starts);
    NewtonCgParams np;
    np.tol = params_.tol;
    np.max_iter = params_.max_iter;
    np.max_cg_iter = params_.max_cg_iter;
    Eigen::VectorXd w = Eigen::VectorXd::Zero(objective.dimension());
    if (warm) {
      Eigen::VectorXd g0(w.size());
      objective.value_and_gradient(w, g0);
      np.gradient_norm0 = g0.norm();
      Eigen::Map<Eigen::MatrixXd>(w.data(), d, k) = coef_.transpose();
      if (params_.fit_intercept) {
        w.tail(k) = intercept_;
        if (offset.size() > 0) w.tail(k) += coef_ * offset;
      }
    }
    const NewtonCgResult r = newton_cg_minimize(objective, w, np);
    coef = Eigen::Map<const Eigen::MatrixXd>(w.data(), d, k).transpose();
    intercept = params_.fit_intercept ? Eigen::VectorXd(w.tail(k)) : Eigen::VectorXd::Zero(k);
    if (params_.fit_intercept && offset.size() > 0) intercept -= coef * offset;
    report = {r.converged, r.iterations, r.cg_iterations, r.gradient_ratio, r.objective};
  }
  classes_ = classes;
  coef_ = std::move(coef);
  intercept_ = std::move(intercept);
  if (!report.converged)
    context.log(LogLevel::kWarning,
                fmt::format("logistic regression did not converge in {} Newton iterations "
                            "(gradient ratio {:.3g} > tol {:.3g}); raise max_iter or tol",
                            params_.max_iter, report.gradient_ratio, params_.tol));
  return report;
}

void LogisticRegression::set_model(Labels classes, RowMatrixXd coef, Eigen::VectorXd intercept) {
  CORECLEAN_THROW_IF_NOT(classes.size() >= 2, "logistic regression model: {} classes (need >= 2)",
                         classes.size());
  const Eigen::Index rows = classes.size() == 2 ? 1 : static_cast<Eigen::Index>(classes.size());
  CORECLEAN_THROW_IF_NOT(coef.rows() == rows && intercept.size() == rows,
                         "logistic regression model: coef has {} rows and intercept {} values; "
                         "{} classes need {}",
                         coef.rows(), intercept.size(), classes.size(), rows);
  classes_ = std::move(classes);
  coef_ = std::move(coef);
  intercept_ = std::move(intercept);
}

RowMatrixXd LogisticRegression::decision_function(MatrixRef x) const {
  CORECLEAN_THROW_IF_NOT(is_fitted(), "logistic regression: predict called before fit");
  CORECLEAN_THROW_IF_NOT(x.cols() == coef_.cols(),
                         "logistic regression: x has {} columns but the model was fitted on {}",
                         x.cols(), coef_.cols());
  RowMatrixXd z(x.rows(), coef_.rows());
  for (Eigen::Index start = 0; start < x.rows(); start += kPredictBlockRows) {
    const Eigen::Index rows = std::min(kPredictBlockRows, x.rows() - start);
    z.middleRows(start, rows).noalias() =
        x.middleRows(start, rows).cast<double>() * coef_.transpose();
  }
  z.rowwise() += intercept_.transpose();
  return z;
}

RowMatrixXd LogisticRegression::predict_proba(MatrixRef x) const {
  RowMatrixXd z = decision_function(x);
  const Eigen::Index n = z.rows();
  const Eigen::Index k = static_cast<Eigen::Index>(classes_.size());
  RowMatrixXd p(n, k);
  if (k == 2) {
    for (Eigen::Index i = 0; i < n; ++i) {
      p(i, 1) = 1.0 / (1.0 + std::exp(-z(i, 0)));
      p(i, 0) = 1.0 - p(i, 1);
    }
  } else if (params_.multi_class == MultiClass::kOneVsRest) {
    // One-vs-rest: independent sigmoids, renormalised per sample (scikit-learn's convention).
    p = (1.0 + (-z.array()).exp()).inverse();
    p.array().colwise() /= p.rowwise().sum().array();
  } else {
    for (Eigen::Index i = 0; i < n; ++i) {
      const double zmax = z.row(i).maxCoeff();
      p.row(i) = (z.row(i).array() - zmax).exp();
      p.row(i) /= p.row(i).sum();
    }
  }
  return p;
}

Labels LogisticRegression::predict(MatrixRef x) const {
  const RowMatrixXd z = decision_function(x);
  Labels out(z.rows());
  for (Eigen::Index i = 0; i < z.rows(); ++i) {
    if (z.cols() == 1) {
      out[i] = classes_[z(i, 0) > 0.0 ? 1 : 0];
    } else {
      Eigen::Index best = 0;
      z.row(i).maxCoeff(&best);
      out[i] = classes_[best];
    }
  }
  return out;
}

double logistic_objective_value(const LogisticRegression& model, MatrixRef x,
                                std::span<const Label> y, std::span<const double> sample_weight) {
  check_inputs(x, y, sample_weight);
  const auto& p = model.params();
  const std::vector<double> s = effective_sample_weights(p, y, sample_weight);
  const RowMatrixXd z = model.decision_function(x);
  const Labels& classes = model.classes();
  const std::vector<int> yi = class_indices(y, classes);
  for (std::size_t i = 0; i < y.size(); ++i)
    CORECLEAN_THROW_IF_NOT(yi[i] < static_cast<int>(classes.size()) && classes[yi[i]] == y[i],
                           "logistic objective: label {} at row {} is not a class of the model",
                           y[i], i);
  double penalty = 0.5 * model.coef().squaredNorm();
  if (p.fit_intercept && p.regularize_intercept) penalty += 0.5 * model.intercept().squaredNorm();
  double loss = 0.0;
  for (Eigen::Index i = 0; i < z.rows(); ++i) {
    double li = 0.0;
    if (z.cols() == 1) {
      li = log1p_exp_neg((yi[i] == 1 ? 1.0 : -1.0) * z(i, 0));
    } else if (p.multi_class == MultiClass::kOneVsRest) {
      for (Eigen::Index j = 0; j < z.cols(); ++j)
        li += log1p_exp_neg((yi[i] == j ? 1.0 : -1.0) * z(i, j));
    } else {
      const double zmax = z.row(i).maxCoeff();
      li = zmax + std::log((z.row(i).array() - zmax).exp().sum()) - z(i, yi[i]);
    }
    loss += s[i] * li;
  }
  return penalty + p.c * loss;
}

RowMatrixXd cross_val_predict_proba(const LogisticRegressionParams& params, MatrixRef x,
                                    std::span<const Label> y, std::span<const int> folds,
                                    std::span<const double> sample_weight,
                                    const Context& context) {
  check_inputs(x, y, sample_weight);
  CORECLEAN_THROW_IF_NOT(folds.size() == y.size(),
                         "cross-validation: {} fold indices for {} samples", folds.size(),
                         y.size());
  const Labels classes = sorted_unique(y);
  const int k = folds.empty() ? 0 : *std::max_element(folds.begin(), folds.end()) + 1;
  RowMatrixXd proba = RowMatrixXd::Zero(x.rows(), static_cast<Eigen::Index>(classes.size()));
  for (int f = 0; f < k; ++f) {
    context.throw_if_cancelled();
    std::vector<Eigen::Index> train, test;
    for (std::size_t i = 0; i < folds.size(); ++i) {
      if (folds[i] == f)
        test.push_back(static_cast<Eigen::Index>(i));
      else if (sample_weight.empty() || sample_weight[i] > 0.0)
        train.push_back(static_cast<Eigen::Index>(i));
    }
    if (test.empty()) continue;
    CORECLEAN_THROW_IF_NOT(!train.empty(), "cross-validation: fold {} leaves no training data", f);
    RowMatrixXf xtr(train.size(), x.cols()), xte(test.size(), x.cols());
    Labels ytr(train.size());
    std::vector<double> wtr;
    for (std::size_t r = 0; r < train.size(); ++r) {
      xtr.row(r) = x.row(train[r]);
      ytr[r] = y[train[r]];
      if (!sample_weight.empty()) wtr.push_back(sample_weight[train[r]]);
    }
    for (std::size_t r = 0; r < test.size(); ++r) xte.row(r) = x.row(test[r]);
    LogisticRegression model(params);
    model.fit(xtr, ytr, wtr, context);
    const RowMatrixXd p = model.predict_proba(xte);
    std::vector<int> column(model.classes().size());
    for (std::size_t j = 0; j < column.size(); ++j)
      column[j] = static_cast<int>(
          std::lower_bound(classes.begin(), classes.end(), model.classes()[j]) - classes.begin());
    for (std::size_t r = 0; r < test.size(); ++r)
      for (std::size_t j = 0; j < column.size(); ++j) proba(test[r], column[j]) = p(r, j);
    context.report_progress(f + 1, k, "cross-validation folds");
  }
  return proba;
}

}  // namespace coreclean::linear
