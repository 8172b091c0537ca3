#include <coreclean/coreset/near_duplicates.h>

#include <coreclean/core/error.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>

#include <fmt/format.h>

#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/utils/distances.h>

#include "core/check.h"
#include "core/parallel.h"
#include "coreset/neighbours.h"

namespace coreclean::coreset {
namespace {

// Query rows per block of the candidate search.
constexpr Eigen::Index kQueryBlock = 1024;
// Rounding of a cosine computed in double precision: a pair this far below the threshold counts.
constexpr double kDoubleSlack = 1e-12;
// Query rows of the nearest-neighbour distances the relative threshold is the median of: the
// sample median of 2,000 draws lies within about ±2 percentiles of the median of all rows.
constexpr Eigen::Index kMedianRows = 2000;

// The rows scaled to unit length (rows of norm 0, which have no direction, left at 0), and the
// rows' norms in double precision.
struct UnitRows {
  RowMatrixXf u;
  std::vector<double> norm;
};

UnitRows unit_rows(MatrixRef x) {
  const Eigen::Index n = x.rows();
  UnitRows out{RowMatrixXf(x), std::vector<double>(static_cast<std::size_t>(n), 0.0)};
  for (Eigen::Index i = 0; i < n; ++i) {
    const double norm = out.u.row(i).cast<double>().norm();
    out.norm[static_cast<std::size_t>(i)] = norm;
    if (norm > 0.0) out.u.row(i) = (out.u.row(i).cast<double>() / norm).cast<float>();
  }
  return out;
}

// The rows a pair's cosine is confirmed on: the samples as given, and their norms.
struct Confirmation {
  MatrixRef x;
  const std::vector<double>& norm;
  std::span<const std::int64_t> group;
  double t;
};

// The pairs (i, j) of one block of queries among their candidates that are confirmed — different
// groups and a cosine ≥ t, computed in double precision from the samples themselves (so that an
// exact copy has cosine 1 to rounding of a double, not of a float) — smaller row first.
// `candidate(h)` names the row of hit label h.
template <typename Candidate>
void confirm(const faiss::RangeSearchResult& hits, std::span<const Eigen::Index> queries,
             Candidate candidate, const Confirmation& c, std::vector<NearDuplicatePair>& out) {
  for (std::size_t a = 0; a < queries.size(); ++a) {
    const Eigen::Index i = queries[a];
    for (std::size_t h = hits.lims[a]; h < hits.lims[a + 1]; ++h) {
      const Eigen::Index j = candidate(hits.labels[h]);
      if (j == i) continue;
      if (!c.group.empty() && c.group[static_cast<std::size_t>(i)] == c.group[static_cast<std::size_t>(j)])
        continue;
      const double ni = c.norm[static_cast<std::size_t>(i)], nj = c.norm[static_cast<std::size_t>(j)];
      if (ni == 0.0 || nj == 0.0) continue;  // no direction
      double dot = 0.0;
      for (Eigen::Index k = 0; k < c.x.cols(); ++k)
        dot += static_cast<double>(c.x(i, k)) * static_cast<double>(c.x(j, k));
      const double cosine = std::min(dot / ni / nj, 1.0);
      if (cosine >= c.t - kDoubleSlack) out.push_back({std::min(i, j), std::max(i, j), cosine});
    }
  }
}

// Range search of `queries` (rows of u) among `ny` rows starting at `base`: the pairs whose
// inner product (in float, blocked products) exceeds `floor`.
faiss::RangeSearchResult range_search(const RowMatrixXf& u, std::span<const Eigen::Index> queries,
                                      const float* base, std::size_t ny, float floor) {
  const Eigen::Index d = u.cols();
  RowMatrixXf qx(static_cast<Eigen::Index>(queries.size()), d);
  for (std::size_t j = 0; j < queries.size(); ++j) qx.row(static_cast<Eigen::Index>(j)) = u.row(queries[j]);
  faiss::RangeSearchResult hits(static_cast<faiss::Index::idx_t>(queries.size()));
  faiss::range_search_inner_product(qx.data(), base, static_cast<std::size_t>(d), queries.size(), ny,
                                    floor, &hits);
  return hits;
}

}  // namespace

std::vector<NearDuplicatePair> find_near_duplicates(MatrixRef x, std::span<const std::int64_t> group,
                                                    double min_cosine, const Context& context,
                                                    Eigen::Index exact_rows) {
  CORECLEAN_THROW_IF_NOT(min_cosine > 0.0 && min_cosine <= 1.0,
                         "near-duplicates: the cosine threshold must be in (0, 1], got {}",
                         min_cosine);
  const Eigen::Index n = x.rows();
  CORECLEAN_THROW_IF_NOT(group.empty() || static_cast<Eigen::Index>(group.size()) == n,
                         "near-duplicates: {} groups for {} rows", group.size(), n);
  if (n < 2) return {};
  const UnitRows rows = unit_rows(x);
  // Candidates from float products of the unit rows, taken from below the threshold by more than
  // their rounding can be (each of the d terms of a product of unit rows, and the rows' own
  // scaling, err by at most a few float epsilons), each confirmed in double precision.
  const Eigen::Index d = x.cols();
  const auto floor = static_cast<float>(min_cosine - 1e-4 - 4.0 * static_cast<double>(d) * 0x1p-24);
  const Confirmation check{x, rows.norm, group, min_cosine};

  std::vector<std::vector<NearDuplicatePair>> found;
  if (n <= exact_rows) {
    // Block b's queries against the rows from its own first row on: each pair once.
    const Eigen::Index blocks = (n + kQueryBlock - 1) / kQueryBlock;
    found.resize(static_cast<std::size_t>(blocks));
    std::vector<Eigen::Index> all(static_cast<std::size_t>(n));
    std::iota(all.begin(), all.end(), 0);
    detail::parallel_blocks(blocks, context, n > 20000 ? "near-duplicates: searching" : "",
                            [&](std::int64_t b) {
      const Eigen::Index begin = b * kQueryBlock, end = std::min(n, begin + kQueryBlock);
      const std::span<const Eigen::Index> queries(all.data() + begin, static_cast<std::size_t>(end - begin));
      const faiss::RangeSearchResult hits = range_search(
          rows.u, queries, rows.u.data() + begin * d, static_cast<std::size_t>(n - begin), floor);
      confirm(hits, queries, [&](std::int64_t h) { return begin + h; }, check,
              found[static_cast<std::size_t>(b)]);
    });
  } else {
    // Cells of the rows' directions: near-identical rows share a cell or sit in cells that
    // probe each other.
    const CellGroups cells = group_into_cells(rows.u, kNeighbourProbes, context,
                                              "near-duplicates: cells");
    found.resize(cells.members.size());
    detail::parallel_blocks(static_cast<std::int64_t>(cells.members.size()), context,
                            "near-duplicates: searching", [&](std::int64_t c) {
      const auto& members = cells.members[static_cast<std::size_t>(c)];
      if (members.empty()) return;
      const std::vector<Eigen::Index> candidates = cells.candidates(c);
      RowMatrixXf gathered(static_cast<Eigen::Index>(candidates.size()), d);
      for (std::size_t j = 0; j < candidates.size(); ++j)
        gathered.row(static_cast<Eigen::Index>(j)) = rows.u.row(candidates[j]);
      for (std::size_t b = 0; b < members.size(); b += kQueryBlock) {
        const std::span<const Eigen::Index> queries =
            std::span(members).subspan(b, std::min<std::size_t>(kQueryBlock, members.size() - b));
        const faiss::RangeSearchResult hits =
            range_search(rows.u, queries, gathered.data(), candidates.size(), floor);
        confirm(hits, queries, [&](std::int64_t h) { return candidates[static_cast<std::size_t>(h)]; },
                check, found[static_cast<std::size_t>(c)]);
      }
    });
  }
  std::vector<NearDuplicatePair> pairs;
  for (auto& part : found) pairs.insert(pairs.end(), part.begin(), part.end());
  std::sort(pairs.begin(), pairs.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : a.second < b.second;
  });
  // A pair whose rows sit in cells that probe each other is found from both.
  pairs.erase(std::unique(pairs.begin(), pairs.end(),
                          [](const auto& a, const auto& b) { return a.first == b.first && a.second == b.second; }),
              pairs.end());
  return pairs;
}

