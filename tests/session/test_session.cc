// The cleaning session: creation, batches, decisions, apply, the tree as a cache of the
// database, CSV validation.
#include <coreclean/core/error.h>
#include <coreclean/coreset/coreset_tree.h>
#include <coreclean/io/feature_set.h>
#include <coreclean/session/session.h>

#include "testing/data.h"
#include "testing/helpers.h"
#include "testing/session_fixtures.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cmath>
#include <fstream>
#include <map>
#include <set>

namespace coreclean::session {
namespace {

// Blobs with classes 2, 5, 8 (ids 1000 + row); `flipped` samples of class 2 carry label 5.
struct Fixture {
  testing::TempDir dir;
  std::filesystem::path features = dir / "features";
  Labels truth;
  std::set<SampleId> flipped;

  Fixture() {
    const auto data = testing::make_blobs(600, 6, 3, 3.0, 0.0, 7);
    truth = data.y;
    io::FeatureSet fs;
    fs.x_train = io::SampleMatrix(data.x);
    fs.y_train = data.y;
    int flips = 0;
    for (int i = 0; i < 600; ++i) {
      fs.ids.push_back(1000 + i);
      if (data.y[i] == 2 && flips < 12) {
        fs.y_train[i] = 5;
        flipped.insert(1000 + i);
        ++flips;
      }
    }
    fs.class_names = {{2, "two"}, {5, "five"}, {8, "eight"}};
    io::save_feature_set(features, fs);
  }

  SessionOptions options() const {
    SessionOptions o;
    o.features = features;
    o.class_of_interest = "five";
    return o;
  }
};

ApplyOptions undecided_as(UndecidedPolicy policy) {
  ApplyOptions o;
  o.undecided = policy;
  return o;
}

// The reviewer who knows the truth: relabel injected errors to their class, keep the rest.
void review(Session& session, const Batch& batch, const Labels& truth) {
  for (const BatchItem& it : batch.items) {
    const Label t = truth[it.id - 1000];
    Decision d{it.id, t == it.label ? DecisionKind::kKeep : DecisionKind::kRelabel, t, "tester"};
    session.record_decision(d);
  }
}

std::vector<coreset::SampleScore> tree_scores(const Session& s) {
  return coreset::load_tree(s.tree_path()).scores();
}

// Expects two trees' scores to agree: labels, weights and seen flags exactly, importances to
// 1e-9.
void expect_same_scores(const std::vector<coreset::SampleScore>& a,
                        const std::vector<coreset::SampleScore>& b) {
  ASSERT_EQ(a.size(), b.size());
  double worst = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].id, b[i].id);
    EXPECT_EQ(a[i].label, b[i].label);
    EXPECT_EQ(a[i].weight, b[i].weight);
    EXPECT_EQ(a[i].seen, b[i].seen);
    worst = std::max(worst, std::abs(a[i].importance - b[i].importance));
  }
  EXPECT_LT(worst, 1e-9);
}

TEST(Session, CreateRecordsIterationZeroAndTheClassOfInterest) {
  Fixture f;
  Session s = Session::create(f.dir / "s", f.options());
  const SessionStatus st = s.status();
  EXPECT_EQ(st.class_of_interest, 5);
  EXPECT_EQ(st.samples, 600);
  ASSERT_EQ(st.iterations.size(), 1u);
  EXPECT_EQ(st.iterations[0].iteration, 0);
  EXPECT_GT(st.iterations[0].auc, 0.5);
  EXPECT_LE(st.iterations[0].auc, 1.0);
  EXPECT_EQ(static_cast<std::int64_t>(st.iterations[0].importance.size()), st.class_size);
  EXPECT_EQ(st.reviewed, 0);
  EXPECT_FALSE(st.open_batch.has_value());
  // A second create into the same folder is refused; open() finds the session.
  EXPECT_NE(testing::error_of<InvalidArgument>([&] { Session::create(f.dir / "s", f.options()); })
                .find("already exists"),
            std::string::npos);
  EXPECT_EQ(Session::open(f.dir / "s").status().samples, 600);
  EXPECT_NE(testing::error_of<InvalidArgument>([&] { Session::open(f.dir / "nothing"); })
                .find("not a session"),
            std::string::npos);
}

