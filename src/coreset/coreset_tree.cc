#include <coreclean/coreset/coreset_tree.h>
#include <coreclean/linear/metrics.h>
#include <coreclean/linear/pca.h>

#include "core/check.h"
#include "core/parallel.h"
#include "coreset/tree_state.h"
#include "linear/symmetric_eigen.h"

#include <Eigen/Cholesky>     // for LLT
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <optional>
#include <random>
#include <set>

namespace coreclean::coreset {
namespace {

// Automatic leaf size: at least this many samples, and at most this many leaves.
constexpr Eigen::Index kMinChunk = 512;
constexpr Eigen::Index kTargetLeaves = 32;
// Leverage and LOO denominators never reach 0 (a sample that alone determines a direction).
constexpr double kMinOneMinusH = 1e-12;
// The feature map's PCA is fitted on every sample up to this many, else on this many drawn
// uniformly (seeded): the sketch has to keep the directions that carry most of the variance,
// which 65,536 samples of a few thousand dimensions pin down (faiss trains its PCA on a sample
// for the same reason), and a fit over every sample of a COCO-size set would cost two more
// passes over gigabytes.
constexpr Eigen::Index kPcaFitRows = 65536;
// The misfit ridge is chosen by the leave-one-out error of at most this many samples (drawn
// uniformly, seeded, when there are more).
constexpr Eigen::Index kRidgeChoiceRows = 65536;
// Rows per block of the passes over the samples (feature map, scores): a few MB of work
// matrices per thread.
constexpr Eigen::Index kPassRows = 1024;
// Pieces of the class Gram matrices computed at a time (their partial sums are held until added).
constexpr std::size_t kGramWave = 16;
// The view weights are fitted on at most this many samples (drawn uniformly, seeded).
constexpr Eigen::Index kFusionFitRows = 16384;

}  // namespace

// ---- params and state helpers --------------------------------------------------------------

void CoresetTreeParams::validate() const {
  CORECLEAN_THROW_IF_NOT(chunk_size >= 0, "coreset tree: chunk_size = {} (must be >= 0)",
                         chunk_size);
  CORECLEAN_THROW_IF_NOT(sketch_dim >= 1, "coreset tree: sketch_dim = {} (must be >= 1)",
                         sketch_dim);
  CORECLEAN_THROW_IF_NOT(std::isfinite(atypical_weight) && atypical_weight >= 0.0,
                         "coreset tree: atypical_weight = {} (must be >= 0)", atypical_weight);
  CORECLEAN_THROW_IF_NOT(std::isfinite(leverage_ridge) && leverage_ridge > 0.0,
                         "coreset tree: leverage_ridge = {} (must be > 0)", leverage_ridge);
  CORECLEAN_THROW_IF_NOT(!misfit_ridges.empty(), "coreset tree: misfit_ridges is empty");
  for (double r : misfit_ridges)
    CORECLEAN_THROW_IF_NOT(std::isfinite(r) && r > 0.0,
                           "coreset tree: misfit ridge {} (must be > 0)", r);
  CORECLEAN_THROW_IF_NOT(coreset_size >= 0, "coreset tree: coreset_size = {} (must be >= 0)",
                         coreset_size);
  CORECLEAN_THROW_IF_NOT(cross_fit_folds == 0 || cross_fit_folds >= 2,
                         "coreset tree: cross_fit_folds = {} (0 = off, or >= 2)", cross_fit_folds);
  CORECLEAN_THROW_IF_NOT(std::isfinite(cross_fit_c) && cross_fit_c >= 0.0,
                         "coreset tree: cross_fit_c = {} (must be > 0, or 0 = chosen)", cross_fit_c);
  CORECLEAN_THROW_IF_NOT(neighbours >= 0 && neighbours <= 100,
                         "coreset tree: neighbours = {} (0 = no neighbour view, at most 100)",
                         neighbours);
  CORECLEAN_THROW_IF_NOT(cross_fit_max_rows >= 0,
                         "coreset tree: cross_fit_max_rows = {} (must be >= 0; 0 = no limit)",
                         cross_fit_max_rows);
}

Eigen::VectorXd CoresetTreeState::augmented(Eigen::Index i) const {
  Eigen::VectorXd v(r1());
  v.head(phi.cols()) = phi.row(i).transpose().cast<double>();
  v[phi.cols()] = 1.0;
  return v;
}

int CoresetTreeState::class_index(Label l) const {
  const auto it = std::lower_bound(classes.begin(), classes.end(), l);
  return it != classes.end() && *it == l ? static_cast<int>(it - classes.begin()) : -1;
}

Eigen::Index CoresetTreeState::require_index(SampleId id) const {
  const auto it = index_of.find(id);
  CORECLEAN_THROW_IF_NOT(it != index_of.end(), "coreset tree: sample id {} is not in the tree",
                         id);
  return it->second;
}

std::vector<TreeNode> node_structure(Eigen::Index n, Eigen::Index chunk) {
  CORECLEAN_ASSERT(n >= 1 && chunk >= 1);
  std::vector<TreeNode> nodes;
  std::vector<Eigen::Index> level_nodes;
  for (Eigen::Index begin = 0; begin < n; begin += chunk) {
    TreeNode leaf;
    leaf.begin = begin;
    leaf.end = std::min(begin + chunk, n);
    level_nodes.push_back(static_cast<Eigen::Index>(nodes.size()));
    nodes.push_back(std::move(leaf));
  }
  while (level_nodes.size() > 1) {
    std::vector<Eigen::Index> next;
    for (std::size_t j = 0; j + 1 < level_nodes.size(); j += 2) {
      TreeNode node;
      node.left = level_nodes[j];
      node.right = level_nodes[j + 1];
      node.begin = nodes[node.left].begin;
      node.end = nodes[node.right].end;
      node.level = std::max(nodes[node.left].level, nodes[node.right].level) + 1;
      const Eigen::Index index = static_cast<Eigen::Index>(nodes.size());
      nodes[node.left].parent = index;
      nodes[node.right].parent = index;
      next.push_back(index);
      nodes.push_back(std::move(node));
    }
    if (level_nodes.size() % 2 == 1) next.push_back(level_nodes.back());
    level_nodes = std::move(next);
  }
  return nodes;
}

namespace {

using State = CoresetTreeState;

// Moves m elements of v drawn uniformly without replacement to its front (partial Fisher–Yates;
// m ≤ v.size()).
void draw_to_front(std::vector<Eigen::Index>& v, std::size_t m, std::mt19937_64& rng) {
  for (std::size_t j = 0; j < m; ++j) {
    std::uniform_int_distribution<std::size_t> pick(j, v.size() - 1);
    std::swap(v[j], v[pick(rng)]);
  }
}

// Rows [begin, end) of Φ̃ (with the column of ones) in double.
Eigen::MatrixXd augmented_rows(const State& s, const std::vector<Eigen::Index>& rows) {
  Eigen::MatrixXd out(static_cast<Eigen::Index>(rows.size()), s.r1());
  for (std::size_t j = 0; j < rows.size(); ++j) {
    out.row(static_cast<Eigen::Index>(j)).head(s.phi.cols()) = s.phi_row(rows[j]).cast<double>();
    out(static_cast<Eigen::Index>(j), s.phi.cols()) = 1.0;
  }
  return out;
}

// Recomputes a leaf's summaries from its samples, in pieces of kPassRows rows (a few MB of
// work matrices however large the leaf).
void summarize_leaf(const State& s, TreeNode& node) {
  const Eigen::Index r1 = s.r1();
  node.class_weight.setZero(s.k());
  node.class_count.setZero(s.k());
  node.moments.setZero(r1, s.k());
  node.gram.setZero(r1, r1);
  std::vector<Eigen::Index> rows;
  for (Eigen::Index begin = node.begin; begin < node.end; begin += kPassRows) {
    rows.clear();
    for (Eigen::Index i = begin; i < std::min(node.end, begin + kPassRows); ++i) {
      if (s.weight[i] <= 0.0) continue;
      rows.push_back(i);
      node.class_weight[s.label[i]] += s.weight[i];
      node.class_count[s.label[i]] += 1;
    }
    const Eigen::MatrixXd a = augmented_rows(s, rows);
    Eigen::VectorXd sw(static_cast<Eigen::Index>(rows.size()));
    for (std::size_t j = 0; j < rows.size(); ++j) sw[static_cast<Eigen::Index>(j)] = std::sqrt(s.weight[rows[j]]);
    // G += (√w ⊙ Φ̃)ᵀ(√w ⊙ Φ̃), B[:, y] += w φ̃.
    const Eigen::MatrixXd scaled = sw.asDiagonal() * a;
    node.gram.selfadjointView<Eigen::Lower>().rankUpdate(scaled.transpose());
    for (std::size_t j = 0; j < rows.size(); ++j)
      node.moments.col(s.label[rows[j]]) += s.weight[rows[j]] * a.row(static_cast<Eigen::Index>(j)).transpose();
  }
  node.gram = node.gram.selfadjointView<Eigen::Lower>();
}

void summarize_internal(std::vector<TreeNode>& nodes, TreeNode& node) {
  const TreeNode& a = nodes[node.left];
  const TreeNode& b = nodes[node.right];
  node.class_weight = a.class_weight + b.class_weight;
  node.class_count = a.class_count + b.class_count;
  node.gram = a.gram + b.gram;
  node.moments = a.moments + b.moments;
}

// Per-class Gram matrices over all samples (fresh): each class's samples in pieces of kPassRows,
// one partial Gram per piece (in parallel), added per class in piece order — the same bits for
// any number of threads, and a few MB of work per piece however large the class. Each process
// of `group` adds up the samples it holds; the partial Grams are summed over the group.
std::vector<Eigen::MatrixXd> compute_class_grams(const State& s, const Context& context,
                                                 const Collective& group) {
  std::vector<std::vector<Eigen::Index>> members(s.k());
  for (Eigen::Index i = s.phi_first; i < s.phi_first + s.phi.rows(); ++i)
    if (s.weight[i] > 0.0) members[s.label[i]].push_back(i);
  struct Piece {
    int c;
    std::size_t begin, end;
  };
  std::vector<Piece> pieces;
  for (int c = 0; c < s.k(); ++c)
    for (std::size_t b = 0; b < members[c].size(); b += kPassRows)
      pieces.push_back({c, b, std::min(members[c].size(), b + static_cast<std::size_t>(kPassRows))});
  // A wave of pieces at a time in parallel, each wave's partial Grams then added in piece
  // order: the bits do not depend on the thread count, and only one wave's partials are held
  // (one per piece took 437 MB at COCO's shape).
  const std::size_t wave = std::min(kGramWave, pieces.size());
  std::vector<Eigen::MatrixXd> partial(wave);
  std::vector<Eigen::MatrixXd> grams(s.k(), Eigen::MatrixXd::Zero(s.r1(), s.r1()));
  for (std::size_t first = 0; first < pieces.size(); first += wave) {
    context.report_progress(static_cast<std::int64_t>(first), static_cast<std::int64_t>(pieces.size()),
                            "coreset tree: class summaries");
    const std::size_t count = std::min(wave, pieces.size() - first);
    detail::parallel_blocks(static_cast<std::int64_t>(count), context, "", [&](std::int64_t b) {
      const Piece& piece = pieces[first + static_cast<std::size_t>(b)];
      const std::vector<Eigen::Index> rows(members[piece.c].begin() + static_cast<std::ptrdiff_t>(piece.begin),
                                           members[piece.c].begin() + static_cast<std::ptrdiff_t>(piece.end));
      const Eigen::MatrixXd a = augmented_rows(s, rows);
      Eigen::VectorXd sw(static_cast<Eigen::Index>(rows.size()));
      for (std::size_t j = 0; j < rows.size(); ++j) sw[static_cast<Eigen::Index>(j)] = std::sqrt(s.weight[rows[j]]);
      const Eigen::MatrixXd scaled = sw.asDiagonal() * a;
      partial[static_cast<std::size_t>(b)].setZero(s.r1(), s.r1());
      partial[static_cast<std::size_t>(b)].selfadjointView<Eigen::Lower>().rankUpdate(scaled.transpose());
    });
    for (std::size_t b = 0; b < count; ++b) grams[pieces[first + b].c] += partial[b];
  }
  context.report_progress(static_cast<std::int64_t>(pieces.size()), static_cast<std::int64_t>(pieces.size()),
                          "coreset tree: class summaries");
  for (auto& g : grams) {
    g = g.selfadjointView<Eigen::Lower>();
    group.sum({g.data(), static_cast<std::size_t>(g.size())});
  }
  return grams;
}

double mean_feature_diagonal(const Eigen::MatrixXd& g) {
  const Eigen::Index r = g.rows() - 1;
  return r > 0 ? g.diagonal().head(r).mean() : 1.0;
}

// Factorises the leverage system of one class.
void factor_class(State& s, int c, const CoresetTreeParams& p) {
  const Eigen::MatrixXd& g = s.class_gram[c];
  const double scale = mean_feature_diagonal(g);
  if (!(g(s.r1() - 1, s.r1() - 1) > 0.0) || !(scale > 0.0)) {
    s.model.class_ready[c] = false;
    return;
  }
  const double lambda = p.leverage_ridge * scale;
  Eigen::LLT<Eigen::MatrixXd> llt(g + lambda * Eigen::MatrixXd::Identity(s.r1(), s.r1()));
  s.model.class_ready[c] = llt.info() == Eigen::Success;
  if (s.model.class_ready[c]) s.model.class_factor[c] = llt.matrixL();
}

// P = Φ̃ V for the given samples: their coordinates in the eigenbasis of G. Computed once, it
// serves every ridge λ: (G + λI)⁻¹ = V (E + λ)⁻¹ Vᵀ.
Eigen::MatrixXd eigen_coordinates(const State& s, const std::vector<Eigen::Index>& rows) {
  return augmented_rows(s, rows) * s.model.eigenvectors;
}

// LOO scores F₋ᵢ (rows) and h for the given samples under ridge λ, from their P.
void loo_scores(const State& s, const std::vector<Eigen::Index>& rows, const Eigen::MatrixXd& proj,
                double lambda, Eigen::MatrixXd& f_loo, Eigen::VectorXd& h) {
  const Eigen::VectorXd inv = (s.model.eigenvalues.array() + lambda).inverse().matrix();
  h.resize(static_cast<Eigen::Index>(rows.size()));
  for (Eigen::Index j = 0; j < h.size(); ++j)
    h[j] = s.weight[rows[j]] * (proj.row(j).array().square() * inv.transpose().array()).sum();
  f_loo = proj * (inv.asDiagonal() * s.model.vt_moments);  // F = Φ̃ Θ
  for (Eigen::Index j = 0; j < h.size(); ++j) {
    const int y = s.label[rows[j]];
    const double denom = std::max(1.0 - h[j], kMinOneMinusH);
    f_loo(j, y) -= h[j];  // F − h e_y
    f_loo.row(j) /= denom;
  }
}

// Rebuilds the global model from the root; chooses λ by leave-one-out error when asked.
void solve_model(State& s, const CoresetTreeParams& p, bool choose_ridge, bool gram_changed,
                 const std::vector<int>& classes_to_factor, const Context& context = Context(),
                 const Collective& group = SingleProcess()) {
  const TreeNode& root = s.nodes[s.root()];
  // Relabels leave G (label-free) unchanged: only the moments move.
  if (gram_changed || s.model.eigenvectors.size() == 0) {
    // Into locals first: a failure must leave the model as it was.
    Eigen::VectorXd values;
    Eigen::MatrixXd vectors;
    CORECLEAN_THROW_IF_NOT_AS(InternalError, linear::symmetric_eigen(root.gram, values, vectors),
                              "coreset tree: eigendecomposition of the {} × {} Gram matrix failed",
                              s.r1(), s.r1());
    s.model.eigenvalues = values.cwiseMax(0.0);
    s.model.eigenvectors = std::move(vectors);
    s.eigen_coords.resize(0, 0);
  }
  s.model.vt_moments = s.model.eigenvectors.transpose() * root.moments;
  const double scale = std::max(mean_feature_diagonal(root.gram), 1e-300);
  if (choose_ridge) {
    // Leave-one-out error (weighted), then LOO squared error, over the candidate ridges. Pieces
    // of kPassRows samples run in parallel, each projected once for every ridge; the per-piece
    // sums are added in piece order (the same bits for any number of threads).
    std::vector<Eigen::Index> rows;
    for (Eigen::Index i = 0; i < s.n(); ++i)
      if (s.weight[i] > 0.0) rows.push_back(i);
    // The choice is statistical: on large sets a uniform sample of the samples judges the
    // ridges as well as all of them do, at a fraction of the K products per ridge.
    if (static_cast<Eigen::Index>(rows.size()) > kRidgeChoiceRows) {
      std::mt19937_64 rng(s.seed * 0x9E3779B97F4A7C15ULL + 0x71d6e);
      draw_to_front(rows, static_cast<std::size_t>(kRidgeChoiceRows), rng);
      rows.resize(kRidgeChoiceRows);
      std::sort(rows.begin(), rows.end());
    }
    // Each process judges the drawn samples it holds; the sums are added over the group.
    std::erase_if(rows, [&](Eigen::Index i) { return !s.holds(i); });
    const auto ridges = static_cast<Eigen::Index>(p.misfit_ridges.size());
    const auto pieces = static_cast<Eigen::Index>((rows.size() + kPassRows - 1) / kPassRows);
    Eigen::MatrixXd piece_err = Eigen::MatrixXd::Zero(pieces, ridges);
    Eigen::MatrixXd piece_sq = Eigen::MatrixXd::Zero(pieces, ridges);
    Eigen::VectorXd piece_total = Eigen::VectorXd::Zero(pieces);
    detail::parallel_blocks(pieces, context, "", [&](std::int64_t b) {
      const std::size_t begin = static_cast<std::size_t>(b * kPassRows);
      const std::vector<Eigen::Index> part(
          rows.begin() + static_cast<std::ptrdiff_t>(begin),
          rows.begin() + static_cast<std::ptrdiff_t>(std::min(rows.size(), begin + kPassRows)));
      const Eigen::MatrixXd proj = eigen_coordinates(s, part);
      Eigen::MatrixXd f;
      Eigen::VectorXd h;
      for (Eigen::Index q = 0; q < ridges; ++q) {
        loo_scores(s, part, proj, p.misfit_ridges[static_cast<std::size_t>(q)] * scale, f, h);
        for (std::size_t j = 0; j < part.size(); ++j) {
          const Eigen::Index jj = static_cast<Eigen::Index>(j);
          const double w = s.weight[part[j]];
          Eigen::Index best = 0;
          f.row(jj).maxCoeff(&best);
          piece_err(b, q) += w * (best != s.label[part[j]] ? 1.0 : 0.0);
          f(jj, s.label[part[j]]) -= 1.0;
          piece_sq(b, q) += w * f.row(jj).squaredNorm();
          if (q == 0) piece_total[b] += w;
        }
      }
    });
    // Per ridge: error sum, squared-error sum; then the total weight.
    Eigen::VectorXd sums(2 * ridges + 1);
    for (Eigen::Index q = 0; q < ridges; ++q) {
      sums[q] = piece_err.col(q).sum();
      sums[ridges + q] = piece_sq.col(q).sum();
    }
    sums[2 * ridges] = piece_total.sum();
    group.sum({sums.data(), static_cast<std::size_t>(sums.size())});
    const double total = sums[2 * ridges];
    double best_err = 2.0, best_sq = 0.0;
    for (Eigen::Index q = 0; q < ridges; ++q) {
      const double err = sums[q] / total;
      const double sq = sums[ridges + q] / total;
      if (err < best_err - 1e-12 || (std::abs(err - best_err) <= 1e-12 && sq < best_sq)) {
        best_err = err;
        best_sq = sq;
        s.misfit_ridge = p.misfit_ridges[static_cast<std::size_t>(q)];
      }
    }
  }
  s.model.lambda = s.misfit_ridge * scale;
  s.model.class_factor.resize(s.k());
  s.model.class_ready.resize(s.k(), false);
  for (int c : classes_to_factor) factor_class(s, c, p);
}

// The training rows of fold f's held-out model (every sample of the other folds with weight > 0)
// and the factor each row's weight is scaled by: all rows with factor 1 when they are at most
// max_rows (0 = no limit); else per class c a uniform sample of m_c of its n_c rows, factor
// n_c / m_c, with the m_c filled like water — classes in ascending size each take all their rows
// or an equal share of what is left — so that Σ m_c = max_rows. Rows stay in sample order.
void training_rows(const State& s, int f, Eigen::Index max_rows, std::vector<Eigen::Index>& rows,
                   std::vector<double>& scale) {
  std::vector<std::vector<Eigen::Index>> by_class(s.k());
  Eigen::Index total = 0;
  for (Eigen::Index i = 0; i < s.n(); ++i)
    if (s.fold[i] != f && s.weight[i] > 0.0) {
      by_class[s.label[i]].push_back(i);
      ++total;
    }
  rows.clear();
  scale.clear();
  if (max_rows <= 0 || total <= max_rows) {
    for (Eigen::Index i = 0; i < s.n(); ++i)
      if (s.fold[i] != f && s.weight[i] > 0.0) rows.push_back(i);
    scale.assign(rows.size(), 1.0);
    return;
  }
  std::vector<int> order(s.k());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    return by_class[a].size() != by_class[b].size() ? by_class[a].size() < by_class[b].size() : a < b;
  });
  std::vector<Eigen::Index> quota(s.k(), 0);
  Eigen::Index left = max_rows;
  for (std::size_t j = 0; j < order.size(); ++j) {
    const int c = order[j];
    const auto share = left / static_cast<Eigen::Index>(order.size() - j);
    quota[c] = std::min(static_cast<Eigen::Index>(by_class[c].size()), std::max<Eigen::Index>(share, 1));
    left -= quota[c];
  }
  std::vector<double> factor(s.n(), 0.0);
  std::mt19937_64 rng(s.seed * 0x9E3779B97F4A7C15ULL + 0xc0ffee + static_cast<std::uint64_t>(f));
  for (int c = 0; c < s.k(); ++c) {
    std::vector<Eigen::Index>& members = by_class[c];
    const auto m = static_cast<std::size_t>(quota[c]);
    draw_to_front(members, m, rng);
    for (std::size_t j = 0; j < m; ++j)
      factor[members[j]] = static_cast<double>(members.size()) / static_cast<double>(m);
  }
  for (Eigen::Index i = 0; i < s.n(); ++i)
    if (factor[i] > 0.0) {
      rows.push_back(i);
      scale.push_back(factor[i]);
    }
}

