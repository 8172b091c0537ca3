#ifndef CORECLEAN_SESSION_SESSION_H_
#define CORECLEAN_SESSION_SESSION_H_

/// @file
/// The cleaning session: a folder whose SQLite database (`session.db`) is the single source of
/// truth of a review loop — every sample's original and current label, its weight (0 = deleted),
/// whether a reviewer has seen it, every decision, every batch and every iteration's metrics.
/// The coreset tree (`tree.bin`) is a cache: whenever it disagrees with the database (e.g. the
/// process was killed between a commit and the tree's save) it is brought back in line by
/// incremental updates, so it always equals a tree rebuilt from the database.
///
/// The loop: create() → next_batch() → record decisions (review page or CSV) → apply() → …
/// Every write is one transaction: killing the process at any point loses nothing committed.

#include <coreclean/core/class_names.h>
#include <coreclean/core/context.h>
#include <coreclean/core/error.h>
#include <coreclean/core/types.h>
#include <coreclean/coreset/coreset_tree.h>
#include <coreclean/io/feature_set.h>
#include <coreclean/linear/class_selection.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace coreclean::session {

/// What a reviewer decided about one sample.
enum class DecisionKind {
  kKeep,     ///< the label is right
  kRelabel,  ///< the label should be `new_label`
  kDelete,   ///< the box is faulty (no class of the label set, several objects, misses it)
};

/// "keep", "relabel" or "delete".
const char* to_string(DecisionKind kind);
/// Parses "keep", "relabel" or "delete"; nullopt otherwise.
std::optional<DecisionKind> parse_decision_kind(std::string_view text);

/// A decision on one sample of the open batch.
struct Decision {
  SampleId id = 0;
  DecisionKind kind = DecisionKind::kKeep;
  Label new_label = 0;    ///< kRelabel only
  std::string reviewer;   ///< who decided (free text; may be empty)
};

/// A decision as stored: pending (its batch open) or applied.
struct DecisionRecord {
  int batch = 0;
  SampleId id = 0;
  DecisionKind kind = DecisionKind::kKeep;
  Label old_label = 0;   ///< the label when the decision was made
  Label new_label = 0;   ///< kRelabel only
  std::string reviewer;
  std::string decided_at;  ///< UTC, ISO 8601
  bool applied = false;
};

/// The normalised confusion matrix of the `pick` logic: which classes a classifier confuses.
struct ClassConfusion {
  Labels classes;                  ///< row and column order
  std::vector<double> normalized;  ///< classes² cells, row-major; rows: true, columns: predicted
  bool used_test_split = false;    ///< false: out-of-fold predictions on the training set
};

/// The confusion matrix of a class selection.
ClassConfusion to_class_confusion(const linear::ClassSelection& selection);

/// How a session is created.
struct SessionOptions {
  std::filesystem::path features;          ///< features directory (kept by absolute path)
  std::filesystem::path coco;              ///< optional COCO file the features were made from
  std::filesystem::path images;            ///< optional images directory of that file
  std::string class_of_interest = "auto";  ///< name or id, or "auto" (the `pick` logic)
  std::vector<std::string> classes;        ///< keep only these classes (names or ids); empty = all
  std::string guidelines;                  ///< labelling rules shown with every batch (Markdown)
  int folds = 5;                           ///< folds of the cross-validated AUC
  double auc_c = 1.0;                      ///< inverse regularisation of the AUC's classifier
  /// The pick's confusion matrix when the caller computed it (class_of_interest "auto"
  /// computes and stores it itself); shown by the report.
  std::optional<ClassConfusion> confusion;
};

/// One sample of a batch, with the scores that put it there.
struct BatchItem {
  SampleId id = 0;
  Label label = 0;            ///< current label when the batch was made
  double importance = 0.0;
  double misfit = 0.0;
  double atypical = 0.0;
  Label suggested_label = 0;
};

