#include "linear/logistic_objective.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>


namespace coreclean::linear {
namespace {

// Rows widened to double at a time (products, X ⊙ X): bounds the temporary to a few MB.
constexpr Eigen::Index kBlockRows = 4096;
// Blocks per summation group (see backward()).
constexpr std::size_t kGroupBlocks = 4;
// Maximum step halvings in the line search (LIBLINEAR uses 20).
constexpr int kMaxLineSearchSteps = 20;
// Relative round-off allowance of the Armijo test (see line_search).
constexpr double kRoundOffSlack = 1e-13;

// Threads only pay off on large element-wise loops: on small ones, idle OpenMP workers spinning
// between regions starve OpenBLAS's own threads (measured: 500× slower on a 400 × 6 problem).
constexpr Eigen::Index kMinParallelElements = 1 << 16;
bool parallel_worthwhile(Eigen::Index elements) { return elements >= kMinParallelElements; }

// out += Σ of rows [start, start + rows) of a, one row after another: a vectorised column sum
// adds in an order that depends on where the rows sit in memory, this one does not.
template <typename Out>
void add_rows(const RowMatrixXd& a, Eigen::Index start, Eigen::Index rows, Out&& out) {
  for (Eigen::Index i = start; i < start + rows; ++i) out += a.row(i).transpose();
}

}  // namespace

int LinearLossObjective::block_threads(Eigen::Index blocks) const {
  return static_cast<int>(std::clamp<Eigen::Index>(blocks, 1, threads_));
}

namespace {

}  // namespace

double log1p_exp_neg(double t) {
  // log(1 + e^{−t}) = −t + log(1 + e^{t}) for t < 0 avoids overflow of e^{−t}.
  return t >= 0.0 ? std::log1p(std::exp(-t)) : -t + std::log1p(std::exp(t));
}

// ---- LinearLossObjective -------------------------------------------------------------------

LinearLossObjective::LinearLossObjective(MatrixRef x, Eigen::VectorXd c, int m,
                                         bool fit_intercept, bool regularize_intercept,
                                         int threads, Eigen::VectorXd column_offset,
                                         const Collective* group,
                                         std::span<const Eigen::Index> segment_starts)
    : x_(x),
      offset_(std::move(column_offset)),
      c_(std::move(c)),
      m_(m),
      fit_intercept_(fit_intercept),
      regularize_intercept_(regularize_intercept),
      threads_(std::max(threads, 1)),
      group_(group != nullptr && group->size() > 1 ? group : nullptr) {
  for (const auto& [begin, end] : summation_groups(x_.rows(), segment_starts)) {
    group_starts_.push_back(blocks_.size());
    for (Eigen::Index b = begin; b < end; b += kBlockRows) blocks_.push_back({b, std::min(kBlockRows, end - b)});
  }
  group_starts_.push_back(blocks_.size());
}

std::vector<std::pair<Eigen::Index, Eigen::Index>> summation_groups(
    Eigen::Index n, std::span<const Eigen::Index> segment_starts) {
  // Groups of at most kGroupBlocks blocks of kBlockRows rows, each within one segment.
  std::vector<Eigen::Index> starts(segment_starts.begin(), segment_starts.end());
  starts.push_back(0);
  starts.push_back(n);
  std::sort(starts.begin(), starts.end());
  starts.erase(std::unique(starts.begin(), starts.end()), starts.end());
  std::vector<std::pair<Eigen::Index, Eigen::Index>> groups;
  const Eigen::Index group_rows = kBlockRows * static_cast<Eigen::Index>(kGroupBlocks);
  for (std::size_t q = 0; q + 1 < starts.size(); ++q) {
    const Eigen::Index begin = std::max<Eigen::Index>(starts[q], 0), end = std::min(starts[q + 1], n);
    for (Eigen::Index g = begin; g < end; g += group_rows) groups.emplace_back(g, std::min(end, g + group_rows));
  }
  return groups;
}

void LinearLossObjective::reduce(const Eigen::MatrixXd& parts, Eigen::VectorXd& out) const {
  out.resize(parts.rows());
  const std::span<const double> all(parts.data(), static_cast<std::size_t>(parts.size()));
  const std::span<double> sum(out.data(), static_cast<std::size_t>(out.size()));
  if (group_ != nullptr) {
    group_->ordered_sum(all, sum);
  } else {
    fold_parts(all, sum);
  }
}

void LinearLossObjective::add_group_loss(const Eigen::VectorXd& row_loss, Eigen::Index row,
                                         Eigen::MatrixXd& parts) const {
  for (std::size_t g = 0; g + 1 < group_starts_.size(); ++g) {
    double sum = 0.0;
    for (std::size_t b = group_starts_[g]; b < group_starts_[g + 1]; ++b)
      for (Eigen::Index i = blocks_[b].start; i < blocks_[b].start + blocks_[b].rows; ++i) sum += row_loss[i];
    parts(row, static_cast<Eigen::Index>(g)) = sum;
  }
}

double LinearLossObjective::loss_total(const RowMatrixXd& z, const RowMatrixXd& zs, double alpha) {
  loss_along(z, zs, alpha, row_loss_);
  Eigen::MatrixXd parts(1, static_cast<Eigen::Index>(group_starts_.size()) - 1);
  add_group_loss(row_loss_, 0, parts);
  Eigen::VectorXd total;
  reduce(parts, total);
  return total[0];
}

Eigen::Index LinearLossObjective::dimension() const {
  return x_.cols() * m_ + (fit_intercept_ ? m_ : 0);
}

template <typename Scalar>
void LinearLossObjective::centered_block(Eigen::Index start, Eigen::Index rows,
                                         RowMatrix<Scalar>& block) const {
  block = x_.middleRows(start, rows).template cast<Scalar>();
  if (offset_.size() > 0) block.rowwise() -= offset_.transpose().template cast<Scalar>();
}

template <typename Scalar>
void LinearLossObjective::forward(const Eigen::VectorXd& p, RowMatrixXd& z) const {
  // Row blocks bound the temporaries (the widened or centred copy of X) to a few MB.
  const Eigen::Index n = x_.rows(), d = x_.cols();
  const Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> w =
      Eigen::Map<const Eigen::MatrixXd>(p.data(), d, m_).template cast<Scalar>();
  z.resize(n, m_);
  // Blocks are independent (each writes its own rows of Z): one thread per run of blocks, each
  // with its own buffer and a single-threaded BLAS call per block.
  const auto blocks = static_cast<Eigen::Index>(blocks_.size());
#pragma omp parallel num_threads(block_threads(blocks)) if (parallel_worthwhile(n * d))
  {
    RowMatrix<Scalar> block;
#pragma omp for schedule(static)
    for (Eigen::Index b = 0; b < blocks; ++b) {
      const auto [start, rows] = blocks_[static_cast<std::size_t>(b)];
      if constexpr (std::is_same_v<Scalar, double>) {
        centered_block(start, rows, block);
        z.middleRows(start, rows).noalias() = block * w;
      } else if (offset_.size() == 0) {  // X itself, no copy
        z.middleRows(start, rows) = (x_.middleRows(start, rows) * w).template cast<double>();
      } else {
        centered_block(start, rows, block);
        z.middleRows(start, rows) = (block * w).template cast<double>();
      }
    }
  }
  if (fit_intercept_) z.rowwise() += p.tail(m_).transpose();
}

template <typename Scalar>
void LinearLossObjective::backward_parts(const RowMatrixXd& r, Eigen::Index extra,
                                         Eigen::MatrixXd& parts) const {
  const Eigen::Index n = x_.rows(), d = x_.cols();
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  // Per group: Σ over its blocks of X̄_bᵀ R_b, each product in Scalar precision and widened to
  // double, and 1ᵀR_b (the file comment says why the bits then depend on neither threads nor
  // processes).
  const auto groups = static_cast<Eigen::Index>(group_starts_.size()) - 1;
  parts.setZero(dimension() + extra, groups);
  const int threads = parallel_worthwhile(n * d) ? block_threads(groups) : 1;
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    RowMatrix<Scalar> block;
    Matrix product(d, m_);
#pragma omp for schedule(static)
    for (Eigen::Index g = 0; g < groups; ++g) {
      Eigen::Map<Eigen::MatrixXd> sum(parts.col(g).data(), d, m_);
      const std::size_t first = group_starts_[static_cast<std::size_t>(g)];
      const std::size_t last = group_starts_[static_cast<std::size_t>(g) + 1];
      for (std::size_t b = first; b < last; ++b) {
        const auto [start, rows] = blocks_[b];
        if constexpr (std::is_same_v<Scalar, double>) {
          centered_block(start, rows, block);
          product.noalias() = block.transpose() * r.middleRows(start, rows);
        } else if (offset_.size() == 0) {  // X itself, no copy
          const RowMatrix<Scalar> rs = r.middleRows(start, rows).template cast<Scalar>();
          product.noalias() = x_.middleRows(start, rows).transpose() * rs;
        } else {
          centered_block(start, rows, block);
          product.noalias() = block.transpose() * r.middleRows(start, rows).template cast<Scalar>();
        }
        sum += product.template cast<double>();
        if (fit_intercept_) add_rows(r, start, rows, parts.col(g).segment(d * m_, m_));
      }
    }
  }
}

