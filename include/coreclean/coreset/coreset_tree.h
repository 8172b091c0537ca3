#ifndef CORECLEAN_CORESET_CORESET_TREE_H_
#define CORECLEAN_CORESET_CORESET_TREE_H_

/// @file
/// The coreset tree: every sample gets an importance; the highest-importance samples of a class
/// are the ones a reviewer should look at first. Samples are split into chunks (leaves); pairs of
/// nodes merge up to a root. Every node keeps summaries that add up exactly (per-class counts and
/// weight sums, the Gram matrix of the features and the per-class first moments), so a change to
/// a few samples recomputes only their leaves and the paths to the root.
///
/// Features. Samples are mapped to φ(x) ∈ ℝʳ: x − μ when d ≤ sketch_dim, else the top
/// sketch_dim PCA components of x (randomized solver, fitted once at build on every sample, or
/// on 65,536 drawn uniformly when there are more; μ is the mean of all samples). φ̃ = [φ; 1].
///
/// Importance for cleaning (optimized_for = cleaning) judges each sample's label by views that
/// did not see it, fuses them, and adds how atypical the sample is for its class:
///
///   ridge view: F₋ᵢ ∈ ℝᴷ, the leave-one-out scores of a weighted ridge classifier on one-hot
///     labels: Θ = G⁻¹B, G = Σ_j w_j φ̃_j φ̃_jᵀ + λ·D, B = Σ_j w_j φ̃_j e_{y_j}ᵀ, and
///     F₋ᵢ = (φ̃_iᵀΘ − h_i e_{y_i}) / (1 − h_i), h_i = w_i φ̃_iᵀ G⁻¹ φ̃_i (exact, closed form).
///     Its loss, ridge_i = ½ · max(0, 1 + max_{k≠y_i} F₋ᵢ,ₖ − F₋ᵢ,y_i), is 0 when the others
///     confidently agree with the label and 1 when they confidently name another class.
///     Cross-fitting matters: an in-sample loss lets a high-dimensional model memorise a wrong
///     label. λ is chosen at build by leave-one-out error over a grid (also closed form; over at
///     most 65,536 samples drawn uniformly on larger sets).
///
///   held-out view (cross_fit_folds = F > 0): samples are dealt into F stratified folds at
///     build, a multinomial logistic regression is fitted on φ without each fold, and p̂₋f gives
///     the sample's class probabilities; its loss is the cross-validated self-confidence loss
///     1 − p̂₋f(y_i). Logistic regression is better calibrated where classes are not linear in
///     one-hot least squares. Its regularisation is chosen by the held-out likelihood of fold
///     0's labels (cross_fit_c). On large sets each model trains on a weighted per-class sample
///     of its folds (cross_fit_max_rows).
///
///   neighbour view (neighbours = k > 0): v_i ∈ ℝᴷ, the shares of the sample's k nearest
///     neighbours by cosine similarity of φ (faiss; itself excluded) in each class, each
///     neighbour j counted with weight w_j · max(0, cos(φ_i, φ_j)); its loss is 1 − v_i,y_i and
///     its majority label argmax v_i is reported. Where classes are not linear in the features
///     (raw pixels, weak embeddings) it finds flipped labels the linear views miss.
///
///   misfit_i = 1 − softmax(z_i)_{y_i},  z_i = α_r F₋ᵢ + α_h log(p̂₋f + ε) + α_n log(v_i + ε),
///     the views pooled log-linearly with weights α ≥ 0 that maximise the likelihood of the
///     current labels (src/coreset/view_fusion.h explains why); α is fitted at build and by
///     refresh() (on at most 16,384 samples drawn uniformly) and kept by updates. Reviewers'
///     verdicts (record_verdicts) then teach α which views find this data's errors. The
///     suggested label is argmax z_i.
///
///   atypical_i = a_i · W_c / r̃, a_i = w_i φ̃_iᵀ (G_c + λ_a·D)⁻¹ φ̃_i
///     the ridge leverage of the sample within its labelled class c (G_c: class-c Gram, W_c: its
///     weight sum, r̃ = r + 1), scaled so that its class average is about 1. High for outliers
///     of the class: out-of-distribution boxes, odd crops. This is the reference product's
///     geometric score; alone it ranks label errors poorly, next to misfit it breaks ties and
///     surfaces boxes that are wrong in ways no other class explains.
///
///   importance_i = −log(1 − misfit_i) + atypical_weight · atypical_i   (0 for deleted samples)
///     the surprisal of the label (computed in log space): it orders samples as the misfit
///     does, but where the fused views are confident the misfit crowds at 1 and the
///     atypicality would decide among the likeliest errors.
///
/// Both parts depend on global sums only, so importances are comparable across leaves and
/// classes. For training (optimized_for = training) the importance is a sensitivity bound that
/// mixes the leverage share and the uniform share in equal parts, ½ (a_i / r̃ + w_i / W_c), and
/// every node keeps a weighted coreset sampled from its children's coresets by importance
/// (per-class quotas, weights u / (m p)).
///
/// Incremental updates change the summaries of the touched leaves and the root's per-class Gram
/// matrices by rank-one steps and recompute the leaves' ancestors as sums of their children: equal
/// to a fresh build over the same leaf assignment up to round-off, in O(r̃² per sample + r̃² per
/// node on the paths). The global ridge model is re-solved at once (relabels only move the
/// moments; removals and new features also redo an r̃ × r̃ eigendecomposition), and the changed
/// samples are re-scored in full. Every other sample's misfit is recomputed too, in O(r̃ K) per
/// sample from cached coordinates in the eigenbasis of G (so the ridge view is exact after every
/// update), and its neighbour votes from the stored neighbour lists in O(k) (a relabel or
/// removal changes the votes of exactly the samples that list the changed one; new features
/// re-search the changed samples' lists). What stays lazy until refresh() (O(n r̃²), the refits
/// and a fresh neighbour search) is the atypicality of unchanged samples, the cross-fitted
/// logistic regressions, which are not refitted, and the view weights α.

