// The seed's class selection on data built so that the answer is known.
#include <coreclean/core/error.h>
#include <coreclean/linear/class_selection.h>

#include <gtest/gtest.h>

#include <random>

namespace coreclean::linear {
namespace {

// Three classes A = 10, B = 20, C = 30 in 6-d; 35 % of A's samples are drawn from C's
// distribution (A is often mistaken for C), so the largest cell is (true A, predicted C):
// the class of interest is C and it is confused with A.
struct Confusable {
  RowMatrixXf x;
  Labels y;
};

Confusable make_confusable(int n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> u;
  const double centres[3][2] = {{0.0, 0.0}, {6.0, 0.0}, {0.0, 4.0}};
  Confusable out{RowMatrixXf(n, 6), Labels(n)};
  for (int i = 0; i < n; ++i) {
    const int c = i % 3;
    const int drawn_from = (c == 0 && u(rng) < 0.35) ? 2 : c;
    for (int j = 0; j < 6; ++j)
      out.x(i, j) = static_cast<float>(normal(rng) + (j < 2 ? centres[drawn_from][j] : 0.0));
    out.y[i] = 10 * (c + 1);
  }
  return out;
}

// With a test split: the cell (A, C) is found, with its share close to the injected 35 %.
TEST(ClassSelection, FindsInjectedConfusionOnTestSplit) {
  const Confusable train = make_confusable(900, 1), test = make_confusable(600, 2);
  ClassSelectionParams p;
  p.pca_components = 4;
  const ClassSelection s =
      select_class_to_clean(train.x, train.y, MatrixRef(test.x), test.y, p);
  EXPECT_EQ(s.class_of_interest, 30);
  EXPECT_EQ(s.confused_with, 10);
  EXPECT_TRUE(s.used_test_split);
  EXPECT_EQ(s.pca_components, 4);
  EXPECT_NEAR(s.confusion, 0.35, 0.08);
  EXPECT_EQ(s.class_of_interest_count, 300);
  EXPECT_EQ(s.confused_with_count, 300);
  EXPECT_DOUBLE_EQ(s.confusion, s.normalized_confusion(0, 2));
  for (Eigen::Index i = 0; i < 3; ++i) EXPECT_NEAR(s.normalized_confusion.row(i).sum(), 1.0, 1e-12);
}

// Without a test split, out-of-fold predictions give the same answer; no PCA when the width is
// already below the requested components.
TEST(ClassSelection, FindsInjectedConfusionOutOfFold) {
  const Confusable train = make_confusable(900, 3);
  ClassSelectionParams p;  // pca 256 > 6 features: not applied
  const ClassSelection s = select_class_to_clean(train.x, train.y, std::nullopt, {}, p);
  EXPECT_EQ(s.class_of_interest, 30);
  EXPECT_EQ(s.confused_with, 10);
  EXPECT_FALSE(s.used_test_split);
  EXPECT_EQ(s.pca_components, 0);
}

// A test label never seen in training is refused by name.
TEST(ClassSelection, UnknownTestLabelIsRefused) {
  const Confusable train = make_confusable(300, 4);
  Confusable test = make_confusable(30, 5);
  test.y[7] = 99;
  EXPECT_THROW(select_class_to_clean(train.x, train.y, MatrixRef(test.x), test.y, {}),
               InvalidArgument);
}

}  // namespace
}  // namespace coreclean::linear