// The held-out models' relative C when CoresetTreeParams::cross_fit_c = 0: these candidates,
// weakest regularisation last, one chosen by the held-out likelihood of the labels.
constexpr std::array<double, 4> kHeldOutCandidates = {0.03, 0.1, 0.3, 1.0};

// Fits one logistic regression per fold, each without that fold's samples.
// Across the processes of `group`, each model is fitted by distributed Newton steps over the
// training rows each process holds.
//
// Regularisation (cross_fit_c = 0). How strongly to regularise depends on the data: on a
// weak embedding of 1,892 columns with 10 % of a class flipped, C = 0.03 found 0.586 of the
// errors at k against 0.505 at C = 1, while on 64 PCA components of the same crops C = 1 was as
// good as any. The labels decide: fold 0's model is fitted at every candidate C (from the
// strongest regularisation, each fit starting from the previous one's solution: the same
// training rows, so nothing of fold 0 leaks in) and the C whose model gives fold 0's own
// samples the highest likelihood Σ w_i log p̂(y_i) is used for every fold. The likelihood is
// untrimmed on purpose: the wrong labels are what a too-flexible model learns, and their
// held-out loss is what tells it so (on a dozen data sets with injected errors this choice was
// within 0.01 AUROC of the best C of the grid, trimmed likelihoods always chose the weakest).
void fit_fold_models(State& s, const CoresetTreeParams& p, const Context& context,
                     const Collective& group) {
  s.fold_models.clear();
  const int folds = static_cast<int>(s.fold.empty() ? 0 : *std::max_element(s.fold.begin(), s.fold.end()) + 1);
  // C relative to the feature scale (C · r / mean ‖φ‖²: as if every feature had unit variance),
  // so that, like the ridge view, the misfit does not depend on the units of the embedding.
  // Summed per leaf, then the leaves in order (Collective::ordered_sum): the same bits for any
  // split of the leaves between processes, so that every fit sees the same C.
  const Eigen::Index first_leaf = s.leaf_of(s.phi_first);
  std::vector<double> leaf_sums;
  for (Eigen::Index leaf = first_leaf; leaf * s.chunk < s.phi_first + s.phi.rows(); ++leaf) {
    double sum = 0.0;
    for (Eigen::Index i = leaf * s.chunk; i < std::min(s.n(), (leaf + 1) * s.chunk); ++i)
      sum += s.phi_row(i).cast<double>().squaredNorm();
    leaf_sums.push_back(sum);
  }
  double mean_sq = 0.0;
  group.ordered_sum(leaf_sums, {&mean_sq, 1});
  mean_sq = std::max(mean_sq / static_cast<double>(s.n()), 1e-300);
  const double unit_c = static_cast<double>(s.phi.cols()) / mean_sq;
  linear::LogisticRegressionParams lp;
  // A scoring model: LIBLINEAR's default tolerance; the last digits of the optimum do not
  // change rankings.
  lp.tol = 1e-2;
  lp.max_iter = 50;

  // Fits fold f's model at relative C `c`, from `start` when given (a model of the same fold).
  const auto fit_fold = [&](int f, double c, const linear::LogisticRegression* start) {
    std::vector<Eigen::Index> rows;
    std::vector<double> scale;  // n_c / m_c of each row's class
    training_rows(s, f, p.cross_fit_max_rows, rows, scale);
    // A fold whose complement lacks a class would have nothing to say about it.
    std::vector<bool> present(s.classes.size(), false);
    for (Eigen::Index i : rows) present[static_cast<std::size_t>(s.label[i])] = true;
    const bool all_present = std::find(present.begin(), present.end(), false) == present.end();
    // This process's rows.
    std::size_t kept = 0;
    for (std::size_t j = 0; j < rows.size(); ++j)
      if (s.holds(rows[j])) {
        rows[kept] = rows[j];
        scale[kept++] = scale[j];
      }
    rows.resize(kept);
    scale.resize(kept);
    // Leaves are the summation segments: processes holding whole leaves then make the very same
    // float32 products as one process (see LogisticRegression::fit).
    std::vector<Eigen::Index> leaf_starts;
    for (std::size_t j = 1; j < rows.size(); ++j)
      if (s.leaf_of(rows[j]) != s.leaf_of(rows[j - 1])) leaf_starts.push_back(static_cast<Eigen::Index>(j));
    RowMatrixXf x(static_cast<Eigen::Index>(rows.size()), s.phi.cols());
    Labels y(rows.size());
    std::vector<double> w(rows.size());
    for (std::size_t j = 0; j < rows.size(); ++j) {
      x.row(static_cast<Eigen::Index>(j)) = s.phi_row(rows[j]);
      y[j] = s.classes[s.label[rows[j]]];
      w[j] = s.weight[rows[j]] * scale[j];
    }
    // Every fold's first model starts from zero: a start from another fold's model (which
    // trained on this fold's samples) would carry their labels into the early-stopped fit — the
    // held-out view must never have seen them.
    linear::LogisticRegressionParams fp = lp;
    fp.c = c * unit_c;
    fp.warm_start = start != nullptr && start->is_fitted();
    linear::LogisticRegression model(fp);
    if (fp.warm_start) model.set_model(start->classes(), start->coef(), start->intercept());
    if (all_present) {
      Context quiet = context;
      quiet.logger = nullptr;  // non-convergence at tol 1e-2 is harmless for scoring
      model.fit(x, y, w, s.classes, group, quiet, leaf_starts);
    }
    return model;
  };

  // The weighted log-likelihood of fold f's own labels under its model, per leaf this process
  // holds (zeros for leaves without fold-f samples), appended to `parts`; their weight Σ w per
  // leaf appended to `weights` when given.
  const auto held_out_likelihood = [&](int f, const linear::LogisticRegression& model,
                                       std::vector<double>& parts, std::vector<double>* weights) {
    for (Eigen::Index leaf = first_leaf; leaf * s.chunk < s.phi_first + s.phi.rows(); ++leaf) {
      std::vector<Eigen::Index> at;
      for (Eigen::Index i = leaf * s.chunk; i < std::min(s.n(), (leaf + 1) * s.chunk); ++i)
        if (s.fold[i] == f && s.weight[i] > 0.0) at.push_back(i);
      double sum = 0.0, weight = 0.0;
      for (Eigen::Index i : at) weight += s.weight[i];
      if (weights != nullptr) weights->push_back(weight);
      if (!at.empty() && model.is_fitted()) {
        RowMatrixXf x(static_cast<Eigen::Index>(at.size()), s.phi.cols());
        for (std::size_t q = 0; q < at.size(); ++q)
          x.row(static_cast<Eigen::Index>(q)) = s.phi_row(at[q]);
        const RowMatrixXd prob = model.predict_proba(x);
        for (std::size_t q = 0; q < at.size(); ++q)
          sum += s.weight[at[q]] *
                 std::log(std::max(prob(static_cast<Eigen::Index>(q), s.label[at[q]]), 1e-12));
      }
      parts.push_back(sum);
    }
  };

  if (folds == 0) return;
  std::vector<double> candidates = {p.cross_fit_c};
  if (p.cross_fit_c == 0.0) candidates.assign(kHeldOutCandidates.begin(), kHeldOutCandidates.end());
  double chosen = candidates.front();
  std::optional<linear::LogisticRegression> first_model;
  const auto steps = static_cast<int>(candidates.size()) - 1 + folds;
  if (candidates.size() > 1) {
    // Per leaf, one likelihood per candidate and fold 0's weight; summed over the leaves in order.
    std::vector<std::vector<double>> per_candidate;
    std::vector<double> fold_weight;
    std::vector<linear::LogisticRegression> models;
    models.reserve(candidates.size());  // fit_fold reads the previous one
    for (std::size_t c = 0; c < candidates.size(); ++c) {
      context.throw_if_cancelled();
      context.report_progress(static_cast<std::int64_t>(c), steps, "fitting the held-out models");
      models.push_back(fit_fold(0, candidates[c], c > 0 ? &models.back() : nullptr));
      held_out_likelihood(0, models.back(), per_candidate.emplace_back(),
                          c == 0 ? &fold_weight : nullptr);
    }
    const std::size_t leaves = fold_weight.size(), width = candidates.size() + 1;
    std::vector<double> parts(leaves * width);
    for (std::size_t l = 0; l < leaves; ++l) {
      for (std::size_t c = 0; c < candidates.size(); ++c) parts[l * width + c] = per_candidate[c][l];
      parts[l * width + candidates.size()] = fold_weight[l];
    }
    std::vector<double> total(width, 0.0);
    group.ordered_sum(parts, total);
    // Without a fold-0 model (a class missing from its training rows) or without fold-0 samples
    // of weight > 0, nothing was measured: the weakest regularisation, as with a single
    // candidate of 1.
    const bool measured = models.front().is_fitted() && total.back() > 0.0;
    const auto best =
        measured ? static_cast<std::size_t>(std::max_element(total.begin(), total.end() - 1) - total.begin())
                 : candidates.size() - 1;
    chosen = candidates[best];
    first_model = std::move(models[best]);
    context.log(LogLevel::kDebug, "held-out models: C = " + std::to_string(chosen) +
                                      " × r / mean ‖φ‖², by held-out likelihood");
  }
  for (int f = 0; f < folds; ++f) {
    context.throw_if_cancelled();
    context.report_progress(static_cast<std::int64_t>(candidates.size()) - 1 + f, steps,
                            "fitting the held-out models");
    if (f == 0 && first_model) {
      s.fold_models.push_back(std::move(*first_model));
    } else {
      s.fold_models.push_back(fit_fold(f, chosen, nullptr));
    }
  }
  context.report_progress(steps, steps, "fitting the held-out models");
}

