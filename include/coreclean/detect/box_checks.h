#ifndef CORECLEAN_DETECT_BOX_CHECKS_H_
#define CORECLEAN_DETECT_BOX_CHECKS_H_

/// @file
/// Checks of COCO annotations that need no model: box geometry, near-identical boxes and
/// references to images or categories that do not exist. Each finding names one annotation and
/// says why, so that a reviewer can fix or delete it.
///
/// Box convention (COCO, pycocotools): bbox = [x, y, w, h] in pixels, covering the half-open
/// range [x, x + w) × [y, y + h); an image of width W spans x ∈ [0, W).
///
/// The checks, in the order findings are listed for one annotation:
///  * `degenerate`: a bbox value is NaN or infinite, or a side is ≤ 1 px (zero, negative or a
///    single pixel: no object is that thin; usually a stray click). A degenerate box gets no
///    `tiny`, `outside` or `aspect` finding: those describe where and how large a real box is,
///    while a degenerate one is not a box at all, and one finding per cause is easier to act on.
///    So a 1 × 1 box is `degenerate` only.
///  * `tiny`: not degenerate, but the shorter side is below `min_side` px.
///  * `outside`: the box is not within its image: x < 0 or y < 0 (always checked), or
///    x + w > width or y + h > height (checked when the image's size is known). The detail says
///    by how much, or that the box lies entirely outside.
///  * `aspect`: not degenerate, and max(w/h, h/w) > `max_aspect`.
///  * `duplicate`: another annotation of the same image overlaps it with IoU ≥ `duplicate_iou`,
///    whatever the two classes. Each pair is reported once, on the annotation that comes later
///    in the file (usually the copy), with `other_annotation_id` = the earlier one. Boxes with a
///    non-finite value or no area take no part.
///  * `missing_image`: image_id is not in `images`, or — only when `images_dir` is set — the
///    image's file does not exist there.
///  * `unknown_category`: category_id is not in `categories`.
/// Crowd annotations (iscrowd = 1) are checked like the others.

#include <coreclean/core/types.h>
#include <coreclean/detect/coco.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace coreclean::detect {

/// The kinds of findings, in the order they are listed for one annotation.
enum class BoxCheck {
  kDegenerate,       ///< non-finite value, or a side ≤ 1 px
  kTiny,             ///< shorter side below BoxCheckParams::min_side
  kOutside,          ///< crosses or lies outside the image
  kAspect,           ///< longer / shorter side above BoxCheckParams::max_aspect
  kDuplicate,        ///< IoU ≥ BoxCheckParams::duplicate_iou with an earlier box of the image
  kMissingImage,     ///< image id not in the file, or image file absent
  kUnknownCategory,  ///< category id not in the file
};

/// Every BoxCheck, in order.
inline constexpr BoxCheck kAllBoxChecks[] = {
    BoxCheck::kDegenerate, BoxCheck::kTiny,         BoxCheck::kOutside,         BoxCheck::kAspect,
    BoxCheck::kDuplicate,  BoxCheck::kMissingImage, BoxCheck::kUnknownCategory,
};

/// The name of a check as printed and written to JSON: "degenerate", "tiny", "outside",
/// "aspect", "duplicate", "missing_image", "unknown_category".
std::string_view box_check_name(BoxCheck check);

/// One problem of one annotation.
struct BoxFinding {
  SampleId annotation_id = 0;                   ///< the annotation found wanting
  std::int64_t image_id = 0;                    ///< its image_id, as written (may not exist)
  BoxCheck check = BoxCheck::kDegenerate;       ///< which check
  std::string detail;                           ///< human-readable reason with the values involved
  std::optional<SampleId> other_annotation_id;  ///< the earlier box of a duplicate pair
};

/// Thresholds of the checks.
struct BoxCheckParams {
  /// `tiny` when the shorter side (px) is below this; 0 disables the check.
  double min_side = 4.0;
  /// `aspect` when the longer side is more than this many times the shorter one; must be ≥ 1.
  double max_aspect = 10.0;
  /// `duplicate` when two boxes of one image have IoU at least this; in (0, 1].
  double duplicate_iou = 0.9;
  /// When set, `missing_image` also reports annotations whose image file (images_dir /
  /// file_name) is not a regular file.
  std::optional<std::filesystem::path> images_dir;

  /// Throws InvalidArgument naming the field and value when a threshold is out of range (or
  /// NaN), or images_dir is set but is not a directory.
  void validate() const;
};

/// Intersection over union of two boxes (areas in px²); 0 when the union is empty, and for boxes
/// with a non-finite value. Negative sizes count as empty boxes.
double iou(const Box& a, const Box& b);

/// Runs every check over `dataset` (indexed, as the readers return it; after editing the
/// vectors by hand call CocoDataset::index()). Findings come grouped by annotation in file order,
/// then in BoxCheck order. Duplicate search is per image, with the boxes sorted by x and compared
/// only while their x-ranges can still reach the IoU threshold, so it costs about O(n log n + close
/// pairs), not O(n²). Throws InvalidArgument when `params` is invalid.
std::vector<BoxFinding> check_boxes(const CocoDataset& dataset, const BoxCheckParams& params = {});

}  // namespace coreclean::detect

#endif  // CORECLEAN_DETECT_BOX_CHECKS_H_
