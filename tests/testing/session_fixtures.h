#ifndef CORECLEAN_TESTS_TESTING_SESSION_FIXTURES_H_
#define CORECLEAN_TESTS_TESTING_SESSION_FIXTURES_H_

// A features directory of three Gaussian blobs with known label flips, and a COCO file and
// images folder they were made from, for session-level tests (report, review server, CLI).

#include <coreclean/core/class_names.h>
#include <coreclean/core/types.h>
#include <coreclean/detect/coco.h>
#include <coreclean/session/session.h>

#include "testing/helpers.h"

#include <filesystem>
#include <functional>
#include <set>
#include <string>

namespace coreclean::testing {

/// What write_blob_features wrote.
struct BlobFeatures {
  Labels truth;                 ///< true label of row i (sample id 1000 + i)
  std::set<SampleId> flipped;   ///< ids whose stored label is wrong (class 2 stored as 5)
};

/// Writes `dir` (a features directory): 600 samples in 6 dimensions, classes 2, 5, 8 named by
/// `names` (default "two", "five", "eight"), ids 1000 + row; the first `flips` samples of
/// class 2 are stored with label 5.
BlobFeatures write_blob_features(const std::filesystem::path& dir, int flips = 12,
                                 const ClassNames& names = {});

/// Writes a COCO file for the blob features in `features`: box i of image i % 4 (a.jpg … d.jpg,
/// 64 × 64), category = label, bbox [i % 30, 2 + i / 30, 20, 30] (no two boxes of an image
/// overlap with IoU ≥ 0.9). `edit` may change an annotation's category and box, or drop it
/// (return false).
void write_coco(const std::filesystem::path& file, const std::filesystem::path& features,
                const std::function<bool(SampleId, Label&, detect::Box&)>& edit = {});

/// Blob features with the COCO file they were made from (and the box table embed writes), and
/// a folder with the four images, all in a temporary folder.
struct CocoBlobs {
  TempDir dir;
  std::filesystem::path features = dir / "features", coco = dir / "ann.json",
                        images = dir / "images";
  BlobFeatures blobs;

  CocoBlobs();
  /// Rewrites the COCO file through `edit` (see write_coco) and the box table to match.
  void edit_coco(const std::function<bool(SampleId, Label&, detect::Box&)>& edit);
};

/// Apply options under which undecided boxes of the batch count as kept (the tests that
/// decide only the boxes they fix), optionally with a CSV.
inline session::ApplyOptions keep_undecided(std::optional<std::filesystem::path> csv = {}) {
  session::ApplyOptions o;
  o.csv = std::move(csv);
  o.undecided = session::UndecidedPolicy::kKeep;
  return o;
}

}  // namespace coreclean::testing

#endif  // CORECLEAN_TESTS_TESTING_SESSION_FIXTURES_H_