// A session created from features in memory keeps its own copy: it opens again (also after the
// folder moved) and ranks exactly as a session created from a features folder with the same data.
TEST(Session, CreateFromFeaturesInMemoryIsSelfContained) {
  Fixture f;
  const io::FeatureSet in_memory = io::load_feature_set(f.features);
  SessionOptions o = f.options();
  o.features.clear();
  {
    Session s = Session::create(f.dir / "memory", in_memory, o);
    EXPECT_EQ(s.status().samples, 600);
  }
  EXPECT_TRUE(std::filesystem::exists(f.dir / "memory" / "features" / "X_train.npy"));
  std::filesystem::rename(f.dir / "memory", f.dir / "moved");
  Session reopened = Session::open(f.dir / "moved");
  Session from_folder = Session::create(f.dir / "folder", f.options());
  const SessionStatus a = reopened.status(), b = from_folder.status();
  EXPECT_EQ(a.class_of_interest, b.class_of_interest);
  EXPECT_EQ(a.class_size, b.class_size);
  EXPECT_DOUBLE_EQ(a.iterations[0].auc, b.iterations[0].auc);
  const Batch ba = reopened.next_batch(20), bb = from_folder.next_batch(20);
  ASSERT_EQ(ba.items.size(), 20u);
  ASSERT_EQ(ba.items.size(), bb.items.size());
  for (std::size_t i = 0; i < ba.items.size(); ++i) {
    EXPECT_EQ(ba.items[i].id, bb.items[i].id) << i;
    EXPECT_DOUBLE_EQ(ba.items[i].importance, bb.items[i].importance) << i;
  }
  // Decisions and apply work on the moved copy.
  review(reopened, ba, f.truth);
  EXPECT_EQ(reopened.apply({}).batch, 1);
  EXPECT_EQ(reopened.corrected_labels().size(), 600u);

  // options.features must be empty; a failed creation leaves no folder behind.
  SessionOptions both = f.options();
  EXPECT_THROW(Session::create(f.dir / "both", in_memory, both), InvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(f.dir / "both"));
  o.class_of_interest = "seven";
  EXPECT_THROW(Session::create(f.dir / "bad", in_memory, o), InvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(f.dir / "bad"));
  std::filesystem::create_directories(f.dir / "empty");
  EXPECT_THROW(Session::create(f.dir / "empty", in_memory, o), InvalidArgument);
  EXPECT_TRUE(std::filesystem::is_empty(f.dir / "empty"));
}

// A random (audit) batch: unseen samples of the class only, drawn the same way for the same
// session seed and batch number, not simply the top of the ranking; its fixes feed the audit
// counts of status().
TEST(Session, RandomBatchIsASeededSampleOfTheUnseenAndFeedsTheAudit) {
  Fixture f;
  Session s = Session::create(f.dir / "s", f.options());
  const Batch top = s.next_batch(10);
  s.apply(testing::keep_undecided());
  const Batch audit = s.next_batch(40, Context(), BatchSelection::kRandom);
  EXPECT_EQ(audit.selection, BatchSelection::kRandom);
  EXPECT_EQ(s.batch(audit.number).selection, BatchSelection::kRandom);
  EXPECT_EQ(s.batch(top.number).selection, BatchSelection::kImportance);
  ASSERT_EQ(audit.items.size(), 40u);
  std::set<SampleId> seen_before;
  for (const BatchItem& it : top.items) seen_before.insert(it.id);
  std::set<SampleId> drawn;
  for (std::size_t k = 0; k < audit.items.size(); ++k) {
    const BatchItem& it = audit.items[k];
    EXPECT_EQ(it.label, 5);
    EXPECT_FALSE(seen_before.contains(it.id)) << it.id;
    drawn.insert(it.id);
    if (k > 0) {
      EXPECT_LE(it.importance, audit.items[k - 1].importance) << "listed by importance";
    }
  }
  EXPECT_EQ(drawn.size(), 40u);
  // Not the next 40 of the ranking: a uniform draw over ~200 candidates almost surely differs.
  Session twin = Session::create(f.dir / "twin", f.options());
  twin.next_batch(10);
  twin.apply(testing::keep_undecided());
  const Batch ranked = twin.next_batch(40);
  std::set<SampleId> ranked_ids;
  for (const BatchItem& it : ranked.items) ranked_ids.insert(it.id);
  EXPECT_NE(drawn, ranked_ids);
  // Seeded: a third session with the same seed draws the same sample.
  Session third = Session::create(f.dir / "third", f.options());
  third.next_batch(10);
  third.apply(testing::keep_undecided());
  std::set<SampleId> again;
  for (const BatchItem& it : third.next_batch(40, Context(), BatchSelection::kRandom).items) again.insert(it.id);
  EXPECT_EQ(again, drawn);

  // The audit: fixes in random batches, counted apart from the ranked batches'.
  int flips = 0;
  for (const BatchItem& it : audit.items)
    if (f.flipped.contains(it.id)) {
      s.record_decision({it.id, DecisionKind::kRelabel, 2, "auditor"});
      ++flips;
    }
  const std::int64_t unseen_before = s.status().unseen;
  s.apply(testing::keep_undecided());
  const SessionStatus st = s.status();
  EXPECT_EQ(st.audited, 40);
  EXPECT_EQ(st.audit_fixed, flips);
  EXPECT_EQ(st.unseen, unseen_before) << "the open batch was already seen";
  std::int64_t labelled_five = 0;
  for (Label l : s.corrected_labels()) labelled_five += l == 5;
  EXPECT_EQ(st.class_size, labelled_five);
  EXPECT_EQ(st.unseen, st.class_size - (50 - st.relabelled)) << "class members not yet exported";
}

