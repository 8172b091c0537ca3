#ifndef CORECLEAN_SESSION_SIMULATED_REVIEW_H_
#define CORECLEAN_SESSION_SIMULATED_REVIEW_H_

/// @file
/// The review loop answered from known errors: a simulated reviewer who fixes exactly the
/// annotations a data set's ground truth lists (e.g. the `truth.json` of detect's demo scenes),
/// random review of the same budget as the baseline — run side by side on a copy of the session
/// and in expectation over many random orders —, and the summary of a finished loop. Any front
/// end can drive the demo with these: the data set, the truth and a session are all it needs.

#include <coreclean/core/context.h>
#include <coreclean/core/types.h>
#include <coreclean/session/session.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace coreclean::session {

/// A known error of one annotation.
struct KnownError {
  /// The decision that repairs it: kRelabel (the label is wrong) or kDelete (the box is
  /// faulty: off its object, over two objects, a duplicate).
  DecisionKind fix = DecisionKind::kDelete;
  Label label = 0;       ///< the annotation's label in the data set (the wrong one for kRelabel)
  Label true_label = 0;  ///< the class of the object the box was meant for
};

/// Known errors by sample (annotation) id; a sample that is not listed is right.
using ErrorTruth = std::map<SampleId, KnownError>;

/// Reads the errors listed in a demo data folder's `truth.json` (written by
/// detect::write_demo_scenes): {"errors": {"<annotation id>": {"fix": "relabel" | "delete",
/// "category_id", "true_category_id", ...}}}; other members are ignored. Throws IoError when
/// the file cannot be read and FormatError (naming the file and the entry) for another shape.
ErrorTruth read_error_truth(const std::filesystem::path& truth_json);

/// Known label errors (fix kRelabel) whose label in the data set is `label`: the label errors
/// a review of that class can find.
std::int64_t count_label_errors(const ErrorTruth& truth, Label label);

/// What a reviewer who knows the truth decides about sample `id`: a label error is relabelled
/// to its true class when that class is one of `classes` (sorted, e.g. Session::classes()) and
/// deleted otherwise (no class of the label set fits it); a faulty box is deleted; any other
/// sample is kept. `reviewer` is stored with the decision.
Decision simulated_decision(const ErrorTruth& truth, SampleId id, std::span<const Label> classes,
                            const std::string& reviewer = "demo");

/// Known errors a review found (decided with a fix).
struct FoundErrors {
  std::int64_t label_errors = 0;  ///< wrong labels
  std::int64_t box_errors = 0;    ///< faulty boxes
};

/// Records simulated_decision() for every sample of `batch` that has a known error (the open
/// batch of `session`); samples without one are left undecided — apply them with
/// UndecidedPolicy::kKeep. Returns the errors it fixed.
FoundErrors answer_from_truth(Session& session, const Batch& batch, const ErrorTruth& truth,
                              const std::string& reviewer = "demo");

/// Random review of a class in expectation: the mean, over many uniformly random orders of
/// the class's samples, of what batches of the given sizes taken in that order find.
struct RandomReviewExpectation {
  /// Errors of any kind found, cumulative: [0] = 0, then one entry per batch.
  std::vector<double> cumulative_found;
  /// Label errors found within the whole budget (the sum of the batch sizes).
  double label_errors_found = 0.0;
};

/// Shuffles `members` (the samples of the class under review) `orders` times (seeded by
/// `seed`), reviews them batch by batch with `batch_sizes` and averages what the batches hold
/// of `truth`. In expectation the label errors found are budget · label errors / class size
/// (for a budget up to the class size). Throws InvalidArgument for orders < 1 or a negative
/// batch size.
RandomReviewExpectation expected_random_review(std::span<const SampleId> members,
                                               const ErrorTruth& truth,
                                               std::span<const std::int64_t> batch_sizes,
                                               std::uint64_t seed, int orders = 500);

/// How run_simulated_review() runs.
struct SimulatedReviewOptions {
  int iterations = 10;          ///< review iterations (≥ 1); fewer when the class runs out
  std::int64_t batch_size = 1;  ///< boxes per batch (≥ 1)
  std::string reviewer = "demo";  ///< stored with every decision

  /// Throws InvalidArgument naming the first bad field and its value.
  void validate() const;
};

/// One iteration of run_simulated_review().
struct SimulatedIteration {
  ApplyReport ranked;        ///< the apply of the ranked batch
  FoundErrors ranked_found;  ///< what the ranked batch fixed
  ApplyReport random;        ///< the apply of the random batch (empty without a random session)
  FoundErrors random_found;  ///< what the random batch fixed
};

/// The result of run_simulated_review().
struct SimulatedReview {
  std::vector<SimulatedIteration> iterations;
  std::vector<std::int64_t> batch_sizes;  ///< boxes of each ranked batch
  FoundErrors ranked_found;               ///< summed over the ranked batches
  FoundErrors random_found;               ///< summed over the random batches
  /// The random session's AUC: [0] at the start, then one entry per iteration (empty without
  /// a random session).
  std::vector<double> random_auc;
  /// Errors of any kind the random batches fixed, cumulative: [0] = 0, then one per iteration
  /// (empty without a random session).
  std::vector<double> random_fixed;
};

/// Runs the review loop answered from the truth: each iteration takes the next ranked batch of
/// `ranked` (Session::next_batch), calls `on_batch` with it (e.g. to write its review files;
/// may be empty), answers it (answer_from_truth) and applies it with undecided boxes kept. With
/// `random` (e.g. a copy of the fresh session; may be null), a random batch of the same size is
/// taken there (BatchSelection::kRandom), answered and applied the same way. `on_iteration`
/// (may be empty) sees each finished iteration. Stops early when the class has no unseen
/// sample left. Throws InvalidArgument for bad options.
SimulatedReview run_simulated_review(Session& ranked, Session* random, const ErrorTruth& truth,
                                     const SimulatedReviewOptions& options,
                                     const Context& context = Context(),
                                     const std::function<void(Session&, const Batch&)>& on_batch = {},
                                     const std::function<void(const SimulatedIteration&)>& on_iteration = {});

/// The outcome of a review loop measured against the truth.
struct ReviewSummary {
  std::string class_of_interest;     ///< its name
  std::int64_t class_size = 0;       ///< samples labelled with it when the session was created
  std::int64_t budget = 0;           ///< samples reviewed (all applied batches)
  std::int64_t injected_errors = 0;  ///< count_label_errors(truth, class of interest)
  std::int64_t coreclean_found = 0;  ///< label errors fixed by an applied decision
  std::int64_t box_errors_found = 0;  ///< faulty boxes fixed by an applied decision
  /// Label errors random review of the same batch sizes finds on average
  /// (expected_random_review over the class at creation, 500 orders, seeded by context.seed).
  double random_expected = 0.0;
  /// The errors of any kind that random review finds, cumulative per batch ([0] = 0).
  std::vector<double> random_expected_curve;
  double auc_start = 0.0;  ///< cross-validated AUC at creation
  double auc_end = 0.0;    ///< after the last applied batch
};

/// Measures a session's review against the truth: its applied decisions (a fix of a known
/// error counts as found), its iterations (budget, AUC) and random review of the same batch
/// sizes in expectation.
ReviewSummary summarize_review(const Session& session, const ErrorTruth& truth,
                               const Context& context = Context());

}  // namespace coreclean::session

#endif  // CORECLEAN_SESSION_SIMULATED_REVIEW_H_
