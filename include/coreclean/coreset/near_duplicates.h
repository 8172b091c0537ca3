#ifndef CORECLEAN_CORESET_NEAR_DUPLICATES_H_
#define CORECLEAN_CORESET_NEAR_DUPLICATES_H_

/// @file
/// Pairs of samples whose embeddings are near-identical: the same object seen twice (an image
/// uploaded twice, neighbouring video frames, a re-encoded copy). Two such boxes with different
/// labels cannot both be right — one of them is very likely a label error; two with the same
/// label in different images leak between a training and a test split.
///
/// Which pairs: those whose cosine distance 1 − cos(x_i, x_j) is below a share f = 0.2 of the
/// median distance of a sample to its nearest other sample (cleanlab's near-duplicate rule,
/// with its factor 0.13 raised to 0.2 by measurement). A threshold relative to the data, not a
/// fixed cosine: one embedding spreads distinct objects over cosines 0.9–0.96 and another
/// packs them at 0.99+ (docs/near_duplicates.md has the measurement; on BCCD with the built-in
/// features the rule flags 471 pairs of which 470 are planted copies — 81 % of them — while a
/// fixed cosine that works there, 0.97, flags 1.37 million pairs on a CNN's embeddings of the
/// same boxes).
///
/// Search: exact up to `exact_rows` samples — inner products of the unit-length rows in blocked
/// products (faiss's range search, both cores), each pair over the threshold confirmed in double
/// precision; O(n² d / 2). Beyond, a row's candidates are the rows of the cells nearest its own
/// (spherical k-means, as the tree's neighbour search), so a pair is missed only when its two
/// rows fall in cells that are not among each other's probes.

#include <coreclean/core/class_names.h>
#include <coreclean/core/context.h>
#include <coreclean/core/types.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace coreclean::coreset {

/// The share f of the median nearest-neighbour distance below which two samples are
/// near-duplicates (see above).
inline constexpr double kNearDuplicateShare = 0.2;

/// Samples up to which the candidate search is exact.
inline constexpr Eigen::Index kExactNearDuplicateRows = 50000;

/// Two near-identical samples, first < second (rows of the searched matrix).
struct NearDuplicatePair {
  Eigen::Index first = 0;
  Eigen::Index second = 0;
  double cosine = 0.0;  ///< of the two rows, over all columns
  bool operator==(const NearDuplicatePair&) const = default;
};

/// The cosine from which two rows of `x` are near-duplicates: 1 − share × the median over rows
/// of 1 − (the cosine to its nearest other row), the median taken over at most 2,000 rows drawn
/// with context.seed (all rows when fewer). 1 for fewer than two rows. Throws InvalidArgument
/// when share is not in (0, 1].
double relative_near_duplicate_cosine(MatrixRef x, double share, const Context& context);

/// Every pair of rows of `x` (n × d) whose cosine is at least `min_cosine`, except pairs of
/// the same group: `group` (empty, or n values — e.g. image ids) puts boxes of one image
/// together, whose overlap the box checks judge instead. Rows of norm 0 take part in no pair.
/// Sorted by first, then second; the same pairs for any thread count.
/// Throws InvalidArgument when min_cosine is not in (0, 1] or group has the wrong length.
/// `context`: threads, seed (of the k-means beyond exact_rows), progress, cancellation.
std::vector<NearDuplicatePair> find_near_duplicates(MatrixRef x, std::span<const std::int64_t> group,
                                                    double min_cosine, const Context& context,
                                                    Eigen::Index exact_rows = kExactNearDuplicateRows);

/// What a near-duplicate pair says about its labels.
enum class NearDuplicateKind {
  kConflictingLabels,  ///< different labels: the same object cannot be both, one is very likely wrong
  kLeakage,            ///< the same label: a copy that leaks between a training and a test split
};

/// "conflicting_labels" or "leakage", as findings name them.
std::string_view near_duplicate_kind_name(NearDuplicateKind kind);

/// One near-duplicate pair told for a reviewer, on the later sample of the pair.
struct NearDuplicateFinding {
  SampleId id = 0;     ///< the pair's second sample
  SampleId other = 0;  ///< its first sample
  Eigen::Index row = 0;  ///< the row of `id`
  NearDuplicateKind kind = NearDuplicateKind::kConflictingLabels;
  double cosine = 0.0;
  std::string detail;  ///< one sentence naming both samples, their labels, images and splits
};

/// The samples the rows of a near-duplicate search stand for.
struct NearDuplicateSamples {
  std::span<const SampleId> ids;                      ///< per row
  std::span<const Label> labels;                      ///< per row
  std::span<const std::optional<std::int64_t>> images;  ///< per row, nullopt = unknown; may be empty
  std::span<const std::uint8_t> in_test;              ///< per row, 1 = test split; may be empty
  const ClassNames* names = nullptr;                  ///< label names; numbers without
};

/// The findings of `pairs` (rows of `samples`), in the pairs' order.
std::vector<NearDuplicateFinding> describe_near_duplicates(std::span<const NearDuplicatePair> pairs,
                                                           const NearDuplicateSamples& samples);

/// What one search found, and the cosine it searched from.
struct NearDuplicateReport {
  double cosine = 1.0;
  std::vector<NearDuplicateFinding> findings;  ///< by first row, then second
};

/// The whole search over the rows of `x` that `samples` describes (`check --features`, sessions,
/// Python): pairs of different images — rows of one known image together, a row of unknown
/// image in an image of its own — from the cosine `min_cosine`, or, when it is 0, from
/// relative_near_duplicate_cosine(x, share). Throws InvalidArgument as those functions do, or
/// when a span of `samples` has the wrong length.
NearDuplicateReport near_duplicate_findings(MatrixRef x, const NearDuplicateSamples& samples,
                                            double share, double min_cosine, const Context& context);

}  // namespace coreclean::coreset

#endif  // CORECLEAN_CORESET_NEAR_DUPLICATES_H_
