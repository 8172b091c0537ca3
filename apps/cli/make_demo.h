#ifndef CORECLEAN_APPS_CLI_MAKE_DEMO_H_
#define CORECLEAN_APPS_CLI_MAKE_DEMO_H_

// `coreclean make-demo`: a detection dataset with known annotation errors, built from
// Fashion-MNIST, for trying and scoring the cleaning loop.

#include <coreclean/core/context.h>
#include <coreclean/detect/demo_scenes.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>

namespace coreclean::cli {

/// Options of `coreclean make-demo`.
struct MakeDemoOptions {
  std::filesystem::path out;          ///< output folder (images/, annotations.json, truth.json)
  std::optional<std::uint64_t> seed;  ///< replaces the context's seed when set
  int images = 400;                   ///< number of scenes
  double error_rate = 0.10;           ///< share of annotations with an injected error
  /// Folder with Fashion-MNIST's `<split>-images-idx3-ubyte.gz` and `<split>-labels-idx1-ubyte.gz`.
  std::filesystem::path fashion_dir{std::string(detect::kFashionMnistDir)};
  std::string split = "t10k";  ///< "t10k" (10,000 items) or "train" (60,000)
};

/// Adds the `make-demo` subcommand and its options (bound to `options`) to `app`.
CLI::App* add_make_demo_command(CLI::App& app, MakeDemoOptions& options);

/// Runs `coreclean make-demo`: writes the scenes and prints a summary (counts of images, boxes
/// and errors by kind, and the paths written) to `out`. `options.out` is claimed as an
/// io::OutputFolder (new, empty, or written by an earlier make-demo; InvalidArgument otherwise)
/// and only images/, annotations.json and truth.json are written in it. Throws coreclean::Error on
/// bad input (IoError naming the path when Fashion-MNIST is missing); returns the exit code.
int run_make_demo(const MakeDemoOptions& options, const Context& context, std::ostream& out);

}  // namespace coreclean::cli

#endif  // CORECLEAN_APPS_CLI_MAKE_DEMO_H_
