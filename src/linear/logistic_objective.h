#ifndef CORECLEAN_SRC_LINEAR_LOGISTIC_OBJECTIVE_H_
#define CORECLEAN_SRC_LINEAR_LOGISTIC_OBJECTIVE_H_

// Logistic objectives for Newton-CG (formulas in coreclean/linear/logistic_regression.h).
//
// Both share one structure: scores Z = X W + 1 bᵀ (n × m, m = 1 for binary, K for softmax),
// a separable loss L(Z) = Σ_i c_i ℓ(z_i, y_i) with c_i = C·s_i, and the penalty ½‖W‖² (+ ½‖b‖²
// when the intercept is regularised). Writing R = ∂L/∂Z:
//   ∇_W f = W + Xᵀ R,   ∇_b f = 1ᵀR (+ b)
//   ∇²f · (V, v_b) = (V + Xᵀ R', 1ᵀR' (+ v_b)),  R' = ∂²L/∂Z² applied to U = X V + 1 v_bᵀ
// so every Hessian-vector product costs two GEMMs (in float32 until the optimizer asks for full
// precision near the optimum), and the line search along S reuses the
// cached Z and one product X S: each trial step costs O(n m) (LIBLINEAR's cached line search).
//
// Optionally the objective works on centred data X̄ = X − 1μᵀ (column_offset μ), without copying
// X. With an unpenalised intercept this is an exact reparametrisation (b̄ = b + Wᵀμ) that
// removes the coupling between W and b which makes uncentred embeddings ill-conditioned
// (measured: 40× fewer Newton iterations with a constant feature offset).
//
// Summation. Every sum over rows (the loss, Xᵀ R and 1ᵀR of the gradient and of Hessian-vector
// products, the diagonal) is formed per summation group — up to four blocks of at most 4,096
// consecutive rows, never crossing a segment boundary (segment_starts) —, each group's partial
// sum in double, and the groups' partials are added one at a time in order (fold_parts). The
// bits therefore depend neither on the number of threads nor on how the rows are split between
// processes at segment boundaries: with a group of processes that hold consecutive runs of
// segments, the partials are added in that same order across them (Collective::ordered_sum),
// so every process takes exactly the Newton steps one process holding every row takes.
//
// Variables are packed as [vec(W) column by column (d × m, column k = class k); b (m, when
// fitting an intercept)].

#include "linear/newton_cg.h"

#include <coreclean/core/collective.h>
#include <coreclean/core/types.h>

#include <span>
#include <utility>
#include <vector>

namespace coreclean::linear {

/// Shared machinery of the binary and softmax objectives.
class LinearLossObjective : public SecondOrderObjective {
 public:
  /// x: n × d (not copied: must outlive the objective); c: n per-sample loss weights
  /// (C · sample weight); m: score columns; column_offset: μ (d) subtracted from every row, or
  /// empty for none; group: the processes whose rows make up the objective with these (null =
  /// this process alone; must outlive the objective); segment_starts: rows where a new
  /// summation group must start (see the file comment), e.g. where the rows of another
  /// process's share would begin.
  LinearLossObjective(MatrixRef x, Eigen::VectorXd c, int m, bool fit_intercept,
                      bool regularize_intercept, int threads,
                      Eigen::VectorXd column_offset = {}, const Collective* group = nullptr,
                      std::span<const Eigen::Index> segment_starts = {});

  [[nodiscard]] Eigen::Index dimension() const override;
  double value_and_gradient(const Eigen::VectorXd& w, Eigen::VectorXd& g) override;
  void hessian_vector(const Eigen::VectorXd& v, Eigen::VectorXd& hv) override;
  void hessian_diagonal(Eigen::VectorXd& diag) override;
  bool line_search(Eigen::VectorXd& w, const Eigen::VectorXd& s, const Eigen::VectorXd& g,
                   double f, double eta, double& f_new, double& alpha) override;
  void refine_hessian() override { exact_hessian_ = true; }

  /// f(w) without touching the cached state.
  double value(const Eigen::VectorXd& w);

 protected:
  /// row_loss_i = c_i ℓ(z_i) (n values); if r is non-null also writes R = ∂L/∂Z and prepares
  /// the curvature state.
  virtual void loss(const RowMatrixXd& z, RowMatrixXd* r, Eigen::VectorXd& row_loss) = 0;
  /// row_loss_i = c_i ℓ(z_i + α zs_i).
  virtual void loss_along(const RowMatrixXd& z, const RowMatrixXd& zs, double alpha,
                          Eigen::VectorXd& row_loss) const = 0;
  /// In place: u ← ∂²L/∂Z² · u at the point of the last loss(z, r) call.
  virtual void apply_curvature(RowMatrixXd& u) const = 0;
  /// Per-sample, per-column diagonal curvature h_ik (so diag H_{jk} = Σ_i x_ij² h_ik).
  virtual void curvature_diagonal(RowMatrixXd& h) const = 0;

  template <typename Scalar>
  using RowMatrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

  const MatrixRef x_;
  Eigen::VectorXd offset_;
  Eigen::VectorXd c_;
  int m_;
  bool fit_intercept_;
  bool regularize_intercept_;
  int threads_;
  const Collective* group_;

