#ifndef CORECLEAN_APPS_CLI_EMBED_H_
#define CORECLEAN_APPS_CLI_EMBED_H_

// `coreclean embed`: crop every non-crowd box of a COCO file, embed the crops (an ONNX model
// through OpenCV DNN, or built-in features) and write a features directory, resumably.

#include <coreclean/core/context.h>
#include <coreclean/embed/dataset_embedding.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

namespace coreclean::cli {

/// The library's defaults, which the command line's defaults are taken from (a function-local
/// object, so that it is built before any EmbedOptions, even a static one).
inline const embed::EmbedDatasetOptions& embed_defaults() {
  static const embed::EmbedDatasetOptions defaults;
  return defaults;
}

/// Options of `coreclean embed`: embed::EmbedDatasetOptions as typed on the command line (the
/// scale is text such as "1/255", the input size one side or width,height, mean and std lists).
struct EmbedOptions {
  std::filesystem::path coco;    ///< COCO annotation file
  std::filesystem::path images;  ///< folder the images' file_name are relative to
  std::filesystem::path model;   ///< ONNX model; empty = built-in features
  std::string output_layer;      ///< empty = "embedding" if present, else the last output
  std::string input_name;        ///< empty = the network's first input
  /// Side, or width,height (the default is square).
  std::vector<int> input_size = {embed_defaults().embedder.input_width};
  /// Per channel, pixel units, network order.
  std::vector<double> mean = std::vector<double>(embed_defaults().embedder.mean.begin(),
                                                 embed_defaults().embedder.mean.end());
  /// Per channel, after scaling.
  std::vector<double> stddev = std::vector<double>(embed_defaults().embedder.stddev.begin(),
                                                   embed_defaults().embedder.stddev.end());
  std::string scale = "1/255";                            ///< a number or a fraction "a/b"
  bool swap_rb = embed_defaults().embedder.swap_rb;       ///< BGR → RGB
  int batch = embed_defaults().embedder.batch_size;       ///< crops per forward pass and per shard
  double padding = embed_defaults().padding;              ///< context around each box, per side
  int pca = embed_defaults().pca;                         ///< also write FEATDIR/pca<K>/ (0 = no)
  double test_fraction = embed_defaults().test_fraction;  ///< share of images in the test split
  bool skip_bad = embed_defaults().skip_bad;              ///< skip boxes of unreadable images
  std::filesystem::path out;                              ///< features directory to write
};

/// The library's options for `options`: parses the scale ("a/b" or a number) and checks the
/// counts of input size, mean and std (throws InvalidArgument naming the option); every other
/// value is checked by embed::EmbedDatasetOptions::validate().
embed::EmbedDatasetOptions dataset_embedding_options(const EmbedOptions& options);

/// Adds the `embed` subcommand and its options (bound to `options`) to `app`.
CLI::App* add_embed_command(CLI::App& app, EmbedOptions& options);

/// Runs `coreclean embed` through embed::embed_dataset() (which documents the files, the
/// resuming and the claiming of `options.out`) and prints a summary to `out`: the boxes resumed,
/// embedded and skipped (by image), the rows written, and the PCA's share of the variance.
/// Throws coreclean::Error on bad input (unreadable image or box without skip_bad, unloadable
/// model, resume with different settings) and when cancelled; returns the exit code otherwise.
int run_embed(const EmbedOptions& options, const Context& context, std::ostream& out);

}  // namespace coreclean::cli

#endif  // CORECLEAN_APPS_CLI_EMBED_H_