/// How a batch's samples are chosen.
enum class BatchSelection {
  kImportance,  ///< the most important unseen samples of the class (the cleaning loop)
  kRandom,      ///< a uniform sample of the unseen samples of the class: an audit, whose share
                ///< of fixed boxes estimates the error rate left among the unseen
  kFindings,    ///< unseen boxes of any class of the session that the model-free box checks
                ///< flagged (degenerate first, then duplicates — both boxes of a pair —, then
                ///< the rest, each by importance)
};

/// A model-free finding on a box of the session (detect::check_boxes on the session's COCO
/// file, stored when the session was created).
struct BoxIssue {
  SampleId id = 0;
  std::string check;               ///< "degenerate", "tiny", "outside", "aspect", "duplicate", ...
  std::string detail;              ///< the reason, with the values involved
  std::optional<SampleId> other;   ///< the other box of a duplicate pair
};

/// What the session suggests a reviewer decides for a box, and why.
struct Suggestion {
  DecisionKind kind = DecisionKind::kKeep;
  Label new_label = 0;  ///< kRelabel only
  std::string reason;   ///< one sentence
};

/// A batch of samples to review.
struct Batch {
  int number = 0;  ///< 1, 2, ...
  bool applied = false;
  BatchSelection selection = BatchSelection::kImportance;
  std::vector<BatchItem> items;  ///< highest importance first
};

/// Metrics of one iteration (iteration 0 = at creation, before any review).
struct IterationMetrics {
  int iteration = 0;
  double auc = 0.0;       ///< k-fold cross-validated AUC on the labels after this iteration
  std::int64_t reviewed = 0;  ///< samples of this iteration's batch
  std::int64_t relabelled = 0;
  std::int64_t deleted = 0;
  std::int64_t kept = 0;
  double seconds = 0.0;   ///< wall time of the apply (0 for iteration 0)
  std::vector<double> importance;  ///< importances of the class of interest after the iteration
  /// The fusion's view weights in use after the iteration (learned from the verdicts so far);
  /// nullopt for iterations recorded by a version that did not keep them.
  std::optional<coreset::FusionWeights> fusion;
};

/// What apply() does with boxes of the batch that have no decision.
enum class UndecidedPolicy {
  kRefuse,  ///< nothing is applied: apply throws UndecidedBoxes (the default: an undecided box
            ///< is not a kept one)
  kKeep,    ///< they count as kept (their labels are right)
  kReturn,  ///< they go back to the unseen boxes (a later batch may offer them again)
};

/// Parses "keep" or "return" (the user's words for kKeep and kReturn); nullopt otherwise.
std::optional<UndecidedPolicy> parse_undecided_policy(std::string_view text);

/// How apply() runs.
struct ApplyOptions {
  /// A filled-in review CSV; its rows replace the page's decisions on the same boxes.
  std::optional<std::filesystem::path> csv;
  /// Without `csv`: read the open batch's own `review.csv` when any of its rows holds a
  /// decision (it is the file the batch tells the reviewer to edit). A row of it that
  /// contradicts a decision recorded on the review page stops the apply (which one is right is
  /// the reviewer's call). The review page's own apply turns this off: it applies what the
  /// page shows.
  bool read_batch_csv = true;
  /// What boxes without a decision mean.
  UndecidedPolicy undecided = UndecidedPolicy::kRefuse;
};

/// Thrown by apply() when boxes of the batch have no decision and the policy is kRefuse.
/// Nothing was written.
class UndecidedBoxes : public InvalidArgument {
 public:
  UndecidedBoxes(int batch, std::int64_t batch_size, std::vector<SampleId> ids);
  /// The batch that was not applied.
  [[nodiscard]] int batch() const { return batch_; }
  /// The undecided samples, in batch order.
  [[nodiscard]] const std::vector<SampleId>& ids() const { return ids_; }

 private:
  int batch_;
  std::vector<SampleId> ids_;
};

