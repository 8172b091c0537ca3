#include <coreclean/linear/class_selection.h>
#include <coreclean/linear/metrics.h>
#include <coreclean/linear/pca.h>

#include "core/check.h"

#include <algorithm>

namespace coreclean::linear {

void ClassSelectionParams::validate() const {
  CORECLEAN_THROW_IF_NOT(pca_components >= 0, "class selection: pca = {} (must be >= 0)",
                         pca_components);
  CORECLEAN_THROW_IF_NOT(folds >= 2, "class selection: folds = {} (must be >= 2)", folds);
  classifier.validate();
}

ClassSelection select_class_to_clean(MatrixRef x_train, std::span<const Label> y_train,
                                     const std::optional<MatrixRef>& x_test,
                                     std::span<const Label> y_test,
                                     const ClassSelectionParams& params,
                                     const Context& context) {
  params.validate();
  CORECLEAN_THROW_IF_NOT(static_cast<Eigen::Index>(y_train.size()) == x_train.rows(),
                         "class selection: {} training rows but {} labels", x_train.rows(),
                         y_train.size());
  CORECLEAN_THROW_IF_NOT(!x_test || static_cast<Eigen::Index>(y_test.size()) == x_test->rows(),
                         "class selection: {} test rows but {} labels",
                         x_test ? x_test->rows() : 0, y_test.size());
  ClassSelection out;
  const Eigen::Index k = std::min<Eigen::Index>(
      params.pca_components, std::min(x_train.rows() - 1, x_train.cols()));
  // PCA only when it actually reduces the width.
  const bool reduce = params.pca_components > 0 && k >= 1 && k < x_train.cols();
  RowMatrixXf train_reduced, test_reduced;
  std::optional<Pca> pca;
  constexpr const char* kStep = "picking the class to clean";
  context.report_progress(0, 2, kStep);
  if (reduce) {
    PcaParams pp;
    pp.n_components = static_cast<int>(k);
    pca.emplace(pp);
    pca->fit(x_train, context);
    train_reduced = pca->transform(x_train);
    out.pca_components = static_cast<int>(k);
  }
  const MatrixRef train = reduce ? MatrixRef(train_reduced) : x_train;

  context.throw_if_cancelled();
  context.report_progress(1, 2, kStep);
  LogisticRegression model(params.classifier);
  out.fit = model.fit(train, y_train, {}, context);
  out.classes = model.classes();
  context.report_progress(2, 2, kStep);

  Labels y_true, y_pred;
  if (x_test) {
    out.used_test_split = true;
    if (reduce) test_reduced = pca->transform(*x_test);
    y_pred = model.predict(reduce ? MatrixRef(test_reduced) : *x_test);
    y_true.assign(y_test.begin(), y_test.end());
  } else {
    const std::vector<int> folds = stratified_kfold(y_train, params.folds, context.seed);
    const RowMatrixXd proba =
        cross_val_predict_proba(params.classifier, train, y_train, folds, {}, context);
    y_pred.resize(y_train.size());
    for (Eigen::Index i = 0; i < proba.rows(); ++i) {
      Eigen::Index best = 0;
      proba.row(i).maxCoeff(&best);
      y_pred[i] = out.classes[best];
    }
    y_true.assign(y_train.begin(), y_train.end());
  }
  for (Label l : y_true)
    CORECLEAN_THROW_IF_NOT(std::binary_search(out.classes.begin(), out.classes.end(), l),
                           "class selection: test label {} does not occur in the training labels",
                           l);
  const ConfusionMatrix cm = confusion_matrix(y_true, y_pred, out.classes);
  out.normalized_confusion = cm.normalized_by_true();
  Eigen::MatrixXd off = out.normalized_confusion;
  off.diagonal().setZero();
  // First maximum in row-major order, as numpy's np.where(cm == cm.max())[0] picks.
  Eigen::Index best_true = 0, best_pred = 0;
  double best = -1.0;
  for (Eigen::Index i = 0; i < off.rows(); ++i)
    for (Eigen::Index j = 0; j < off.cols(); ++j)
      if (off(i, j) > best) {
        best = off(i, j);
        best_true = i;
        best_pred = j;
      }
  out.confused_with = out.classes[best_true];
  out.class_of_interest = out.classes[best_pred];
  out.confusion = best;
  for (Label l : y_train) {
    out.class_of_interest_count += l == out.class_of_interest ? 1 : 0;
    out.confused_with_count += l == out.confused_with ? 1 : 0;
  }
  return out;
}

}  // namespace coreclean::linear