#include <coreclean/core/class_names.h>
#include <coreclean/core/collective.h>
#include <coreclean/core/context.h>
#include <coreclean/core/types.h>
#include <coreclean/linear/logistic_regression.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace coreclean::coreset {

/// What the importance is for.
enum class OptimizedFor {
  kCleaning,  ///< find label errors: misfit + atypicality, every sample kept and scored
  kTraining,  ///< train on a small weighted subset: sensitivity sampling per node
};

/// Parameters of CoresetTree. Plain data; validate() before use.
struct CoresetTreeParams {
  /// Samples per leaf; 0 = automatic: max(512, ⌈n / 32⌉).
  Eigen::Index chunk_size = 0;
  OptimizedFor optimized_for = OptimizedFor::kCleaning;
  /// Width r of the feature map; wider inputs are reduced by PCA to this many components.
  int sketch_dim = 256;
  /// Weight of atypicality in the cleaning importance. Small by measurement: it orders the
  /// samples the views find little fault with, not the likeliest errors (precision at k did
  /// not move); 0.05 cost up to 0.013 AUROC against 0.01 on the demo's boxes and
  /// fashion-MNIST and gained it nowhere (bench/finding_errors.py); BCCD's real errors rank
  /// the same with either.
  double atypical_weight = 0.01;
  /// Ridge of the per-class leverage, relative to the mean diagonal of the class Gram matrix.
  double leverage_ridge = 1e-3;
  /// Candidate ridges of the misfit model, relative to the mean diagonal of G; the one with the
  /// lowest leave-one-out error is used.
  std::vector<double> misfit_ridges = {1e-4, 1e-3, 1e-2, 1e-1, 1.0};
  /// Training coreset: samples kept per node; 0 = automatic (chunk_size / 2).
  Eigen::Index coreset_size = 0;
  /// Folds of the cross-fitted logistic regressions of the held-out view (0 = no such view).
  int cross_fit_folds = 5;
  /// Neighbours per sample of the neighbour view (0 = no such view; at most 100). Cleaning
  /// trees only. Ten by measurement: 5 was worse, 20 no better (fashion-MNIST, injected errors).
  int neighbours = 10;
  /// Inverse regularisation of those logistic regressions, for features of unit variance (the
  /// C used is cross_fit_c · r / mean ‖φ‖², so the units of the embedding do not matter).
  /// 0 = chosen per build and refresh() among 0.03, 0.1, 0.3 and 1 by the held-out likelihood
  /// of fold 0's labels (how much to regularise depends on the embedding: see
  /// fit_fold_models in coreset_tree.cc); costs three more fits of one model.
  double cross_fit_c = 0.0;
  /// Training rows of each held-out model at most (0 = every sample of the other folds). Above
  /// it, each model trains on a per-class uniform sample of its folds — every row of a class
  /// that fits under the class's share, so rare classes keep all of theirs — weighted by
  /// n_c / m_c (the class's rows over those drawn), so that the weighted loss is an unbiased
  /// estimate of the full one. The fits dominate a large build (at 847,970 × 256 with 80
  /// classes, one Newton step over every row costs ~10¹² flops); the held-out view needs
  /// calibrated probabilities, not the last digits of the optimum.
  Eigen::Index cross_fit_max_rows = 50000;

