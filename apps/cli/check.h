#ifndef CORECLEAN_APPS_CLI_CHECK_H_
#define CORECLEAN_APPS_CLI_CHECK_H_

// `coreclean check`: model-free checks of a COCO file (box geometry, duplicates, dangling
// references) and near-identical embeddings of a features directory (conflicting labels,
// leakage), printed as a summary and a table, or as one JSON array.

#include <coreclean/core/context.h>
#include <coreclean/coreset/near_duplicates.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <ostream>

namespace coreclean::cli {

/// Options of `coreclean check`.
struct CheckOptions {
  std::filesystem::path coco;    ///< COCO annotation file; empty = no box checks
  std::filesystem::path features;  ///< features directory; empty = no near-duplicate search
  double min_cosine = 0.0;  ///< near-duplicates from this cosine; 0 = from `share`
  double share = coreset::kNearDuplicateShare;  ///< of the median nearest-neighbour distance
  std::filesystem::path images;  ///< images directory; empty = do not look for image files
  bool json = false;             ///< print one JSON array of findings instead of text
  double min_side = 4.0;         ///< `tiny` below this many pixels (shorter side)
  double max_aspect = 10.0;      ///< `aspect` above this ratio of the longer to the shorter side
  double iou = 0.9;              ///< `duplicate` at or above this IoU
};

/// Adds the `check` subcommand and its options (bound to `options`) to `app`.
CLI::App* add_check_command(CLI::App& app, CheckOptions& options);

/// Runs `coreclean check`: reads the COCO file and runs the box checks, and/or searches the
/// features directory for near-duplicates, and prints the findings to `out`. Findings are not an error: returns 0 whenever the file could be checked. Throws
/// coreclean::Error (FormatError, IoError, InvalidArgument) on bad input.
int run_check(const CheckOptions& options, const Context& context, std::ostream& out);

}  // namespace coreclean::cli

#endif  // CORECLEAN_APPS_CLI_CHECK_H_