/// What apply() did.
struct ApplyReport {
  int batch = 0;                 ///< 0 when there was nothing to apply
  std::int64_t imported_rows = 0;  ///< decisions taken from the CSV
  std::filesystem::path csv;     ///< the CSV read (given, or the batch's own); empty for none
  std::int64_t returned = 0;     ///< undecided boxes sent back to the unseen (kReturn)
  std::int64_t kept_undecided = 0;  ///< undecided boxes counted as kept (kKeep)
  IterationMetrics metrics;
};

/// A change to a decision whose batch was already applied.
struct RevisionRecord {
  SampleId id = 0;               ///< the revised sample
  int batch = 0;                 ///< the batch of the revised decision
  DecisionKind old_kind = DecisionKind::kKeep;  ///< the decision before the revision
  Label old_new_label = 0;       ///< old_kind == kRelabel only
  std::string old_reviewer;      ///< who made the decision before the revision
  DecisionKind kind = DecisionKind::kKeep;      ///< the decision after it
  Label new_label = 0;           ///< kind == kRelabel only
  std::string reviewer;          ///< who revised
  std::string revised_at;        ///< UTC, ISO 8601
};

/// What revise() did.
struct RevisionReport {
  std::int64_t revised = 0;    ///< decisions that changed
  std::int64_t unchanged = 0;  ///< rows equal to the stored decision (nothing to do)
};

/// A summary for `status`.
struct SessionStatus {
  Label class_of_interest = 0;
  Label confused_with = 0;      ///< the class it is most confused with (from the pick logic)
  std::int64_t samples = 0;     ///< in the session (all kept classes)
  std::int64_t class_size = 0;  ///< samples currently labelled with the class of interest
  std::int64_t reviewed = 0;    ///< samples of applied batches (decided, or kept by default)
  std::int64_t exported = 0;    ///< samples of every batch exported so far (the open one too)
  std::int64_t relabelled = 0, deleted = 0;
  std::int64_t unseen = 0;       ///< samples labelled with the class that nobody has seen yet
  /// Samples of applied random (audit) batches, and how many of them were fixed: their ratio
  /// estimates the share of wrong labels left among the unseen samples of the class.
  std::int64_t audited = 0, audit_fixed = 0;
  int batches = 0;               ///< batches exported
  std::optional<int> open_batch;  ///< a batch exported but not applied
  std::int64_t pending = 0;       ///< decisions recorded for the open batch
  /// Boxes of the session flagged by the box checks; those already reviewed; those of them
  /// fixed (relabelled or deleted).
  std::int64_t flagged = 0, flagged_reviewed = 0, flagged_fixed = 0;
  std::vector<IterationMetrics> iterations;
  /// The weights of the tree's fused views: in use (learned from the reviewers' verdicts once
  /// batches were applied) and fitted to the labels alone.
  coreset::FusionWeights fusion, fusion_default;
  /// The weight of atypicality in the importance, as the session's tree was built with.
  double atypical_weight = 0.0;
  /// True when the AUC gained less than `plateau_gain` over the last `plateau_window`
  /// iterations (the rule is in the message of `status`).
  bool plateaued = false;
  static constexpr double plateau_gain = 0.002;
  static constexpr int plateau_window = 2;
};

