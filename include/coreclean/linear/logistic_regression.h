#ifndef CORECLEAN_LINEAR_LOGISTIC_REGRESSION_H_
#define CORECLEAN_LINEAR_LOGISTIC_REGRESSION_H_

/// @file
/// L2-regularised logistic regression, binary and multinomial (softmax), with sample weights and
/// balanced class weights, solved by a truncated Newton method (Newton-CG).
///
/// Minimises, with s_i = sample_weight_i · class_weight(y_i):
///   binary (2 classes, y_i ∈ {−1, +1}):
///     f(w, b) = ½‖w‖² + C Σ_i s_i log(1 + exp(−y_i (x_iᵀw + b)))
///   multinomial (K ≥ 3 classes, W ∈ ℝ^{d×K}, b ∈ ℝ^K):
///     f(W, b) = ½‖W‖²_F + C Σ_i s_i [logsumexp(x_iᵀW + bᵀ) − (x_iᵀW + bᵀ)_{y_i}]
/// The intercept b is not penalised unless `regularize_intercept` is set (then ½‖b‖² is added,
/// LIBLINEAR's convention with bias feature 1). The parametrisation by C is scikit-learn's and
/// LIBLINEAR's, so objective values compare 1:1 with both.
///
/// Solver: C.-J. Lin, R. C. Weng, S. S. Keerthi, "Trust region Newton method for large-scale
/// logistic regression", JMLR 2008, in the line-search form of L. Galli, C.-J. Lin, "A study on
/// truncated Newton methods for linear classification", IEEE TNNLS 2021 (LIBLINEAR ≥ 2.40).

#include <coreclean/core/collective.h>
#include <coreclean/core/context.h>
#include <coreclean/core/types.h>

#include <span>
#include <vector>

namespace coreclean::linear {

/// How per-class weights are derived.
enum class ClassWeight {
  kNone,      ///< every class weighs 1
  kBalanced,  ///< class k weighs n / (K · n_k), as scikit-learn's class_weight="balanced"
};

/// How more than two classes are handled.
enum class MultiClass {
  kMultinomial,  ///< one softmax model (default: calibrated joint probabilities)
  kOneVsRest,    ///< K independent binary models, probabilities renormalised (LIBLINEAR parity)
};

/// Parameters of LogisticRegression. Plain data; call validate() before use.
struct LogisticRegressionParams {
  /// Inverse regularisation strength (> 0): larger C fits the data more closely.
  double c = 1.0;
  /// Fit an intercept b.
  bool fit_intercept = true;
  /// Penalise the intercept like the weights (LIBLINEAR); scikit-learn does not.
  bool regularize_intercept = false;
  /// Class weighting, multiplied into the sample weights.
  ClassWeight class_weight = ClassWeight::kNone;
  /// Strategy for K ≥ 3 classes.
  MultiClass multi_class = MultiClass::kMultinomial;
  /// Stop when ‖∇f(w)‖ ≤ tol · ‖∇f(0)‖ (for binary problems tol is further scaled by
  /// max(min(n₊, n₋), 1) / n, as LIBLINEAR does).
  double tol = 1e-4;
  /// Maximum number of Newton iterations.
  int max_iter = 100;
  /// Maximum conjugate-gradient steps per Newton iteration.
  int max_cg_iter = 250;
  /// Start from the current coefficients when refitting with the same classes and width.
  bool warm_start = false;

  /// Throws InvalidArgument naming the first bad field and its value.
  void validate() const;
};

/// What happened during a fit. Non-convergence is reported here (and logged), not thrown.
struct FitReport {
  bool converged = false;       ///< the gradient criterion was met
  int iterations = 0;           ///< Newton iterations (summed over models for one-vs-rest)
  int cg_iterations = 0;        ///< conjugate-gradient steps in total
  double gradient_ratio = 0.0;  ///< final ‖∇f‖ / ‖∇f(0)‖ (largest over one-vs-rest models)
  double objective = 0.0;       ///< final f (summed over one-vs-rest models)
};

/// A logistic-regression classifier. Construct with parameters, then fit(), then predict.
///
/// Thread safety: the prediction functions are const and may run concurrently on one model;
/// fit() and set_model() need exclusive access.
class LogisticRegression {
 public:
  explicit LogisticRegression(LogisticRegressionParams params = {});