// Atypicality of one piece of samples (all with weight > 0): the leverage within the labelled
// class, one class at a time. Writes only their entries, so pieces can run in parallel.
void leverage_piece(State& s, const std::vector<Eigen::Index>& rows) {
  std::vector<std::vector<Eigen::Index>> by_class(s.k());
  for (Eigen::Index i : rows) by_class[s.label[i]].push_back(i);
  for (int c = 0; c < s.k(); ++c) {
    const std::vector<Eigen::Index>& members = by_class[c];
    if (members.empty()) continue;
    if (!s.model.class_ready[c]) {
      for (Eigen::Index i : members) s.atypical[i] = 0.0;
      continue;
    }
    Eigen::MatrixXd at = augmented_rows(s, members).transpose();
    s.model.class_factor[c].triangularView<Eigen::Lower>().solveInPlace(at);
    const double wc = s.nodes[s.root()].class_weight[c];
    for (std::size_t m = 0; m < members.size(); ++m)
      s.atypical[members[m]] = s.weight[members[m]] * at.col(static_cast<Eigen::Index>(m)).squaredNorm() *
                               wc / static_cast<double>(s.r1());
  }
}

// The three views of a piece of samples (any weights): the ridge view from the cached eigen
// coordinates when they are valid and `cached` (else computed here, in double), the held-out
// probabilities by one batched prediction per fold model, the neighbour votes from the
// neighbour lists. The fits of the view weights pass cached = false: their result must not
// depend on whether an earlier update left the (float32) cache behind.
ViewScores view_scores(const State& s, const std::vector<Eigen::Index>& rows, bool cached = true) {
  ViewScores v;
  const auto m = static_cast<Eigen::Index>(rows.size());
  Eigen::VectorXd h;
  if (cached && s.eigen_coords.rows() == s.n()) {
    Eigen::MatrixXd proj(m, s.r1());
    for (Eigen::Index j = 0; j < m; ++j) proj.row(j) = s.eigen_coords.row(rows[j]).cast<double>();
    loo_scores(s, rows, proj, s.model.lambda, v.ridge, h);
  } else {
    loo_scores(s, rows, eigen_coordinates(s, rows), s.model.lambda, v.ridge, h);
  }
  if (!s.fold_models.empty()) {
    v.held_out.setConstant(m, s.k(), -1.0);
    for (std::size_t f = 0; f < s.fold_models.size(); ++f) {
      if (!s.fold_models[f].is_fitted()) continue;
      std::vector<Eigen::Index> at;
      for (Eigen::Index j = 0; j < m; ++j)
        if (s.fold[rows[j]] == static_cast<int>(f)) at.push_back(j);
      if (at.empty()) continue;
      RowMatrixXf x(static_cast<Eigen::Index>(at.size()), s.phi.cols());
      for (std::size_t q = 0; q < at.size(); ++q) x.row(static_cast<Eigen::Index>(q)) = s.phi_row(rows[at[q]]);
      const RowMatrixXd prob = s.fold_models[f].predict_proba(x);
      for (std::size_t q = 0; q < at.size(); ++q) v.held_out.row(at[q]) = prob.row(static_cast<Eigen::Index>(q));
    }
  }
  if (s.neighbours.k > 0) {
    // v_c = Σ_j w_j max(0, cos_ij) [y_j = c] / Σ_j w_j max(0, cos_ij); uniform when nothing
    // similar is left (every neighbour removed, or orthogonal).
    v.votes.setZero(m, s.k());
    for (Eigen::Index j = 0; j < m; ++j) {
      const auto list = s.neighbours.of(rows[j]);
      const auto sim = s.neighbours.similarities(rows[j]);
      double total = 0.0;
      for (std::size_t q = 0; q < list.size(); ++q) {
        if (list[q] < 0) continue;
        const double vote = s.weight[list[q]] * std::max(0.0f, sim[q]);
        v.votes(j, s.label[list[q]]) += vote;
        total += vote;
      }
      if (total > 0.0) {
        v.votes.row(j) /= total;
      } else {
        v.votes.row(j).setConstant(1.0 / s.k());
      }
    }
  }
  return v;
}

// Fuses the views of one piece of samples (all with weight > 0) into their losses, misfit,
// suggestion and importance (view_fusion.h). Writes only their entries.
void fuse_piece(State& s, const CoresetTreeParams& p, const std::vector<Eigen::Index>& rows,
                bool cached) {
  const ViewScores v = view_scores(s, rows, cached);
  const Eigen::MatrixXd z = pooled_logits(v, s.view_weight);
  for (std::size_t j = 0; j < rows.size(); ++j) {
    const Eigen::Index jj = static_cast<Eigen::Index>(j), i = rows[j];
    const int y = s.label[i];
    double other = -std::numeric_limits<double>::infinity();
    for (int c = 0; c < s.k(); ++c)
      if (c != y) other = std::max(other, v.ridge(jj, c));
    s.ridge_loss[i] = 0.5 * std::max(0.0, 1.0 + other - v.ridge(jj, y));
    s.held_out_loss[i] = v.held_out.size() > 0 && v.held_out(jj, 0) >= 0.0 ? 1.0 - v.held_out(jj, y) : 0.0;
    Eigen::Index best = y;
    if (v.votes.size() > 0) {
      s.neighbour_loss[i] = 1.0 - v.votes(jj, y);
      v.votes.row(jj).maxCoeff(&best);
    } else {
      s.neighbour_loss[i] = 0.0;
    }
    s.neighbour_label[i] = static_cast<int>(best);
    const double top = z.row(jj).maxCoeff(&best);
    const double log_p = z(jj, y) - top - std::log((z.row(jj).array() - top).exp().sum());
    s.misfit[i] = -std::expm1(log_p);  // 1 − p(label)
    s.suggested[i] = static_cast<int>(best);
    if (p.optimized_for == OptimizedFor::kCleaning) {
      // The surprisal −log p(label), not 1 − p: the two order samples alike, but where the fused
      // views are confident 1 − p crowds at 1 and the atypicality term would decide the order
      // among the likeliest errors; the surprisal keeps their evidence apart.
      s.importance[i] = -log_p + p.atypical_weight * s.atypical[i];
    } else {
      // Sensitivity bound: the leverage share a_i / r̃ = atypical_i / W_c plus the uniform share
      // w_i / W_c, in equal parts (each sums to about 1 over the class), as lightweight coresets
      // do (Bachem, Lucic, Krause, KDD 2018): leverage alone over-samples outliers.
      const double wc = s.nodes[s.root()].class_weight[y];
      s.importance[i] = 0.5 * (s.atypical[i] + s.weight[i]) / wc;
    }
  }
}

