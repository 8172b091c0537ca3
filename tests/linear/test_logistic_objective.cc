// Finite-difference and hand-computed checks of the logistic objectives.
#include "linear/logistic_objective.h"
#include "testing/data.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace coreclean::linear {
namespace {

Eigen::VectorXd random_vector(Eigen::Index n, std::uint64_t seed, double scale) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, scale);
  Eigen::VectorXd v(n);
  for (auto& e : v) e = normal(rng);
  return v;
}

// Central-difference gradient and Hessian-vector checks at a random point.
void expect_derivatives_match(LinearLossObjective& f, std::uint64_t seed) {
  const Eigen::Index n = f.dimension();
  const Eigen::VectorXd w = random_vector(n, seed, 0.3);
  const Eigen::VectorXd v = random_vector(n, seed + 1, 1.0);
  Eigen::VectorXd g(n), hv(n), g_plus(n), g_minus(n);
  f.value_and_gradient(w, g);
  f.hessian_vector(v, hv);
  const double h = 1e-6;
  // Directional derivative of f along v equals gᵀv.
  const double fd = (f.value(w + h * v) - f.value(w - h * v)) / (2 * h);
  EXPECT_NEAR(fd, g.dot(v), 1e-6 * std::max(1.0, std::abs(fd)));
  // Directional derivative of the gradient along v equals Hv (computed in float32: 1e-5).
  f.value_and_gradient(w + h * v, g_plus);
  f.value_and_gradient(w - h * v, g_minus);
  const Eigen::VectorXd fd_hv = (g_plus - g_minus) / (2 * h);
  EXPECT_LE((fd_hv - hv).norm(), 1e-5 * std::max(1.0, hv.norm()));
  // The diagonal equals eᵢᵀHeᵢ for a few coordinates.
  f.value_and_gradient(w, g);
  Eigen::VectorXd diag(n);
  f.hessian_diagonal(diag);
  for (Eigen::Index i : {Eigen::Index{0}, n / 2, n - 1}) {
    Eigen::VectorXd e = Eigen::VectorXd::Zero(n), he(n);
    e[i] = 1.0;
    f.hessian_vector(e, he);
    EXPECT_NEAR(diag[i], he[i], 1e-5 * std::max(1.0, std::abs(he[i])));
  }
}

struct Problem {
  RowMatrixXf x;
  std::vector<int> yi;
  std::vector<double> sign;
  Eigen::VectorXd c;
};

Problem make_problem(int k) {
  const auto data = testing::make_blobs(60, 5, k, 1.0, 0.1, 42);
  Problem p{data.x, {}, {}, Eigen::VectorXd(60)};
  for (Label l : data.y) {
    p.yi.push_back(static_cast<int>((l - 2) / 3));
    p.sign.push_back(l == 2 ? -1.0 : 1.0);
  }
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0.1, 3.0);
  for (auto& e : p.c) e = u(rng);
  return p;
}

// ∇f and ∇²f·v of the binary objective agree with central differences, in every intercept mode.
TEST(LogisticObjective, BinaryDerivativesMatchFiniteDifferences) {
  const Problem p = make_problem(2);
  for (bool fit_b : {false, true})
    for (bool reg_b : {false, true}) {
      BinaryLogisticObjective f(p.x, p.sign, p.c, fit_b, reg_b, 1);
      expect_derivatives_match(f, 11);
    }
}

// Same for the softmax objective with four classes.
TEST(LogisticObjective, SoftmaxDerivativesMatchFiniteDifferences) {
  const Problem p = make_problem(4);
  for (bool fit_b : {false, true})
    for (bool reg_b : {false, true}) {
      SoftmaxObjective f(p.x, p.yi, 4, p.c, fit_b, reg_b, 2);
      expect_derivatives_match(f, 13);
    }
}

// Hand-computed: one sample x = (1, 2), y = +1, c = 2, w = (0.5, −1), b = 0.25 (unpenalised):
// z = 0.5 − 2 + 0.25 = −1.25, f = ½(0.25 + 1) + 2·log(1 + e^{1.25}).
TEST(LogisticObjective, BinaryValueMatchesHandComputation) {
  RowMatrixXf x(1, 2);
  x << 1.0f, 2.0f;
  Eigen::VectorXd c(1);
  c << 2.0;
  BinaryLogisticObjective f(x, {1.0}, c, true, false, 1);
  Eigen::VectorXd w(3);
  w << 0.5, -1.0, 0.25;
  Eigen::VectorXd g(3);
  const double expected = 0.625 + 2.0 * std::log(1.0 + std::exp(1.25));
  EXPECT_NEAR(f.value_and_gradient(w, g), expected, 1e-12);
  // ∂f/∂b = c(σ(z) − 1) with z = −1.25.
  EXPECT_NEAR(g[2], 2.0 * (1.0 / (1.0 + std::exp(1.25)) - 1.0), 1e-12);
}

// Hand-computed softmax: x = (1), K = 3, W = (0, 1, 2), no intercept, y = 0, c = 1:
// f = ½·5 + log(1 + e + e²) − 0.
TEST(LogisticObjective, SoftmaxValueMatchesHandComputation) {
  RowMatrixXf x(1, 1);
  x << 1.0f;
  SoftmaxObjective f(x, {0}, 3, Eigen::VectorXd::Ones(1), false, false, 1);
  Eigen::VectorXd w(3), g(3);
  w << 0.0, 1.0, 2.0;
  const double lse = std::log(1.0 + std::exp(1.0) + std::exp(2.0));
  EXPECT_NEAR(f.value_and_gradient(w, g), 2.5 + lse, 1e-12);
  // ∂f/∂w_k = w_k + p_k − [k = y].
  EXPECT_NEAR(g[1], 1.0 + std::exp(1.0 - lse), 1e-12);
  EXPECT_NEAR(g[0], 0.0 + std::exp(-lse) - 1.0, 1e-12);
}

// log(1 + e^{−t}) stays finite and accurate for huge |t|.
TEST(LogisticObjective, Log1pExpNegIsStable) {
  EXPECT_NEAR(log1p_exp_neg(800.0), 0.0, 1e-300);
  EXPECT_NEAR(log1p_exp_neg(-800.0), 800.0, 1e-9);
  EXPECT_NEAR(log1p_exp_neg(0.0), std::log(2.0), 1e-15);
}

// The line search accepts a step that satisfies Armijo and leaves the objective at the new point.
TEST(LogisticObjective, LineSearchMovesToAcceptedPoint) {
  const Problem p = make_problem(3);
  SoftmaxObjective f(p.x, p.yi, 3, p.c, true, false, 1);
  Eigen::VectorXd w = Eigen::VectorXd::Zero(f.dimension()), g(f.dimension());
  const double f0 = f.value_and_gradient(w, g);
  const Eigen::VectorXd s = -g;
  double f_new = 0, alpha = 0;
  ASSERT_TRUE(f.line_search(w, s, g, f0, 0.01, f_new, alpha));
  EXPECT_LT(f_new, f0);
  EXPECT_NEAR(f.value(w), f_new, 1e-9 * std::abs(f_new));
  Eigen::VectorXd g2(f.dimension());
  EXPECT_NEAR(f.value_and_gradient(w, g2), f_new, 1e-9 * std::abs(f_new));
}

}  // namespace
}  // namespace coreclean::linear