/// An open session.
///
/// Not thread-safe: one Session object is used by one thread at a time (calls on it, const ones
/// included, must not overlap; they share one SQLite connection and the in-memory tree).
/// Several Session objects, in one process or in several, may open the same folder: each has
/// its own connection, every write is one transaction under SQLite's file lock (a writer waits
/// up to 10 s for another), the tree cache is replaced atomically, and changed_elsewhere() says
/// when another connection has committed, after which this object's labels may be stale.
class Session {
 public:
  /// Creates the session folder `dir` (must not exist or be empty): reads the features, picks
  /// the class of interest, builds the tree, records iteration 0 (AUC, importances). The
  /// session refers to options.features by its absolute path.
  static Session create(const std::filesystem::path& dir, const SessionOptions& options,
                        const Context& context = Context());
  /// Creates the session folder `dir` (must not exist or be empty) from features held in
  /// memory: they are written to `dir/features` (io::save_feature_set), then the session is
  /// created from them as above, so the folder is self-contained (it may be moved or copied,
  /// and open() finds its features inside). options.features must be empty. When creation
  /// fails, `dir` is left new or empty as it was.
  static Session create(const std::filesystem::path& dir, const io::FeatureSet& features,
                        const SessionOptions& options, const Context& context = Context());
  /// Opens an existing session; reconciles the tree cache with the database. Throws
  /// InvalidArgument when `dir` holds no session and FormatError for a newer schema.
  static Session open(const std::filesystem::path& dir, const Context& context = Context());

  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  ~Session();

  /// The open batch if there is one (re-exporting it is idempotent); otherwise `n` unseen
  /// samples of the class of interest — the most important, or a uniform random sample
  /// (seeded) — become a new batch, marked seen, listed highest importance first. An empty
  /// batch (number 0, nothing stored) means every sample of the class has been reviewed.
  /// Asking for a random or findings batch while a batch of another kind is open throws
  /// InvalidArgument: the open batch is decided and applied first.
  Batch next_batch(std::int64_t n, const Context& context = Context(),
                   BatchSelection selection = BatchSelection::kImportance);
  /// The batch with this number; throws InvalidArgument when there is none.
  [[nodiscard]] Batch batch(int number) const;
  /// The open (exported, unapplied) batch, if any.
  [[nodiscard]] std::optional<Batch> open_batch() const;

  /// Records (replacing) the pending decision on a sample of the open batch. Throws
  /// InvalidArgument when there is no open batch, the id is not in it, or the new label is not
  /// a class of the session.
  void record_decision(const Decision& decision);
  /// Removes the pending decision on a sample (undo); false when there was none.
  bool undo_decision(SampleId id);
  /// Pending decisions of the open batch.
  [[nodiscard]] std::vector<Decision> pending_decisions() const;
  /// Every stored decision (pending and applied), by batch then sample id.
  [[nodiscard]] std::vector<DecisionRecord> decisions() const;

  /// Applies the open batch: first imports the CSV (options.csv, or the batch's own filled-in
  /// review.csv; see read_decision_file: every row is checked before anything is written, and
  /// a CSV row replaces the page's decision), then in one transaction records the decisions,
  /// updates labels and weights, and stores the iteration's metrics; then updates the tree
  /// incrementally. Boxes without a decision are handled by options.undecided; by default
  /// apply throws UndecidedBoxes and writes nothing. With no open batch nothing happens
  /// (batch = 0 in the report): apply is idempotent.
  ApplyReport apply(const ApplyOptions& options = {}, const Context& context = Context());

  /// Changes decisions of applied batches (a later look found the first answer wrong). Each
  /// decision's sample must have an applied decision; the new one replaces it, the change is
  /// stored as a revision (old → new, who, when), the sample's label and weight follow, the
  /// batch's counts are recounted and the tree is updated. All or nothing: every decision is
  /// checked before anything is written.
  RevisionReport revise(const std::vector<Decision>& decisions, const Context& context = Context());
  /// Every revision, oldest first.
  [[nodiscard]] std::vector<RevisionRecord> revisions() const;

  [[nodiscard]] SessionStatus status() const;
  /// The confusion matrix that picked the class of interest; nullopt when the class was given
  /// and no matrix came with it.
  [[nodiscard]] std::optional<ClassConfusion> class_confusion() const;
  /// Findings of the model-free box checks on the session's boxes (empty without a COCO file),
  /// by sample id.
  [[nodiscard]] std::vector<BoxIssue> findings() const;
  /// The findings of one box.
  [[nodiscard]] std::vector<BoxIssue> findings(SampleId id) const;
  /// What a reviewer is advised to decide: delete a degenerate box, and the box of a duplicate
  /// pair that the held-out model fits worse (higher misfit; the later id on a tie); otherwise
  /// relabel to the held-out model's class when it differs from the label, else keep.
  [[nodiscard]] Suggestion suggestion(SampleId id) const;

