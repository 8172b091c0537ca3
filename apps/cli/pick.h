#ifndef CORECLEAN_APPS_CLI_PICK_H_
#define CORECLEAN_APPS_CLI_PICK_H_

// `coreclean pick`: which class to clean, and the class it is confused with.

#include <coreclean/core/context.h>

#include <filesystem>
#include <ostream>

namespace coreclean::cli {

/// Options of `coreclean pick`.
struct PickOptions {
  std::filesystem::path features;  ///< features directory
  int pca = 256;                   ///< PCA components before fitting (0 = none)
  double c = 1.0;                  ///< inverse regularisation of the classifier
  int folds = 5;                   ///< folds for out-of-fold predictions without a test split
  bool json = false;               ///< print one JSON object instead of text
};

/// Runs the class selection and prints the result to `out`. Throws coreclean::Error on bad
/// input; returns the exit code.
int run_pick(const PickOptions& options, const Context& context, std::ostream& out);

}  // namespace coreclean::cli

#endif  // CORECLEAN_APPS_CLI_PICK_H_
