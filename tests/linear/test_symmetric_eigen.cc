// LAPACK's symmetric eigensolver against a hand case and its defining identities.
#include "linear/symmetric_eigen.h"

#include <gtest/gtest.h>

#include <random>

namespace coreclean::linear {
namespace {

// [[2, 1], [1, 2]] has eigenvalues 1 and 3 with eigenvectors (1, −1)/√2 and (1, 1)/√2.
TEST(SymmetricEigen, HandCase) {
  Eigen::MatrixXd a(2, 2);
  a << 2, 1, 1, 2;
  Eigen::VectorXd values;
  Eigen::MatrixXd vectors;
  ASSERT_TRUE(symmetric_eigen(a, values, vectors));
  EXPECT_NEAR(values[0], 1.0, 1e-14);
  EXPECT_NEAR(values[1], 3.0, 1e-14);
  EXPECT_NEAR(std::abs(vectors(0, 0) * vectors(1, 0)), 0.5, 1e-14);
  EXPECT_LT(vectors(0, 0) * vectors(1, 0), 0.0);  // (1, −1) up to sign
  EXPECT_GT(vectors(0, 1) * vectors(1, 1), 0.0);  // (1, 1) up to sign
}

// A V = V Λ, VᵀV = I, ascending Λ; only the lower triangle is read.
TEST(SymmetricEigen, DecomposesARandomGramMatrix) {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal;
  Eigen::MatrixXd g(300, 120);
  for (auto& v : g.reshaped()) v = normal(rng);
  Eigen::MatrixXd a = g.transpose() * g;
  const Eigen::MatrixXd full = a;
  a.triangularView<Eigen::StrictlyUpper>().setConstant(1e6);  // never read
  Eigen::VectorXd values;
  Eigen::MatrixXd vectors;
  ASSERT_TRUE(symmetric_eigen(a, values, vectors));
  const double scale = values.maxCoeff();
  EXPECT_LE((full * vectors - vectors * values.asDiagonal()).cwiseAbs().maxCoeff(), 1e-11 * scale);
  EXPECT_LE((vectors.transpose() * vectors - Eigen::MatrixXd::Identity(120, 120)).cwiseAbs().maxCoeff(),
            1e-12);
  for (Eigen::Index i = 1; i < values.size(); ++i) EXPECT_LE(values[i - 1], values[i]);
  // Trace and sum of eigenvalues agree.
  EXPECT_NEAR(values.sum(), full.trace(), 1e-10 * full.trace());
}

TEST(SymmetricEigen, EmptyMatrix) {
  Eigen::VectorXd values;
  Eigen::MatrixXd vectors;
  EXPECT_TRUE(symmetric_eigen(Eigen::MatrixXd(0, 0), values, vectors));
  EXPECT_EQ(values.size(), 0);
}

}  // namespace
}  // namespace coreclean::linear