  /// The classes a model that did not see the sample gives it, most probable first (the
  /// session's classes with their held-out probabilities; empty when the tree has none).
  [[nodiscard]] std::vector<std::pair<Label, double>> class_probabilities(SampleId id) const;
  /// True when another connection (e.g. `coreclean apply` in another process) has committed
  /// to the database since this session was opened: the labels held in memory may be stale,
  /// open() the session again.
  [[nodiscard]] bool changed_elsewhere() const;

  /// Current label of every row of the features' y_train: the session's labels; rows outside
  /// the session keep the label they had when it was created (from its COCO file when it has
  /// one, else y_train); deleted samples, and boxes the COCO file no longer has, get
  /// `deleted_label`.
  [[nodiscard]] Labels corrected_labels(Label deleted_label = -1) const;
  /// Writes a corrected copy of the session's COCO file (relabels and deletions applied, every
  /// other byte kept). Throws InvalidArgument when the session has no COCO file, or when `out`
  /// may not be written (check_output_file).
  void export_coco(const std::filesystem::path& out);
  /// Writes corrected_labels(deleted_label) as an int64 `.npy` file, after check_output_file.
  void export_labels(const std::filesystem::path& out, Label deleted_label = -1);

  /// Checks that the session may write `file`: it is none of the files the session reads (the
  /// features directory, the COCO file, the images folder, its own folder's database and tree)
  /// and it either does not exist, or lies in the session's folder (e.g. SESSION/report/), or
  /// was written by this session and is unchanged since (same size and modification time). Throws InvalidArgument saying why not: a command never
  /// overwrites its inputs or a file it did not write.
  void check_output_file(const std::filesystem::path& file) const;
  /// Records `file` (just written) as the session's, so that a later export may replace it.
  void record_output_file(const std::filesystem::path& file);

  [[nodiscard]] const std::filesystem::path& dir() const;
  /// The folder of batch `number`'s exported files: dir()/batches/NNN (renderings, review.csv).
  [[nodiscard]] std::filesystem::path batch_dir(int number) const;
  [[nodiscard]] const ClassNames& class_names() const;
  [[nodiscard]] std::string class_name(Label label) const;
  /// Finds a session class by name or id; throws InvalidArgument listing the classes.
  [[nodiscard]] Label find_class(const std::string& name_or_id) const;
  [[nodiscard]] const Labels& classes() const;
  [[nodiscard]] Label class_of_interest() const;
  /// The samples whose label was `label` when the session was created (before any review), in
  /// the session's order (the features' row order).
  [[nodiscard]] std::vector<SampleId> original_members(Label label) const;
  [[nodiscard]] const std::string& guidelines() const;
  [[nodiscard]] const std::filesystem::path& coco_path() const;
  [[nodiscard]] const std::filesystem::path& images_dir() const;

  /// A copy of the tree cache (for tests and reports).
  [[nodiscard]] std::filesystem::path tree_path() const;

 private:
  struct State;
  explicit Session(std::unique_ptr<State> state);
  // create() once `dir` is checked; `own_features`: options.features is dir/features and is
  // stored by that relative path.
  static Session create_in(const std::filesystem::path& dir, const SessionOptions& options,
                           bool own_features, const Context& context);
  std::unique_ptr<State> state_;
};

/// Schema version written by this build; open() migrates older ones and refuses newer ones.
inline constexpr int kSchemaVersion = 4;

}  // namespace coreclean::session

#endif  // CORECLEAN_SESSION_SESSION_H_