  /// Fits the model.
  /// @param x  n × d samples (not retained).
  /// @param y  n labels; at least two distinct values.
  /// @param sample_weight  n non-negative weights, or empty for all ones.
  /// @param context  receives a warning when the solver does not converge.
  FitReport fit(MatrixRef x, std::span<const Label> y, std::span<const double> sample_weight = {},
                const Context& context = Context());
  /// fit() over rows spread across the processes of `group`: each process passes its own rows
  /// (any number, none included) and the classes of all rows together (sorted, distinct, at
  /// least two; every label of y among them). The solver's sums (weighted mean, loss, gradient,
  /// Hessian-vector products, diagonal) are reduced over the group at every step, so every
  /// process gets the same model. Collective: every process calls it with the same parameters
  /// and classes.
  ///
  /// The sums run over groups of row blocks that never span a segment boundary
  /// (`segment_starts`: the rows where segments begin), each group's partial in double, the
  /// partials added one at a time in order (Collective::ordered_sum). Callers that cut the same
  /// rows into the same segments — one process holding them all, or several processes holding
  /// consecutive runs of whole segments, with any number of threads — get the very same bits.
  FitReport fit(MatrixRef x, std::span<const Label> y, std::span<const double> sample_weight,
                const Labels& classes, const Collective& group, const Context& context = Context(),
                std::span<const Eigen::Index> segment_starts = {});

  /// Raw scores: n × 1 for a binary model (the score of classes()[1]), n × K otherwise.
  [[nodiscard]] RowMatrixXd decision_function(MatrixRef x) const;
  /// Class probabilities, n × K, columns in the order of classes().
  [[nodiscard]] RowMatrixXd predict_proba(MatrixRef x) const;
  /// The most probable class of each sample.
  [[nodiscard]] Labels predict(MatrixRef x) const;

  /// Sorted distinct labels seen by fit().
  [[nodiscard]] const Labels& classes() const { return classes_; }
  /// Weights: 1 × d for a binary model, K × d otherwise (row k belongs to classes()[k]).
  [[nodiscard]] const RowMatrixXd& coef() const { return coef_; }
  /// Intercepts, one per row of coef(); zeros when fit_intercept is false.
  [[nodiscard]] const Eigen::VectorXd& intercept() const { return intercept_; }
  [[nodiscard]] const LogisticRegressionParams& params() const { return params_; }
  [[nodiscard]] bool is_fitted() const { return !classes_.empty(); }

  /// Restores a fitted model (e.g. from a file). coef: 1 × d (2 classes) or K × d.
  void set_model(Labels classes, RowMatrixXd coef, Eigen::VectorXd intercept);

 private:
  LogisticRegressionParams params_;
  Labels classes_;
  RowMatrixXd coef_;
  Eigen::VectorXd intercept_;
};

/// The objective f above evaluated at a given model on (x, y, weights), with the model's own
/// parameters; used to compare solvers and oracles on equal terms.
double logistic_objective_value(const LogisticRegression& model, MatrixRef x,
                                std::span<const Label> y,
                                std::span<const double> sample_weight = {});

/// Per-sample weights s_i = sample_weight_i · class_weight(y_i) as fit() uses them.
std::vector<double> effective_sample_weights(const LogisticRegressionParams& params,
                                             std::span<const Label> y,
                                             std::span<const double> sample_weight);

/// Out-of-fold class probabilities: for each fold f, a model with `params` is fitted on the
/// samples whose fold differs from f and predicts those in f.
/// @param folds  n fold indices in [0, k) (e.g. from stratified_kfold).
/// @param sample_weight  n non-negative training weights, or empty for all ones. A sample of
///         weight 0 is left out of every training fold (it is still predicted in its own fold):
///         e.g. weights that are 0 outside a subset train on that subset only.
/// @return n × K, columns in the order of the sorted distinct labels of y. A class missing from
///         a training fold gets probability 0 there.
RowMatrixXd cross_val_predict_proba(const LogisticRegressionParams& params, MatrixRef x,
                                    std::span<const Label> y, std::span<const int> folds,
                                    std::span<const double> sample_weight = {},
                                    const Context& context = Context());

}  // namespace coreclean::linear

#endif  // CORECLEAN_LINEAR_LOGISTIC_REGRESSION_H_