// What score_samples() recomputes.
enum class Scoring {
  kLeverage,  // atypicality only (the build's per-process pass)
  kViews,     // the views and what they make (misfit, suggestion, importance), atypicality kept
  kAll,
};

// Scores the given samples against the current model; removed samples get zeros. kViews costs
// O(r̃ K + k) per sample from the cached eigen coordinates (cache_eigen_coordinates()), cheap
// enough to run over every sample after each update.
void score_samples(State& s, const CoresetTreeParams& p, const std::vector<Eigen::Index>& all,
                   Scoring what, const Context& context = Context(), bool cached = true) {
  std::vector<Eigen::Index> rows;
  for (Eigen::Index i : all) {
    if (s.weight[i] > 0.0) {
      rows.push_back(i);
    } else {
      s.importance[i] = s.misfit[i] = s.atypical[i] = 0.0;
      s.ridge_loss[i] = s.held_out_loss[i] = s.neighbour_loss[i] = 0.0;
      s.suggested[i] = s.neighbour_label[i] = s.label[i];
    }
  }
  if (rows.empty()) return;
  // Pieces of kPassRows samples: a few MB of work each, in parallel.
  const auto pieces = static_cast<std::int64_t>((rows.size() + kPassRows - 1) / kPassRows);
  detail::parallel_blocks(pieces, context, pieces > 8 ? "coreset tree: scoring" : "", [&](std::int64_t b) {
    const std::size_t begin = static_cast<std::size_t>(b * kPassRows);
    const std::vector<Eigen::Index> part(
        rows.begin() + static_cast<std::ptrdiff_t>(begin),
        rows.begin() + static_cast<std::ptrdiff_t>(std::min(rows.size(), begin + kPassRows)));
    if (what != Scoring::kViews) leverage_piece(s, part);
    if (what != Scoring::kLeverage) fuse_piece(s, p, part, cached);
  });
}

// Φ̃V of every sample, cached for the updates' passes over every sample (until the eigenbasis
// of G changes).
void cache_eigen_coordinates(State& s, const Context& context) {
  if (s.eigen_coords.rows() == s.n()) return;
  s.eigen_coords.resize(s.n(), s.r1());
  const Eigen::Index blocks = (s.n() + kPassRows - 1) / kPassRows;
  detail::parallel_blocks(blocks, context, "", [&](std::int64_t b) {
    std::vector<Eigen::Index> part(static_cast<std::size_t>(std::min(kPassRows, s.n() - b * kPassRows)));
    std::iota(part.begin(), part.end(), b * kPassRows);
    s.eigen_coords.middleRows(b * kPassRows, static_cast<Eigen::Index>(part.size())) =
        eigen_coordinates(s, part).cast<float>();
  });
}

// The view weights learned from the recorded verdicts (the default ones without any).
void learn_fusion(State& s) {
  std::vector<Eigen::Index> rows;
  for (Eigen::Index i = 0; i < s.n(); ++i)
    if (static_cast<Verdict>(s.verdict[i]) != Verdict::kNone) rows.push_back(i);
  if (rows.empty()) {
    s.view_weight = s.base_view_weight;
    return;
  }
  const ViewScores views = view_scores(s, rows, false);
  std::vector<int> y(rows.size());
  std::vector<std::uint8_t> no_class(rows.size());
  for (std::size_t j = 0; j < rows.size(); ++j) {
    y[j] = s.label[rows[j]];
    no_class[j] = static_cast<Verdict>(s.verdict[rows[j]]) == Verdict::kNoClass ? 1 : 0;
  }
  s.view_weight = fit_reviewed_weights(views, y, no_class, s.base_view_weight);
}

// Fits the view weights α (view_fusion.h) on the samples with weight > 0, at most
// kFusionFitRows of them drawn uniformly (seeded): three weights need far fewer samples than
// that, and the views of the drawn samples are held at once (kFusionFitRows × K × 3 doubles).
void fit_fusion(State& s, const Context& context) {
  std::vector<Eigen::Index> rows;
  for (Eigen::Index i = 0; i < s.n(); ++i)
    if (s.weight[i] > 0.0) rows.push_back(i);
  if (static_cast<Eigen::Index>(rows.size()) > kFusionFitRows) {
    std::mt19937_64 rng(s.seed ^ 0x667573696f6eULL);
    draw_to_front(rows, static_cast<std::size_t>(kFusionFitRows), rng);
    rows.resize(static_cast<std::size_t>(kFusionFitRows));
    std::sort(rows.begin(), rows.end());
  }
  // The drawn samples' views, in pieces on the context's threads.
  const auto m = static_cast<Eigen::Index>(rows.size());
  ViewScores views;
  views.ridge.resize(m, s.k());
  if (!s.fold_models.empty()) views.held_out.resize(m, s.k());
  if (s.neighbours.k > 0) views.votes.resize(m, s.k());
  const Eigen::Index pieces = (m + kPassRows - 1) / kPassRows;
  detail::parallel_blocks(pieces, context, "", [&](std::int64_t b) {
    const Eigen::Index begin = b * kPassRows, size = std::min(kPassRows, m - begin);
    const std::vector<Eigen::Index> part(rows.begin() + begin, rows.begin() + begin + size);
    const ViewScores v = view_scores(s, part, false);
    views.ridge.middleRows(begin, size) = v.ridge;
    if (v.held_out.size() > 0) views.held_out.middleRows(begin, size) = v.held_out;
    if (v.votes.size() > 0) views.votes.middleRows(begin, size) = v.votes;
  });
  std::vector<int> y(rows.size());
  std::vector<double> w(rows.size());
  for (std::size_t j = 0; j < rows.size(); ++j) {
    y[j] = s.label[rows[j]];
    w[j] = s.weight[rows[j]];
  }
  s.base_view_weight = fit_view_weights(views, y, w);
  learn_fusion(s);
}

// Training trees: the node's coreset sampled from its children's (or, for a leaf, its samples).
void sample_coreset(State& s, const CoresetTreeParams& p, Eigen::Index node_index) {
  TreeNode& node = s.nodes[node_index];
  std::vector<Eigen::Index> cand;
  std::vector<double> cand_w;
  if (node.left < 0) {
    for (Eigen::Index i = node.begin; i < node.end; ++i)
      if (s.weight[i] > 0.0) {
        cand.push_back(i);
        cand_w.push_back(s.weight[i]);
      }
  } else {
    for (Eigen::Index child : {node.left, node.right}) {
      cand.insert(cand.end(), s.nodes[child].coreset.begin(), s.nodes[child].coreset.end());
      cand_w.insert(cand_w.end(), s.nodes[child].coreset_weight.begin(),
                    s.nodes[child].coreset_weight.end());
    }
  }
  const Eigen::Index m = p.coreset_size > 0 ? p.coreset_size : std::max<Eigen::Index>(s.chunk / 2, 1);
  node.coreset.clear();
  node.coreset_weight.clear();
  if (static_cast<Eigen::Index>(cand.size()) <= m) {
    node.coreset = cand;
    node.coreset_weight = cand_w;
    return;
  }
  // Per-class quotas proportional to the class's weight among the candidates, ≥ 1 per class.
  std::vector<std::vector<std::size_t>> by_class(s.k());
  std::vector<double> class_total(s.k(), 0.0);
  double total = 0.0;
  for (std::size_t j = 0; j < cand.size(); ++j) {
    by_class[s.label[cand[j]]].push_back(j);
    class_total[s.label[cand[j]]] += cand_w[j];
    total += cand_w[j];
  }
  std::mt19937_64 rng(s.seed * 0x9E3779B97F4A7C15ULL + static_cast<std::uint64_t>(node_index) + 1);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  for (int c = 0; c < s.k(); ++c) {
    if (by_class[c].empty()) continue;
    const auto& members = by_class[c];
    const Eigen::Index quota = std::clamp<Eigen::Index>(
        static_cast<Eigen::Index>(std::llround(static_cast<double>(m) * class_total[c] / total)), 1,
        static_cast<Eigen::Index>(members.size()));
    // Probabilities ∝ importance × current weight (the candidates stand for that much data).
    std::vector<double> prob(members.size());
    double psum = 0.0;
    for (std::size_t q = 0; q < members.size(); ++q) {
      prob[q] = std::max(s.importance[cand[members[q]]], 1e-300) * cand_w[members[q]];
      psum += prob[q];
    }
    // Weighted sampling without replacement (Efraimidis–Spirakis keys u^{1/p}).
    std::vector<std::pair<double, std::size_t>> keys(members.size());
    for (std::size_t q = 0; q < members.size(); ++q)
      keys[q] = {std::log(uniform(rng) + 1e-300) / (prob[q] / psum), q};
    std::partial_sort(keys.begin(), keys.begin() + quota, keys.end(),
                      [](const auto& a, const auto& b) { return a.first > b.first; });
    for (Eigen::Index q = 0; q < quota; ++q) {
      const std::size_t at = keys[q].second;
      const double pr = prob[at] / psum;
      node.coreset.push_back(cand[members[at]]);
      // u / (m p): the inverse-probability weight keeps the class's weighted loss unbiased.
      node.coreset_weight.push_back(cand_w[members[at]] / (static_cast<double>(quota) * pr));
    }
  }
}

}  // namespace

void sum_internal_nodes(std::vector<TreeNode>& nodes) {
  for (auto& node : nodes)
    if (node.left >= 0) summarize_internal(nodes, node);
}

// ---- CoresetTree ---------------------------------------------------------------------------

CoresetTree::CoresetTree(CoresetTreeParams params) : params_(std::move(params)) {
  params_.validate();
}
CoresetTree::~CoresetTree() = default;
CoresetTree::CoresetTree(CoresetTree&&) noexcept = default;
CoresetTree& CoresetTree::operator=(CoresetTree&&) noexcept = default;
CoresetTree::CoresetTree(const CoresetTree& other)
    : params_(other.params_),
      state_(other.state_ ? std::make_unique<CoresetTreeState>(*other.state_) : nullptr) {}
CoresetTree& CoresetTree::operator=(const CoresetTree& other) {
  if (this != &other) *this = CoresetTree(other);
  return *this;
}

namespace {

const CoresetTreeState& built(const std::unique_ptr<CoresetTreeState>& s) {
  CORECLEAN_THROW_IF_NOT(s != nullptr, "coreset tree: used before build()");
  return *s;
}

std::vector<int> all_classes(const State& s) {
  std::vector<int> c(s.k());
  std::iota(c.begin(), c.end(), 0);
  return c;
}

std::vector<Eigen::Index> all_samples(const State& s) {
  std::vector<Eigen::Index> v(s.n());
  std::iota(v.begin(), v.end(), 0);
  return v;
}

// Makes every process's leaf summaries those of all leaves: each process fills the leaves it
// holds, zeros elsewhere, and one sum over the group (exact: every entry is non-zero on one
// process at most) completes them.
void exchange_leaf_summaries(State& s, Eigen::Index leaves, const Collective& group) {
  const Eigen::Index r1 = s.r1(), k = s.k();
  const Eigen::Index stride = 2 * k + r1 * r1 + r1 * k;  // weights, counts, Gram, moments
  Eigen::MatrixXd packed = Eigen::MatrixXd::Zero(stride, leaves);  // one column per leaf
  for (Eigen::Index j = 0; j < leaves; ++j) {
    const TreeNode& node = s.nodes[static_cast<std::size_t>(j)];
    if (node.gram.size() == 0) continue;  // not this process's
    double* at = packed.col(j).data();
    Eigen::Map<Eigen::VectorXd>(at, k) = node.class_weight;
    Eigen::Map<Eigen::VectorXd>(at + k, k) = node.class_count.cast<double>();
    Eigen::Map<Eigen::MatrixXd>(at + 2 * k, r1, r1) = node.gram;
    Eigen::Map<Eigen::MatrixXd>(at + 2 * k + r1 * r1, r1, k) = node.moments;
  }
  group.sum({packed.data(), static_cast<std::size_t>(packed.size())});
  for (Eigen::Index j = 0; j < leaves; ++j) {
    TreeNode& node = s.nodes[static_cast<std::size_t>(j)];
    const double* at = packed.col(j).data();
    node.class_weight = Eigen::Map<const Eigen::VectorXd>(at, k);
    node.class_count = Eigen::Map<const Eigen::VectorXd>(at + k, k).cast<int>();
    node.gram = Eigen::Map<const Eigen::MatrixXd>(at + 2 * k, r1, r1);
    node.moments = Eigen::Map<const Eigen::MatrixXd>(at + 2 * k + r1 * r1, r1, k);
  }
}

void summarize_all(State& s, const Context& context, const Collective& group = SingleProcess()) {
  // The leaves this process holds (leaves come first in the node list) in parallel; then every
  // internal node, children first.
  const auto leaves = static_cast<std::int64_t>(
      std::count_if(s.nodes.begin(), s.nodes.end(), [](const TreeNode& node) { return node.left < 0; }));
  std::vector<std::int64_t> held;
  for (std::int64_t j = 0; j < leaves; ++j) {
    const TreeNode& node = s.nodes[static_cast<std::size_t>(j)];
    if (s.holds(node.begin) && s.holds(node.end - 1)) held.push_back(j);
  }
  detail::parallel_blocks(static_cast<std::int64_t>(held.size()), context,
                          "coreset tree: leaf summaries", [&](std::int64_t j) {
    summarize_leaf(s, s.nodes[static_cast<std::size_t>(held[static_cast<std::size_t>(j)])]);
  });
  if (group.size() > 1) exchange_leaf_summaries(s, leaves, group);
  sum_internal_nodes(s.nodes);
}

void sample_all_coresets(State& s, const CoresetTreeParams& p) {
  for (Eigen::Index j = 0; j < static_cast<Eigen::Index>(s.nodes.size()); ++j) sample_coreset(s, p, j);
}

// Where a process finds the samples: global row i is samples.x.row(i − first) (first = 0 and
// every row for build() and an MPI job over a memory-mapped file; a process's share otherwise),
// n rows in all. fit_rows: the rows the feature map is fitted on, when the process that fits it
// was handed them rather than reading them from samples.
struct SampleSource {
  const StreamedSamples& samples;
  Eigen::Index first = 0;
  Eigen::Index n = 0;
  std::optional<MatrixRef> fit_rows;

