// The review loop answered from known errors: the reviewer's decisions, the truth file, random
// review in expectation against its closed form, and a whole simulated loop with its summary.
#include <coreclean/core/error.h>
#include <coreclean/session/session.h>
#include <coreclean/session/simulated_review.h>

#include "testing/helpers.h"
#include "testing/session_fixtures.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>

namespace coreclean::session {
namespace {

TEST(SimulatedReview, DecisionsFollowTheTruth) {
  const ErrorTruth truth = {{1, {DecisionKind::kRelabel, 5, 2}},
                            {2, {DecisionKind::kRelabel, 5, 9}},
                            {3, {DecisionKind::kDelete, 5, 5}}};
  const Labels classes = {2, 5};
  const Decision relabel = simulated_decision(truth, 1, classes, "r");
  EXPECT_EQ(relabel.kind, DecisionKind::kRelabel);
  EXPECT_EQ(relabel.new_label, 2);
  EXPECT_EQ(relabel.reviewer, "r");
  // The true class is not one of the session's: the box leaves the class's data.
  EXPECT_EQ(simulated_decision(truth, 2, classes).kind, DecisionKind::kDelete);
  EXPECT_EQ(simulated_decision(truth, 3, classes).kind, DecisionKind::kDelete);
  const Decision keep = simulated_decision(truth, 4, classes);
  EXPECT_EQ(keep.kind, DecisionKind::kKeep);
  EXPECT_EQ(keep.id, 4);
  EXPECT_EQ(count_label_errors(truth, 5), 2);
  EXPECT_EQ(count_label_errors(truth, 2), 0);
}

TEST(SimulatedReview, ReadsTheTruthFileAndRefusesOtherShapes) {
  testing::TempDir dir;
  const auto file = dir / "truth.json";
  testing::write_text(file, R"({"info": {}, "summary": {}, "errors": {
      "7": {"kind": "flip", "fix": "relabel", "category_id": 4, "true_category_id": 6,
            "image_id": 1, "object_bboxes": [[0, 0, 1, 1]]},
      "12": {"kind": "duplicate", "fix": "delete", "category_id": 3, "true_category_id": 3,
             "image_id": 2, "object_bboxes": [], "duplicate_of": 11}}})");
  const ErrorTruth truth = read_error_truth(file);
  ASSERT_EQ(truth.size(), 2u);
  EXPECT_EQ(truth.at(7).fix, DecisionKind::kRelabel);
  EXPECT_EQ(truth.at(7).label, 4);
  EXPECT_EQ(truth.at(7).true_label, 6);
  EXPECT_EQ(truth.at(12).fix, DecisionKind::kDelete);
  EXPECT_EQ(truth.at(12).label, 3);

  EXPECT_THROW((void)read_error_truth(dir / "missing.json"), IoError);
  testing::write_text(file, R"({"errors": {"x": {"fix": "delete", "category_id": 1, "true_category_id": 1}}})");
  EXPECT_THROW((void)read_error_truth(file), FormatError);
  testing::write_text(file, R"({"errors": {"3": {"fix": "keep", "category_id": 1, "true_category_id": 1}}})");
  EXPECT_THROW((void)read_error_truth(file), FormatError);
  testing::write_text(file, R"({"errors": {"3": {"fix": "delete"}}})");
  EXPECT_THROW((void)read_error_truth(file), FormatError);
  testing::write_text(file, R"([1, 2])");
  EXPECT_THROW((void)read_error_truth(file), FormatError);
}

// In expectation random review finds budget · errors / class size; the curve grows the same way
// for errors of any kind, and is capped by the errors there are.
TEST(SimulatedReview, RandomReviewExpectationMatchesTheClosedForm) {
  std::vector<SampleId> members;
  ErrorTruth truth;
  for (SampleId id = 1; id <= 200; ++id) {
    members.push_back(id);
    if (id % 10 == 0) truth[id] = {DecisionKind::kRelabel, 0, 1};  // 20 label errors
    if (id % 20 == 5) truth[id] = {DecisionKind::kDelete, 0, 0};   // 10 faulty boxes
  }
  truth[999] = {DecisionKind::kRelabel, 0, 1};  // not a member: never found
  const std::vector<std::int64_t> sizes = {10, 10, 20};
  const RandomReviewExpectation r = expected_random_review(members, truth, sizes, 3, 4000);
  EXPECT_NEAR(r.label_errors_found, 40.0 * 20.0 / 200.0, 0.15);
  ASSERT_EQ(r.cumulative_found.size(), 4u);
  EXPECT_EQ(r.cumulative_found[0], 0.0);
  EXPECT_NEAR(r.cumulative_found[1], 10.0 * 30.0 / 200.0, 0.1);
  EXPECT_NEAR(r.cumulative_found[2], 20.0 * 30.0 / 200.0, 0.12);
  EXPECT_NEAR(r.cumulative_found[3], 40.0 * 30.0 / 200.0, 0.15);
  // Same seed, same numbers; a budget beyond the class finds every error of it.
  EXPECT_EQ(expected_random_review(members, truth, sizes, 3, 4000).label_errors_found,
            r.label_errors_found);
  const std::vector<std::int64_t> all = {150, 150};
  const RandomReviewExpectation whole = expected_random_review(members, truth, all, 3, 10);
  EXPECT_DOUBLE_EQ(whole.label_errors_found, 20.0);
  EXPECT_DOUBLE_EQ(whole.cumulative_found[2], 30.0);
  EXPECT_THROW((void)expected_random_review(members, truth, sizes, 3, 0), InvalidArgument);
}

