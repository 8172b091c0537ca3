#ifndef CORECLEAN_LINEAR_PCA_H_
#define CORECLEAN_LINEAR_PCA_H_

/// @file
/// Principal component analysis: exact and randomized.
///
/// With μ the column means and X̄ = X − 1μᵀ (n × d), the components are the top right singular
/// vectors of X̄ (rows of components(), unit length), explained_variance_k = σ_k² / (n − 1).
///   exact: eigendecomposition of the covariance X̄ᵀX̄ / (n − 1), accumulated in double in
///     row blocks (one pass over the data, memory O(d²)); for d ≤ 4096.
///   randomized: N. Halko, P.-G. Martinsson, J. A. Tropp, "Finding structure with randomness",
///     SIAM Review 2011, Algorithm 4.4 (subspace iteration with re-orthonormalisation), with
///     k + oversamples random directions; memory O(n (k + oversamples)).
/// Signs are fixed so that the entry of largest magnitude of each component is positive, which
/// makes results reproducible across solvers.

#include <coreclean/core/context.h>
#include <coreclean/core/types.h>

namespace coreclean::linear {

/// Which PCA algorithm to run.
enum class PcaSolver {
  /// Randomized when the matrix is large and few components are wanted (max(n, d) > 500 and
  /// k < 0.8·min(n, d), scikit-learn's rule) or when d > 4096 (beyond the exact solver); else
  /// exact.
  kAuto,
  kFull,        ///< exact covariance eigendecomposition
  kRandomized,  ///< randomized subspace iteration
};

/// Parameters of Pca. Plain data; call validate() before use.
struct PcaParams {
  /// Number of components k, 1 ≤ k ≤ min(n, d).
  int n_components = 256;
  PcaSolver solver = PcaSolver::kAuto;
  /// Extra random directions of the randomized solver.
  int oversamples = 10;
  /// Subspace iterations of the randomized solver; −1 = 7 if k < 0.1·min(n, d) else 4
  /// (scikit-learn's rule).
  int power_iterations = -1;
  /// Scale transformed components to unit variance.
  bool whiten = false;

  /// Throws InvalidArgument naming the first bad field and its value.
  void validate() const;
};

/// A PCA projection, fitted once, applied with transform().
///
/// Thread safety: transform() and the accessors are const and may run concurrently; fit() needs
/// exclusive access.
class Pca {
 public:
  explicit Pca(PcaParams params = {});

  /// Fits on n × d samples (not retained); seeds the randomized solver from context.
  void fit(MatrixRef x, const Context& context = Context());
  /// Projects n × d samples onto the components: (x − μ) Vᵀ (/ √variance when whitening).
  [[nodiscard]] RowMatrixXf transform(MatrixRef x) const;

  /// k × d, orthonormal rows, by decreasing variance.
  [[nodiscard]] const RowMatrixXd& components() const { return components_; }
  /// d column means.
  [[nodiscard]] const Eigen::VectorXd& mean() const { return mean_; }
  /// k variances along the components (σ² / (n − 1)).
  [[nodiscard]] const Eigen::VectorXd& explained_variance() const { return explained_variance_; }
  /// k shares of the total variance.
  [[nodiscard]] const Eigen::VectorXd& explained_variance_ratio() const { return variance_ratio_; }
  [[nodiscard]] const PcaParams& params() const { return params_; }
  [[nodiscard]] bool is_fitted() const { return components_.rows() > 0; }

 private:
  PcaParams params_;
  RowMatrixXd components_;
  Eigen::VectorXd mean_;
  Eigen::VectorXd explained_variance_;
  Eigen::VectorXd variance_ratio_;
};

}  // namespace coreclean::linear

#endif  // CORECLEAN_LINEAR_PCA_H_