  [[nodiscard]] auto row(Eigen::Index i) const { return samples.x.row(i - first); }
  [[nodiscard]] auto rows(Eigen::Index begin, Eigen::Index count) const {
    return samples.x.middleRows(begin - first, count);
  }
  void done_with(Eigen::Index begin, Eigen::Index end) const {
    samples.done_with(begin - first, end - first);
  }
};

// The PCA of the feature map (r components of d > r features), fitted on the rows
// feature_map_fit_rows() names. When the source holds every row, the drawn rows are read in
// file order, block by block, and each block is released once read.
linear::Pca fit_feature_pca(const SampleSource& source, int r, const Context& context) {
  const Eigen::Index n = source.n;
  linear::PcaParams pp;
  pp.n_components = static_cast<int>(std::min<Eigen::Index>(r, std::min(n, kPcaFitRows) - 1));
  pp.solver = linear::PcaSolver::kRandomized;
  // No power iteration: each one costs two more passes over X (a third of the build at
  // 12k × 2048), and the sketch only has to keep the directions that carry most of the
  // variance, not the exact top singular vectors (Fashion-MNIST pixels, 784 → 256: AUROC of
  // the importance 0.880 vs 0.881 with one power iteration, leverage-only 0.673 vs 0.676).
  pp.power_iterations = 0;
  linear::Pca pca(pp);
  context.report_progress(0, 1, "coreset tree: fitting the feature map");
  if (source.fit_rows) {
    pca.fit(*source.fit_rows, context);
  } else if (n <= kPcaFitRows) {
    pca.fit(source.samples.x, context);
    source.done_with(0, n);
  } else {
    const std::vector<Eigen::Index> order = feature_map_fit_rows(n, source.samples.x.cols(), r, context.seed);
    // Blocks of kPassRows rows in parallel: each copies its drawn rows, then is released.
    RowMatrixXf sample(static_cast<Eigen::Index>(order.size()), source.samples.x.cols());
    const Eigen::Index blocks = (n + kPassRows - 1) / kPassRows;
    detail::parallel_blocks(blocks, context, "coreset tree: reading the samples the feature map is fitted on",
                            [&](Eigen::Index b) {
      const Eigen::Index start = b * kPassRows, end = std::min(n, start + kPassRows);
      auto at = std::lower_bound(order.begin(), order.end(), start);
      for (; at != order.end() && *at < end; ++at)
        sample.row(at - order.begin()) = source.row(*at);
      source.done_with(start, end);
    });
    pca.fit(sample, context);
  }
  context.report_progress(1, 1, "coreset tree: fitting the feature map");
  return pca;
}

// Samples per leaf: params.chunk_size, or automatically max(kMinChunk, ⌈n / kTargetLeaves⌉).
Eigen::Index automatic_chunk(const CoresetTreeParams& params, Eigen::Index n) {
  return params.chunk_size > 0
             ? std::min(params.chunk_size, n)
             : std::min(n, std::max(kMinChunk, (n + kTargetLeaves - 1) / kTargetLeaves));
}

// The contiguous rows of whole leaves that process `rank` of `ranks` holds while they build a
// tree together: leaves [L·rank/ranks, L·(rank+1)/ranks) of the L leaves.
std::pair<Eigen::Index, Eigen::Index> row_share(Eigen::Index n, Eigen::Index chunk, int rank,
                                                int ranks) {
  const Eigen::Index leaves = (n + chunk - 1) / chunk;
  const Eigen::Index first = leaves * rank / ranks, last = leaves * (rank + 1) / ranks;
  return {std::min(n, first * chunk), std::min(n, last * chunk)};
}

// φ = (x − μ₀) Pᵀ for the samples of rows [lo, hi) — whole leaves — (x − μ₀ when `projection`
// is empty), in parallel blocks of at most kPassRows rows that never cross a leaf boundary, each
// released once mapped: processes that hold whole leaves then make the very same products as a
// single process. With `exact_mean`, the column means μ of x over every sample of the group are
// summed on the way (per block; per leaf in block order; over the leaves in leaf order, after
// an exact exchange of the leaf sums — the same bits for any number of threads and processes)
// and φ is moved to (x − μ) Pᵀ afterwards by subtracting (μ − μ₀) Pᵀ from every row. Centring
// each block before the product (not after) keeps the digits that a large mean would cancel;
// μ₀ is the mean of the rows the PCA saw, so the correction is small.
RowMatrixXf map_samples(const SampleSource& source, Eigen::Index chunk, Eigen::Index lo,
                        Eigen::Index hi, const Eigen::VectorXd& mu0,
                        const RowMatrixXd& projection, Eigen::VectorXd* exact_mean,
                        const Context& context, const Collective& group) {
  const Eigen::Index n = source.n, d = source.samples.x.cols();
  const Eigen::Index r = projection.size() > 0 ? projection.rows() : d;
  const RowMatrixXf vt = projection.transpose().cast<float>();
  const Eigen::RowVectorXf mu0f = mu0.transpose().cast<float>();
  struct Block {
    Eigen::Index start, end, leaf;
  };
  std::vector<Block> blocks;
  for (Eigen::Index leaf_start = lo; leaf_start < hi; leaf_start += chunk)
    for (Eigen::Index b = leaf_start; b < std::min(hi, leaf_start + chunk); b += kPassRows)
      blocks.push_back({b, std::min({hi, leaf_start + chunk, b + kPassRows}), leaf_start / chunk});
  RowMatrixXf phi(hi - lo, r);
  RowMatrixXd block_sums;
  if (exact_mean != nullptr) block_sums.setZero(static_cast<Eigen::Index>(blocks.size()), d);
  detail::parallel_blocks(static_cast<std::int64_t>(blocks.size()), context,
                          "coreset tree: mapping the samples", [&](std::int64_t b) {
    const Block& block = blocks[static_cast<std::size_t>(b)];
    const Eigen::Index rows = block.end - block.start;
    if (exact_mean != nullptr) {
      Eigen::RowVectorXd sum = Eigen::RowVectorXd::Zero(d);  // row by row: rows are contiguous
      for (Eigen::Index i = block.start; i < block.end; ++i) sum += source.row(i).cast<double>();
      block_sums.row(b) = sum;
    }
    if (projection.size() > 0) {
      RowMatrixXf centred = source.rows(block.start, rows);
      centred.rowwise() -= mu0f;
      phi.middleRows(block.start - lo, rows).noalias() = centred * vt;
    } else {
      phi.middleRows(block.start - lo, rows) = source.rows(block.start, rows).rowwise() - mu0f;
    }
    source.done_with(block.start, block.end);
  });
  if (exact_mean != nullptr) {
    const Eigen::Index leaves = (n + chunk - 1) / chunk;
    RowMatrixXd leaf_sums = RowMatrixXd::Zero(leaves, d);
    for (std::size_t b = 0; b < blocks.size(); ++b)
      leaf_sums.row(blocks[b].leaf) += block_sums.row(static_cast<Eigen::Index>(b));
    group.sum({leaf_sums.data(), static_cast<std::size_t>(leaf_sums.size())});  // exact: disjoint
    Eigen::RowVectorXd total = Eigen::RowVectorXd::Zero(d);
    for (Eigen::Index leaf = 0; leaf < leaves; ++leaf) total += leaf_sums.row(leaf);
    *exact_mean = total.transpose() / static_cast<double>(n);
    const Eigen::VectorXd shift = *exact_mean - mu0;
    const Eigen::RowVectorXf delta = projection.size() > 0
                                         ? Eigen::RowVectorXf((projection * shift).transpose().cast<float>())
                                         : Eigen::RowVectorXf(shift.transpose().cast<float>());
    phi.rowwise() -= delta;
  }
  return phi;
}

}  // namespace

void CoresetTree::build(MatrixRef x, std::span<const Label> y,
                        std::span<const double> sample_weight, std::span<const SampleId> ids,
                        const Context& context) {
  build(StreamedSamples{x, {}}, y, sample_weight, ids, context);
}