void LinearLossObjective::scores(const Eigen::VectorXd& p, RowMatrixXd& z) const {
  // Double precision: the loss and gradient must resolve changes far below float32's epsilon.
  forward<double>(p, z);
}

double LinearLossObjective::penalty(const Eigen::VectorXd& p) const {
  return 0.5 * penalty_dot(p, p);
}

double LinearLossObjective::penalty_dot(const Eigen::VectorXd& a, const Eigen::VectorXd& b) const {
  const Eigen::Index nw = x_.cols() * m_;
  double s = a.head(nw).dot(b.head(nw));
  if (fit_intercept_ && regularize_intercept_) s += a.tail(m_).dot(b.tail(m_));
  return s;
}

void LinearLossObjective::add_penalty_gradient(const Eigen::VectorXd& p,
                                               Eigen::VectorXd& out) const {
  const Eigen::Index nw = x_.cols() * m_;
  out.head(nw) += p.head(nw);
  if (fit_intercept_ && regularize_intercept_) out.tail(m_) += p.tail(m_);
}

double LinearLossObjective::value(const Eigen::VectorXd& w) {
  RowMatrixXd z;
  scores(w, z);
  return penalty(w) + loss_total(z, RowMatrixXd::Zero(z.rows(), z.cols()), 0.0);
}