// A whole loop on the blob session: what each batch fixed is what the truth holds of it, the
// random copy reviews the same sizes, and the summary adds up the session's decisions.
TEST(SimulatedReview, LoopAndSummaryAgreeWithTheBatches) {
  testing::TempDir dir;
  const testing::BlobFeatures blobs = testing::write_blob_features(dir / "features", 12);
  ErrorTruth truth;
  for (const SampleId id : blobs.flipped) truth[id] = {DecisionKind::kRelabel, 5, 2};
  // Two faulty boxes of class 5 (true label 5, stored 5).
  int faulty = 0;
  for (std::size_t i = 0; i < blobs.truth.size() && faulty < 2; ++i) {
    const SampleId id = 1000 + static_cast<SampleId>(i);
    if (blobs.truth[i] == 5 && !blobs.flipped.contains(id)) {
      truth[id] = {DecisionKind::kDelete, 5, 5};
      ++faulty;
    }
  }
  SessionOptions o;
  o.features = dir / "features";
  o.class_of_interest = "5";
  Session::create(dir / "ranked", o);
  std::filesystem::copy(dir / "ranked", dir / "random", std::filesystem::copy_options::recursive);
  Session ranked = Session::open(dir / "ranked");
  Session random = Session::open(dir / "random");
  const double auc_start = ranked.status().iterations.front().auc;
  std::int64_t class_size = 0;
  for (const Label l : ranked.corrected_labels()) class_size += l == 5 ? 1 : 0;

  SimulatedReviewOptions options;
  options.iterations = 3;
  options.batch_size = 8;
  std::vector<int> seen_batches;
  int iterations_seen = 0;
  const SimulatedReview run = run_simulated_review(
      ranked, &random, truth, options, Context(),
      [&](Session&, const Batch& b) { seen_batches.push_back(b.number); },
      [&](const SimulatedIteration&) { ++iterations_seen; });
  EXPECT_EQ(seen_batches, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(iterations_seen, 3);
  EXPECT_EQ(run.batch_sizes, (std::vector<std::int64_t>{8, 8, 8}));
  ASSERT_EQ(run.random_auc.size(), 4u);
  ASSERT_EQ(run.random_fixed.size(), 4u);

  // Each batch's fixes, counted from the stored batches.
  FoundErrors ranked_found, random_found;
  for (int n = 1; n <= 3; ++n) {
    for (const BatchItem& item : ranked.batch(n).items)
      if (truth.contains(item.id))
        ++(truth.at(item.id).fix == DecisionKind::kRelabel ? ranked_found.label_errors
                                                          : ranked_found.box_errors);
    const Batch rb = random.batch(n);
    EXPECT_EQ(rb.selection, BatchSelection::kRandom);
    EXPECT_EQ(rb.items.size(), 8u);
    for (const BatchItem& item : rb.items)
      if (truth.contains(item.id))
        ++(truth.at(item.id).fix == DecisionKind::kRelabel ? random_found.label_errors
                                                          : random_found.box_errors);
  }
  EXPECT_EQ(run.ranked_found.label_errors, ranked_found.label_errors);
  EXPECT_EQ(run.ranked_found.box_errors, ranked_found.box_errors);
  EXPECT_EQ(run.random_found.label_errors, random_found.label_errors);
  EXPECT_DOUBLE_EQ(run.random_fixed.back(),
                   static_cast<double>(random_found.label_errors + random_found.box_errors));
  EXPECT_GT(ranked_found.label_errors, 0);
  // Flipped samples were relabelled to their true class, faulty boxes deleted.
  const SessionStatus st = ranked.status();
  EXPECT_EQ(st.relabelled, ranked_found.label_errors);
  EXPECT_EQ(st.deleted, ranked_found.box_errors);
  EXPECT_DOUBLE_EQ(run.random_auc.back(), random.status().iterations.back().auc);

  const ReviewSummary s = summarize_review(ranked, truth);
  EXPECT_EQ(s.class_of_interest, "five");
  EXPECT_EQ(s.class_size, class_size);
  EXPECT_EQ(s.budget, 24);
  EXPECT_EQ(s.injected_errors, 12);
  EXPECT_EQ(s.coreclean_found, ranked_found.label_errors);
  EXPECT_EQ(s.box_errors_found, ranked_found.box_errors);
  EXPECT_NEAR(s.random_expected, 24.0 * 12.0 / static_cast<double>(class_size), 0.15);
  ASSERT_EQ(s.random_expected_curve.size(), 4u);
  EXPECT_NEAR(s.random_expected_curve[3], 24.0 * 14.0 / static_cast<double>(class_size), 0.2);
  EXPECT_DOUBLE_EQ(s.auc_start, auc_start);
  EXPECT_DOUBLE_EQ(s.auc_end, st.iterations.back().auc);

  options.batch_size = 0;
  EXPECT_THROW(run_simulated_review(ranked, nullptr, truth, options), InvalidArgument);
}

}  // namespace
}  // namespace coreclean::session
