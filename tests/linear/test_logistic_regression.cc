// Behaviour of LogisticRegression that needs no external oracle.
#include <coreclean/core/error.h>
#include <coreclean/linear/logistic_regression.h>

#include "linear/logistic_objective.h"
#include "linear/newton_cg.h"
#include "testing/data.h"

#include <gtest/gtest.h>

namespace coreclean::linear {
namespace {

// At the solution the gradient vanishes, so the objective cannot be lowered by a small step.
TEST(LogisticRegression, MultinomialSolutionIsAMinimum) {
  const auto data = testing::make_blobs(400, 6, 4, 1.5, 0.1, 1);
  LogisticRegressionParams p;
  p.tol = 1e-10;
  LogisticRegression model(p);
  const FitReport r = model.fit(data.x, data.y);
  EXPECT_TRUE(r.converged);
  EXPECT_LE(r.gradient_ratio, 1e-10);
  const double f = logistic_objective_value(model, data.x, data.y);
  EXPECT_NEAR(f, r.objective, 1e-9 * f);
  for (double step : {1e-3, -1e-3}) {
    LogisticRegression moved(p);
    RowMatrixXd coef = model.coef();
    coef(1, 2) += step;
    moved.set_model(model.classes(), coef, model.intercept());
    EXPECT_GT(logistic_objective_value(moved, data.x, data.y), f);
  }
}

// A two-class softmax with C equals a binary model with 2C (W = (−w/2, w/2) halves the penalty).
TEST(LogisticRegression, TwoClassSoftmaxMatchesBinaryWithDoubleC) {
  const auto data = testing::make_blobs(300, 5, 2, 1.0, 0.05, 3);
  std::vector<int> yi;
  for (Label l : data.y) yi.push_back(l == 2 ? 0 : 1);
  SoftmaxObjective softmax(data.x, yi, 2, Eigen::VectorXd::Constant(300, 0.7), true, false, 1);
  Eigen::VectorXd w = Eigen::VectorXd::Zero(softmax.dimension());
  NewtonCgParams np;
  np.tol = 1e-10;
  ASSERT_TRUE(newton_cg_minimize(softmax, w, np).converged);

  LogisticRegressionParams p;
  p.c = 1.4;
  p.tol = 1e-10;
  LogisticRegression binary(p);
  binary.fit(data.x, data.y);
  // Softmax weights column k = class k; the binary weight is w₁ − w₀.
  for (int j = 0; j < 5; ++j)
    EXPECT_NEAR(binary.coef()(0, j), w[5 + j] - w[j], 1e-6);
  EXPECT_NEAR(binary.intercept()[0], w[11] - w[10], 1e-6);
}

// class_weight=balanced equals passing the balanced weights as sample weights.
TEST(LogisticRegression, BalancedClassWeightEqualsExplicitWeights) {
  const auto data = testing::make_blobs(300, 4, 3, 1.0, 0.1, 5);
  LogisticRegressionParams balanced;
  balanced.class_weight = ClassWeight::kBalanced;
  balanced.tol = 1e-10;
  LogisticRegression a(balanced);
  a.fit(data.x, data.y);
  LogisticRegressionParams plain;
  plain.tol = 1e-10;
  LogisticRegression b(plain);
  b.fit(data.x, data.y, effective_sample_weights(balanced, data.y, {}));
  EXPECT_LE((a.coef() - b.coef()).cwiseAbs().maxCoeff(), 1e-7);
  // Hand check of the rule n / (K n_k) on a tiny label vector: counts 1, 3 → 2, 2/3.
  const Labels tiny{5, 9, 9, 9};
  const auto w = effective_sample_weights(balanced, tiny, {});
  EXPECT_DOUBLE_EQ(w[0], 2.0);
  EXPECT_DOUBLE_EQ(w[1], 4.0 / 6.0);
}

// Integer sample weights equal repeating samples.
TEST(LogisticRegression, IntegerWeightsEqualRepeatedSamples) {
  const auto data = testing::make_blobs(120, 3, 3, 1.0, 0.1, 9);
  std::vector<double> weights(120);
  RowMatrixXf repeated(0, 3);
  Labels repeated_y;
  std::vector<RowMatrixXf> rows;
  for (int i = 0; i < 120; ++i) {
    weights[i] = 1 + i % 3;
    for (int r = 0; r < weights[i]; ++r) {
      repeated.conservativeResize(repeated.rows() + 1, Eigen::NoChange);
      repeated.row(repeated.rows() - 1) = data.x.row(i);
      repeated_y.push_back(data.y[i]);
    }
  }
  LogisticRegressionParams p;
  p.tol = 1e-10;
  LogisticRegression a(p), b(p);
  a.fit(data.x, data.y, weights);
  b.fit(repeated, repeated_y);
  EXPECT_LE((a.coef() - b.coef()).cwiseAbs().maxCoeff(), 1e-6);
  EXPECT_LE((a.intercept() - b.intercept()).cwiseAbs().maxCoeff(), 1e-6);
}

// Probabilities are a distribution per sample and predict() is their argmax.
TEST(LogisticRegression, ProbabilitiesSumToOneAndPredictIsArgmax) {
  const auto data = testing::make_blobs(200, 4, 5, 4.0, 0.0, 11);
  for (MultiClass mc : {MultiClass::kMultinomial, MultiClass::kOneVsRest}) {
    LogisticRegressionParams p;
    p.multi_class = mc;
    LogisticRegression model(p);
    model.fit(data.x, data.y);
    const RowMatrixXd proba = model.predict_proba(data.x);
    const Labels pred = model.predict(data.x);
    ASSERT_EQ(proba.cols(), 5);
    for (Eigen::Index i = 0; i < proba.rows(); ++i) {
      EXPECT_NEAR(proba.row(i).sum(), 1.0, 1e-12);
      Eigen::Index best = 0;
      proba.row(i).maxCoeff(&best);
      EXPECT_EQ(pred[i], model.classes()[best]);
    }
    // Well separated blobs: training accuracy is high.
    int correct = 0;
    for (std::size_t i = 0; i < pred.size(); ++i) correct += pred[i] == data.y[i];
    EXPECT_GT(correct, 180);
  }
}

// A warm start from the solution converges at once to the same model.
TEST(LogisticRegression, WarmStartFromSolutionNeedsNoIterations) {
  const auto data = testing::make_blobs(300, 4, 3, 1.0, 0.1, 13);
  LogisticRegressionParams p;
  p.warm_start = true;
  LogisticRegression model(p);
  const FitReport first = model.fit(data.x, data.y);
  const RowMatrixXd coef = model.coef();
  const FitReport second = model.fit(data.x, data.y);
  EXPECT_GT(first.iterations, 0);
  EXPECT_EQ(second.iterations, 0);
  EXPECT_EQ(model.coef(), coef);
}

// A constant feature offset changes only the intercept (it is unpenalised), and the solver's
// internal centring keeps the iteration count of the centred problem.
TEST(LogisticRegression, FeatureOffsetOnlyShiftsIntercept) {
  const auto data = testing::make_blobs(500, 6, 4, 1.0, 0.1, 19);
  RowMatrixXf shifted = data.x.array() + 40.0f;
  LogisticRegressionParams p;
  p.tol = 1e-8;
  LogisticRegression a(p), b(p);
  const FitReport ra = a.fit(data.x, data.y);
  const FitReport rb = b.fit(shifted, data.y);
  EXPECT_LE((a.coef() - b.coef()).cwiseAbs().maxCoeff(), 1e-5);
  const Eigen::VectorXd expected = a.intercept() - 40.0 * a.coef().rowwise().sum();
  EXPECT_LE((b.intercept() - expected).cwiseAbs().maxCoeff(), 1e-3);
  EXPECT_LE(rb.iterations, ra.iterations + 3);
}

// Hitting max_iter is reported (and logged), not thrown.
TEST(LogisticRegression, NonConvergenceIsReportedAndLogged) {
  const auto data = testing::make_blobs(300, 4, 3, 1.0, 0.1, 15);
  LogisticRegressionParams p;
  p.max_iter = 1;
  p.tol = 1e-14;
  Context ctx;
  int warnings = 0;
  ctx.logger = [&](LogLevel level, std::string_view) { warnings += level == LogLevel::kWarning; };
  LogisticRegression model(p);
  const FitReport r = model.fit(data.x, data.y, {}, ctx);
  EXPECT_FALSE(r.converged);
  EXPECT_EQ(r.iterations, 1);
  EXPECT_EQ(warnings, 1);
}

// Bad input is refused with the offending value in the message.
TEST(LogisticRegression, BadInputIsRefusedWithValues) {
  const auto data = testing::make_blobs(20, 2, 2, 1.0, 0.0, 17);
  LogisticRegressionParams bad;
  bad.c = -1.0;
  EXPECT_THROW(LogisticRegression{bad}, InvalidArgument);
  LogisticRegression model;
  const Labels short_y(data.y.begin(), data.y.begin() + 10);
  try {
    model.fit(data.x, short_y);
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("20 rows"), std::string::npos) << e.what();
  }
  const Labels one_class(20, 4);
  EXPECT_THROW(model.fit(data.x, one_class), InvalidArgument);
  std::vector<double> w(20, 1.0);
  w[3] = -2.0;
  try {
    model.fit(data.x, data.y, w);
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("sample_weight[3] = -2"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)model.predict(data.x), InvalidArgument);  // not fitted
}

}  // namespace
}  // namespace coreclean::linear
