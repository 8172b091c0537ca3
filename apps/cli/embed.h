#ifndef CORECLEAN_APPS_CLI_EMBED_H_
#define CORECLEAN_APPS_CLI_EMBED_H_

// `coreclean embed`: crop every non-crowd box of a COCO file, embed the crops (an ONNX model
// through OpenCV DNN, or built-in features) and write a features directory, resumably.

#include <coreclean/core/context.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

namespace coreclean::cli {

/// Options of `coreclean embed`.
struct EmbedOptions {
  std::filesystem::path coco;           ///< COCO annotation file
  std::filesystem::path images;         ///< folder the images' file_name are relative to
  std::filesystem::path model;          ///< ONNX model; empty = built-in features
  std::string output_layer;             ///< empty = "embedding" if present, else the last output
  std::string input_name;               ///< empty = the network's first input
  std::vector<int> input_size = {224};  ///< side, or width,height
  std::vector<double> mean = {0.0, 0.0, 0.0};    ///< per channel, pixel units, network order
  std::vector<double> stddev = {1.0, 1.0, 1.0};  ///< per channel, after scaling
  std::string scale = "1/255";                   ///< a number or a fraction "a/b"
  bool swap_rb = false;                          ///< BGR → RGB
  int batch = 32;                                ///< crops per forward pass and per shard
  double padding = 0.0;        ///< context around each box, fraction of its size per side
  int pca = 0;                 ///< also write FEATDIR/pca<K>/ (0 = no)
  double test_fraction = 0.0;  ///< share of images in the test split (0 = no split)
  bool skip_bad = false;       ///< skip boxes of unreadable images instead of failing
  std::filesystem::path out;   ///< features directory to write
};

/// Adds the `embed` subcommand and its options (bound to `options`) to `app`.
CLI::App* add_embed_command(CLI::App& app, EmbedOptions& options);

/// Runs `coreclean embed`: writes the features directory `options.out` and prints a summary to
/// `out`. Finished batches are kept in `options.out`/.partial/ until the end, so a run stopped
/// by an error or by `context.cancel` continues where it stopped when run again with the same
/// options, and ends with the same files as an uninterrupted run. `options.out` is claimed as an
/// io::OutputFolder (new, empty, or written by an earlier embed; never a folder holding the COCO
/// file, the images or the model), and only the files embed writes are listed in it. Throws
/// coreclean::Error on bad input (unreadable image or box without skip_bad, unloadable model,
/// resume with different settings) and when cancelled; returns the exit code otherwise.
int run_embed(const EmbedOptions& options, const Context& context, std::ostream& out);

}  // namespace coreclean::cli

#endif  // CORECLEAN_APPS_CLI_EMBED_H_
