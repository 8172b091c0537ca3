#include "coreset/view_fusion.h"

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace coreclean::coreset {
namespace {

// The views' logit contributions L_v (m × K each): F, log(p̂ + ε), log(v + ε); an empty matrix
// for a view the scores lack; a held-out row without a model contributes 0.
std::array<Eigen::MatrixXd, kViewCount> view_logits(const ViewScores& views) {
  std::array<Eigen::MatrixXd, kViewCount> l;
  l[0] = views.ridge;
  if (views.held_out.size() > 0) {
    l[1] = (views.held_out.array().max(0.0) + kViewFloor).log().matrix();
    for (Eigen::Index i = 0; i < views.held_out.rows(); ++i)
      if (views.held_out(i, 0) < 0.0) l[1].row(i).setZero();
  }
  if (views.votes.size() > 0) l[2] = (views.votes.array() + kViewFloor).log().matrix();
  return l;
}

Eigen::MatrixXd combine(const std::array<Eigen::MatrixXd, kViewCount>& l, const ViewWeights& alpha,
                        Eigen::Index m, Eigen::Index k) {
  Eigen::MatrixXd z = Eigen::MatrixXd::Zero(m, k);
  for (int v = 0; v < kViewCount; ++v)
    if (l[v].size() > 0 && alpha[v] != 0.0) z.noalias() += alpha[v] * l[v];
  return z;
}

// μ of the penalty ½ μ ‖α‖², μ = kWeightRidge · Σ w.
double ridge_of(std::span<const double> w) {
  return kWeightRidge * std::accumulate(w.begin(), w.end(), 0.0);
}

double loss_of(const std::array<Eigen::MatrixXd, kViewCount>& l, std::span<const int> y,
               std::span<const double> w, const ViewWeights& alpha, Eigen::Index m, Eigen::Index k) {
  const Eigen::MatrixXd z = combine(l, alpha, m, k);
  double loss = 0.0;
  for (Eigen::Index i = 0; i < m; ++i) {
    const double top = z.row(i).maxCoeff();
    loss += w[i] * (top + std::log((z.row(i).array() - top).exp().sum()) - z(i, y[i]));
  }
  double norm = 0.0;
  for (double a : alpha) norm += a * a;
  return loss + 0.5 * ridge_of(w) * norm;
}

}  // namespace

Eigen::MatrixXd pooled_logits(const ViewScores& views, const ViewWeights& alpha) {
  return combine(view_logits(views), alpha, views.ridge.rows(), views.ridge.cols());
}

double view_loss(const ViewScores& views, std::span<const int> y, std::span<const double> w,
                 const ViewWeights& alpha) {
  return loss_of(view_logits(views), y, w, alpha, views.ridge.rows(), views.ridge.cols());
}

namespace {

// Projected Newton from `alpha` on the penalised loss with weights w.
ViewWeights newton_fit(const std::array<Eigen::MatrixXd, kViewCount>& l, std::span<const int> y,
                       std::span<const double> w, ViewWeights alpha, Eigen::Index m, Eigen::Index k) {
  double loss = loss_of(l, y, w, alpha, m, k);
  for (int iter = 0; iter < 100; ++iter) {
    // Gradient Σ w (E_p[L_v] − L_v,y) and Hessian Σ w Cov_p(L_u, L_v) of the loss in α.
    const Eigen::MatrixXd z = combine(l, alpha, m, k);
    Eigen::Matrix<double, kViewCount, 1> g = Eigen::Matrix<double, kViewCount, 1>::Zero();
    Eigen::Matrix<double, kViewCount, kViewCount> h = Eigen::Matrix<double, kViewCount, kViewCount>::Zero();
    for (Eigen::Index i = 0; i < m; ++i) {
      Eigen::RowVectorXd p = (z.row(i).array() - z.row(i).maxCoeff()).exp().matrix();
      p /= p.sum();
      Eigen::Matrix<double, kViewCount, 1> mean = Eigen::Matrix<double, kViewCount, 1>::Zero();
      for (int v = 0; v < kViewCount; ++v)
        if (l[v].size() > 0) mean[v] = p.dot(l[v].row(i));
      for (int u = 0; u < kViewCount; ++u) {
        if (l[u].size() == 0) continue;
        g[u] += w[i] * (mean[u] - l[u](i, y[i]));
        for (int v = u; v < kViewCount; ++v) {
          if (l[v].size() == 0) continue;
          const double cov = (p.array() * l[u].row(i).array() * l[v].row(i).array()).sum() - mean[u] * mean[v];
          h(u, v) += w[i] * cov;
        }
      }
    }
    const double mu = ridge_of(w);
    for (int v = 0; v < kViewCount; ++v) {
      g[v] += mu * alpha[v];
      h(v, v) += mu;
    }
    h.triangularView<Eigen::StrictlyLower>() = h.transpose();
    // Free coordinates: present, and either positive or pushed up by the gradient.
    std::vector<int> free;
    for (int v = 0; v < kViewCount; ++v)
      if (l[v].size() > 0 && (alpha[v] > 0.0 || g[v] < 0.0)) free.push_back(v);
    if (free.empty()) break;
    const auto f = static_cast<Eigen::Index>(free.size());
    Eigen::MatrixXd hf(f, f);
    Eigen::VectorXd gf(f);
    for (Eigen::Index a = 0; a < f; ++a) {
      gf[a] = g[free[a]];
      for (Eigen::Index b = 0; b < f; ++b) hf(a, b) = h(free[a], free[b]);
    }
    // A tiny ridge keeps the step defined when two views are collinear on these rows.
    hf.diagonal().array() += 1e-9 * std::max(1.0, hf.diagonal().maxCoeff());
    const Eigen::VectorXd step = hf.ldlt().solve(gf);
    double t = 1.0, moved = 0.0;
    bool improved = false;
    for (int tries = 0; tries < 40; ++tries, t *= 0.5) {
      ViewWeights trial = alpha;
      for (Eigen::Index a = 0; a < f; ++a) trial[free[a]] = std::max(0.0, alpha[free[a]] - t * step[a]);
      const double trial_loss = loss_of(l, y, w, trial, m, k);
      if (trial_loss <= loss) {
        moved = 0.0;
        for (int v = 0; v < kViewCount; ++v) moved = std::max(moved, std::abs(trial[v] - alpha[v]));
        alpha = trial;
        improved = trial_loss < loss;
        loss = trial_loss;
        break;
      }
    }
    if (!improved || moved < 1e-12) break;  // to round-off: the result must not depend on the start
  }
  return alpha;
}

}  // namespace

ViewWeights fit_view_weights(const ViewScores& views, std::span<const int> y,
                             std::span<const double> w, int trim_rounds) {
  const auto l = view_logits(views);
  const Eigen::Index m = views.ridge.rows(), k = views.ridge.cols();
  ViewWeights alpha{};
  for (int v = 0; v < kViewCount; ++v) alpha[v] = l[v].size() > 0 ? 1.0 : 0.0;
  if (m == 0) return alpha;
  alpha = newton_fit(l, y, w, alpha, m, k);
  // Trimmed refits: the samples the current fusion finds least credible are left out, so that
  // the weights reward the views that are right about the credible labels.
  std::vector<double> trimmed(w.begin(), w.end());
  for (int round = 0; round < trim_rounds; ++round) {
    const Eigen::MatrixXd z = combine(l, alpha, m, k);
    std::vector<double> misfit(static_cast<std::size_t>(m));
    for (Eigen::Index i = 0; i < m; ++i) {
      const double top = z.row(i).maxCoeff();
      misfit[i] = 1.0 - std::exp(z(i, y[i]) - top) / (z.row(i).array() - top).exp().sum();
    }
    std::vector<double> order;
    for (Eigen::Index i = 0; i < m; ++i)
      if (w[i] > 0.0) order.push_back(misfit[i]);
    if (order.empty()) break;
    const auto cut = static_cast<std::ptrdiff_t>(std::floor((1.0 - kTrimShare) * static_cast<double>(order.size())));
    std::nth_element(order.begin(), order.begin() + std::min<std::ptrdiff_t>(cut, static_cast<std::ptrdiff_t>(order.size()) - 1), order.end());
    const double threshold = order[static_cast<std::size_t>(std::min<std::ptrdiff_t>(cut, static_cast<std::ptrdiff_t>(order.size()) - 1))];
    for (Eigen::Index i = 0; i < m; ++i) trimmed[i] = misfit[i] < threshold ? w[i] : 0.0;
    alpha = newton_fit(l, y, trimmed, alpha, m, k);
  }
  return alpha;
}

namespace {

double reviewed_objective(const std::array<Eigen::MatrixXd, kViewCount>& l, std::span<const int> y,
                          std::span<const std::uint8_t> no_class, const ViewWeights& prior,
                          const ViewWeights& alpha, Eigen::Index m, Eigen::Index k) {
  const Eigen::MatrixXd z = combine(l, alpha, m, k);
  double loss = 0.0;
  for (Eigen::Index i = 0; i < m; ++i) {
    const double top = z.row(i).maxCoeff();
    const double log_total = top + std::log((z.row(i).array() - top).exp().sum());
    const double log_p = z(i, y[i]) - log_total;
    // −log(1 − p) = −log1p(−exp(log p)), kept finite when p rounds to 1.
    loss += no_class[i] ? -std::log1p(-std::min(std::exp(log_p), 1.0 - 1e-12)) : -log_p;
  }
  double pull = 0.0;
  for (int v = 0; v < kViewCount; ++v) pull += (alpha[v] - prior[v]) * (alpha[v] - prior[v]);
  return loss + 0.5 * kReviewPrior * pull;
}

}  // namespace

double reviewed_loss(const ViewScores& views, std::span<const int> y,
                     std::span<const std::uint8_t> no_class, const ViewWeights& prior,
                     const ViewWeights& alpha) {
  return reviewed_objective(view_logits(views), y, no_class, prior, alpha, views.ridge.rows(),
                            views.ridge.cols());
}

ViewWeights fit_reviewed_weights(const ViewScores& views, std::span<const int> y,
                                 std::span<const std::uint8_t> no_class, const ViewWeights& prior) {
  const auto l = view_logits(views);
  const Eigen::Index m = views.ridge.rows(), k = views.ridge.cols();
  ViewWeights alpha = prior;
  if (m == 0) return alpha;
  std::vector<int> present;
  for (int v = 0; v < kViewCount; ++v)
    if (l[v].size() > 0) present.push_back(v);
  const auto f = [&](const ViewWeights& a) { return reviewed_objective(l, y, no_class, prior, a, m, k); };
  // Projected Newton steps; the gradient and Hessian by central differences (three weights, m
  // small: a few hundred objective evaluations in all).
  double loss = f(alpha);
  for (int iter = 0; iter < 100; ++iter) {
    const auto n = static_cast<Eigen::Index>(present.size());
    Eigen::VectorXd g(n);
    Eigen::MatrixXd h(n, n);
    const double e = 1e-4;
    for (Eigen::Index a = 0; a < n; ++a) {
      ViewWeights up = alpha, down = alpha;
      up[present[a]] += e;
      down[present[a]] -= e;
      g[a] = (f(up) - f(down)) / (2 * e);
      h(a, a) = (f(up) - 2 * loss + f(down)) / (e * e);
      for (Eigen::Index b = 0; b < a; ++b) {
        ViewWeights pp = alpha, pm = alpha, mp = alpha, mm = alpha;
        pp[present[a]] += e, pp[present[b]] += e;
        pm[present[a]] += e, pm[present[b]] -= e;
        mp[present[a]] -= e, mp[present[b]] += e;
        mm[present[a]] -= e, mm[present[b]] -= e;
        h(a, b) = h(b, a) = (f(pp) - f(pm) - f(mp) + f(mm)) / (4 * e * e);
      }
    }
    // −log(1 − p) is not convex in α: the Hessian's eigenvalues are raised to at least τ (the
    // prior's own curvature), so that the step always descends.
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(h);
    const Eigen::VectorXd lambda = eig.eigenvalues().cwiseMax(kReviewPrior);
    const Eigen::VectorXd step =
        eig.eigenvectors() * (eig.eigenvectors().transpose() * g).cwiseQuotient(lambda);
    double t = 1.0;
    bool improved = false;
    double moved = 0.0;
    for (int tries = 0; tries < 40; ++tries, t *= 0.5) {
      ViewWeights trial = alpha;
      for (Eigen::Index a = 0; a < n; ++a) trial[present[a]] = std::max(0.0, alpha[present[a]] - t * step[a]);
      const double trial_loss = f(trial);
      if (trial_loss < loss) {
        for (int v = 0; v < kViewCount; ++v) moved = std::max(moved, std::abs(trial[v] - alpha[v]));
        alpha = trial;
        loss = trial_loss;
        improved = true;
        break;
      }
    }
    if (!improved || moved < 1e-12) break;
  }
  return alpha;
}

}  // namespace coreclean::coreset