  /// Throws InvalidArgument naming the first bad field and its value.
  void validate() const;
};

/// Per-sample scores, as the review shows them.
struct SampleScore {
  SampleId id = 0;
  Label label = 0;             ///< current label
  double importance = 0.0;
  double misfit = 0.0;
  double atypical = 0.0;
  Label suggested_label = 0;   ///< the class the fused views prefer
  bool seen = false;
  double weight = 1.0;         ///< 0 = removed
  double ridge = 0.0;          ///< the ridge view's loss
  double held_out = 0.0;       ///< the held-out view's loss (0 without that view)
  double neighbour = 0.0;      ///< the neighbour view's loss: share of neighbours labelled otherwise
  Label neighbour_label = 0;   ///< the neighbours' majority label (the label itself without them)
};

/// The same scores as columns, one entry per sample in build order: what a data frame or a
/// numpy front end reads without a per-sample object.
struct ScoreColumns {
  std::vector<SampleId> id;
  Labels label;
  std::vector<double> importance, misfit, atypical;
  Labels suggested_label;
  std::vector<std::uint8_t> seen;  ///< 1 = seen
  std::vector<double> weight;      ///< 0 = removed
  std::vector<double> ridge, held_out, neighbour;
  Labels neighbour_label;
};

/// The weights α of the fused views (0 for a view the tree does not have).
struct FusionWeights {
  double ridge = 0.0;
  double held_out = 0.0;
  double neighbour = 0.0;
};

/// A reviewer's verdict on a sample's label, which the fusion learns from.
enum class Verdict : std::uint8_t {
  kNone = 0,        ///< not reviewed
  kLabelRight = 1,  ///< the current label is right (a keep, or a relabel once applied)
  kNoClass = 2,     ///< no class fits the box (a deletion)
};

/// A sample's neighbour in the neighbour view.
struct Neighbour {
  SampleId id = 0;
  float similarity = 0.0f;  ///< cosine similarity of the mapped features
};

/// How many samples of a class a query returns.
struct ClassQuota {
  enum class Kind {
    kCount,  ///< the `count` most important
    kAll,    ///< every candidate of the class
    kAny,    ///< competes with the other kAny classes for what is left of `size`
  };
  Kind kind = Kind::kCount;
  Eigen::Index count = 0;
};

