#ifndef CORECLEAN_SRC_CORESET_TREE_STATE_H_
#define CORECLEAN_SRC_CORESET_TREE_STATE_H_

// The state behind CoresetTree (formulas in coreclean/coreset/coreset_tree.h).

#include <coreclean/coreset/coreset_tree.h>

#include "coreset/neighbours.h"
#include "coreset/view_fusion.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

namespace coreclean::coreset {

/// One node of the tree: a contiguous range of samples and its exact summaries.
struct TreeNode {
  Eigen::Index begin = 0, end = 0;
  int level = 0;
  Eigen::Index left = -1, right = -1, parent = -1;
  Eigen::VectorXd class_weight;
  Eigen::VectorXi class_count;
  Eigen::MatrixXd gram;     // r̃ × r̃
  Eigen::MatrixXd moments;  // r̃ × K
  // Training trees: the node's weighted coreset (sample indices and weights).
  std::vector<Eigen::Index> coreset;
  std::vector<double> coreset_weight;
};

/// The global ridge model derived from the root summaries.
struct GlobalModel {
  double lambda = 0.0;              // misfit ridge (absolute)
  Eigen::VectorXd eigenvalues;      // of the root Gram G
  Eigen::MatrixXd eigenvectors;     // V
  Eigen::MatrixXd vt_moments;       // Vᵀ B (r̃ × K)
  std::vector<Eigen::MatrixXd> class_factor;  // lower Cholesky factor of G_c + λ_c I per class
  std::vector<bool> class_ready;    // false for classes without weight
};

class CoresetTreeState {
 public:
  // Samples.
  RowMatrixXf phi;                  // n × r mapped features (see phi_first)
  // While processes build a tree together, each holds only rows [phi_first, phi_first +
  // phi.rows()) of φ (its share); 0 with every row otherwise.
  Eigen::Index phi_first = 0;
  Eigen::Index input_dim = 0;       // d
  Eigen::VectorXd feature_mean;     // d
  RowMatrixXd projection;           // r × d PCA components; empty = identity after centring
  Labels classes;                   // sorted
  ClassNames class_names;
  std::vector<int> label;           // class index per sample
  std::vector<double> weight;
  std::vector<SampleId> ids;
  std::unordered_map<SampleId, Eigen::Index> index_of;
  std::vector<std::uint8_t> seen;
  // Cross-fitting: the fold of every sample and one model per fold (trained without it).
  std::vector<int> fold;
  std::vector<linear::LogisticRegression> fold_models;
  // Neighbour view: every sample's nearest neighbours (k = 0: no such view).
  NeighbourLists neighbours;
  // Scores, and the views' losses and the neighbours' majority class behind them.
  std::vector<double> importance, misfit, atypical;
  std::vector<int> suggested;
  std::vector<double> ridge_loss, held_out_loss, neighbour_loss;
  std::vector<int> neighbour_label;
  ViewWeights view_weight{};        // α of the fused views (learned from verdicts when any)
  ViewWeights base_view_weight{};   // α fitted to the labels alone
  std::vector<std::uint8_t> verdict;  // per sample, a Verdict
  // Tree.
  Eigen::Index chunk = 0;
  std::vector<TreeNode> nodes;      // leaves first, root last
  std::vector<Eigen::MatrixXd> class_gram;  // root per-class Gram matrices
  double misfit_ridge = 0.0;        // the chosen relative ridge
  Eigen::Index stale = 0;
  std::uint64_t seed = 0;

  GlobalModel model;
  // Φ̃V of every sample (n × r̃), valid while the eigenbasis of G is unchanged; empty = stale.
  // A cache: never saved, rebuilt on first use.
  RowMatrixXf eigen_coords;

  [[nodiscard]] Eigen::Index n() const { return static_cast<Eigen::Index>(ids.size()); }
  [[nodiscard]] int k() const { return static_cast<int>(classes.size()); }
  [[nodiscard]] Eigen::Index r1() const { return phi.cols() + 1; }
  /// Whether φ's columns are PCA components (largest variance first).
  [[nodiscard]] bool sketched() const { return projection.size() > 0; }
  [[nodiscard]] Eigen::Index root() const { return static_cast<Eigen::Index>(nodes.size()) - 1; }
  [[nodiscard]] Eigen::Index leaf_of(Eigen::Index i) const { return i / chunk; }
  /// φ of sample i (which must be among the rows this process holds).
  [[nodiscard]] auto phi_row(Eigen::Index i) const { return phi.row(i - phi_first); }
  /// Whether this process holds φ of sample i.
  [[nodiscard]] bool holds(Eigen::Index i) const {
    return i >= phi_first && i < phi_first + phi.rows();
  }
  /// φ̃ of sample i (with the trailing 1).
  [[nodiscard]] Eigen::VectorXd augmented(Eigen::Index i) const;
  /// Index of a label in classes, or -1.
  [[nodiscard]] int class_index(Label l) const;
  /// Index of an id; throws InvalidArgument naming the id.
  [[nodiscard]] Eigen::Index require_index(SampleId id) const;
};

/// The node structure of a tree over n samples in leaves of `chunk` (n, chunk >= 1): the leaves
/// in sample order first, then pairs merged level by level (an odd node out moves up
/// unchanged), the root last. Ranges, levels, children and parents only; summaries are empty.
std::vector<TreeNode> node_structure(Eigen::Index n, Eigen::Index chunk);

/// Sets every internal node's summaries to the sum of its children's (children come before their
/// parents in the node list): exactly what a build computes above the leaves.
void sum_internal_nodes(std::vector<TreeNode>& nodes);

/// Brings the views of a tree read from an older file up to date: searches the neighbours (when
/// `params` asks for them), fits the view weights and re-scores every sample's views (its
/// atypicality and the held-out models are kept).
void update_views(CoresetTreeState& s, const CoresetTreeParams& params, const Context& context);

/// The tree file's checksum of `bytes` in format `version`: FNV-1a 64 over bytes (version 1) or
/// over 8-byte little-endian words (version 2 on; see tree_io.cc).
std::uint64_t tree_file_checksum(std::span<const std::byte> bytes, std::uint32_t version = 2);

/// The state behind a tree, for the tree file's reader and writer and for tests that craft
/// inconsistent files.
struct TreeStateAccess {
  static CoresetTreeState& state(CoresetTree& tree) { return *tree.state_; }
  static CoresetTreeParams& params(CoresetTree& tree) { return tree.params_; }
};

}  // namespace coreclean::coreset

#endif  // CORECLEAN_SRC_CORESET_TREE_STATE_H_
