// The coreclean command-line tool: argument parsing only; each subcommand is a run_<name>()
// function over the public library API.
#include "cli_common.h"
#include "pick.h"

#include <CLI/CLI.hpp>

#include <iostream>

int main(int argc, char** argv) {
  using namespace coreclean::cli;
  CLI::App app{
      "coreclean finds and fixes incorrectly labelled boxes in object-detection datasets.\n"
      "Typical flow: embed → pick → build → rank/next → review → apply → export."};
  app.require_subcommand(1);
  std::uint64_t seed = 0;
  app.add_option("--seed", seed, "Seed of every random choice (splits, PCA, sampling)")
      ->capture_default_str();

  PickOptions pick;
  auto* pick_cmd = app.add_subcommand(
      "pick",
      "Pick the class to clean: fit a balanced logistic regression on the (PCA-reduced) train "
      "features, compute the confusion matrix on the test split (or out-of-fold predictions), and "
      "report the largest off-diagonal cell: the predicted class is the class of interest.");
  pick_cmd->add_option("--features", pick.features,
                       "Features directory: X_train.npy, y_train.npy [, X_test.npy, y_test.npy, "
                       "ids.npy, classes.json]")
      ->required();
  pick_cmd->add_option("--pca", pick.pca, "PCA components before fitting (0 = none)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  pick_cmd->add_option("--C", pick.c, "Inverse regularisation strength of the classifier")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  pick_cmd->add_option("--folds", pick.folds, "Folds when there is no test split")
      ->capture_default_str()
      ->check(CLI::Range(2, 100));
  pick_cmd->add_flag("--json", pick.json, "Print one JSON object");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitBadInput;
  }
  return run_guarded(
      [&] {
        const coreclean::Context ctx = make_cli_context(std::cerr, seed, true);
        if (*pick_cmd) return run_pick(pick, ctx, std::cout);
        return static_cast<int>(kExitBadInput);
      },
      std::cerr);
}