/// A query for the samples to review (reference semantics).
struct ImportantSamplesQuery {
  /// Total to return when class_size is empty, or the budget of the kAny classes.
  Eigen::Index size = 0;
  /// Per-class quotas; when non-empty, classes not listed are not returned.
  std::map<Label, ClassQuota> class_size;
  /// Never return these.
  std::vector<SampleId> ignore_ids;
  /// Only return these (empty = all samples).
  std::vector<SampleId> select_from_ids;
  /// Skip samples already marked seen.
  bool ignore_seen = true;
  /// Mark the returned samples seen.
  bool mark_seen = true;
};

/// Query result, highest importance first.
struct ImportantSamples {
  std::vector<SampleId> ids;
  std::vector<double> importance;
};

/// What an update did.
struct UpdateReport {
  Eigen::Index samples_changed = 0;  ///< samples whose label, weight or features changed
  Eigen::Index nodes_touched = 0;    ///< leaves and ancestors recomputed
  Eigen::Index samples_rescored = 0; ///< samples whose importance was recomputed (the changed ones)
};

/// A weighted subset of the samples.
struct Coreset {
  std::vector<SampleId> ids;
  std::vector<double> weights;
};

/// One node's exact summaries (for inspection and tests).
struct NodeSummary {
  Eigen::Index begin = 0, end = 0;  ///< sample index range [begin, end)
  int level = 0;                    ///< 0 = leaves
  Eigen::VectorXd class_weight;     ///< K weight sums
  Eigen::VectorXi class_count;      ///< K counts of samples with weight > 0
  Eigen::MatrixXd gram;             ///< r̃ × r̃: Σ w φ̃ φ̃ᵀ
  Eigen::MatrixXd moments;          ///< r̃ × K: Σ w φ̃ e_yᵀ
};

class CoresetTreeState;  // implementation
struct TreeStateAccess;  // implementation: access to the state for the tree file and tests
class CoresetTree;

/// Builds one tree with the processes of `group` (e.g. MPI ranks), each over its own share of
/// the samples: the leaves are dealt out as contiguous runs, one run per process. `samples.x`
/// addresses all n rows on every process (a memory-mapped file, say), but a process reads only
/// the rows of its share — process 0 also the at most 65,536 rows the feature map is fitted on
/// (it sends the map to the others). y, sample_weight, ids and the context's seed are the whole
/// set's, the same on every process; `params` too.
///
/// Each process maps its rows and sums its leaves; the leaf summaries are exchanged exactly
/// (each is non-zero on one process only), so every process holds the same tree of summaries
/// and solves the same global model. The held-out logistic regressions run as distributed
/// Newton steps: the loss, gradient and Hessian-vector products of the rows each process holds
/// are summed over the group at every step, leaf by leaf in order, so the steps are bit for bit
/// those of one process. Every process scores its own rows; process 0 gathers the features and
/// scores and returns the whole tree, the others std::nullopt. The result equals build() with
/// the same seed: features, summaries and held-out models bit for bit, scores up to the
/// round-off of the class Gram matrices' sums (~1e-15). Collective: every process calls it; an
/// error thrown on one leaves the others waiting (the MPI front end aborts the job).
std::optional<CoresetTree> build_distributed(CoresetTreeParams params,
                                             const StreamedSamples& samples,
                                             std::span<const Label> y,
                                             std::span<const double> sample_weight,
                                             std::span<const SampleId> ids,
                                             const Context& context, const Collective& group);

/// build_distributed() where each process holds only its own rows (a Dask worker, say): `share`
/// holds rows [first, first + share.x.rows()) of the n = y.size() samples, covering at least
/// the process's build_share(). Process 0 also passes, when the input is wider than
/// params.sketch_dim, the rows feature_map_fit_rows() names, in that order (others: nullopt).
/// Same result as the overload above.
std::optional<CoresetTree> build_distributed(CoresetTreeParams params, const StreamedSamples& share,
                                             Eigen::Index first, std::optional<MatrixRef> fit_rows,
                                             std::span<const Label> y,
                                             std::span<const double> sample_weight,
                                             std::span<const SampleId> ids,
                                             const Context& context, const Collective& group);