double LinearLossObjective::value_and_gradient(const Eigen::VectorXd& w, Eigen::VectorXd& g) {
  // The line search leaves Z at the accepted point: reuse it instead of another GEMM.
  if (cached_w_.size() != w.size() || cached_w_ != w) {
    scores(w, z_);
    cached_w_ = w;
  }
  // One ordered sum for both: [X̄ᵀR; 1ᵀR; loss] per group.
  loss(z_, &work_, row_loss_);
  Eigen::MatrixXd parts;
  backward_parts<double>(work_, 1, parts);
  add_group_loss(row_loss_, dimension(), parts);
  Eigen::VectorXd total;
  reduce(parts, total);
  g = total.head(dimension());
  add_penalty_gradient(w, g);
  return penalty(w) + total[dimension()];
}

void LinearLossObjective::hessian_vector(const Eigen::VectorXd& v, Eigen::VectorXd& hv) {
  // Far from the optimum, Hessian-vector products only steer the conjugate-gradient direction,
  // so float32 GEMMs (twice the speed) suffice; the gradient stays in double. Near the optimum
  // the optimizer switches to double (refine_hessian()), because on ill-conditioned data
  // float32 curvature would stall the last digits.
  if (exact_hessian_) {
    forward<double>(v, work_);
  } else {
    forward<float>(v, work_);
  }
  apply_curvature(work_);
  Eigen::MatrixXd parts;
  if (exact_hessian_) {
    backward_parts<double>(work_, 0, parts);
  } else {
    backward_parts<float>(work_, 0, parts);
  }
  reduce(parts, hv);
  add_penalty_gradient(v, hv);
}

