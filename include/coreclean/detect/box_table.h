#ifndef CORECLEAN_DETECT_BOX_TABLE_H_
#define CORECLEAN_DETECT_BOX_TABLE_H_

/// @file
/// The boxes a features directory was embedded from. `embed` writes `boxes.npy` beside
/// `X_train.npy`: n × 5 float64 rows (image_id, x, y, width, height), in the row order of
/// X_train. It ties the features to their COCO file, so a session can refuse a COCO file of
/// another dataset, while accepting a corrected export of the same one (labels changed or boxes
/// deleted: the remaining boxes are where they were).

#include <coreclean/core/types.h>
#include <coreclean/detect/coco.h>

#include <filesystem>
#include <optional>
#include <span>
#include <string>

namespace coreclean::detect {

/// File name of the box table inside a features directory.
inline constexpr const char* kBoxTableFile = "boxes.npy";

/// Writes the box table of the annotations `ids` (rows of X_train) of `coco` to `file`.
/// Throws InvalidArgument when an id is not an annotation of `coco`.
void write_box_table(const std::filesystem::path& file, const CocoDataset& coco,
                     std::span<const SampleId> ids);

/// Reads `features_dir`/boxes.npy; nullopt when the directory has none (features made by
/// another tool). Throws FormatError when the file is not n × 5 float64 with n = `rows`.
std::optional<RowMatrixXd> read_box_table(const std::filesystem::path& features_dir,
                                          Eigen::Index rows);

/// How features relate to a COCO file.
struct CocoMatch {
  /// Per row of X_train: the annotation's category in the COCO file, or nullopt when the
  /// annotation is not in it (deleted in a corrected export).
  std::vector<std::optional<Label>> labels;
  Eigen::Index present = 0;  ///< rows whose annotation is in the COCO file
  bool verified = false;     ///< the box table was there and every present box matched it
};

/// Matches the rows of a features directory (their ids) to the annotations of `coco`.
/// Throws InvalidArgument when the features were made from another dataset: a present
/// annotation whose image or box differs from the box table (naming the annotation and both
/// boxes), no row present at all, or — without a box table — fewer than half of the rows
/// present. `features_name` and `coco_name` name the inputs in messages.
CocoMatch match_coco(const CocoDataset& coco, std::span<const SampleId> ids,
                     const std::optional<RowMatrixXd>& box_table, const std::string& features_name,
                     const std::string& coco_name);

}  // namespace coreclean::detect

#endif  // CORECLEAN_DETECT_BOX_TABLE_H_