/// The rows [begin, end) that process `rank` of `ranks` works on in build_distributed(): a
/// contiguous run of whole leaves of the tree over n samples with these params.
std::pair<Eigen::Index, Eigen::Index> build_share(Eigen::Index n, const CoresetTreeParams& params,
                                                  int rank, int ranks);

/// The peak resident bytes a build of n samples of width d in `classes` classes keeps with these
/// params and `threads` threads, X aside but for the rows the feature map is fitted on (a build
/// reads X block by block, and a memory-mapped file's blocks leave the resident set once read):
/// the larger of the feature map's fit (the ≤ 65,536 rows it reads and the randomized PCA's
/// work matrices) and the rest of the build
/// (φ, 4·n·r bytes; per-sample state; node summaries; class Grams and their factors; one
/// held-out fit; per-thread work), plus 64 MB for the program. docs/scaling.md derives the
/// terms; at 847,970 × 2048 with 80 classes it says 1.33 GB, and 1.32 GB was measured. With
/// `processes` > 1 (build_distributed), the peak of process 0, which also receives every row's
/// features and scores.
std::int64_t estimated_build_bytes(Eigen::Index n, Eigen::Index d, int classes,
                                   const CoresetTreeParams& params, int threads,
                                   int processes = 1);
/// The same for y.size() samples of d features labelled y (their distinct labels counted).
std::int64_t estimated_build_bytes(Eigen::Index d, std::span<const Label> y,
                                   const CoresetTreeParams& params, int threads,
                                   int processes = 1);

/// The rows (ascending) the feature map of a build over n × d samples is fitted on with this
/// seed: none when d ≤ sketch_dim, all when n ≤ 65,536, else 65,536 drawn uniformly.
std::vector<Eigen::Index> feature_map_fit_rows(Eigen::Index n, Eigen::Index d, int sketch_dim,
                                               std::uint64_t seed);

/// The coreset tree over (X, y, weights, ids).
///
/// Thread safety: const member functions may run concurrently from several threads on one tree;
/// a non-const call (build, queries that mark samples seen, set_seen, updates, refresh) needs
/// exclusive access — no other call on the same tree may run meanwhile. Distinct trees are
/// independent. A call uses `context.threads` OpenMP/BLAS threads of its own.
class CoresetTree {
 public:
  explicit CoresetTree(CoresetTreeParams params = {});
  ~CoresetTree();
  CoresetTree(CoresetTree&&) noexcept;
  CoresetTree& operator=(CoresetTree&&) noexcept;
  CoresetTree(const CoresetTree&);
  CoresetTree& operator=(const CoresetTree&);

  /// Builds the tree. x: n × d (not retained: the tree keeps φ(x), n × r float32); y: n labels
  /// (at least two classes); sample_weight: n non-negative or empty (all 1); ids: n unique or
  /// empty (0..n−1).
  void build(MatrixRef x, std::span<const Label> y, std::span<const double> sample_weight = {},
             std::span<const SampleId> ids = {}, const Context& context = Context());
  /// build() over samples read in passes of row blocks, releasing each block once a pass is
  /// done with it (a memory-mapped file then never becomes resident as a whole): one pass maps
  /// every sample; fitting the feature map reads at most 65,536 more (drawn uniformly, seeded)
  /// when the input is wider than sketch_dim. Same result as build(samples.x, ...).
  void build(const StreamedSamples& samples, std::span<const Label> y,
             std::span<const double> sample_weight = {}, std::span<const SampleId> ids = {},
             const Context& context = Context());

  /// The samples to review, highest importance first; marks them seen when asked.
  ImportantSamples important_samples(const ImportantSamplesQuery& query);
  /// Sets or clears the seen flag. Throws InvalidArgument for an unknown id (nothing changed).
  void set_seen(std::span<const SampleId> ids, bool seen);