// A relabel to the label a sample already has is stored, counted and audited as a keep.
TEST(Session, RelabelToTheSameLabelIsAKeep) {
  Fixture f;
  Session s = Session::create(f.dir / "s", f.options());
  const Batch b = s.next_batch(4, Context(), BatchSelection::kRandom);
  s.record_decision({b.items[0].id, DecisionKind::kRelabel, 5, "ana"});
  const std::vector<Decision> pending = s.pending_decisions();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].kind, DecisionKind::kKeep);
  testing::write_text(f.dir / "r.csv", "id,decision,new_label\n" + std::to_string(b.items[1].id) +
                                           ",relabel,five\n");
  const ApplyReport r = s.apply(testing::keep_undecided(f.dir / "r.csv"));
  EXPECT_EQ(r.metrics.kept, 4);
  EXPECT_EQ(r.metrics.relabelled, 0);
  EXPECT_EQ(s.status().audit_fixed, 0);
  for (const DecisionRecord& d : s.decisions()) EXPECT_EQ(d.kind, DecisionKind::kKeep) << d.id;
}

// A session written by an older coreclean (schema 1: batches without a selection) opens: the
// schema is migrated in place and its batches count as ranked ones.
TEST(Session, OpensAndMigratesASchemaOneSession) {
  Fixture f;
  {
    Session s = Session::create(f.dir / "s", f.options());
    s.next_batch(5);
  }
  {
    // Turn it into what schema 1 wrote.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((f.dir / "s" / "session.db").c_str(), &db), SQLITE_OK);
    // Schema 1 had neither the batch selection nor the tables of schema 3.
    ASSERT_EQ(sqlite3_exec(db, "ALTER TABLE batches DROP COLUMN selection; DROP TABLE revisions; "
                               "ALTER TABLE iterations DROP COLUMN fusion; "
                               "DROP TABLE outputs; DROP TABLE findings; DROP TABLE outside; "
                               "DELETE FROM meta WHERE key IN ('confusion', 'coco_stamp'); "
                               "UPDATE meta SET value = '1' WHERE key = 'schema_version'",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  Session s = Session::open(f.dir / "s");
  const std::optional<Batch> open = s.open_batch();
  ASSERT_TRUE(open.has_value());
  EXPECT_EQ(open->selection, BatchSelection::kImportance);
  EXPECT_EQ(open->items.size(), 5u);
  s.apply(testing::keep_undecided());
  EXPECT_EQ(s.next_batch(3, Context(), BatchSelection::kRandom).selection, BatchSelection::kRandom);
  // The tables of schema 3 work: a revision, a recorded output, no findings, no confusion.
  s.apply(testing::keep_undecided());
  // Schema 4's view weights per iteration: unknown for the iteration recorded before, kept for
  // those applied since.
  const SessionStatus migrated = s.status();
  ASSERT_EQ(migrated.iterations.size(), 3u);
  EXPECT_FALSE(migrated.iterations[0].fusion.has_value());
  ASSERT_TRUE(migrated.iterations[2].fusion.has_value());
  EXPECT_EQ(migrated.iterations[2].fusion->held_out, migrated.fusion.held_out);
  EXPECT_EQ(s.revise({{open->items[0].id, DecisionKind::kDelete, 0, "x"}}).revised, 1);
  EXPECT_EQ(s.revisions().size(), 1u);
  EXPECT_TRUE(s.findings().empty());
  EXPECT_FALSE(s.class_confusion().has_value());
  s.export_labels(f.dir / "y.npy");
  s.export_labels(f.dir / "y.npy");  // its own file
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((f.dir / "s" / "session.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &st, nullptr);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))),
            std::to_string(kSchemaVersion));
  sqlite3_finalize(st);
  sqlite3_close(db);
}

// A batch holds the most important unseen samples of the class of interest; re-asking returns
// the same open batch; the next batch continues after it.
TEST(Session, NextBatchIsTheTopUnseenAndIdempotent) {
  Fixture f;
  Session s = Session::create(f.dir / "s", f.options());
  const auto scores = tree_scores(s);
  std::vector<double> interest;
  for (const auto& sc : scores)
    if (sc.label == 5) interest.push_back(sc.importance);
  std::sort(interest.rbegin(), interest.rend());

  const Batch b1 = s.next_batch(10);
  ASSERT_EQ(b1.items.size(), 10u);
  EXPECT_EQ(b1.number, 1);
  for (std::size_t k = 0; k < b1.items.size(); ++k) {
    EXPECT_EQ(b1.items[k].label, 5);
    EXPECT_DOUBLE_EQ(b1.items[k].importance, interest[k]);
  }
  const Batch again = s.next_batch(25);
  EXPECT_EQ(again.number, 1);
  EXPECT_EQ(again.items.size(), 10u);
  EXPECT_EQ(s.status().exported, 10);
  EXPECT_EQ(s.status().reviewed, 0) << "nothing applied yet";

  s.apply(testing::keep_undecided());
  EXPECT_EQ(s.status().reviewed, 10);
  const Batch b2 = s.next_batch(10);
  EXPECT_EQ(b2.number, 2);
  std::set<SampleId> first;
  for (const auto& it : b1.items) first.insert(it.id);
  for (const auto& it : b2.items) EXPECT_FALSE(first.contains(it.id)) << it.id;
}

// Decisions change labels and weights, metrics are stored, apply is idempotent, and the saved
// tree equals a tree rebuilt from the database (delete the cache, open again).
TEST(Session, ApplyUpdatesLabelsAndTheTreeEqualsARebuild) {
  Fixture f;
  Session s = Session::create(f.dir / "s", f.options());
  const Batch b = s.next_batch(15);
  review(s, b, f.truth);
  s.record_decision({b.items.back().id, DecisionKind::kDelete, 0, "tester"});
  ASSERT_TRUE(s.undo_decision(b.items.back().id));
  s.record_decision({b.items.back().id, DecisionKind::kDelete, 0, "tester"});
  std::int64_t expected_fixed = 0;
  for (std::size_t k = 0; k + 1 < b.items.size(); ++k)
    expected_fixed += f.flipped.contains(b.items[k].id) ? 1 : 0;
  ASSERT_GT(expected_fixed, 3) << "the top of the ranking should hold injected errors";

  const ApplyReport r = s.apply(testing::keep_undecided());
  EXPECT_EQ(r.batch, 1);
  EXPECT_EQ(r.metrics.reviewed, 15);
  EXPECT_EQ(r.metrics.relabelled, expected_fixed);
  EXPECT_EQ(r.metrics.deleted, 1);
  EXPECT_EQ(s.apply(testing::keep_undecided()).batch, 0) << "a second apply has nothing to do";
  const SessionStatus st = s.status();
  EXPECT_EQ(st.relabelled, expected_fixed);
  EXPECT_EQ(st.deleted, 1);
  ASSERT_EQ(st.iterations.size(), 2u);
  EXPECT_GT(st.iterations[1].auc, st.iterations[0].auc) << "fixing errors should raise the AUC";

  const Labels y = s.corrected_labels();
  for (const BatchItem& it : b.items) {
    const Label want = it.id == b.items.back().id ? -1 : f.truth[it.id - 1000];
    EXPECT_EQ(y[it.id - 1000], want) << it.id;
  }

  const auto cached = tree_scores(s);
  std::filesystem::remove(s.tree_path());
  const Session reopened = Session::open(f.dir / "s");
  expect_same_scores(cached, tree_scores(reopened));
}

// A stale cache (a kill between the commit and the tree's save) is reconciled on open.
TEST(Session, OpenReconcilesAStaleTree) {
  Fixture f;
  Session s = Session::create(f.dir / "s", f.options());
  const std::filesystem::path stale = f.dir / "stale.bin";
  std::filesystem::copy_file(s.tree_path(), stale);
  const Batch b = s.next_batch(10);
  review(s, b, f.truth);
  s.apply(testing::keep_undecided());
  const auto want = tree_scores(s);
  std::filesystem::copy_file(stale, s.tree_path(), std::filesystem::copy_options::overwrite_existing);
  expect_same_scores(want, tree_scores(Session::open(f.dir / "s")));
}

// CSV rows replace the page's decisions; a bad row names file, line, column and value and
// nothing is applied.
TEST(Session, ApplyCsvValidatesEveryRowFirst) {
  Fixture f;
  Session s = Session::create(f.dir / "s", f.options());
  const Batch b = s.next_batch(5);
  const SampleId a = b.items[0].id, c = b.items[1].id;
  s.record_decision({a, DecisionKind::kDelete, 0, "page"});
  struct Bad {
    std::string body, expect;
  };
  for (const Bad& bad :
       {Bad{"id,decision,new_label\n" + std::to_string(a) + ",relabel,nine\n", ":2: column new_label"},
        Bad{"id,decision,new_label\n1,keep,\n", ":2: column id: 1 is not in the open batch 1"},
        Bad{"id,decision,new_label\n" + std::to_string(a) + ",maybe,\n", ":2: column decision: 'maybe'"},
        Bad{"id,decision,new_label\n" + std::to_string(a) + ",keep,\n" + std::to_string(a) + ",keep,\n",
            ":3: column id: " + std::to_string(a) + " appears twice"}}) {
    testing::write_text(f.dir / "bad.csv", bad.body);
    const std::string message =
        testing::error_of<InvalidArgument>([&] { s.apply(testing::keep_undecided(f.dir / "bad.csv")); });
    EXPECT_NE(message.find("bad.csv" + bad.expect), std::string::npos) << message;
    EXPECT_TRUE(s.open_batch().has_value()) << "nothing applied";
  }
  testing::write_text(f.dir / "ok.csv", "id,decision,new_label,reviewer\n" + std::to_string(a) +
                                            ",relabel,eight,sheet\n" + std::to_string(c) + ",,,\n");
  const ApplyReport r = s.apply(testing::keep_undecided(f.dir / "ok.csv"));
  EXPECT_EQ(r.imported_rows, 1);
  EXPECT_EQ(r.metrics.relabelled, 1);
  EXPECT_EQ(r.metrics.deleted, 0) << "the CSV row replaces the page's delete";
  EXPECT_EQ(s.corrected_labels()[a - 1000], 8);
}

// A box without a decision is undecided, not kept: apply refuses and writes nothing unless told
// what undecided means; keep counts them as kept, return sends them back to the unseen pool.
TEST(Session, ApplyRefusesUndecidedBoxesUnlessToldWhatTheyMean) {
  Fixture f;
  Session s = Session::create(f.dir / "s", f.options());
  const Batch b = s.next_batch(6);
  s.record_decision({b.items[0].id, DecisionKind::kKeep, 0, "ana"});
  s.record_decision({b.items[1].id, DecisionKind::kRelabel, 2, "ana"});
  try {
    s.apply();
    ADD_FAILURE() << "apply with 4 undecided boxes succeeded";
  } catch (const UndecidedBoxes& e) {
    EXPECT_EQ(e.batch(), 1);
    EXPECT_EQ(e.ids(), (std::vector<SampleId>{b.items[2].id, b.items[3].id, b.items[4].id,
                                              b.items[5].id}));
    EXPECT_TRUE(testing::contains(e.what(), "4 of 6 boxes have no decision"));
  }
  EXPECT_TRUE(s.open_batch().has_value()) << "nothing applied";
  EXPECT_EQ(s.status().iterations.size(), 1u);
  EXPECT_EQ(s.corrected_labels()[b.items[1].id - 1000], 5) << "the relabel waits";

  // return: the four go back to the unseen boxes and are offered again by the next batch.
  const std::int64_t unseen_before = s.status().unseen;
  const ApplyReport r = s.apply(undecided_as(UndecidedPolicy::kReturn));
  EXPECT_EQ(r.returned, 4);
  EXPECT_EQ(r.metrics.reviewed, 2);
  EXPECT_EQ(r.metrics.relabelled, 1);
  EXPECT_EQ(r.metrics.kept, 1);
  const SessionStatus st = s.status();
  EXPECT_EQ(st.reviewed, 2);
  EXPECT_EQ(st.unseen, unseen_before + 4) << "the returned boxes are unseen again";
  std::set<SampleId> returned = {b.items[2].id, b.items[3].id, b.items[4].id, b.items[5].id};
  // They were among the most important unseen boxes; the applied relabel moves the scores a
  // little (the views of its neighbours change), so they are looked for among the top 8.
  const Batch again = s.next_batch(8);
  std::set<SampleId> offered;
  for (const BatchItem& it : again.items) offered.insert(it.id);
  for (SampleId id : returned) EXPECT_TRUE(offered.contains(id)) << "box " << id << " offered again";
  // keep: explicit, stored as keep decisions.
  const ApplyReport k = s.apply(undecided_as(UndecidedPolicy::kKeep));
  EXPECT_EQ(k.kept_undecided, 8);
  EXPECT_EQ(k.metrics.kept, 8);
  for (const DecisionRecord& d : s.decisions()) {
    if (d.batch == 2) {
      EXPECT_EQ(d.kind, DecisionKind::kKeep);
    }
  }
}

// Applied decisions are verdicts the fusion learns from: the weights in use move away from the
// ones fitted to the labels alone, status shows both, and they are the same after the session
// is opened again — from the saved tree, or rebuilt from the decisions when the tree file is gone.
TEST(Session, AppliedDecisionsTeachTheFusion) {
  Fixture f;
  Session s = Session::create(f.dir / "s", f.options());
  const SessionStatus fresh = s.status();
  EXPECT_EQ(fresh.fusion.neighbour, fresh.fusion_default.neighbour) << "no verdicts yet";
  const Batch b = s.next_batch(8);
  for (std::size_t j = 0; j < b.items.size(); ++j) {
    const DecisionKind kind = j < 3 ? DecisionKind::kRelabel : j < 4 ? DecisionKind::kDelete : DecisionKind::kKeep;
    s.record_decision({b.items[j].id, kind, kind == DecisionKind::kRelabel ? 2 : 0, "ana"});
  }
  s.apply();
  const SessionStatus st = s.status();
  EXPECT_TRUE(st.fusion.ridge != st.fusion_default.ridge ||
              st.fusion.held_out != st.fusion_default.held_out ||
              st.fusion.neighbour != st.fusion_default.neighbour);
  // Each iteration keeps the weights it left: the label-fitted ones at the start, those learned
  // from the verdicts after the batch (the report's table shows how they moved).
  ASSERT_EQ(st.iterations.size(), 2u);
  ASSERT_TRUE(st.iterations[0].fusion && st.iterations[1].fusion);
  EXPECT_EQ(st.iterations[0].fusion->ridge, fresh.fusion.ridge);
  EXPECT_EQ(st.iterations[0].fusion->held_out, fresh.fusion.held_out);
  EXPECT_EQ(st.iterations[0].fusion->neighbour, fresh.fusion.neighbour);
  EXPECT_EQ(st.iterations[1].fusion->ridge, st.fusion.ridge);
  EXPECT_EQ(st.iterations[1].fusion->held_out, st.fusion.held_out);
  EXPECT_EQ(st.iterations[1].fusion->neighbour, st.fusion.neighbour);
  const SessionStatus reopened = Session::open(f.dir / "s").status();
  EXPECT_EQ(reopened.fusion.neighbour, st.fusion.neighbour);
  EXPECT_EQ(reopened.fusion.held_out, st.fusion.held_out);
  std::filesystem::remove(f.dir / "s" / "tree.bin");
  const SessionStatus rebuilt = Session::open(f.dir / "s").status();
  EXPECT_NEAR(rebuilt.fusion.neighbour, st.fusion.neighbour, 1e-6);
  EXPECT_NEAR(rebuilt.fusion.held_out, st.fusion.held_out, 1e-6);
}

// apply without a CSV reads the open batch's own review.csv when the reviewer filled it in;
// a review.csv left empty is not a decision.
TEST(Session, ApplyReadsTheBatchsOwnReviewCsv) {
  Fixture f;
  Session s = Session::create(f.dir / "s", f.options());
  const Batch b = s.next_batch(3);
  std::filesystem::create_directories(s.batch_dir(b.number));
  const std::filesystem::path own = s.batch_dir(b.number) / "review.csv";
  std::string empty = "id,image,label,importance,decision,new_label\n";
  for (const BatchItem& it : b.items) empty += std::to_string(it.id) + ",,five,0.5,,\n";
  testing::write_text(own, empty);
  EXPECT_THROW(s.apply(), UndecidedBoxes) << "an unfilled review.csv decides nothing";
  std::string filled = "id,image,label,importance,decision,new_label\n";
  filled += std::to_string(b.items[0].id) + ",,five,0.5,relabel,two\n";
  filled += std::to_string(b.items[1].id) + ",,five,0.5,delete,\n";
  filled += std::to_string(b.items[2].id) + ",,five,0.5,keep,\n";
  testing::write_text(own, filled);
  const ApplyReport r = s.apply();
  EXPECT_EQ(r.batch, 1);
  EXPECT_EQ(r.csv, own);
  EXPECT_EQ(r.imported_rows, 3);
  EXPECT_EQ(r.metrics.relabelled, 1);
  EXPECT_EQ(r.metrics.deleted, 1);
  EXPECT_EQ(r.metrics.kept, 1);
  const Labels y = s.corrected_labels();
  EXPECT_EQ(y[b.items[0].id - 1000], 2);
  EXPECT_EQ(y[b.items[1].id - 1000], -1);
}

// A random audit batch cannot replace an open ranked batch; with nothing left to review no
// empty batch is stored, so no empty iteration feeds the plateau rule.
TEST(Session, NextRefusesARandomBatchOverARankedOneAndStoresNoEmptyBatch) {
  Fixture f;
  SessionOptions o = f.options();
  o.classes = {"five", "eight"};
  Session s = Session::create(f.dir / "s", o);
  s.next_batch(5);
  EXPECT_TRUE(testing::contains(
      testing::error_of<InvalidArgument>([&] { s.next_batch(5, Context(), BatchSelection::kRandom); }),
      "batch 1 (the most important boxes) is open"));
  s.apply(testing::keep_undecided());
  const std::int64_t left = s.status().unseen;
  const Batch rest = s.next_batch(left + 10);
  EXPECT_EQ(static_cast<std::int64_t>(rest.items.size()), left);
  s.apply(testing::keep_undecided());
  const Batch none = s.next_batch(10);
  EXPECT_TRUE(none.items.empty());
  EXPECT_EQ(none.number, 0);
  EXPECT_FALSE(s.open_batch().has_value()) << "no empty batch stored";
  EXPECT_EQ(s.apply().batch, 0);
  EXPECT_EQ(s.status().iterations.size(), 3u) << "creation + two real batches";
  EXPECT_EQ(s.status().batches, 2);
}

// A decision of an applied batch can be revised: the change is stored (old → new, who), the
// label, weight and the batch's counts follow, and the tree equals one rebuilt from the
// database — also when a deleted box comes back.
TEST(Session, ReviseChangesAppliedDecisionsAndTheTreeFollows) {
  Fixture f;
  Session s = Session::create(f.dir / "s", f.options());
  const Batch b = s.next_batch(4);
  const SampleId a = b.items[0].id, c = b.items[1].id, d = b.items[2].id;
  s.record_decision({a, DecisionKind::kRelabel, 2, "ana"});
  s.record_decision({c, DecisionKind::kDelete, 0, "ana"});
  s.apply(testing::keep_undecided());
  EXPECT_THROW(s.revise({{9999, DecisionKind::kKeep, 0, ""}}), InvalidArgument);
  const SampleId unreviewed = s.next_batch(1).items[0].id;
  EXPECT_TRUE(testing::contains(
      testing::error_of<InvalidArgument>([&] { s.revise({{unreviewed, DecisionKind::kKeep, 0, ""}}); }),
      "has no applied decision"));

  const RevisionReport r = s.revise({{a, DecisionKind::kKeep, 0, "ben"},
                                     {d, DecisionKind::kRelabel, 8, "ben"},
                                     {b.items[3].id, DecisionKind::kKeep, 0, "ben"}});
  EXPECT_EQ(r.revised, 2);
  EXPECT_EQ(r.unchanged, 1);
  Labels y = s.corrected_labels();
  EXPECT_EQ(y[a - 1000], 5) << "back to the label it had";
  EXPECT_EQ(y[d - 1000], 8);
  const std::vector<RevisionRecord> revs = s.revisions();
  ASSERT_EQ(revs.size(), 2u);
  EXPECT_EQ(revs[0].id, a);
  EXPECT_EQ(revs[0].old_kind, DecisionKind::kRelabel);
  EXPECT_EQ(revs[0].old_new_label, 2);
  EXPECT_EQ(revs[0].kind, DecisionKind::kKeep);
  EXPECT_EQ(revs[0].reviewer, "ben");
  EXPECT_EQ(revs[0].batch, 1);
  const SessionStatus st = s.status();
  EXPECT_EQ(st.iterations[1].relabelled, 1) << "d now";
  EXPECT_EQ(st.iterations[1].deleted, 1);
  EXPECT_EQ(st.iterations[1].kept, 2);
  EXPECT_EQ(st.relabelled, 1);
  {
    const auto cached = tree_scores(s);
    std::filesystem::remove(s.tree_path());
    expect_same_scores(cached, tree_scores(Session::open(f.dir / "s")));
  }
  // The deleted box comes back.
  EXPECT_EQ(s.revise({{c, DecisionKind::kRelabel, 8, "ben"}}).revised, 1);
  y = s.corrected_labels();
  EXPECT_EQ(y[c - 1000], 8);
  EXPECT_EQ(s.status().deleted, 0);
  const auto cached = tree_scores(s);
  std::filesystem::remove(s.tree_path());
  expect_same_scores(cached, tree_scores(Session::open(f.dir / "s")));
}

// The pick's confusion matrix is kept with a session that picked its class (rows: true class,
// normalised; the class of interest is the column of the largest off-diagonal cell); a
// session whose class was given has none.
TEST(Session, KeepsThePicksConfusionMatrix) {
  Fixture f;
  EXPECT_FALSE(Session::create(f.dir / "given", f.options()).class_confusion().has_value());
  SessionOptions o = f.options();
  o.class_of_interest = "auto";
  const Session s = Session::create(f.dir / "auto", o);
  const std::optional<ClassConfusion> c = s.class_confusion();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->classes, (Labels{2, 5, 8}));
  ASSERT_EQ(c->normalized.size(), 9u);
  double best = -1.0;
  Label predicted = 0;
  for (int i = 0; i < 3; ++i) {
    double row = 0.0;
    for (int j = 0; j < 3; ++j) {
      row += c->normalized[3 * i + j];
      if (i != j && c->normalized[3 * i + j] > best) {
        best = c->normalized[3 * i + j];
        predicted = c->classes[j];
      }
    }
    EXPECT_NEAR(row, 1.0, 1e-9);
  }
  EXPECT_EQ(predicted, s.class_of_interest());
}

// The batch's own review.csv, read without being named, never silently overrules the page: a
// contradiction stops the apply; named on the command line, its rows win.
TEST(Session, TheBatchsReviewCsvMustAgreeWithThePage) {
  Fixture f;
  Session s = Session::create(f.dir / "s", f.options());
  const Batch b = s.next_batch(2);
  for (const BatchItem& it : b.items) s.record_decision({it.id, DecisionKind::kDelete, 0, "page"});
  std::filesystem::create_directories(s.batch_dir(b.number));
  const std::filesystem::path own = s.batch_dir(b.number) / "review.csv";
  testing::write_text(own, "id,decision,new_label\n" + std::to_string(b.items[0].id) + ",keep,\n");
  EXPECT_TRUE(testing::contains(testing::error_of<InvalidArgument>([&] { s.apply(); }),
                                "decides 1 box differently from the review page (ids " +
                                    std::to_string(b.items[0].id) + ")"));
  EXPECT_TRUE(s.open_batch().has_value());
  ApplyOptions page;
  page.read_batch_csv = false;  // what the review page's apply does
  ApplyOptions named;
  named.csv = own;
  const ApplyReport r = s.apply(named);
  EXPECT_EQ(r.metrics.kept, 1) << "the named file's row wins";
  EXPECT_EQ(r.metrics.deleted, 1);
  // The page's own apply ignores the file.
  const Batch b2 = s.next_batch(1);
  s.record_decision({b2.items[0].id, DecisionKind::kDelete, 0, "page"});
  std::filesystem::create_directories(s.batch_dir(b2.number));
  testing::write_text(s.batch_dir(b2.number) / "review.csv",
                      "id,decision\n" + std::to_string(b2.items[0].id) + ",keep\n");
  EXPECT_EQ(s.apply(page).metrics.deleted, 1);
}

// A batch whose every box goes back to the unseen pool records no iteration (an empty one
// would make the plateau rule say "stop" after zero reviews).
TEST(Session, ReturningEveryBoxRecordsNoIteration) {
  Fixture f;
  Session s = Session::create(f.dir / "s", f.options());
  for (int k = 0; k < 3; ++k) {
    s.next_batch(5);
    const ApplyReport r = s.apply(undecided_as(UndecidedPolicy::kReturn));
    EXPECT_EQ(r.returned, 5);
    EXPECT_EQ(r.metrics.reviewed, 0);
  }
  const SessionStatus st = s.status();
  EXPECT_EQ(st.iterations.size(), 1u);
  EXPECT_FALSE(st.plateaued);
  EXPECT_EQ(st.reviewed, 0);
  EXPECT_FALSE(s.open_batch().has_value());
}

// A revision that restores a deleted box, cut short after its commit (the tree saved before
// it), is repaired by the next open: the tree is rebuilt, equal to a fresh one.
TEST(Session, OpenRebuildsATreeThatLostARestoredBox) {
  Fixture f;
  Session s = Session::create(f.dir / "s", f.options());
  const Batch b = s.next_batch(3);
  s.record_decision({b.items[0].id, DecisionKind::kDelete, 0, "ana"});
  s.apply(testing::keep_undecided());
  const std::filesystem::path stale = f.dir / "stale.bin";
  std::filesystem::copy_file(s.tree_path(), stale);
  s.revise({{b.items[0].id, DecisionKind::kKeep, 0, "ben"}});
  const auto want = tree_scores(s);
  std::filesystem::copy_file(stale, s.tree_path(), std::filesystem::copy_options::overwrite_existing);
  ASSERT_EQ(coreset::load_tree(s.tree_path()).score(b.items[0].id).weight, 0.0);
  const Session reopened = Session::open(f.dir / "s");
  EXPECT_GT(coreset::load_tree(reopened.tree_path()).score(b.items[0].id).weight, 0.0);
  expect_same_scores(want, tree_scores(reopened));
}

}  // namespace
}  // namespace coreclean::session