void LinearLossObjective::hessian_diagonal(Eigen::VectorXd& diag) {
  const Eigen::Index d = x_.cols();
  RowMatrixXd h;
  curvature_diagonal(h);
  // Per group: Σ (X̄_b ⊙ X̄_b)ᵀ H_b and 1ᵀH_b; then the ordered sum of the groups.
  Eigen::MatrixXd parts = Eigen::MatrixXd::Zero(dimension(), static_cast<Eigen::Index>(group_starts_.size()) - 1);
  RowMatrixXd squared;
  for (std::size_t g = 0; g + 1 < group_starts_.size(); ++g) {
    Eigen::Map<Eigen::MatrixXd> dw(parts.col(static_cast<Eigen::Index>(g)).data(), d, m_);
    for (std::size_t b = group_starts_[g]; b < group_starts_[g + 1]; ++b) {
      const auto [start, rows] = blocks_[b];
      centered_block(start, rows, squared);
      squared = squared.array().square();
      dw.noalias() += squared.transpose() * h.middleRows(start, rows);
      if (fit_intercept_) add_rows(h, start, rows, parts.col(static_cast<Eigen::Index>(g)).tail(m_));
    }
  }
  reduce(parts, diag);
  Eigen::VectorXd ones = Eigen::VectorXd::Ones(dimension());
  add_penalty_gradient(ones, diag);
}

bool LinearLossObjective::line_search(Eigen::VectorXd& w, const Eigen::VectorXd& s,
                                      const Eigen::VectorXd& g, double f, double eta,
                                      double& f_new, double& alpha) {
  if (cached_w_.size() != w.size() || cached_w_ != w) {
    scores(w, z_);
    cached_w_ = w;
  }
  scores(s, zs_);
  const double gs = g.dot(s);
  const double ww = penalty_dot(w, w), ws = penalty_dot(w, s), ss = penalty_dot(s, s);
  // Near the optimum the predicted decrease η·α·gᵀs falls below the round-off of f itself
  // (a sum of n terms); the slack keeps Armijo from rejecting good Newton steps there.
  const double slack = kRoundOffSlack * std::abs(f);
  alpha = 1.0;
  for (int step = 0; step < kMaxLineSearchSteps; ++step) {
    const double pen = 0.5 * (ww + 2.0 * alpha * ws + alpha * alpha * ss);
    f_new = pen + loss_total(z_, zs_, alpha);
    if (f_new - f <= eta * alpha * gs + slack) {
      w.noalias() += alpha * s;
      z_.noalias() += alpha * zs_;
      cached_w_ = w;
      return true;
    }
    alpha *= 0.5;
  }
  return false;
}

// ---- BinaryLogisticObjective ---------------------------------------------------------------

BinaryLogisticObjective::BinaryLogisticObjective(MatrixRef x,
                                                 std::vector<double> y_sign, Eigen::VectorXd c,
                                                 bool fit_intercept, bool regularize_intercept,
                                                 int threads, Eigen::VectorXd column_offset,
                                                 const Collective* group,
                                                 std::span<const Eigen::Index> segment_starts)
    : LinearLossObjective(x, std::move(c), 1, fit_intercept, regularize_intercept, threads,
                          std::move(column_offset), group, segment_starts),
      y_(std::move(y_sign)),
      d_(x.rows()) {}

void BinaryLogisticObjective::loss(const RowMatrixXd& z, RowMatrixXd* r, Eigen::VectorXd& row_loss) {
  const Eigen::Index n = z.rows();
  if (r != nullptr) r->resize(n, 1);
  row_loss.resize(n);
#pragma omp parallel for num_threads(threads_) schedule(static) \
    if (parallel_worthwhile(z.rows() * z.cols()))
  for (Eigen::Index i = 0; i < n; ++i) {
    const double yz = y_[i] * z(i, 0);
    row_loss[i] = c_[i] * log1p_exp_neg(yz);
    if (r != nullptr) {
      const double sigma = 1.0 / (1.0 + std::exp(-yz));  // σ(y z)
      (*r)(i, 0) = c_[i] * (sigma - 1.0) * y_[i];
      d_[i] = c_[i] * sigma * (1.0 - sigma);
    }
  }
}

void BinaryLogisticObjective::loss_along(const RowMatrixXd& z, const RowMatrixXd& zs,
                                         double alpha, Eigen::VectorXd& row_loss) const {
  const Eigen::Index n = z.rows();
  row_loss.resize(n);
#pragma omp parallel for num_threads(threads_) schedule(static) \
    if (parallel_worthwhile(z.rows() * z.cols()))
  for (Eigen::Index i = 0; i < n; ++i) row_loss[i] = c_[i] * log1p_exp_neg(y_[i] * (z(i, 0) + alpha * zs(i, 0)));
}