namespace {

// The feature map's PCA, fitted by process 0 and sent to the others.
void shared_feature_pca(const SampleSource& source, int r, const Context& context,
                        const Collective& group, Eigen::VectorXd& mean, RowMatrixXd& components) {
  std::array<std::int64_t, 2> shape{0, 0};
  if (group.rank() == 0) {
    const linear::Pca pca = fit_feature_pca(source, r, context);
    mean = pca.mean();
    components = pca.components();
    shape = {components.rows(), components.cols()};
  }
  if (group.size() == 1) return;
  group.broadcast(std::as_writable_bytes(std::span(shape)), 0);
  mean.resize(shape[1]);
  components.resize(shape[0], shape[1]);
  group.broadcast(std::as_writable_bytes(std::span(mean.data(), static_cast<std::size_t>(mean.size()))), 0);
  group.broadcast(std::as_writable_bytes(std::span(components.data(), static_cast<std::size_t>(components.size()))), 0);
}

// Builds the state of a tree with the processes of `group`, each over its share of whole leaves
// (row_share); returns it on process 0 (complete: every row's φ and scores gathered) and null
// on the others. One process alone is the ordinary build.
std::unique_ptr<State> build_state(const CoresetTreeParams& params, const SampleSource& source,
                                   std::span<const Label> y, std::span<const double> sample_weight,
                                   std::span<const SampleId> ids, const Context& context,
                                   const Collective& group) {
  const MatrixRef& x = source.samples.x;
  const Eigen::Index n = source.n, d = x.cols();
  CORECLEAN_THROW_IF_NOT(n >= 2 && d >= 1, "coreset tree: need at least 2 samples, got {} × {}", n,
                         d);
  CORECLEAN_THROW_IF_NOT(static_cast<Eigen::Index>(y.size()) == n,
                         "coreset tree: x has {} rows but y has {} labels", n, y.size());
  CORECLEAN_THROW_IF_NOT(sample_weight.empty() || static_cast<Eigen::Index>(sample_weight.size()) == n,
                         "coreset tree: {} sample weights for {} samples", sample_weight.size(), n);
  CORECLEAN_THROW_IF_NOT(ids.empty() || static_cast<Eigen::Index>(ids.size()) == n,
                         "coreset tree: {} ids for {} samples", ids.size(), n);
  auto s = std::make_unique<CoresetTreeState>();
  s->seed = context.seed;
  s->input_dim = d;
  s->classes.assign(y.begin(), y.end());
  std::sort(s->classes.begin(), s->classes.end());
  s->classes.erase(std::unique(s->classes.begin(), s->classes.end()), s->classes.end());
  CORECLEAN_THROW_IF_NOT(s->classes.size() >= 2,
                         "coreset tree: y has a single class ({}); need at least two",
                         s->classes.front());
  s->label.resize(n);
  s->weight.assign(n, 1.0);
  s->ids.resize(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    s->label[i] = s->class_index(y[i]);
    if (!sample_weight.empty()) {
      CORECLEAN_THROW_IF_NOT(std::isfinite(sample_weight[i]) && sample_weight[i] >= 0.0,
                             "coreset tree: sample_weight[{}] = {} (must be finite, >= 0)", i,
                             sample_weight[i]);
      s->weight[i] = sample_weight[i];
    }
    s->ids[i] = ids.empty() ? i : ids[i];
    CORECLEAN_THROW_IF_NOT(s->index_of.emplace(s->ids[i], i).second,
                           "coreset tree: sample id {} appears twice (rows {} and {})", s->ids[i],
                           s->index_of[s->ids[i]], i);
  }
  s->chunk = automatic_chunk(params, n);
  s->nodes = node_structure(n, s->chunk);
  const auto [lo, hi] = row_share(n, s->chunk, group.rank(), group.size());
  s->phi_first = lo;
  CORECLEAN_THROW_IF_NOT(source.first <= lo && hi <= source.first + x.rows(),
                         "coreset tree: process {} of {} holds rows [{}, {}) but its share is "
                         "rows [{}, {}) (build_share)",
                         group.rank(), group.size(), source.first, source.first + x.rows(), lo, hi);
  CORECLEAN_THROW_IF_NOT(group.rank() != 0 || d <= params.sketch_dim || source.fit_rows ||
                             (source.first == 0 && x.rows() == n),
                         "coreset tree: process 0 needs every row or the rows "
                         "feature_map_fit_rows() names");

  // Feature map: centre, and reduce by PCA when wider than sketch_dim. One pass maps every
  // sample (the PCA fit reads at most kPcaFitRows more).
  if (d > params.sketch_dim) {
    Eigen::VectorXd mu0;
    shared_feature_pca(source, params.sketch_dim, context, group, mu0, s->projection);
    const bool sampled = n > kPcaFitRows;
    s->phi = map_samples(source, s->chunk, lo, hi, mu0, s->projection,
                         sampled ? &s->feature_mean : nullptr, context, group);
    if (!sampled) s->feature_mean = mu0;
  } else {
    s->phi = map_samples(source, s->chunk, lo, hi, Eigen::VectorXd::Zero(d), RowMatrixXd(),
                         &s->feature_mean, context, group);
  }

  context.report_progress(1, 3, "coreset tree: summaries");
  summarize_all(*s, context, group);
  s->class_gram = compute_class_grams(*s, context, group);
  s->seen.assign(n, 0);
  for (auto* v : {&s->importance, &s->misfit, &s->atypical, &s->ridge_loss, &s->held_out_loss,
                  &s->neighbour_loss})
    v->assign(n, 0.0);
  s->suggested.assign(n, 0);
  s->neighbour_label.assign(n, 0);
  s->verdict.assign(n, 0);

  context.report_progress(2, 3, "coreset tree: importance");
  if (params.optimized_for == OptimizedFor::kCleaning && params.cross_fit_folds > 0) {
    const int folds = static_cast<int>(std::min<Eigen::Index>(params.cross_fit_folds, n));
    s->fold = folds >= 2 ? linear::stratified_kfold(y, folds, context.seed) : std::vector<int>();
    fit_fold_models(*s, params, context, group);
  }
  solve_model(*s, params, true, true, all_classes(*s), context, group);
  std::vector<Eigen::Index> held(static_cast<std::size_t>(hi - lo));
  std::iota(held.begin(), held.end(), lo);
  score_samples(*s, params, held, Scoring::kLeverage, context);

  if (group.size() > 1) {
    // Process 0 receives every row's φ (straight into its place: the shares, in rank order, are
    // φ's rows in order) and atypicality; it then searches the neighbours and fuses the views
    // of every sample.
    const Eigen::Index r = s->phi.cols();
    RowMatrixXf whole;
    if (group.rank() == 0) whole.resize(n, r);
    group.gather(std::as_bytes(std::span(s->phi.data(), static_cast<std::size_t>(s->phi.size()))),
                 std::as_writable_bytes(std::span(whole.data(), static_cast<std::size_t>(whole.size()))), 0);
    s->phi = std::move(whole);
    s->phi_first = 0;
    std::vector<double> atypical(group.rank() == 0 ? static_cast<std::size_t>(n) : 0);
    group.gather(std::as_bytes(std::span(s->atypical).subspan(static_cast<std::size_t>(lo),
                                                                static_cast<std::size_t>(hi - lo))),
                 std::as_writable_bytes(std::span(atypical)), 0);
    if (group.rank() != 0) return nullptr;
    s->atypical = std::move(atypical);
  }
  if (params.optimized_for == OptimizedFor::kCleaning && params.neighbours > 0)
    s->neighbours = search_neighbours(s->phi, params.neighbours, s->sketched(), context);
  fit_fusion(*s, context);
  score_samples(*s, params, all_samples(*s), Scoring::kViews, context);
  if (params.optimized_for == OptimizedFor::kTraining) sample_all_coresets(*s, params);
  context.report_progress(3, 3, "coreset tree: importance");
  return s;
}

}  // namespace

void CoresetTree::build(const StreamedSamples& samples, std::span<const Label> y,
                        std::span<const double> sample_weight, std::span<const SampleId> ids,
                        const Context& context) {
  state_ = build_state(params_, SampleSource{samples, 0, samples.x.rows(), std::nullopt}, y,
                       sample_weight, ids, context, SingleProcess());
}

std::optional<CoresetTree> build_distributed(CoresetTreeParams params,
                                             const StreamedSamples& samples,
                                             std::span<const Label> y,
                                             std::span<const double> sample_weight,
                                             std::span<const SampleId> ids,
                                             const Context& context, const Collective& group) {
  CORECLEAN_THROW_IF_NOT(static_cast<std::size_t>(samples.x.rows()) == y.size(),
                         "coreset tree: x has {} rows but y has {} labels", samples.x.rows(),
                         y.size());
  // Every row: the share overload with the first row 0 and no separate feature-map rows.
  return build_distributed(std::move(params), samples, 0, std::nullopt, y, sample_weight, ids,
                           context, group);
}

std::optional<CoresetTree> build_distributed(CoresetTreeParams params, const StreamedSamples& share,
                                             Eigen::Index first, std::optional<MatrixRef> fit_rows,
                                             std::span<const Label> y,
                                             std::span<const double> sample_weight,
                                             std::span<const SampleId> ids,
                                             const Context& context, const Collective& group) {
  CoresetTree tree(std::move(params));
  std::unique_ptr<State> state = build_state(
      tree.params_, SampleSource{share, first, static_cast<Eigen::Index>(y.size()), fit_rows}, y,
      sample_weight, ids, context, group);
  if (state == nullptr) return std::nullopt;
  tree.state_ = std::move(state);
  return tree;
}

std::pair<Eigen::Index, Eigen::Index> build_share(Eigen::Index n, const CoresetTreeParams& params,
                                                  int rank, int ranks) {
  CORECLEAN_THROW_IF_NOT(n >= 1 && ranks >= 1 && rank >= 0 && rank < ranks,
                         "coreset tree: build_share({}, rank {} of {})", n, rank, ranks);
  return row_share(n, automatic_chunk(params, n), rank, ranks);
}

std::int64_t estimated_build_bytes(Eigen::Index n, Eigen::Index d, int classes,
                                   const CoresetTreeParams& params, int threads, int processes) {
  const double nn = static_cast<double>(n), k = classes;
  const double r = static_cast<double>(std::min<Eigen::Index>(d, params.sketch_dim)), r1 = r + 1;
  const double leaves = std::ceil(nn / static_cast<double>(automatic_chunk(params, std::max<Eigen::Index>(n, 1))));
  // The feature map's fit: the rows it reads, resident until it ends (a copy of the drawn
  // ones, or X itself when it fits on every row), and the randomized PCA's n_s × (r + 10)
  // double work matrices (two at a time).
  double map_fit = 0.0;
  if (d > params.sketch_dim) {
    const double rows = std::min(nn, static_cast<double>(kPcaFitRows));
    map_fit = 4.0 * rows * static_cast<double>(d) + 2.0 * 8.0 * rows * (r + 10.0);
  }
  const double fit_rows = params.cross_fit_folds > 0
                              ? (params.cross_fit_max_rows > 0
                                     ? std::min(nn, static_cast<double>(params.cross_fit_max_rows))
                                     : nn)
                              : 0.0;
  // The neighbour view: the lists (an i64 index and a float32 similarity per neighbour), the
  // unit-length copy of the columns searched, and each thread's block of products.
  const bool cleaning = params.optimized_for == OptimizedFor::kCleaning;
  const double searched = d > params.sketch_dim ? std::min(r, static_cast<double>(kNeighbourSearchDims)) : r;
  const double neighbour_view = cleaning && params.neighbours > 0
                                    ? nn * (12.0 * params.neighbours + 4.0 * searched) +
                                          kNeighbourThreadBytes * std::max(threads, 1)
                                    : 0.0;
  // The views of the samples the fusion weights are fitted on (3 matrices of K doubles each).
  const double fusion = std::min(nn, static_cast<double>(kFusionFitRows)) * k * 3.0 * 8.0;
  const double rest = 4.0 * nn * r                                  // φ
                      + 121.0 * nn  // per-sample state, with the id → row index
                      + neighbour_view + fusion
                      + 8.0 * (2.0 * leaves - 1.0) * (r1 * r1 + r1 * k)  // node summaries
                      + 2.0 * 8.0 * k * r1 * r1                     // class Grams, factors
                      + fit_rows * (4.0 * r + 5.0 * 8.0 * k)        // one held-out fit
                      + 3.0 * 8.0 * static_cast<double>(kPassRows) * r1 * std::max(threads, 1)
                      + 8.0 * static_cast<double>(kGramWave) * r1 * r1;  // class Grams' partials
  const double gathered = processes > 1 ? nn * (4.0 * r + 28.0) : 0.0;  // process 0's
  return static_cast<std::int64_t>(std::max(map_fit, rest) + gathered + 64.0 * (1 << 20));
}

std::int64_t estimated_build_bytes(Eigen::Index d, std::span<const Label> y,
                                   const CoresetTreeParams& params, int threads, int processes) {
  Labels classes(y.begin(), y.end());
  std::sort(classes.begin(), classes.end());
  const auto k = std::unique(classes.begin(), classes.end()) - classes.begin();
  return estimated_build_bytes(static_cast<Eigen::Index>(y.size()), d, static_cast<int>(k), params,
                               threads, processes);
}

