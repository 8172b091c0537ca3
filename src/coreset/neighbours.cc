#include "coreset/neighbours.h"

#include <coreclean/core/error.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include <faiss/Clustering.h>
#include <faiss/IndexFlat.h>
#include <faiss/utils/distances.h>

#include "core/check.h"
#include "core/parallel.h"

namespace coreclean::coreset {
namespace {

// Queries per block of an exact search: a block's products go through one BLAS call per
// 1,024 database rows (faiss's blocking), and blocks run on the context's threads.
constexpr Eigen::Index kQueryBlock = 1024;
// The approximate search's recall@k target, and the rows its probes are calibrated on (the
// recall of 500 rows × k neighbours is known to about ±0.3 % at 0.97).
constexpr double kTargetRecall = 0.97;
constexpr Eigen::Index kRecallQueries = 500;

// The rows of φ scaled to unit length, in the leading `dims` columns: a PCA sketch orders its
// components by variance, and the leading ones carry the neighbourhoods. 64 of 256: on
// fashion-MNIST with injected errors the view's AUROC was 0.886–0.892 from 64 to 256 columns
// (precision within 0.02), and at 12,073 × 2048 the search took 0.13 s instead of 0.20 s at 128
// (the products are as fast as the machine multiplies; the selection of the best k is the rest).
RowMatrixXf unit_rows(const RowMatrixXf& phi, Eigen::Index dims) {
  RowMatrixXf q = phi.leftCols(dims);
  for (Eigen::Index i = 0; i < q.rows(); ++i) {
    const float norm = q.row(i).norm();
    if (norm > 0.0f) {
      q.row(i) /= norm;
    } else {
      q.row(i).setZero();
    }
  }
  return q;
}

// Writes query `self`'s k best hits (of k + 1 found) into its row of `lists`, itself left out.
void keep_hits(Eigen::Index self, const std::int64_t* hit, const float* sim, int k,
               NeighbourLists& lists) {
  std::int64_t* out_index = lists.index.data() + self * k;
  float* out_sim = lists.similarity.data() + self * k;
  int kept = 0;
  for (int j = 0; j <= k && kept < k; ++j) {
    if (hit[j] == self || hit[j] < 0) continue;
    out_index[kept] = hit[j];
    out_sim[kept] = sim[j];
    ++kept;
  }
  for (; kept < k; ++kept) {
    out_index[kept] = -1;
    out_sim[kept] = 0.0f;
  }
}

// Exact search of the given query rows of q against the candidate rows (all when `candidates`
// is empty), k + 1 hits each so that the query itself can be dropped.
void exact_search(const RowMatrixXf& q, std::span<const Eigen::Index> queries,
                  std::span<const Eigen::Index> candidates, int k, NeighbourLists& lists) {
  const auto nq = static_cast<Eigen::Index>(queries.size());
  const Eigen::Index r = q.cols();
  RowMatrixXf qx(nq, r);
  for (Eigen::Index j = 0; j < nq; ++j) qx.row(j) = q.row(queries[j]);
  RowMatrixXf gathered;
  const float* base = q.data();
  Eigen::Index ny = q.rows();
  if (!candidates.empty()) {
    ny = static_cast<Eigen::Index>(candidates.size());
    gathered.resize(ny, r);
    for (Eigen::Index j = 0; j < ny; ++j) gathered.row(j) = q.row(candidates[j]);
    base = gathered.data();
  }
  const auto kk = static_cast<std::size_t>(std::min<Eigen::Index>(k + 1, ny));
  std::vector<float> sim(static_cast<std::size_t>(nq) * (k + 1), 0.0f);
  std::vector<std::int64_t> hit(static_cast<std::size_t>(nq) * (k + 1), -1);
  std::vector<float> block_sim(static_cast<std::size_t>(nq) * kk);
  std::vector<std::int64_t> block_hit(static_cast<std::size_t>(nq) * kk);
  faiss::knn_inner_product(qx.data(), base, static_cast<std::size_t>(r), static_cast<std::size_t>(nq),
                           static_cast<std::size_t>(ny), kk, block_sim.data(), block_hit.data());
  for (Eigen::Index j = 0; j < nq; ++j) {
    for (std::size_t h = 0; h < kk; ++h) {
      const std::int64_t at = block_hit[static_cast<std::size_t>(j) * kk + h];
      hit[static_cast<std::size_t>(j) * (k + 1) + h] =
          at < 0 ? -1 : (candidates.empty() ? at : candidates[static_cast<std::size_t>(at)]);
      sim[static_cast<std::size_t>(j) * (k + 1) + h] = block_sim[static_cast<std::size_t>(j) * kk + h];
    }
    keep_hits(queries[j], hit.data() + j * (k + 1), sim.data() + j * (k + 1), k, lists);
  }
}

void exact_search_all(const RowMatrixXf& q, std::span<const Eigen::Index> queries, int k,
                      NeighbourLists& lists, const Context& context, std::string_view what) {
  const auto nq = static_cast<Eigen::Index>(queries.size());
  const Eigen::Index blocks = (nq + kQueryBlock - 1) / kQueryBlock;
  detail::parallel_blocks(blocks, context, what, [&](std::int64_t b) {
    const Eigen::Index begin = b * kQueryBlock, end = std::min(nq, begin + kQueryBlock);
    exact_search(q, queries.subspan(static_cast<std::size_t>(begin), static_cast<std::size_t>(end - begin)),
                 {}, k, lists);
  });
}

}  // namespace

std::vector<Eigen::Index> draw_rows(Eigen::Index n, Eigen::Index m, std::uint64_t seed) {
  std::vector<Eigen::Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  m = std::min(n, m);
  for (Eigen::Index j = 0; j < m; ++j) {  // a partial Fisher–Yates shuffle
    std::uniform_int_distribution<Eigen::Index> pick(j, n - 1);
    std::swap(order[static_cast<std::size_t>(j)], order[static_cast<std::size_t>(pick(rng))]);
  }
  order.resize(static_cast<std::size_t>(m));
  std::sort(order.begin(), order.end());
  return order;
}

CellGroups group_into_cells(const RowMatrixXf& q, int probes, const Context& context,
                            std::string_view what) {
  const Eigen::Index n = q.rows(), r = q.cols();
  const auto cells = static_cast<Eigen::Index>(std::ceil(std::sqrt(static_cast<double>(n))));
  constexpr Eigen::Index kTrainRows = 65536;
  const std::vector<Eigen::Index> order = draw_rows(n, kTrainRows, context.seed ^ 0x6e65696768626f75ULL);
  const auto m = static_cast<Eigen::Index>(order.size());
  RowMatrixXf train(m, r);
  for (Eigen::Index j = 0; j < m; ++j) train.row(j) = q.row(order[static_cast<std::size_t>(j)]);
  faiss::ClusteringParameters cp;
  cp.niter = 10;
  cp.spherical = true;
  cp.seed = static_cast<int>(context.seed & 0x7fffffff);
  cp.max_points_per_centroid = static_cast<int>(std::max<Eigen::Index>(1, m / cells) + 1);
  faiss::Clustering clustering(static_cast<int>(r), static_cast<std::size_t>(cells), cp);
  faiss::IndexFlatIP centroid_index(static_cast<faiss::Index::idx_t>(r));
  context.report_progress(0, 1, what);
  clustering.train(static_cast<faiss::Index::idx_t>(m), train.data(), centroid_index);
  train.resize(0, 0);
  // Every row's cell.
  std::vector<faiss::Index::idx_t> cell(static_cast<std::size_t>(n));
  {
    std::vector<float> unused(static_cast<std::size_t>(n));
    centroid_index.search(static_cast<faiss::Index::idx_t>(n), q.data(), 1, unused.data(), cell.data());
  }
  CellGroups groups;
  groups.probes = static_cast<int>(std::min<Eigen::Index>(probes, cells));
  // Each cell's probes: the centroids nearest its own (itself first).
  std::vector<float> probe_sim(static_cast<std::size_t>(cells * groups.probes));
  std::vector<faiss::Index::idx_t> probe(static_cast<std::size_t>(cells * groups.probes));
  centroid_index.search(static_cast<faiss::Index::idx_t>(cells), clustering.centroids.data(),
                        groups.probes, probe_sim.data(), probe.data());
  groups.probe.assign(probe.begin(), probe.end());
  groups.members.resize(static_cast<std::size_t>(cells));
  for (Eigen::Index i = 0; i < n; ++i) groups.members[static_cast<std::size_t>(cell[i])].push_back(i);
  return groups;
}

void CellGroups::keep_probes(int count) {
  if (count >= probes) return;
  std::vector<std::int64_t> kept(members.size() * static_cast<std::size_t>(count));
  for (std::size_t c = 0; c < members.size(); ++c)
    std::copy_n(probe.begin() + static_cast<std::ptrdiff_t>(c * probes), count,
                kept.begin() + static_cast<std::ptrdiff_t>(c * count));
  probe = std::move(kept);
  probes = count;
}

std::vector<Eigen::Index> CellGroups::candidates(Eigen::Index cell) const {
  std::vector<Eigen::Index> out;
  for (int p = 0; p < probes; ++p) {
    const std::int64_t other = probe[static_cast<std::size_t>(cell * probes + p)];
    if (other < 0) continue;
    const auto& rows = members[static_cast<std::size_t>(other)];
    out.insert(out.end(), rows.begin(), rows.end());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

namespace {

// The probes a cell-restricted search needs for recall@k ≥ kTargetRecall on these rows. A row's
// search is exact among the rows of the cells its cell probes, so its recall with P probes is
// the share of its exact k nearest that lie in one of those P cells: measured exactly on
// kRecallQueries rows drawn with the seed (their exact lists: one blocked product against every
// row), and P is the smallest count that reaches the target — at least kNeighbourProbes, at most
// the probes `groups` holds.
int probes_for_recall(const RowMatrixXf& q, int k, const CellGroups& groups, const Context& context) {
  const Eigen::Index n = q.rows();
  const auto cells = static_cast<Eigen::Index>(groups.members.size());
  const std::vector<Eigen::Index> order = draw_rows(n, kRecallQueries, context.seed ^ 0x726563616c6cULL);
  NeighbourLists sample;
  sample.k = k;
  sample.index.assign(static_cast<std::size_t>(n * k), -1);
  sample.similarity.assign(static_cast<std::size_t>(n * k), 0.0f);
  exact_search_all(q, order, k, sample, context, "");
  std::vector<std::int64_t> cell_of(static_cast<std::size_t>(n));
  for (Eigen::Index c = 0; c < cells; ++c)
    for (Eigen::Index i : groups.members[static_cast<std::size_t>(c)]) cell_of[static_cast<std::size_t>(i)] = c;
  // For every exact neighbour: the position of its cell in the query cell's probe order.
  std::vector<int> rank_of(static_cast<std::size_t>(cells));
  std::vector<int> ranks;
  for (Eigen::Index i : order) {
    const std::int64_t c = cell_of[static_cast<std::size_t>(i)];
    std::fill(rank_of.begin(), rank_of.end(), groups.probes);
    for (int p = 0; p < groups.probes; ++p) {
      const std::int64_t other = groups.probe[static_cast<std::size_t>(c * groups.probes + p)];
      if (other >= 0) rank_of[static_cast<std::size_t>(other)] = std::min(rank_of[static_cast<std::size_t>(other)], p);
    }
    for (const std::int64_t j : sample.of(i))
      if (j >= 0) ranks.push_back(rank_of[static_cast<std::size_t>(cell_of[static_cast<std::size_t>(j)])]);
  }
  const int least = std::min(kNeighbourProbes, groups.probes);
  if (ranks.empty()) return least;
  std::sort(ranks.begin(), ranks.end());
  const auto at = static_cast<std::size_t>(std::ceil(kTargetRecall * static_cast<double>(ranks.size()))) - 1;
  const int needed = std::min(ranks[std::min(at, ranks.size() - 1)] + 1, groups.probes);
  return std::max(needed, least);
}

// Approximate search for large n: the rows of each cell (group_into_cells) are searched
// exactly, in one blocked product, among the rows of the cells it probes — as many as
// probes_for_recall() finds the data needs, up to kMaxNeighbourProbes (data whose neighbourhoods
// cells cannot localise, such as isotropic noise in many dimensions, would need them all: an
// exact search, O(n²)). A cell's rows share their candidates, so the search runs at
// matrix-product speed.
void approximate_search(const RowMatrixXf& q, int k, NeighbourLists& lists, const Context& context) {
  const auto cells = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(q.rows()))));
  CellGroups groups = group_into_cells(q, std::min(cells, kMaxNeighbourProbes), context,
                                       "neighbours: cells");
  const int probes = probes_for_recall(q, k, groups, context);
  groups.keep_probes(probes);
  detail::parallel_blocks(cells, context, "neighbours: searching", [&](std::int64_t c) {
    const auto& queries = groups.members[static_cast<std::size_t>(c)];
    if (queries.empty()) return;
    const std::vector<Eigen::Index> candidates = groups.candidates(c);
    for (std::size_t b = 0; b < queries.size(); b += kQueryBlock) {
      const std::size_t e = std::min(queries.size(), b + kQueryBlock);
      exact_search(q, std::span(queries).subspan(b, e - b), candidates, k, lists);
    }
  });
}

// Columns the search uses: the leading ones of a PCA sketch, every column otherwise.
Eigen::Index search_dims(const RowMatrixXf& phi, bool sketched) {
  return sketched ? std::min(phi.cols(), kNeighbourSearchDims) : phi.cols();
}

void sort_row(NeighbourLists& lists, Eigen::Index i) {
  const int k = lists.k;
  std::vector<std::pair<float, std::int64_t>> row;
  for (int j = 0; j < k; ++j)
    if (lists.index[i * k + j] >= 0) row.emplace_back(lists.similarity[i * k + j], lists.index[i * k + j]);
  std::sort(row.begin(), row.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  for (int j = 0; j < k; ++j) {
    lists.index[i * k + j] = j < static_cast<int>(row.size()) ? row[j].second : -1;
    lists.similarity[i * k + j] = j < static_cast<int>(row.size()) ? row[j].first : 0.0f;
  }
}

}  // namespace

NeighbourLists search_neighbours(const RowMatrixXf& phi, int k, bool sketched,
                                 const Context& context, Eigen::Index exact_rows) {
  CORECLEAN_THROW_IF_NOT(k >= 1, "neighbours: k = {} (must be >= 1)", k);
  NeighbourLists lists;
  lists.k = k;
  const Eigen::Index n = phi.rows();
  lists.index.assign(static_cast<std::size_t>(n * k), -1);
  lists.similarity.assign(static_cast<std::size_t>(n * k), 0.0f);
  if (n < 2) return lists;
  const RowMatrixXf q = unit_rows(phi, search_dims(phi, sketched));
  if (n <= exact_rows) {
    std::vector<Eigen::Index> all(static_cast<std::size_t>(n));
    std::iota(all.begin(), all.end(), 0);
    exact_search_all(q, all, k, lists, context, n > 20000 ? "neighbours: searching" : "");
  } else {
    approximate_search(q, k, lists, context);
  }
  return lists;
}

void research_rows(const RowMatrixXf& phi, bool sketched, std::span<const Eigen::Index> rows,
                   NeighbourLists& lists, const Context& context) {
  if (lists.k == 0 || rows.empty()) return;
  const RowMatrixXf q = unit_rows(phi, search_dims(phi, sketched));
  exact_search_all(q, rows, lists.k, lists, context, "");
  // Pairs (i, j) with j changed and i not: the similarity is recomputed where i lists j.
  std::vector<std::uint8_t> changed(static_cast<std::size_t>(phi.rows()), 0);
  for (Eigen::Index i : rows) changed[static_cast<std::size_t>(i)] = 1;
  for (Eigen::Index i = 0; i < lists.rows(); ++i) {
    if (changed[static_cast<std::size_t>(i)]) continue;
    bool touched = false;
    for (int j = 0; j < lists.k; ++j) {
      const std::int64_t other = lists.index[i * lists.k + j];
      if (other >= 0 && changed[static_cast<std::size_t>(other)]) {
        lists.similarity[i * lists.k + j] = q.row(i).dot(q.row(other));
        touched = true;
      }
    }
    if (touched) sort_row(lists, i);
  }
}

void extend_neighbours(const RowMatrixXf& phi, bool sketched, NeighbourLists& lists,
                       const Context& context) {
  if (lists.k == 0) return;
  const Eigen::Index n0 = lists.rows(), n = phi.rows();
  lists.index.resize(static_cast<std::size_t>(n * lists.k), -1);
  lists.similarity.resize(static_cast<std::size_t>(n * lists.k), 0.0f);
  std::vector<Eigen::Index> added(static_cast<std::size_t>(n - n0));
  std::iota(added.begin(), added.end(), n0);
  const RowMatrixXf q = unit_rows(phi, search_dims(phi, sketched));
  exact_search_all(q, added, lists.k, lists, context, "");
}

}  // namespace coreclean::coreset
