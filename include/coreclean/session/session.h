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
#include <coreclean/core/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
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
};

/// What apply() did.
struct ApplyReport {
  int batch = 0;                 ///< 0 when there was nothing to apply
  std::int64_t imported_rows = 0;  ///< decisions taken from the CSV
  IterationMetrics metrics;
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
  std::vector<IterationMetrics> iterations;
  /// True when the AUC gained less than `plateau_gain` over the last `plateau_window`
  /// iterations (the rule is in the message of `status`).
  bool plateaued = false;
  static constexpr double plateau_gain = 0.002;
  static constexpr int plateau_window = 2;
};

/// An open session. Not thread-safe; several processes may open one session (SQLite locks).
class Session {
 public:
  /// Creates the session folder `dir` (must not exist or be empty): reads the features, picks
  /// the class of interest, builds the tree, records iteration 0 (AUC, importances).
  static Session create(const std::filesystem::path& dir, const SessionOptions& options,
                        const Context& context = Context());
  /// Opens an existing session; reconciles the tree cache with the database. Throws
  /// InvalidArgument when `dir` holds no session and FormatError for a newer schema.
  static Session open(const std::filesystem::path& dir, const Context& context = Context());

  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  ~Session();

  /// The open batch if there is one (re-exporting it is idempotent); otherwise `n` unseen
  /// samples of the class of interest — the most important, or a uniform random sample
  /// (seeded) — become a new batch, marked seen, listed highest importance first. An empty
  /// batch means every sample of the class has been reviewed.
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

  /// Applies the open batch: first imports `csv` (columns id,decision,new_label[,reviewer];
  /// rows with an empty decision are skipped; every row is validated before anything is
  /// written, errors name the file, line, column and value), then in one transaction records
  /// the decisions (samples without one count as kept), updates labels and weights, and stores
  /// the iteration's metrics; then updates the tree incrementally. With no open batch nothing
  /// happens (batch = 0 in the report): apply is idempotent.
  ApplyReport apply(const std::optional<std::filesystem::path>& csv = std::nullopt,
                    const Context& context = Context());

  [[nodiscard]] SessionStatus status() const;
  /// The classes a model that did not see the sample gives it, most probable first (the
  /// session's classes with their held-out probabilities; empty when the tree has none).
  [[nodiscard]] std::vector<std::pair<Label, double>> class_probabilities(SampleId id) const;
  /// True when another connection (e.g. `coreclean apply` in another process) has committed
  /// to the database since this session was opened: the labels held in memory may be stale,
  /// open() the session again.
  [[nodiscard]] bool changed_elsewhere() const;

  /// Current label of every row of the features' y_train (rows outside the session keep their
  /// label; deleted samples get `deleted_label`).
  [[nodiscard]] Labels corrected_labels(Label deleted_label = -1) const;
  /// Writes a corrected copy of the session's COCO file (relabels and deletions applied, every
  /// other byte kept). Throws InvalidArgument when the session has no COCO file.
  void export_coco(const std::filesystem::path& out) const;

  [[nodiscard]] const std::filesystem::path& dir() const;
  /// The folder of batch `number`'s exported files: dir()/batches/NNN (renderings, review.csv).
  [[nodiscard]] std::filesystem::path batch_dir(int number) const;
  [[nodiscard]] const ClassNames& class_names() const;
  [[nodiscard]] std::string class_name(Label label) const;
  /// Finds a session class by name or id; throws InvalidArgument listing the classes.
  [[nodiscard]] Label find_class(const std::string& name_or_id) const;
  [[nodiscard]] const Labels& classes() const;
  [[nodiscard]] Label class_of_interest() const;
  [[nodiscard]] const std::string& guidelines() const;
  [[nodiscard]] const std::filesystem::path& coco_path() const;
  [[nodiscard]] const std::filesystem::path& images_dir() const;

  /// A copy of the tree cache (for tests and reports).
  [[nodiscard]] std::filesystem::path tree_path() const;

 private:
  struct State;
  explicit Session(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

/// Schema version written by this build; open() migrates older ones and refuses newer ones.
inline constexpr int kSchemaVersion = 2;

}  // namespace coreclean::session

#endif  // CORECLEAN_SESSION_SESSION_H_
