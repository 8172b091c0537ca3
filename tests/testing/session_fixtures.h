#ifndef CORECLEAN_TESTS_TESTING_SESSION_FIXTURES_H_
#define CORECLEAN_TESTS_TESTING_SESSION_FIXTURES_H_

// A features directory of three Gaussian blobs with known label flips, for session-level tests
// (report, review server).

#include <coreclean/core/class_names.h>
#include <coreclean/core/types.h>
#include <coreclean/session/session.h>

#include <filesystem>
#include <set>

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