double relative_near_duplicate_cosine(MatrixRef x, double share, const Context& context) {
  CORECLEAN_THROW_IF_NOT(share > 0.0 && share <= 1.0,
                         "near-duplicates: the share of the median distance must be in (0, 1], got {}",
                         share);
  const Eigen::Index n = x.rows();
  if (n < 2) return 1.0;
  const UnitRows rows = unit_rows(x);
  // The query rows: all, or kMedianRows drawn with the seed.
  const std::vector<Eigen::Index> order = draw_rows(n, kMedianRows, context.seed ^ 0x6d656469616eULL);
  const auto m = static_cast<Eigen::Index>(order.size());
  std::vector<double> distance(static_cast<std::size_t>(m));
  const Eigen::Index blocks = (m + kQueryBlock - 1) / kQueryBlock;
  detail::parallel_blocks(blocks, context, "", [&](std::int64_t b) {
    const Eigen::Index begin = b * kQueryBlock, end = std::min(m, begin + kQueryBlock);
    RowMatrixXf queries(end - begin, rows.u.cols());
    for (Eigen::Index j = begin; j < end; ++j) queries.row(j - begin) = rows.u.row(order[static_cast<std::size_t>(j)]);
    std::vector<float> sim(static_cast<std::size_t>((end - begin) * 2));
    std::vector<faiss::Index::idx_t> hit(static_cast<std::size_t>((end - begin) * 2));
    faiss::knn_inner_product(queries.data(), rows.u.data(), static_cast<std::size_t>(rows.u.cols()),
                             static_cast<std::size_t>(end - begin), static_cast<std::size_t>(n), 2,
                             sim.data(), hit.data());
    for (Eigen::Index j = begin; j < end; ++j) {
      // The best hit other than the row itself (an exact copy may come first instead of it).
      const auto at = static_cast<std::size_t>(2 * (j - begin));
      const bool self_first = hit[at] == order[static_cast<std::size_t>(j)];
      const double cosine = std::clamp(static_cast<double>(sim[self_first ? at + 1 : at]), -1.0, 1.0);
      distance[static_cast<std::size_t>(j)] = 1.0 - cosine;
    }
  });
  const auto mid = distance.begin() + static_cast<std::ptrdiff_t>(distance.size() / 2);
  std::nth_element(distance.begin(), mid, distance.end());
  return 1.0 - share * std::max(0.0, *mid);
}

