#ifndef CORECLEAN_LINEAR_CLASS_SELECTION_H_
#define CORECLEAN_LINEAR_CLASS_SELECTION_H_

/// @file
/// Which class to clean: fit a balanced multinomial logistic regression on the (optionally
/// PCA-reduced) training features, compute the confusion matrix normalised by true class on the
/// test split — or on out-of-fold predictions of the training set when there is none — zero its
/// diagonal and take the largest cell (true A, predicted C). Class C, which absorbs A's samples,
/// is the class of interest: its labels are the likeliest to hold A's (the seed workflow's
/// "orange", predicted for true "apple").

#include <coreclean/core/context.h>
#include <coreclean/core/types.h>
#include <coreclean/linear/logistic_regression.h>

#include <optional>

namespace coreclean::linear {

/// Parameters of select_class_to_clean.
struct ClassSelectionParams {
  /// PCA components before fitting; 0 = use the features as they are. Clamped to min(n, d).
  int pca_components = 256;
  /// Folds for out-of-fold predictions when there is no test split.
  int folds = 5;
  /// The classifier; class_weight defaults to balanced as in the seed.
  LogisticRegressionParams classifier = [] {
    LogisticRegressionParams p;
    p.class_weight = ClassWeight::kBalanced;
    p.max_iter = 500;
    return p;
  }();

  /// Throws InvalidArgument naming the first bad field and its value.
  void validate() const;
};

/// The outcome of class selection.
struct ClassSelection {
  Label class_of_interest = 0;  ///< the predicted class C of the largest off-diagonal cell
  Label confused_with = 0;      ///< the true class A of that cell
  double confusion = 0.0;       ///< share of A's evaluated samples predicted as C
  std::int64_t class_of_interest_count = 0;  ///< training samples labelled C
  std::int64_t confused_with_count = 0;      ///< training samples labelled A
  Eigen::MatrixXd normalized_confusion;  ///< rows: true class, columns: predicted
  Labels classes;                            ///< row/column order of normalized_confusion
  bool used_test_split = false;  ///< false: out-of-fold predictions on the training set
  int pca_components = 0;        ///< components actually used (0 = none)
  FitReport fit;                 ///< the classifier fitted on all training samples
};

/// Runs the selection. x_test/y_test may be absent (then out-of-fold predictions with seeded
/// stratified folds are used). Throws when fewer than two classes are present.
ClassSelection select_class_to_clean(MatrixRef x_train, std::span<const Label> y_train,
                                     const std::optional<MatrixRef>& x_test,
                                     std::span<const Label> y_test,
                                     const ClassSelectionParams& params,
                                     const Context& context = Context());

}  // namespace coreclean::linear

#endif  // CORECLEAN_LINEAR_CLASS_SELECTION_H_