void BinaryLogisticObjective::apply_curvature(RowMatrixXd& u) const {
  u.col(0).array() *= d_.array();
}

void BinaryLogisticObjective::curvature_diagonal(RowMatrixXd& h) const { h = d_; }

// ---- SoftmaxObjective ----------------------------------------------------------------------

SoftmaxObjective::SoftmaxObjective(MatrixRef x, std::vector<int> y_index,
                                   int num_classes, Eigen::VectorXd c, bool fit_intercept,
                                   bool regularize_intercept, int threads,
                                   Eigen::VectorXd column_offset, const Collective* group,
                                   std::span<const Eigen::Index> segment_starts)
    : LinearLossObjective(x, std::move(c), num_classes, fit_intercept, regularize_intercept,
                          threads, std::move(column_offset), group, segment_starts),
      y_(std::move(y_index)) {}

void SoftmaxObjective::loss(const RowMatrixXd& z, RowMatrixXd* r, Eigen::VectorXd& row_loss) {
  const Eigen::Index n = z.rows(), k = z.cols();
  if (r != nullptr) {
    r->resize(n, k);
    p_.resize(n, k);
  }
  row_loss.resize(n);
#pragma omp parallel for num_threads(threads_) schedule(static) \
    if (parallel_worthwhile(z.rows() * z.cols()))
  for (Eigen::Index i = 0; i < n; ++i) {
    // log-sum-exp with the row maximum subtracted, so exp never overflows.
    const double zmax = z.row(i).maxCoeff();
    double sum = 0.0;
    for (Eigen::Index j = 0; j < k; ++j) sum += std::exp(z(i, j) - zmax);
    const double lse = zmax + std::log(sum);
    row_loss[i] = c_[i] * (lse - z(i, y_[i]));
    if (r != nullptr) {
      for (Eigen::Index j = 0; j < k; ++j) {
        const double p = std::exp(z(i, j) - lse);
        p_(i, j) = p;
        (*r)(i, j) = c_[i] * p;
      }
      (*r)(i, y_[i]) -= c_[i];
    }
  }
}

void SoftmaxObjective::loss_along(const RowMatrixXd& z, const RowMatrixXd& zs, double alpha,
                                  Eigen::VectorXd& row_loss) const {
  const Eigen::Index n = z.rows(), k = z.cols();
  row_loss.resize(n);
#pragma omp parallel for num_threads(threads_) schedule(static) \
    if (parallel_worthwhile(z.rows() * z.cols()))
  for (Eigen::Index i = 0; i < n; ++i) {
    double zmax = -std::numeric_limits<double>::infinity();
    for (Eigen::Index j = 0; j < k; ++j) zmax = std::max(zmax, z(i, j) + alpha * zs(i, j));
    double sum = 0.0;
    for (Eigen::Index j = 0; j < k; ++j) sum += std::exp(z(i, j) + alpha * zs(i, j) - zmax);
    row_loss[i] = c_[i] * (zmax + std::log(sum) - (z(i, y_[i]) + alpha * zs(i, y_[i])));
  }
}

void SoftmaxObjective::apply_curvature(RowMatrixXd& u) const {
  // ∂²ℓ/∂z² = diag(p) − p pᵀ, so (∂²ℓ/∂z²) u = p ⊙ (u − (pᵀu) 1).
  const Eigen::Index n = u.rows();
#pragma omp parallel for num_threads(threads_) schedule(static) \
    if (parallel_worthwhile(u.rows() * u.cols()))
  for (Eigen::Index i = 0; i < n; ++i) {
    const double pu = p_.row(i).dot(u.row(i));
    u.row(i) = c_[i] * p_.row(i).array() * (u.row(i).array() - pu);
  }
}

void SoftmaxObjective::curvature_diagonal(RowMatrixXd& h) const {
  h = (p_.array() * (1.0 - p_.array())).colwise() * c_.array();
}

}  // namespace coreclean::linear