  /// Changes labels (to classes the tree knows). Throws, changing nothing, on an unknown id or
  /// class.
  UpdateReport update_targets(std::span<const SampleId> ids, std::span<const Label> labels);
  /// Removes samples: their weight becomes 0, they keep their slot and are never returned.
  UpdateReport remove_samples(std::span<const SampleId> ids);
  /// A reviewed batch in one update: relabels (`relabel_ids` to `labels`) and removals
  /// (`remove_ids`) together, so that the pass that re-scores every sample runs once (the same
  /// tree as update_targets then remove_samples, to rounding). Throws, changing nothing, on an
  /// unknown id or class, or an id named twice (also once in each list).
  UpdateReport apply_review(std::span<const SampleId> relabel_ids, std::span<const Label> labels,
                            std::span<const SampleId> remove_ids);
  /// Replaces the features of samples (x: ids.size() × d, the build's width).
  UpdateReport update_features(std::span<const SampleId> ids, MatrixRef x);
  /// Adds samples without a rebuild (the data arrived later, or in parts): x (m × d, the
  /// build's width) is mapped with the build's feature map, the samples fill the last leaf and
  /// then new leaves of chunk_size(), the internal nodes above are re-summed from their children
  /// (the old leaves keep their summaries), the global model is re-solved and the new samples
  /// are scored in full, every other sample's misfit again (as after an update; training
  /// trees: every importance, whose class totals grew, and the coresets of the re-summed
  /// nodes). The held-out models are not refitted: a new sample is dealt to a fold whose model
  /// never saw it, so its held-out view stays honest; refresh() refits them. y must hold
  /// classes of the tree; ids must be new (empty = numbered after the tree's largest id);
  /// sample_weight as in build(). Checks every argument before changing anything; throws
  /// InvalidArgument naming the first bad one. `context`: progress and cancellation (checked
  /// before anything changes).
  UpdateReport append(MatrixRef x, std::span<const Label> y,
                      std::span<const double> sample_weight = {},
                      std::span<const SampleId> ids = {}, const Context& context = Context());
  /// Re-scores every sample against the current summaries (makes lazily stale scores exact).
  /// `context` supplies threads, cancellation and the logger to the refits.
  void refresh(const Context& context = Context());
  /// Updates applied since the last full scoring (0 = every score is exact).
  [[nodiscard]] Eigen::Index stale_updates() const;

  /// Scores of every sample, in build order.
  [[nodiscard]] std::vector<SampleScore> scores() const;
  /// scores() as columns.
  [[nodiscard]] ScoreColumns score_columns() const;
  /// Scores of one sample. Throws InvalidArgument for an unknown id.
  [[nodiscard]] SampleScore score(SampleId id) const;
  /// Whether id is a sample of the tree (a removed sample still is, with weight 0).
  [[nodiscard]] bool contains(SampleId id) const;
  /// The class probabilities of a sample (classes() order) by the cross-fitted logistic
  /// regression that did not see it — the classes a reviewer should weigh against its label.
  /// Empty when cross_fit_folds is 0, the sample was removed, or its fold has no model.
  [[nodiscard]] std::vector<double> held_out_probabilities(SampleId id) const;
  /// The sample's nearest neighbours in the neighbour view, most similar first (empty without
  /// that view). Throws InvalidArgument for an unknown id.
  [[nodiscard]] std::vector<Neighbour> neighbours(SampleId id) const;
  /// The weights of the fused views: learned from the reviewers' verdicts once there are any
  /// (record_verdicts), else default_fusion_weights().
  [[nodiscard]] FusionWeights fusion_weights() const;
  /// The weights fitted to the labels alone (at build and by refresh()).
  [[nodiscard]] FusionWeights default_fusion_weights() const;
  /// Records reviewers' verdicts (apply relabels and removals first: a relabelled sample's
  /// verdict is kLabelRight for its new label; a deleted one's kNoClass) and learns the view
  /// weights from every verdict recorded so far, pulled towards the default weights while they
  /// are few (src/coreset/view_fusion.h: fit_reviewed_weights); every sample's views are then
  /// fused again with them (its atypicality kept). kNone forgets a verdict. Throws
  /// InvalidArgument, changing nothing, on an unknown id or mismatched lengths.
  void record_verdicts(std::span<const SampleId> ids, std::span<const Verdict> verdicts,
                       const Context& context = Context());
  /// The verdict recorded for a sample. Throws InvalidArgument for an unknown id.
  [[nodiscard]] Verdict verdict(SampleId id) const;