std::vector<Eigen::Index> feature_map_fit_rows(Eigen::Index n, Eigen::Index d, int sketch_dim,
                                               std::uint64_t seed) {
  std::vector<Eigen::Index> order;
  if (d <= sketch_dim) return order;
  order.resize(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  if (n <= kPcaFitRows) return order;
  Context context;
  context.seed = seed;
  std::mt19937_64 rng = context.rng(0xfea70e);
  draw_to_front(order, static_cast<std::size_t>(kPcaFitRows), rng);
  order.resize(kPcaFitRows);
  std::sort(order.begin(), order.end());
  return order;
}

ImportantSamples CoresetTree::important_samples(const ImportantSamplesQuery& query) {
  const State& s = built(state_);
  CORECLEAN_THROW_IF_NOT(query.size >= 0, "important samples: size = {} (must be >= 0)",
                         query.size);
  std::vector<std::uint8_t> allowed(s.n(), query.select_from_ids.empty() ? 1 : 0);
  for (SampleId id : query.select_from_ids) allowed[s.require_index(id)] = 1;
  for (SampleId id : query.ignore_ids) allowed[s.require_index(id)] = 0;
  std::vector<int> quota_kind(s.k(), query.class_size.empty() ? 2 : -1);  // -1 excluded
  std::vector<Eigen::Index> quota(s.k(), 0);
  for (const auto& [label, q] : query.class_size) {
    const int c = s.class_index(label);
    CORECLEAN_THROW_IF_NOT(c >= 0, "important samples: class {} is not in the tree", label);
    CORECLEAN_THROW_IF_NOT(q.kind != ClassQuota::Kind::kCount || q.count >= 0,
                           "important samples: class {} count {} (must be >= 0)", label, q.count);
    quota_kind[c] = static_cast<int>(q.kind);
    quota[c] = q.count;
  }
  // Candidates per class, by importance (ties by build order, for determinism).
  std::vector<std::vector<Eigen::Index>> by_class(s.k());
  for (Eigen::Index i = 0; i < s.n(); ++i) {
    if (!allowed[i] || s.weight[i] <= 0.0 || quota_kind[s.label[i]] < 0) continue;
    if (query.ignore_seen && s.seen[i]) continue;
    by_class[s.label[i]].push_back(i);
  }
  auto by_importance = [&](Eigen::Index a, Eigen::Index b) {
    return s.importance[a] != s.importance[b] ? s.importance[a] > s.importance[b] : a < b;
  };
  std::vector<Eigen::Index> chosen, pool;
  for (int c = 0; c < s.k(); ++c) {
    auto& members = by_class[c];
    std::sort(members.begin(), members.end(), by_importance);
    switch (quota_kind[c]) {
      case static_cast<int>(ClassQuota::Kind::kCount):
        members.resize(std::min<std::size_t>(members.size(), static_cast<std::size_t>(quota[c])));
        chosen.insert(chosen.end(), members.begin(), members.end());
        break;
      case static_cast<int>(ClassQuota::Kind::kAll):
        chosen.insert(chosen.end(), members.begin(), members.end());
        break;
      case static_cast<int>(ClassQuota::Kind::kAny):
        pool.insert(pool.end(), members.begin(), members.end());
        break;
      default:
        break;
    }
  }
  if (!pool.empty()) {
    // kAny classes share what is left of `size`; with no per-class quotas, `size` is the total.
    const Eigen::Index left =
        query.class_size.empty() ? query.size
                                 : std::max<Eigen::Index>(0, query.size - static_cast<Eigen::Index>(chosen.size()));
    std::sort(pool.begin(), pool.end(), by_importance);
    pool.resize(std::min<std::size_t>(pool.size(), static_cast<std::size_t>(left)));
    chosen.insert(chosen.end(), pool.begin(), pool.end());
  }
  std::sort(chosen.begin(), chosen.end(), by_importance);
  ImportantSamples out;
  for (Eigen::Index i : chosen) {
    out.ids.push_back(s.ids[i]);
    out.importance.push_back(s.importance[i]);
    if (query.mark_seen) state_->seen[i] = 1;
  }
  return out;
}

void CoresetTree::set_seen(std::span<const SampleId> ids, bool seen) {
  const State& s = built(state_);
  std::vector<Eigen::Index> rows;
  for (SampleId id : ids) rows.push_back(s.require_index(id));
  for (Eigen::Index i : rows) state_->seen[i] = seen ? 1 : 0;
}

namespace {

// Applies per-sample changes: validates nothing (callers have), updates root class Grams by
// rank-one steps, recomputes touched leaves and their ancestors, re-solves the model and
// re-scores the touched leaves.
struct SampleChange {
  Eigen::Index index = 0;
  int new_label = 0;
  double new_weight = 0.0;
  std::optional<Eigen::RowVectorXf> new_phi;
};

UpdateReport apply_changes(State& s, const CoresetTreeParams& p,
                           const std::vector<SampleChange>& changes,
                           const Context& context = Context()) {
  UpdateReport report;
  std::vector<Eigen::Index> moved;  // samples whose features change
  std::set<Eigen::Index> touched_leaves;
  std::set<int> touched_classes;
  std::vector<Eigen::Index> changed;
  bool gram_changed = false;
  // Adds sign · w φ̃φ̃ᵀ of sample i (with its current label, weight, features) to its leaf and
  // its class's root Gram: rank-one steps, O(r̃²) per sample however large the leaf.
  auto account = [&](Eigen::Index i, double sign) {
    if (s.weight[i] <= 0.0) return;
    const Eigen::VectorXd v = s.augmented(i);
    const double w = sign * s.weight[i];
    TreeNode& leaf = s.nodes[s.leaf_of(i)];
    leaf.gram.noalias() += w * v * v.transpose();
    leaf.moments.col(s.label[i]) += w * v;
    leaf.class_weight[s.label[i]] += w;
    leaf.class_count[s.label[i]] += sign > 0 ? 1 : -1;
    s.class_gram[s.label[i]].noalias() += w * v * v.transpose();
    touched_classes.insert(s.label[i]);
  };
  for (const SampleChange& ch : changes) {
    const Eigen::Index i = ch.index;
    const bool phi_changes = ch.new_phi.has_value();
    if (s.label[i] == ch.new_label && s.weight[i] == ch.new_weight && !phi_changes) continue;
    gram_changed = gram_changed || s.weight[i] != ch.new_weight || phi_changes;
    account(i, -1.0);
    s.label[i] = ch.new_label;
    s.weight[i] = ch.new_weight;
    if (phi_changes) {
      s.phi.row(i) = *ch.new_phi;
      moved.push_back(i);
    }
    account(i, +1.0);
    touched_leaves.insert(s.leaf_of(i));
    changed.push_back(i);
  }
  report.samples_changed = static_cast<Eigen::Index>(changed.size());
  if (changed.empty()) return report;
  // Ancestors are exact sums of their children; a node's index exceeds its children's, so
  // ascending order recomputes children first.
  std::set<Eigen::Index> ancestors;
  for (Eigen::Index leaf : touched_leaves)
    for (Eigen::Index a = s.nodes[leaf].parent; a >= 0; a = s.nodes[a].parent) ancestors.insert(a);
  for (Eigen::Index j : ancestors) summarize_internal(s.nodes, s.nodes[j]);
  report.nodes_touched = static_cast<Eigen::Index>(touched_leaves.size() + ancestors.size());
  solve_model(s, p, false, gram_changed,
              std::vector<int>(touched_classes.begin(), touched_classes.end()));
  // New features move the changed samples in the neighbour view: their lists are searched again
  // and every listed pair with one of them gets its new similarity.
  if (!moved.empty()) research_rows(s.phi, s.sketched(), moved, s.neighbours, context);
  // The changed samples are re-scored in full; every other sample's views are recomputed, the
  // ridge view from the cached eigen coordinates (exact again), the neighbour votes from the
  // lists (those of the samples that list a changed one change), the cross-fitted models reused;
  // its atypicality waits for refresh().
  score_samples(s, p, changed, Scoring::kLeverage);
  if (p.optimized_for == OptimizedFor::kCleaning) {
    cache_eigen_coordinates(s, context);
    score_samples(s, p, all_samples(s), Scoring::kViews);
  } else {
    score_samples(s, p, changed, Scoring::kViews);
  }
  report.samples_rescored = static_cast<Eigen::Index>(changed.size());
  s.stale += 1;
  if (p.optimized_for == OptimizedFor::kTraining) {
    std::set<Eigen::Index> nodes(touched_leaves.begin(), touched_leaves.end());
    nodes.insert(ancestors.begin(), ancestors.end());
    for (Eigen::Index j : nodes) sample_coreset(s, p, j);
  }
  return report;
}

void require_unique(std::span<const SampleId> ids) {
  std::vector<SampleId> sorted(ids.begin(), ids.end());
  std::sort(sorted.begin(), sorted.end());
  const auto dup = std::adjacent_find(sorted.begin(), sorted.end());
  CORECLEAN_THROW_IF_NOT(dup == sorted.end(), "coreset tree update: sample id {} appears twice",
                         dup == sorted.end() ? 0 : *dup);
}

}  // namespace

UpdateReport CoresetTree::update_targets(std::span<const SampleId> ids,
                                         std::span<const Label> labels) {
  return apply_review(ids, labels, {});
}

UpdateReport CoresetTree::remove_samples(std::span<const SampleId> ids) {
  return apply_review({}, {}, ids);
}

UpdateReport CoresetTree::apply_review(std::span<const SampleId> relabel_ids,
                                       std::span<const Label> labels,
                                       std::span<const SampleId> remove_ids) {
  built(state_);  // throws before the state is dereferenced
  State& s = *state_;
  CORECLEAN_THROW_IF_NOT(relabel_ids.size() == labels.size(),
                         "coreset tree update: {} ids but {} labels", relabel_ids.size(), labels.size());
  std::vector<SampleId> all(relabel_ids.begin(), relabel_ids.end());
  all.insert(all.end(), remove_ids.begin(), remove_ids.end());
  require_unique(all);
  std::vector<SampleChange> changes;
  for (std::size_t j = 0; j < relabel_ids.size(); ++j) {
    const Eigen::Index i = s.require_index(relabel_ids[j]);
    const int c = s.class_index(labels[j]);
    CORECLEAN_THROW_IF_NOT(c >= 0, "coreset tree update: label {} of sample {} is not a class of "
                           "the tree", labels[j], relabel_ids[j]);
    changes.push_back({i, c, s.weight[i], std::nullopt});
  }
  for (SampleId id : remove_ids) {
    const Eigen::Index i = s.require_index(id);
    changes.push_back({i, s.label[i], 0.0, std::nullopt});
  }
  return apply_changes(s, params_, changes);
}

UpdateReport CoresetTree::update_features(std::span<const SampleId> ids, MatrixRef x) {
  built(state_);  // throws before the state is dereferenced
  State& s = *state_;
  CORECLEAN_THROW_IF_NOT(static_cast<Eigen::Index>(ids.size()) == x.rows(),
                         "coreset tree update: {} ids but {} feature rows", ids.size(), x.rows());
  CORECLEAN_THROW_IF_NOT(x.cols() == s.input_dim,
                         "coreset tree update: features have {} columns, the tree was built on {}",
                         x.cols(), s.input_dim);
  for (Eigen::Index r = 0; r < x.rows(); ++r)
    for (Eigen::Index c = 0; c < x.cols(); ++c)
      CORECLEAN_THROW_IF_NOT(std::isfinite(x(r, c)),
                             "coreset tree update: feature ({}, {}) of sample {} is {}", r, c,
                             ids[r], x(r, c));
  require_unique(ids);
  const RowMatrixXf phi = map_features(x);
  std::vector<SampleChange> changes;
  for (std::size_t j = 0; j < ids.size(); ++j) {
    const Eigen::Index i = s.require_index(ids[j]);
    changes.push_back({i, s.label[i], s.weight[i], Eigen::RowVectorXf(phi.row(static_cast<Eigen::Index>(j)))});
  }
  return apply_changes(s, params_, changes);
}

UpdateReport CoresetTree::append(MatrixRef x, std::span<const Label> y,
                                 std::span<const double> sample_weight,
                                 std::span<const SampleId> ids, const Context& context) {
  built(state_);  // throws before the state is dereferenced
  State& s = *state_;
  const Eigen::Index m = x.rows(), n0 = s.n();
  CORECLEAN_THROW_IF_NOT(m >= 1, "coreset tree append: no samples (x has 0 rows)");
  CORECLEAN_THROW_IF_NOT(x.cols() == s.input_dim,
                         "coreset tree append: x has {} columns, the tree was built on {}",
                         x.cols(), s.input_dim);
  CORECLEAN_THROW_IF_NOT(static_cast<Eigen::Index>(y.size()) == m,
                         "coreset tree append: x has {} rows but y has {} labels", m, y.size());
  CORECLEAN_THROW_IF_NOT(sample_weight.empty() || static_cast<Eigen::Index>(sample_weight.size()) == m,
                         "coreset tree append: {} sample weights for {} samples",
                         sample_weight.size(), m);
  CORECLEAN_THROW_IF_NOT(ids.empty() || static_cast<Eigen::Index>(ids.size()) == m,
                         "coreset tree append: {} ids for {} samples", ids.size(), m);
  std::vector<SampleId> new_ids(static_cast<std::size_t>(m));
  std::vector<int> new_label(static_cast<std::size_t>(m));
  std::unordered_map<SampleId, Eigen::Index> seen_ids;
  // Without ids, the new samples are numbered after the largest id of the tree.
  const SampleId first_id = *std::max_element(s.ids.begin(), s.ids.end()) + 1;
  for (Eigen::Index j = 0; j < m; ++j) {
    for (Eigen::Index c = 0; c < x.cols(); ++c)
      CORECLEAN_THROW_IF_NOT(std::isfinite(x(j, c)), "coreset tree append: x[{}, {}] = {}", j, c,
                             x(j, c));
    new_label[j] = s.class_index(y[j]);
    CORECLEAN_THROW_IF_NOT(new_label[j] >= 0,
                           "coreset tree append: y[{}] = {} is not a class of the tree (build "
                           "again to add a class)", j, y[j]);
    if (!sample_weight.empty())
      CORECLEAN_THROW_IF_NOT(std::isfinite(sample_weight[j]) && sample_weight[j] >= 0.0,
                             "coreset tree append: sample_weight[{}] = {} (must be finite, >= 0)",
                             j, sample_weight[j]);
    new_ids[j] = ids.empty() ? first_id + j : ids[j];
    CORECLEAN_THROW_IF_NOT(!s.index_of.contains(new_ids[j]),
                           "coreset tree append: sample id {} (row {}) is already in the tree",
                           new_ids[j], j);
    CORECLEAN_THROW_IF_NOT(seen_ids.emplace(new_ids[j], j).second,
                           "coreset tree append: sample id {} appears twice (rows {} and {})",
                           new_ids[j], seen_ids[new_ids[j]], j);
  }
  context.report_progress(0, 3, "coreset tree: mapping the new samples");
  const RowMatrixXf phi_new = map_features(x);
  context.throw_if_cancelled();  // the last point where nothing has changed yet
  context.report_progress(1, 3, "coreset tree: summaries");

  // Samples: appended in order, unseen, with the fold of a model that never saw them.
  const Eigen::Index n = n0 + m;
  s.phi.conservativeResize(n, Eigen::NoChange);
  s.phi.bottomRows(m) = phi_new;
  const int folds = s.fold.empty() ? 0 : *std::max_element(s.fold.begin(), s.fold.end()) + 1;
  std::set<int> touched_classes;
  for (Eigen::Index j = 0; j < m; ++j) {
    s.label.push_back(new_label[j]);
    s.weight.push_back(sample_weight.empty() ? 1.0 : sample_weight[j]);
    s.ids.push_back(new_ids[j]);
    s.index_of.emplace(new_ids[j], n0 + j);
    s.seen.push_back(0);
    s.importance.push_back(0.0);
    for (auto* v : {&s.misfit, &s.atypical, &s.ridge_loss, &s.held_out_loss, &s.neighbour_loss})
      v->push_back(0.0);
    s.suggested.push_back(new_label[j]);
    s.neighbour_label.push_back(new_label[j]);
    s.verdict.push_back(0);
    if (folds > 0) s.fold.push_back(static_cast<int>((n0 + j) % folds));
    touched_classes.insert(new_label[j]);
  }
  s.eigen_coords.resize(0, 0);

  // Tree: old full leaves keep their summaries; the last old leaf (when partial) and the new
  // leaves are summarised from their samples; every internal node is re-summed.
  std::vector<TreeNode> nodes = node_structure(n, s.chunk);
  const Eigen::Index kept_leaves = n0 / s.chunk;  // full leaves before the append
  UpdateReport report;
  report.samples_changed = m;
  std::vector<Eigen::Index> resampled;
  for (Eigen::Index j = 0; j < static_cast<Eigen::Index>(nodes.size()); ++j) {
    TreeNode& node = nodes[j];
    if (node.left < 0 && j < kept_leaves) {
      TreeNode& old = s.nodes[j];
      node.class_weight = std::move(old.class_weight);
      node.class_count = std::move(old.class_count);
      node.gram = std::move(old.gram);
      node.moments = std::move(old.moments);
      node.coreset = std::move(old.coreset);
      node.coreset_weight = std::move(old.coreset_weight);
      continue;
    }
    if (node.left < 0) {
      summarize_leaf(s, node);
    } else {
      summarize_internal(nodes, node);
    }
    resampled.push_back(j);
  }
  s.nodes = std::move(nodes);
  report.nodes_touched = static_cast<Eigen::Index>(resampled.size());
  for (Eigen::Index i = n0; i < n; ++i) {
    if (s.weight[i] <= 0.0) continue;
    const Eigen::VectorXd v = s.augmented(i);
    s.class_gram[s.label[i]].noalias() += s.weight[i] * v * v.transpose();
  }
  solve_model(s, params_, false, true, std::vector<int>(touched_classes.begin(), touched_classes.end()));
  std::vector<Eigen::Index> added(static_cast<std::size_t>(m));
  std::iota(added.begin(), added.end(), n0);
  context.report_progress(2, 3, "coreset tree: importance");
  extend_neighbours(s.phi, s.sketched(), s.neighbours, context);
  score_samples(s, params_, added, Scoring::kLeverage);
  // Every sample's views (cleaning) and share of its class's weight (training: the class totals
  // W_c grew) are recomputed, so old and new importances are on one scale.
  cache_eigen_coordinates(s, context);
  score_samples(s, params_, all_samples(s), Scoring::kViews);
  if (params_.optimized_for == OptimizedFor::kTraining)
    for (Eigen::Index j : resampled) sample_coreset(s, params_, j);
  context.report_progress(3, 3, "coreset tree: importance");
  report.samples_rescored = m;
  s.stale += 1;
  return report;
}

void CoresetTree::refresh(const Context& context) {
  built(state_);  // throws before the state is dereferenced
  State& s = *state_;
  if (!s.fold.empty()) {
    // Folds are stratified by the current labels, as a fresh build would deal them.
    Labels current(s.n());
    for (Eigen::Index i = 0; i < s.n(); ++i) current[i] = s.classes[s.label[i]];
    const int folds = *std::max_element(s.fold.begin(), s.fold.end()) + 1;
    s.fold = linear::stratified_kfold(current, folds, s.seed);
    fit_fold_models(s, params_, context, SingleProcess());
  }
  solve_model(s, params_, true, true, all_classes(s), context);
  if (s.neighbours.k > 0) s.neighbours = search_neighbours(s.phi, s.neighbours.k, s.sketched(), context);
  fit_fusion(s, context);
  score_samples(s, params_, all_samples(s), Scoring::kAll, context);
  if (params_.optimized_for == OptimizedFor::kTraining) sample_all_coresets(s, params_);
  s.stale = 0;
}

Eigen::Index CoresetTree::stale_updates() const { return built(state_).stale; }

std::vector<SampleScore> CoresetTree::scores() const {
  const State& s = built(state_);
  std::vector<SampleScore> out(s.n());
  for (Eigen::Index i = 0; i < s.n(); ++i) out[i] = score(s.ids[i]);
  return out;
}

ScoreColumns CoresetTree::score_columns() const {
  const State& s = built(state_);
  ScoreColumns c;
  c.id = s.ids;
  c.label.resize(s.n());
  c.suggested_label.resize(s.n());
  c.neighbour_label.resize(s.n());
  for (Eigen::Index i = 0; i < s.n(); ++i) {
    c.label[i] = s.classes[s.label[i]];
    c.suggested_label[i] = s.classes[s.suggested[i]];
    c.neighbour_label[i] = s.classes[s.neighbour_label[i]];
  }
  c.ridge = s.ridge_loss;
  c.held_out = s.held_out_loss;
  c.neighbour = s.neighbour_loss;
  c.importance = s.importance;
  c.misfit = s.misfit;
  c.atypical = s.atypical;
  c.seen = s.seen;
  c.weight = s.weight;
  return c;
}

SampleScore CoresetTree::score(SampleId id) const {
  const State& s = built(state_);
  const Eigen::Index i = s.require_index(id);
  SampleScore out;
  out.id = s.ids[i];
  out.label = s.classes[s.label[i]];
  out.importance = s.importance[i];
  out.misfit = s.misfit[i];
  out.atypical = s.atypical[i];
  out.suggested_label = s.classes[s.suggested[i]];
  out.seen = s.seen[i] != 0;
  out.weight = s.weight[i];
  out.ridge = s.ridge_loss[i];
  out.held_out = s.held_out_loss[i];
  out.neighbour = s.neighbour_loss[i];
  out.neighbour_label = s.classes[s.neighbour_label[i]];
  return out;
}

std::vector<Neighbour> CoresetTree::neighbours(SampleId id) const {
  const State& s = built(state_);
  const Eigen::Index i = s.require_index(id);
  std::vector<Neighbour> out;
  if (s.neighbours.k == 0) return out;
  const auto list = s.neighbours.of(i);
  const auto sim = s.neighbours.similarities(i);
  for (std::size_t q = 0; q < list.size(); ++q)
    if (list[q] >= 0) out.push_back({s.ids[list[q]], sim[q]});
  return out;
}

FusionWeights CoresetTree::fusion_weights() const {
  const State& s = built(state_);
  return {s.view_weight[0], s.view_weight[1], s.view_weight[2]};
}

Verdict CoresetTree::verdict(SampleId id) const {
  const State& s = built(state_);
  return static_cast<Verdict>(s.verdict[s.require_index(id)]);
}

FusionWeights CoresetTree::default_fusion_weights() const {
  const State& s = built(state_);
  return {s.base_view_weight[0], s.base_view_weight[1], s.base_view_weight[2]};
}

void CoresetTree::record_verdicts(std::span<const SampleId> ids, std::span<const Verdict> verdicts,
                                  const Context& context) {
  built(state_);  // throws before the state is dereferenced
  State& s = *state_;
  CORECLEAN_THROW_IF_NOT(ids.size() == verdicts.size(),
                         "coreset tree: {} ids but {} verdicts", ids.size(), verdicts.size());
  std::vector<Eigen::Index> rows;
  for (std::size_t j = 0; j < ids.size(); ++j) {
    rows.push_back(s.require_index(ids[j]));
    CORECLEAN_THROW_IF_NOT(static_cast<int>(verdicts[j]) <= 2, "coreset tree: verdict {} for id {}",
                           static_cast<int>(verdicts[j]), ids[j]);
  }
  for (std::size_t j = 0; j < rows.size(); ++j) s.verdict[rows[j]] = static_cast<std::uint8_t>(verdicts[j]);
  learn_fusion(s);
  // In double, without the float32 cache: the scores after the verdicts then do not depend on
  // whether an earlier update left the cache behind (a session rebuilt from its database
  // scores every sample as the session that applied the batches did).
  score_samples(s, params_, all_samples(s), Scoring::kViews, context, false);
}

bool CoresetTree::contains(SampleId id) const { return built(state_).index_of.contains(id); }

std::vector<double> CoresetTree::held_out_probabilities(SampleId id) const {
  const State& s = built(state_);
  const Eigen::Index i = s.require_index(id);
  if (s.fold_models.empty() || static_cast<std::size_t>(i) >= s.fold.size() || s.weight[i] <= 0.0)
    return {};
  const auto f = static_cast<std::size_t>(s.fold[i]);
  if (f >= s.fold_models.size() || !s.fold_models[f].is_fitted()) return {};
  const RowMatrixXf x = s.phi.row(i);
  const RowMatrixXd prob = s.fold_models[f].predict_proba(x);
  return std::vector<double>(prob.data(), prob.data() + prob.size());
}

Coreset CoresetTree::coreset(int level) const {
  const State& s = built(state_);
  CORECLEAN_THROW_IF_NOT(params_.optimized_for == OptimizedFor::kTraining,
                         "coreset tree: coreset() needs a tree built with optimized_for = training");
  CORECLEAN_THROW_IF_NOT(level >= 0, "coreset tree: level = {} (must be >= 0)", level);
  // Nodes `level` steps below the root (a leaf stands in for its missing descendants).
  std::vector<Eigen::Index> frontier{s.root()};
  for (int l = 0; l < level; ++l) {
    std::vector<Eigen::Index> next;
    for (Eigen::Index j : frontier) {
      if (s.nodes[j].left < 0) {
        next.push_back(j);
      } else {
        next.push_back(s.nodes[j].left);
        next.push_back(s.nodes[j].right);
      }
    }
    frontier = std::move(next);
  }
  Coreset out;
  for (Eigen::Index j : frontier)
    for (std::size_t q = 0; q < s.nodes[j].coreset.size(); ++q) {
      out.ids.push_back(s.ids[s.nodes[j].coreset[q]]);
      out.weights.push_back(s.nodes[j].coreset_weight[q]);
    }
  return out;
}

linear::LogisticRegression CoresetTree::fit(const linear::LogisticRegressionParams& params,
                                            int level, const Context& context) const {
  const State& s = built(state_);
  const Coreset core = coreset(level);
  RowMatrixXf x(static_cast<Eigen::Index>(core.ids.size()), s.phi.cols());
  Labels y(core.ids.size());
  for (std::size_t j = 0; j < core.ids.size(); ++j) {
    const Eigen::Index i = s.require_index(core.ids[j]);
    x.row(static_cast<Eigen::Index>(j)) = s.phi.row(i);
    y[j] = s.classes[s.label[i]];
  }
  linear::LogisticRegression model(params);
  model.fit(x, y, core.weights, context);
  return model;
}

Eigen::Index CoresetTree::size() const { return built(state_).n(); }
const Labels& CoresetTree::classes() const { return built(state_).classes; }
const ClassNames& CoresetTree::class_names() const { return built(state_).class_names; }
void CoresetTree::set_class_names(ClassNames names) {
  built(state_);
  state_->class_names = std::move(names);
}
Eigen::Index CoresetTree::num_leaves() const {
  const State& s = built(state_);
  return (s.n() + s.chunk - 1) / s.chunk;
}
Eigen::Index CoresetTree::num_nodes() const {
  return static_cast<Eigen::Index>(built(state_).nodes.size());
}
Eigen::Index CoresetTree::chunk_size() const { return built(state_).chunk; }
int CoresetTree::feature_dim() const { return static_cast<int>(built(state_).phi.cols()); }
const RowMatrixXf& CoresetTree::features() const { return built(state_).phi; }
const Eigen::VectorXd& CoresetTree::feature_mean() const { return built(state_).feature_mean; }
const RowMatrixXd& CoresetTree::feature_projection() const { return built(state_).projection; }

RowMatrixXf CoresetTree::map_features(MatrixRef x) const {
  const State& s = built(state_);
  CORECLEAN_THROW_IF_NOT(x.cols() == s.input_dim,
                         "coreset tree: features have {} columns, the tree was built on {}",
                         x.cols(), s.input_dim);
  const RowMatrixXd centred = x.cast<double>().rowwise() - s.feature_mean.transpose();
  if (s.projection.size() == 0) return centred.cast<float>();
  return (centred * s.projection.transpose()).cast<float>();
}
std::vector<Eigen::MatrixXd> CoresetTree::class_grams() const { return built(state_).class_gram; }

NodeSummary CoresetTree::node(Eigen::Index index) const {
  const State& s = built(state_);
  CORECLEAN_THROW_IF_NOT(index >= 0 && index < static_cast<Eigen::Index>(s.nodes.size()),
                         "coreset tree: node {} does not exist ({} nodes)", index, s.nodes.size());
  const TreeNode& n = s.nodes[index];
  return {n.begin, n.end, n.level, n.class_weight, n.class_count, n.gram, n.moments};
}

void update_views(CoresetTreeState& s, const CoresetTreeParams& params, const Context& context) {
  for (auto* v : {&s.ridge_loss, &s.held_out_loss, &s.neighbour_loss}) v->assign(s.ids.size(), 0.0);
  s.neighbour_label = s.label;
  s.verdict.assign(s.ids.size(), 0);
  s.neighbours = NeighbourLists{};
  if (params.optimized_for == OptimizedFor::kCleaning && params.neighbours > 0)
    s.neighbours = search_neighbours(s.phi, params.neighbours, s.sketched(), context);
  fit_fusion(s, context);
  score_samples(s, params, all_samples(s), Scoring::kViews, context);
}

}  // namespace coreclean::coreset
