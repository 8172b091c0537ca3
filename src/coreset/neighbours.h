#ifndef CORECLEAN_SRC_CORESET_NEIGHBOURS_H_
#define CORECLEAN_SRC_CORESET_NEIGHBOURS_H_

// The neighbour view of the coreset tree: every sample's k nearest other samples by cosine
// similarity of φ, searched with faiss. Exact (blocked inner products over the row-normalised
// φ) up to kExactNeighbourRows samples; beyond, approximate: ⌈√n⌉ cells of spherical k-means
// (trained on at most 65,536 rows), each cell's rows searched exactly among the rows of the cells
// nearest it — at least kNeighbourProbes, as many as the data needs for recall@k ≥ 0.97 on 500
// sampled rows (exactly searched for the calibration), at most kMaxNeighbourProbes.
// bench/neighbour_recall.py measures its recall@10 against the exact search and its time.

#include <coreclean/core/context.h>
#include <coreclean/core/types.h>

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace coreclean::coreset {

/// Samples up to which the search is exact.
inline constexpr Eigen::Index kExactNeighbourRows = 50000;
/// Cells an approximate search probes per query, at least and at most (the search's cost grows
/// with them).
inline constexpr int kNeighbourProbes = 24;
inline constexpr int kMaxNeighbourProbes = 32;
/// Columns of a PCA sketch the search uses (its leading components).
inline constexpr Eigen::Index kNeighbourSearchDims = 64;
/// Bytes of work a searching thread holds: faiss's block of inner products (4,096 × 1,024
/// float32), the rest being small.
inline constexpr double kNeighbourThreadBytes = 4.0 * 4096 * 1024;

/// Every sample's k nearest other samples, most similar first. Row i of `index` / `similarity`
/// (n × k, row-major) lists sample i's neighbours; −1 (similarity 0) pads a row when fewer than
/// k others exist.
struct NeighbourLists {
  int k = 0;
  std::vector<std::int64_t> index;
  std::vector<float> similarity;

  [[nodiscard]] Eigen::Index rows() const {
    return k == 0 ? 0 : static_cast<Eigen::Index>(index.size()) / k;
  }
  [[nodiscard]] std::span<const std::int64_t> of(Eigen::Index i) const {
    return {index.data() + i * k, static_cast<std::size_t>(k)};
  }
  [[nodiscard]] std::span<const float> similarities(Eigen::Index i) const {
    return {similarity.data() + i * k, static_cast<std::size_t>(k)};
  }
  bool operator==(const NeighbourLists&) const = default;
};

/// The k nearest neighbours (cosine similarity, the sample itself excluded) of every row of φ
/// (n × r). `sketched`: φ's columns are PCA components, largest variance first; the search then
/// uses the leading kNeighbourSearchDims (all columns otherwise). Exact when n ≤ exact_rows; otherwise
/// approximate (see above). The same lists for any thread count. Rows of norm 0 have
/// similarity 0 to everything. `context`: threads, seed, progress, cancellation.
NeighbourLists search_neighbours(const RowMatrixXf& phi, int k, bool sketched,
                                 const Context& context,
                                 Eigen::Index exact_rows = kExactNeighbourRows);

/// Searches again the neighbours of the given rows (after their φ changed) against every row,
/// exactly, and sets the similarity of every listed pair that involves one of them to its new
/// value (lists re-sorted). Other rows' lists keep their members: a changed row joins a list
/// that did not hold it only at the next full search.
void research_rows(const RowMatrixXf& phi, bool sketched, std::span<const Eigen::Index> rows,
                   NeighbourLists& lists, const Context& context);

/// Adds rows [lists.rows(), φ.rows()) (appended samples): their lists are searched exactly
/// against every row; older lists are unchanged.
void extend_neighbours(const RowMatrixXf& phi, bool sketched, NeighbourLists& lists,
                       const Context& context);

/// `m` of the rows 0..n-1 (all when m ≥ n) drawn uniformly without replacement with an engine
/// seeded by `seed`, ascending.
std::vector<Eigen::Index> draw_rows(Eigen::Index n, Eigen::Index m, std::uint64_t seed);

/// Rows grouped for an approximate search: ⌈√n⌉ cells of spherical k-means over the rows of q
/// (which should have unit length; trained on at most 65,536 of them, drawn with context.seed),
/// each cell with the `probes` cells whose centroids are nearest its own.
struct CellGroups {
  std::vector<std::vector<Eigen::Index>> members;  ///< rows of each cell, ascending
  std::vector<std::int64_t> probe;                 ///< cells × probes, the cell itself first
  int probes = 0;

  /// The rows of the cells `cell` probes, ascending: its rows' candidates.
  [[nodiscard]] std::vector<Eigen::Index> candidates(Eigen::Index cell) const;
  /// Keeps each cell's first `count` probes (nothing changes when it has no more).
  void keep_probes(int count);
};

/// Groups the rows of q into cells (see CellGroups); `what` names the step in progress reports.
CellGroups group_into_cells(const RowMatrixXf& q, int probes, const Context& context,
                            std::string_view what);

}  // namespace coreclean::coreset

#endif  // CORECLEAN_SRC_CORESET_NEIGHBOURS_H_