std::string_view near_duplicate_kind_name(NearDuplicateKind kind) {
  return kind == NearDuplicateKind::kLeakage ? "leakage" : "conflicting_labels";
}

std::vector<NearDuplicateFinding> describe_near_duplicates(std::span<const NearDuplicatePair> pairs,
                                                           const NearDuplicateSamples& samples) {
  auto name = [&](Eigen::Index row) {
    const Label l = samples.labels[static_cast<std::size_t>(row)];
    return samples.names ? class_name(*samples.names, l) : std::to_string(l);
  };
  auto where = [&](Eigen::Index row) {
    std::string out;
    if (!samples.images.empty() && samples.images[static_cast<std::size_t>(row)])
      out = fmt::format("image {}", *samples.images[static_cast<std::size_t>(row)]);
    if (!samples.in_test.empty() && samples.in_test[static_cast<std::size_t>(row)])
      out += out.empty() ? "test split" : ", test split";
    return out.empty() ? std::string() : " (" + out + ")";
  };
  std::vector<NearDuplicateFinding> out;
  out.reserve(pairs.size());
  for (const NearDuplicatePair& p : pairs) {
    NearDuplicateFinding f;
    f.id = samples.ids[static_cast<std::size_t>(p.second)];
    f.other = samples.ids[static_cast<std::size_t>(p.first)];
    f.row = p.second;
    f.cosine = p.cosine;
    const bool conflict = samples.labels[static_cast<std::size_t>(p.first)] !=
                          samples.labels[static_cast<std::size_t>(p.second)];
    f.kind = conflict ? NearDuplicateKind::kConflictingLabels : NearDuplicateKind::kLeakage;
    const bool across = !samples.in_test.empty() && samples.in_test[static_cast<std::size_t>(p.first)] !=
                                                        samples.in_test[static_cast<std::size_t>(p.second)];
    const std::string pair = fmt::format("boxes {}{} and {}{} look the same (cosine {:.4f} of their embeddings)",
                                         f.other, where(p.first), f.id, where(p.second), p.cosine);
    if (conflict) {
      f.detail = fmt::format("{} but are labelled {} and {}: one label is likely wrong", pair,
                             name(p.first), name(p.second));
    } else {
      f.detail = fmt::format("{}, both labelled {}: {}", pair, name(p.first),
                             across ? "the copy leaks between the training and the test split"
                                    : "a copy that leaks if the two land in different splits");
    }
    out.push_back(std::move(f));
  }
  return out;
}

NearDuplicateReport near_duplicate_findings(MatrixRef x, const NearDuplicateSamples& samples,
                                            double share, double min_cosine, const Context& context) {
  const auto n = static_cast<std::size_t>(x.rows());
  CORECLEAN_THROW_IF_NOT(samples.ids.size() == n && samples.labels.size() == n &&
                             (samples.images.empty() || samples.images.size() == n) &&
                             (samples.in_test.empty() || samples.in_test.size() == n),
                         "near-duplicates: the samples' ids, labels, images or splits do not have "
                         "{} entries (one per row)", n);
  // Rows of one known image form a group; a row of unknown image is a group of its own.
  std::vector<std::int64_t> group(n);
  std::map<std::int64_t, std::int64_t> group_of;
  for (std::size_t i = 0; i < n; ++i) {
    const std::optional<std::int64_t> image = samples.images.empty() ? std::nullopt : samples.images[i];
    group[i] = image ? group_of.emplace(*image, static_cast<std::int64_t>(group_of.size())).first->second
                     : -1 - static_cast<std::int64_t>(i);
  }
  NearDuplicateReport report;
  report.cosine = min_cosine > 0.0 ? min_cosine : relative_near_duplicate_cosine(x, share, context);
  const std::vector<NearDuplicatePair> pairs = find_near_duplicates(x, group, report.cosine, context);
  report.findings = describe_near_duplicates(pairs, samples);
  return report;
}

}  // namespace coreclean::coreset
