#include <coreclean/linear/pca.h>

#include "core/check.h"
#include "core/parallel.h"
#include "linear/symmetric_eigen.h"

#include <Eigen/Cholesky>     // for LLT
#include <Eigen/QR>           // for HouseholderQR
#include <Eigen/SVD>          // for BDCSVD
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace coreclean::linear {
namespace {

// Rows converted to double at a time when accumulating the covariance.
constexpr Eigen::Index kBlockRows = 4096;
// Above this width the exact solver's d × d eigenproblem is too costly.
constexpr Eigen::Index kMaxExactWidth = 4096;

// Flips each row's sign so that its entry of largest magnitude is positive.
void fix_signs(RowMatrixXd& components) {
  for (Eigen::Index r = 0; r < components.rows(); ++r) {
    Eigen::Index j = 0;
    components.row(r).cwiseAbs().maxCoeff(&j);
    if (components(r, j) < 0.0) components.row(r) *= -1.0;
  }
}

// Row blocks of the products with X and of the Gram matrices of tall matrices, and column blocks
// of Xᵀ Y. Fixed sizes, not one block per thread: the bits do not depend on the thread count, and
// blocks small enough that two threads share the work evenly at n ≈ 12,000.
constexpr Eigen::Index kProductRows = 1024;
constexpr Eigen::Index kProductColumns = 128;
// Blocks whose partial Gram matrices are computed at a time (and held until added).
constexpr Eigen::Index kGramWave = 16;

// AᵀA of a tall n × l matrix: per block of rows in parallel, a wave of kGramWave blocks at a
// time, the blocks' parts added in block order (only a wave's l × l parts are held).
Eigen::MatrixXd tall_gram(const Eigen::MatrixXd& a, const Context& context) {
  const Eigen::Index blocks = (a.rows() + kProductRows - 1) / kProductRows;
  const Eigen::Index wave = std::min(kGramWave, blocks);
  std::vector<Eigen::MatrixXd> part(static_cast<std::size_t>(wave));
  Eigen::MatrixXd gram = Eigen::MatrixXd::Zero(a.cols(), a.cols());
  for (Eigen::Index first = 0; first < blocks; first += wave) {
    const Eigen::Index count = std::min(wave, blocks - first);
    detail::parallel_blocks(count, context, "", [&](Eigen::Index b) {
      const Eigen::Index start = (first + b) * kProductRows;
      const Eigen::Index rows = std::min(kProductRows, a.rows() - start);
      Eigen::MatrixXd& g = part[static_cast<std::size_t>(b)];
      g.setZero(a.cols(), a.cols());
      g.selfadjointView<Eigen::Lower>().rankUpdate(a.middleRows(start, rows).transpose());
    });
    for (Eigen::Index b = 0; b < count; ++b) gram += part[static_cast<std::size_t>(b)];
  }
  return gram.selfadjointView<Eigen::Lower>();
}

// A ← A R⁻¹ for the Cholesky factor R = Lᵀ of `llt`, per block of rows in parallel.
void solve_right(const Eigen::LLT<Eigen::MatrixXd>& llt, Eigen::MatrixXd& a, const Context& context) {
  const Eigen::Index blocks = (a.rows() + kProductRows - 1) / kProductRows;
  detail::parallel_blocks(blocks, context, "", [&](Eigen::Index b) {
    const Eigen::Index start = b * kProductRows, rows = std::min(kProductRows, a.rows() - start);
    Eigen::MatrixXd block = a.middleRows(start, rows);
    llt.matrixU().solveInPlace<Eigen::OnTheRight>(block);
    a.middleRows(start, rows) = block;
  });
}

// Whether the Cholesky factorisation of a Gram matrix AᵀA succeeded and (min/max of R's
// diagonal)² exceeds `min_ratio_squared`. A R⁻¹ loses orthogonality as ε κ(A)², and the spread
// of R's diagonal bounds κ(A) from below only: on real embeddings (n × 266 random projections of
// CNN features) its square was ~1,000 times below κ(A)²'s inverse. So 1e-4 stands for κ(A)² up
// to ~1e7 (A R⁻¹ orthonormal to ~1e-9), 1e-12 for κ(A) up to ~1e8 (what CholeskyQR2's second
// pass repairs).
bool well_conditioned(const Eigen::LLT<Eigen::MatrixXd>& llt, double min_ratio_squared) {
  if (llt.info() != Eigen::Success) return false;
  const Eigen::VectorXd diagonal = llt.matrixLLT().diagonal();
  const double ratio = diagonal.minCoeff() / diagonal.maxCoeff();
  return std::isfinite(ratio) && ratio * ratio > min_ratio_squared;
}

// Orthonormal basis of the columns of a (n × l, n ≥ l), in place. CholeskyQR2 (Fukaya et al.,
// 2014): Q = A R⁻¹ with RᵀR = AᵀA, done twice for accuracy; it is all BLAS-3 (a Gram matrix and
// a triangular solve), several times faster than Householder QR on tall matrices. Householder
// instead when A is too ill-conditioned for it (CholeskyQR2 loses orthogonality beyond
// κ(A) ≈ 1e8, and a tiny positive pivot does not make LLT fail): data of lower rank than l.
void orthonormalize(Eigen::MatrixXd& a, const Context& context) {
  for (int pass = 0; pass < 2; ++pass) {
    const Eigen::LLT<Eigen::MatrixXd> llt(tall_gram(a, context));
    if (!well_conditioned(llt, 1e-12)) {
      Eigen::HouseholderQR<Eigen::MatrixXd> qr(a);
      a = qr.householderQ() * Eigen::MatrixXd::Identity(a.rows(), a.cols());
      return;
    }
    solve_right(llt, a, context);
  }
}

// PcaSolver::kAuto: scikit-learn's rule (PCA(svd_solver="auto")): the exact solver costs
// O(n d² + d³) however few components are wanted, the randomized one O(n d (k + p) q); the
// randomized solver is worth it when the matrix is large (max(n, d) > 500) and few components
// are wanted (k < 0.8 min(n, d)). Above kMaxExactWidth the exact solver cannot run at all.
PcaSolver auto_solver(Eigen::Index n, Eigen::Index d, Eigen::Index k) {
  if (d > kMaxExactWidth) return PcaSolver::kRandomized;
  const bool large = std::max(n, d) > 500;
  const bool few = static_cast<double>(k) < 0.8 * static_cast<double>(std::min(n, d));
  return large && few ? PcaSolver::kRandomized : PcaSolver::kFull;
}

}  // namespace

void PcaParams::validate() const {
  CORECLEAN_THROW_IF_NOT(n_components >= 1, "PCA: n_components = {} (must be >= 1)",
                         n_components);
  CORECLEAN_THROW_IF_NOT(oversamples >= 0, "PCA: oversamples = {} (must be >= 0)", oversamples);
  CORECLEAN_THROW_IF_NOT(power_iterations >= -1,
                         "PCA: power_iterations = {} (must be >= 0, or -1 for automatic)",
                         power_iterations);
}

Pca::Pca(PcaParams params) : params_(params) { params_.validate(); }

void Pca::fit(MatrixRef x, const Context& context) {
  const Eigen::Index n = x.rows(), d = x.cols();
  const Eigen::Index k = params_.n_components;
  CORECLEAN_THROW_IF_NOT(n >= 2 && d >= 1, "PCA: need at least 2 samples, got {} × {}", n, d);
  CORECLEAN_THROW_IF_NOT(k <= std::min(n, d),
                         "PCA: n_components = {} exceeds min(samples, features) = min({}, {})", k,
                         n, d);
  PcaSolver solver = params_.solver;
  if (solver == PcaSolver::kAuto) solver = auto_solver(n, d, k);
  CORECLEAN_THROW_IF_NOT(solver != PcaSolver::kFull || d <= kMaxExactWidth,
                         "PCA: the exact solver supports up to {} features, got {}; use the "
                         "randomized solver",
                         kMaxExactWidth, d);

  // Column means and total variance in one pass, accumulated in double: per block of rows (in
  // parallel), then in block order, so the bits do not depend on the number of threads. The
  // variance uses the rows' offsets from the first row, s = x − x₀ (shifted data):
  // Σ‖x − μ‖² = Σ‖s‖² − n‖μ − x₀‖², whose cancellation is that of the spread around x₀, not
  // around the origin.
  const Eigen::Index blocks = (n + kProductRows - 1) / kProductRows;
  auto block_rows = [&](Eigen::Index b) { return std::min(kProductRows, n - b * kProductRows); };
  RowMatrixXd block_sums(blocks, d);
  Eigen::VectorXd block_squares(blocks);
  const Eigen::RowVectorXd x0 = x.row(0).cast<double>();
  // Row by row: the rows are contiguous (a column-wise reduction would stride across them).
  auto block_stats = [&](Eigen::Index b) {
    Eigen::RowVectorXd sum = Eigen::RowVectorXd::Zero(d), row(d);
    double squares = 0.0;
    for (Eigen::Index i = b * kProductRows; i < b * kProductRows + block_rows(b); ++i) {
      row = x.row(i).cast<double>();
      sum += row;
      squares += (row - x0).squaredNorm();
    }
    block_sums.row(b) = sum;
    block_squares[b] = squares;
  };
  double total_variance = 0.0;
  auto finish_stats = [&] {
    mean_ = block_sums.colwise().sum().transpose() / static_cast<double>(n);
    total_variance = std::max(0.0, block_squares.sum() -
                                       static_cast<double>(n) * (mean_.transpose() - x0).squaredNorm()) /
                     static_cast<double>(n - 1);
  };

  Eigen::VectorXd variances(k);
  if (solver == PcaSolver::kFull) {
    detail::parallel_blocks(blocks, context, "", block_stats);
    finish_stats();
    // Covariance X̄ᵀX̄ = Σ_blocks B̄ᵀB̄, one block of rows at a time in double.
    Eigen::MatrixXd cov = Eigen::MatrixXd::Zero(d, d);
    Eigen::MatrixXd block;
    for (Eigen::Index start = 0; start < n; start += kBlockRows) {
      context.throw_if_cancelled();
      const Eigen::Index rows = std::min(kBlockRows, n - start);
      block = x.middleRows(start, rows).cast<double>();
      block.rowwise() -= mean_.transpose();
      cov.selfadjointView<Eigen::Lower>().rankUpdate(block.transpose());
    }
    cov = cov.selfadjointView<Eigen::Lower>();
    cov /= static_cast<double>(n - 1);
    Eigen::VectorXd values;
    Eigen::MatrixXd vectors;
    CORECLEAN_THROW_IF_NOT_AS(InternalError, symmetric_eigen(cov, values, vectors),
                              "PCA: the eigendecomposition of the {} × {} covariance failed", d, d);
    // Eigenvalues come in increasing order.
    components_.resize(k, d);
    for (Eigen::Index c = 0; c < k; ++c) {
      components_.row(c) = vectors.col(d - 1 - c).transpose();
      variances[c] = std::max(0.0, values[d - 1 - c]);
    }
  } else {
    const Eigen::Index l = std::min<Eigen::Index>(k + params_.oversamples, std::min(n, d));
    const int q = params_.power_iterations >= 0
                      ? params_.power_iterations
                      : (static_cast<double>(k) < 0.1 * static_cast<double>(std::min(n, d)) ? 7 : 4);
    // One engine per column (in parallel: drawing d · l normals took ~10 ms at 2048 × 266).
    Eigen::MatrixXd omega(d, l);
    detail::parallel_blocks(l, context, "", [&](Eigen::Index j) {
      std::mt19937_64 rng = context.rng(0x5ca1ab1e + static_cast<std::uint64_t>(j));
      std::normal_distribution<double> normal;
      for (Eigen::Index i = 0; i < d; ++i) omega(i, j) = normal(rng);
    });
    // Products with X̄ = X − 1μᵀ without forming X̄: X̄ Ω = X Ω − 1 (μᵀΩ), X̄ᵀ Y = XᵀY − μ (1ᵀY).
    // Large products run in float32 (the precision of the data), the rest in double.
    // Both run over fixed blocks in parallel (the same bits for any number of threads).
    auto times_x = [&](const Eigen::MatrixXd& right) {  // d × l → n × l
      const Eigen::MatrixXf rf = right.cast<float>();
      Eigen::MatrixXd out(n, right.cols());
      detail::parallel_blocks((n + kProductRows - 1) / kProductRows, context, "", [&](Eigen::Index b) {
        const Eigen::Index start = b * kProductRows, rows = std::min(kProductRows, n - start);
        out.middleRows(start, rows) = (x.middleRows(start, rows) * rf).cast<double>();
      });
      out.rowwise() -= (mean_.transpose() * right);
      return out;
    };
    // Per block of X's columns in parallel (no partial sums to keep): each adds its rows' parts
    // Xᵢᵀ Yᵢ in double, in row order.
    auto times_xt = [&](const Eigen::MatrixXd& left) {  // n × l → d × l
      const Eigen::MatrixXf lf = left.cast<float>();
      Eigen::MatrixXd out(d, left.cols());
      detail::parallel_blocks((d + kProductColumns - 1) / kProductColumns, context, "", [&](Eigen::Index c) {
        const Eigen::Index first = c * kProductColumns, cols = std::min(kProductColumns, d - first);
        Eigen::MatrixXd sum = Eigen::MatrixXd::Zero(cols, left.cols());
        Eigen::MatrixXf part(cols, left.cols());
        for (Eigen::Index start = 0; start < n; start += kBlockRows) {
          const Eigen::Index rows = std::min(kBlockRows, n - start);
          part.noalias() = x.block(start, first, rows, cols).transpose() * lf.middleRows(start, rows);
          sum += part.cast<double>();
        }
        out.middleRows(first, cols) = sum;
      });
      out -= mean_ * left.colwise().sum();
      return out;
    };
    // The first product X̄Ω block by block, with the mean and variance of the same block while it
    // is in cache: one pass over X for both.
    Eigen::MatrixXd y(n, l);
    {
      const Eigen::MatrixXf omega_f = omega.cast<float>();
      detail::parallel_blocks(blocks, context, "", [&](Eigen::Index b) {
        block_stats(b);
        y.middleRows(b * kProductRows, block_rows(b)) =
            (x.middleRows(b * kProductRows, block_rows(b)) * omega_f).cast<double>();
      });
      finish_stats();
      y.rowwise() -= (mean_.transpose() * omega);
    }
    for (int it = 0; it < q; ++it) {
      context.throw_if_cancelled();
      orthonormalize(y, context);
      Eigen::MatrixXd z = times_xt(y);
      orthonormalize(z, context);
      y = times_x(z);
    }
    // B = Qᵀ X̄ (l × d) for an orthonormal basis Q of Y's columns; its SVD gives the approximate
    // top singular triplets of X̄. Q = Y R⁻¹ with RᵀR = YᵀY is never formed: Bᵀ = X̄ᵀY R⁻¹, a
    // solve on d × l where orthonormalising Y would take two Gram matrices and two solves on
    // n × l (a quarter of the fit at 12k × 2048). When Y is ill-conditioned (data of rank below
    // l), Q is formed the careful way instead.
    Eigen::MatrixXd bt = times_xt(y);
    const Eigen::LLT<Eigen::MatrixXd> llt(tall_gram(y, context));
    if (well_conditioned(llt, 1e-4)) {
      solve_right(llt, bt, context);
    } else {
      orthonormalize(y, context);
      bt = times_xt(y);
    }
    // Through the l × l eigenproblem of B Bᵀ = U Σ² Uᵀ, V = Bᵀ U Σ⁻¹: a fifth of the time of
    // an SVD of the l × d matrix at 266 × 2048. Squaring costs digits only for singular values
    // far below the largest; when one of the k kept is (data of lower rank than k), the SVD.
    const Eigen::MatrixXd bbt = bt.transpose() * bt;
    Eigen::VectorXd sigma2s;
    Eigen::MatrixXd vectors;
    const bool solved = symmetric_eigen(bbt, sigma2s, vectors);
    const double top = solved ? sigma2s[l - 1] : 0.0;
    if (solved && top > 0.0 && sigma2s[l - k] > 1e-12 * top) {
      // V_k = Bᵀ U_k Σ_k⁻¹ (the top k eigenvectors, largest first), one product.
      Eigen::MatrixXd u(l, k);
      for (Eigen::Index c = 0; c < k; ++c) {
        const double sigma2 = sigma2s[l - 1 - c];
        u.col(c) = vectors.col(l - 1 - c) / std::sqrt(sigma2);
        variances[c] = sigma2 / static_cast<double>(n - 1);
      }
      // Orthonormal whether or not Q is to the last digit: VᵀV = Σ⁻¹Uᵀ (B Bᵀ) U Σ⁻¹ = I with
      // B Bᵀ formed from this very B.
      components_ = (bt * u).transpose();
    } else {
      Eigen::BDCSVD<Eigen::MatrixXd> svd(bt.transpose(), Eigen::ComputeThinV);
      components_ = svd.matrixV().leftCols(k).transpose();
      for (Eigen::Index c = 0; c < k; ++c)
        variances[c] = svd.singularValues()[c] * svd.singularValues()[c] / static_cast<double>(n - 1);
    }
  }
  fix_signs(components_);
  explained_variance_ = variances;
  variance_ratio_ = total_variance > 0.0 ? Eigen::VectorXd(variances / total_variance)
                                         : Eigen::VectorXd::Zero(k);
}

RowMatrixXf Pca::transform(MatrixRef x) const {
  CORECLEAN_THROW_IF_NOT(is_fitted(), "PCA: transform called before fit");
  CORECLEAN_THROW_IF_NOT(x.cols() == components_.cols(),
                         "PCA: x has {} columns but the PCA was fitted on {}", x.cols(),
                         components_.cols());
  // Centre a block of rows first, then project in float32 (the data's precision): centring
  // after the product would cancel digits when the mean is large against the spread.
  const RowMatrixXf vt = components_.transpose().cast<float>();
  const Eigen::RowVectorXf mu = mean_.transpose().cast<float>();
  RowMatrixXf out(x.rows(), components_.rows());
  RowMatrixXf block;
  for (Eigen::Index start = 0; start < x.rows(); start += kBlockRows) {
    const Eigen::Index rows = std::min(kBlockRows, x.rows() - start);
    block = x.middleRows(start, rows);
    block.rowwise() -= mu;
    out.middleRows(start, rows).noalias() = block * vt;
  }
  if (params_.whiten)
    out.array().rowwise() /= explained_variance_.transpose().array().sqrt().cast<float>().max(1e-12f);
  return out;
}

}  // namespace coreclean::linear