 private:
  struct Block {
    Eigen::Index start, rows;
  };
  std::vector<Block> blocks_;             // row blocks of at most kBlockRows, within segments
  std::vector<std::size_t> group_starts_;  // first block of each summation group, then the end

  // Threads for a loop over `blocks` row blocks: min(blocks, threads_), at least 1.
  [[nodiscard]] int block_threads(Eigen::Index blocks) const;
  // Rows [start, start + rows) of X̄ in Scalar precision.
  template <typename Scalar>
  void centered_block(Eigen::Index start, Eigen::Index rows, RowMatrix<Scalar>& block) const;
  // Z = X̄ W + 1 bᵀ for packed parameters p, with products in Scalar precision.
  template <typename Scalar>
  void forward(const Eigen::VectorXd& p, RowMatrixXd& z) const;
  // Per-group partials of the packed gradient-shaped output (X̄ᵀ R, 1ᵀR) from R, with products
  // in Scalar precision: one column per summation group, `extra` more rows left at zero.
  template <typename Scalar>
  void backward_parts(const RowMatrixXd& r, Eigen::Index extra, Eigen::MatrixXd& parts) const;
  // Writes each group's Σ of row_loss into row `row` of parts.
  void add_group_loss(const Eigen::VectorXd& row_loss, Eigen::Index row, Eigen::MatrixXd& parts) const;
  // The ordered sum of the columns of parts over this process's groups and the group's
  // processes (see the file comment).
  void reduce(const Eigen::MatrixXd& parts, Eigen::VectorXd& out) const;
  // The total loss Σ_i c_i ℓ(z_i + α zs_i) over every process's rows.
  double loss_total(const RowMatrixXd& z, const RowMatrixXd& zs, double alpha);
  // Z in double.
  void scores(const Eigen::VectorXd& p, RowMatrixXd& z) const;
  // ½‖W‖² (+ ½‖b‖²) for packed p, and the matching penalty part of a packed direction.
  double penalty(const Eigen::VectorXd& p) const;
  double penalty_dot(const Eigen::VectorXd& a, const Eigen::VectorXd& b) const;
  void add_penalty_gradient(const Eigen::VectorXd& p, Eigen::VectorXd& out) const;

  RowMatrixXd z_;          // scores at cached_w_
  RowMatrixXd zs_;         // line-search direction scores
  RowMatrixXd work_;       // R or U buffer
  Eigen::VectorXd row_loss_;  // per-row losses of the last evaluation
  bool exact_hessian_ = false;  // Hessian products in double (after refine_hessian())
  Eigen::VectorXd cached_w_;
};

/// The summation groups of n rows cut at segment_starts (see the file comment), as [begin, end)
/// row ranges in order.
std::vector<std::pair<Eigen::Index, Eigen::Index>> summation_groups(
    Eigen::Index n, std::span<const Eigen::Index> segment_starts);

/// Binary logistic loss: m = 1, labels y_i ∈ {−1, +1}.
class BinaryLogisticObjective final : public LinearLossObjective {
 public:
  BinaryLogisticObjective(MatrixRef x, std::vector<double> y_sign, Eigen::VectorXd c,
                          bool fit_intercept, bool regularize_intercept, int threads,
                          Eigen::VectorXd column_offset = {}, const Collective* group = nullptr,
                          std::span<const Eigen::Index> segment_starts = {});

 private:
  void loss(const RowMatrixXd& z, RowMatrixXd* r, Eigen::VectorXd& row_loss) override;
  void loss_along(const RowMatrixXd& z, const RowMatrixXd& zs, double alpha,
                  Eigen::VectorXd& row_loss) const override;
  void apply_curvature(RowMatrixXd& u) const override;
  void curvature_diagonal(RowMatrixXd& h) const override;

  std::vector<double> y_;
  Eigen::VectorXd d_;  // c_i σ_i (1 − σ_i)
};

/// Multinomial (softmax) loss: m = K, labels as class indices 0..K−1.
class SoftmaxObjective final : public LinearLossObjective {
 public:
  SoftmaxObjective(MatrixRef x, std::vector<int> y_index, int num_classes,
                   Eigen::VectorXd c, bool fit_intercept, bool regularize_intercept, int threads,
                   Eigen::VectorXd column_offset = {}, const Collective* group = nullptr,
                          std::span<const Eigen::Index> segment_starts = {});

 private:
  void loss(const RowMatrixXd& z, RowMatrixXd* r, Eigen::VectorXd& row_loss) override;
  void loss_along(const RowMatrixXd& z, const RowMatrixXd& zs, double alpha,
                  Eigen::VectorXd& row_loss) const override;
  void apply_curvature(RowMatrixXd& u) const override;
  void curvature_diagonal(RowMatrixXd& h) const override;

  std::vector<int> y_;
  RowMatrixXd p_;  // probabilities at the last loss() point
};

/// Numerically stable log(1 + exp(−t)).
double log1p_exp_neg(double t);

}  // namespace coreclean::linear

#endif  // CORECLEAN_SRC_LINEAR_LOGISTIC_OBJECTIVE_H_
