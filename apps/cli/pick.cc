#include "pick.h"

#include "cli_common.h"

#include <coreclean/io/feature_set.h>
#include <coreclean/linear/class_selection.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace coreclean::cli {

int run_pick(const PickOptions& options, const Context& context, std::ostream& out) {
  const io::FeatureSet features = io::load_feature_set(options.features);
  linear::ClassSelectionParams params;
  params.pca_components = options.pca;
  params.folds = options.folds;
  params.classifier.c = options.c;
  std::optional<MatrixRef> x_test;
  if (features.x_test) x_test.emplace(features.x_test->view());
  const linear::ClassSelection s = linear::select_class_to_clean(
      features.x_train.view(), features.y_train, x_test, features.y_test, params, context);

  const std::string interest = features.class_name(s.class_of_interest);
  const std::string confused = features.class_name(s.confused_with);
  const char* evaluated_on = s.used_test_split ? "test split" : "out-of-fold predictions";
  if (options.json) {
    nlohmann::json j = {
        {"class_of_interest", {{"id", s.class_of_interest}, {"name", interest},
                               {"count", s.class_of_interest_count}}},
        {"confused_with", {{"id", s.confused_with}, {"name", confused},
                           {"count", s.confused_with_count}}},
        {"confusion", s.confusion},
        {"evaluated_on", s.used_test_split ? "test" : "out_of_fold"},
        {"pca_components", s.pca_components},
        {"train_samples", features.x_train.rows()},
        {"classes", s.classes},
        {"converged", s.fit.converged},
    };
    out << j.dump() << '\n';
  } else {
    out << fmt::format("class of interest: {} ({} samples)\n", interest,
                       s.class_of_interest_count)
        << fmt::format("confused with:     {} ({} samples)\n", confused, s.confused_with_count)
        << fmt::format("{:.1f}% of {} samples are predicted as {} ({}, {} features{})\n",
                       100.0 * s.confusion, confused, interest, evaluated_on,
                       s.pca_components > 0 ? s.pca_components : features.x_train.cols(),
                       s.pca_components > 0 ? " after PCA" : "");
  }
  return kExitOk;
}

}  // namespace coreclean::cli