  /// The weighted coreset of the nodes at `level` above the root (0 = the root's coreset; larger
  /// levels union the coresets of that many levels down). Training trees only.
  [[nodiscard]] Coreset coreset(int level = 0) const;
  /// Trains a weighted logistic regression on coreset(level), in the tree's feature space:
  /// apply it to map_features(x). Training trees only.
  [[nodiscard]] linear::LogisticRegression fit(const linear::LogisticRegressionParams& params = {},
                                               int level = 0,
                                               const Context& context = Context()) const;

  /// Number of samples (removed ones included), classes, leaves and nodes.
  [[nodiscard]] Eigen::Index size() const;
  [[nodiscard]] const Labels& classes() const;
  /// Names of the classes (saved with the tree; may be empty).
  [[nodiscard]] const ClassNames& class_names() const;
  void set_class_names(ClassNames names);
  [[nodiscard]] Eigen::Index num_leaves() const;
  [[nodiscard]] Eigen::Index num_nodes() const;
  [[nodiscard]] Eigen::Index chunk_size() const;
  [[nodiscard]] int feature_dim() const;  ///< r
  [[nodiscard]] const CoresetTreeParams& params() const { return params_; }
  /// Summary of node `index` (leaves first, then each level up; the root is last).
  [[nodiscard]] NodeSummary node(Eigen::Index index) const;
  /// Per-class Gram matrices at the root (r̃ × r̃ each, in classes() order).
  [[nodiscard]] std::vector<Eigen::MatrixXd> class_grams() const;
  /// The mapped features φ(x) of every sample (n × r).
  [[nodiscard]] const RowMatrixXf& features() const;
  /// Applies the build's feature map to new samples: x (m × d, the build's width) → m × r.
  [[nodiscard]] RowMatrixXf map_features(MatrixRef x) const;
  /// The feature map's centre μ (d) and, when the input was reduced, its PCA components (r × d;
  /// empty otherwise): φ(x) = (x − μ) Pᵀ, or x − μ.
  [[nodiscard]] const Eigen::VectorXd& feature_mean() const;
  [[nodiscard]] const RowMatrixXd& feature_projection() const;

  /// Bitwise equality of the whole state (used to check save/load).
  [[nodiscard]] bool operator==(const CoresetTree& other) const;

 private:
  friend void save_tree(const CoresetTree&, const std::filesystem::path&);
  friend CoresetTree load_tree(const std::filesystem::path&);
  friend std::optional<CoresetTree> build_distributed(CoresetTreeParams, const StreamedSamples&,
                                                      std::span<const Label>,
                                                      std::span<const double>,
                                                      std::span<const SampleId>, const Context&,
                                                      const Collective&);
  friend std::optional<CoresetTree> build_distributed(CoresetTreeParams, const StreamedSamples&,
                                                      Eigen::Index, std::optional<MatrixRef>,
                                                      std::span<const Label>,
                                                      std::span<const double>,
                                                      std::span<const SampleId>, const Context&,
                                                      const Collective&);
  friend struct TreeStateAccess;

  CoresetTreeParams params_;
  std::unique_ptr<CoresetTreeState> state_;
};

/// Writes the whole tree (summaries, importances, seen flags, features) to one versioned file,
/// atomically (temporary file, then rename).
void save_tree(const CoresetTree& tree, const std::filesystem::path& path);

/// Reads a tree written by save_tree. Throws FormatError for a file that is not a tree, is
/// corrupt (checksum), truncated, or from a newer format version.
CoresetTree load_tree(const std::filesystem::path& path);

}  // namespace coreclean::coreset

#endif  // CORECLEAN_CORESET_CORESET_TREE_H_
