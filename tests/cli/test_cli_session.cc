// The session commands as processes: the whole loop, and durability under SIGKILL.
#include "session_commands.h"

#include <coreclean/coreset/coreset_tree.h>
#include <coreclean/detect/coco.h>
#include <coreclean/io/feature_set.h>
#include <coreclean/io/npy.h>
#include <coreclean/session/session.h>

#include "testing/data.h"
#include "testing/helpers.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <coreclean/io/csv.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <fcntl.h>
#include <chrono>
#include <cmath>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>

extern char** environ;

namespace coreclean::cli {
namespace {

// Blobs with classes 2, 5, 8 (ids 1000 + row); 20 samples of class 2 carry label 5.
Labels write_features(const std::filesystem::path& dir) {
  const auto data = testing::make_blobs(500, 6, 3, 3.0, 0.0, 11);
  io::FeatureSet fs;
  fs.x_train = io::SampleMatrix(data.x);
  fs.y_train = data.y;
  int flips = 0;
  for (int i = 0; i < 500; ++i) {
    fs.ids.push_back(1000 + i);
    if (data.y[i] == 2 && flips < 20) {
      fs.y_train[i] = 5;
      ++flips;
    }
  }
  fs.class_names = {{2, "two"}, {5, "five"}, {8, "eight"}};
  io::save_feature_set(dir, fs);
  return data.y;
}

// Starts the CLI with `args`; returns the pid.
pid_t spawn_cli(const std::vector<std::string>& args) {
  std::vector<std::string> all = {CORECLEAN_CLI_PATH};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("posix_spawn failed");
  return pid;
}

// Runs the CLI, killing it with SIGKILL after `delay` unless it exits first. Returns the exit
// code, or -1 when it was killed.
int run_or_kill(const std::vector<std::string>& args, std::chrono::microseconds delay) {
  const pid_t pid = spawn_cli(args);
  const auto deadline = std::chrono::steady_clock::now() + delay;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string integrity_check(const std::filesystem::path& db_path) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr);
  std::string result;
  while (sqlite3_step(st) == SQLITE_ROW) result += reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(db);
  return result;
}

// Everything a session knows, for comparisons.
struct Snapshot {
  Labels labels;
  session::SessionStatus status;
};

Snapshot snapshot(const std::filesystem::path& dir) {
  const session::Session s = session::Session::open(dir);
  return {s.corrected_labels(), s.status()};
}

// SIGKILL at seeded random moments of `next` and `apply`, over and over: afterwards the
// database passes integrity_check, every apply that reported success is in it, every batch is
// either wholly applied or not at all, the tree equals one rebuilt from the database, and
// re-running apply changes nothing.
TEST(CliSession, SurvivesSigkillDuringNextAndApply) {
  testing::TempDir dir;
  const Labels truth = write_features(dir / "features");
  const std::string session = (dir / "s").string();
  ASSERT_EQ(run_or_kill({"init", session, "--features", (dir / "features").string(), "--class",
                         "five"},
                        std::chrono::seconds(60)),
            0);
  std::mt19937_64 rng(2026);
  // Delays spread over a process's whole life (start-up, open, work, commit, tree save).
  std::uniform_int_distribution<int> delay_us(0, 120000);
  int kills = 0, rounds = 0;
  std::map<int, std::map<SampleId, Label>> committed;  // batch → relabels it applied
  std::map<SampleId, Label> open_relabels;  // the decisions in review.csv for an open batch
  while (kills < 50 && rounds < 400) {
    ++rounds;
    if (run_or_kill({"next", session, "-n", "5"}, std::chrono::microseconds(delay_us(rng))) < 0)
      ++kills;
    std::optional<session::Batch> open;
    std::map<SampleId, Label> relabels;
    {
      const session::Session s = session::Session::open(dir / "s");
      open = s.open_batch();
      if (!open) continue;  // next was killed before its commit
    }
    std::string csv = "id,decision,new_label\n";
    for (const session::BatchItem& it : open->items) {
      const Label t = truth[it.id - 1000];
      if (t != it.label) {
        csv += std::to_string(it.id) + ",relabel," + std::to_string(t) + "\n";
        relabels[it.id] = t;
      } else {
        csv += std::to_string(it.id) + ",keep,\n";
      }
    }
    testing::write_text(dir / "review.csv", csv);
    const int rc = run_or_kill({"apply", session, (dir / "review.csv").string()},
                               std::chrono::microseconds(delay_us(rng)));
    if (rc < 0) ++kills;
    if (rc == 0) committed[open->number] = relabels;
    const session::Session s = session::Session::open(dir / "s");
    const session::Batch b = s.batch(open->number);
    if (b.applied) committed[open->number] = relabels;  // killed after its commit
    open_relabels = b.applied ? std::map<SampleId, Label>() : relabels;
  }
  ASSERT_GE(kills, 50) << "rounds " << rounds;

  EXPECT_EQ(integrity_check(dir / "s" / "session.db"), "ok");
  const session::Session s = session::Session::open(dir / "s");
  const Labels y = s.corrected_labels();
  for (const auto& [batch, relabels] : committed) {
    EXPECT_TRUE(s.batch(batch).applied) << "batch " << batch;
    for (const auto& [id, label] : relabels) EXPECT_EQ(y[id - 1000], label) << id;
  }
  // Batches not applied changed nothing: every changed label belongs to a committed batch.
  std::set<SampleId> changed_ids;
  for (const auto& [batch, relabels] : committed)
    for (const auto& [id, label] : relabels) changed_ids.insert(id);
  io::FeatureSet original = io::load_feature_set(dir / "features");
  for (std::size_t i = 0; i < y.size(); ++i) {
    if (y[i] != original.y_train[i]) {
      EXPECT_TRUE(changed_ids.contains(1000 + static_cast<SampleId>(i))) << i;
    }
  }

  // The tree cache equals a tree rebuilt from the database.
  const auto cached = coreset::load_tree(s.tree_path()).scores();
  std::filesystem::remove(s.tree_path());
  const session::Session rebuilt = session::Session::open(dir / "s");
  const auto fresh = coreset::load_tree(rebuilt.tree_path()).scores();
  ASSERT_EQ(cached.size(), fresh.size());
  for (std::size_t i = 0; i < cached.size(); ++i) {
    EXPECT_EQ(cached[i].label, fresh[i].label);
    EXPECT_EQ(cached[i].seen, fresh[i].seen);
    EXPECT_NEAR(cached[i].importance, fresh[i].importance, 1e-9);
  }

  // Re-running apply gives the state an uninterrupted apply gives (the open batch, if a kill
  // left one, with its review.csv), and running it again changes nothing.
  const Snapshot before = snapshot(dir / "s");
  Labels expected = before.labels;
  for (const auto& [id, label] : open_relabels) expected[id - 1000] = label;
  ASSERT_EQ(run_or_kill({"apply", session, (dir / "review.csv").string()}, std::chrono::seconds(60)), 0);
  const Snapshot once = snapshot(dir / "s");
  EXPECT_EQ(once.labels, expected);
  EXPECT_EQ(once.status.iterations.size(),
            before.status.iterations.size() + (before.status.open_batch ? 1 : 0));
  EXPECT_FALSE(once.status.open_batch.has_value());
  ASSERT_EQ(run_or_kill({"apply", session}, std::chrono::seconds(60)), 0);
  const Snapshot twice = snapshot(dir / "s");
  EXPECT_EQ(twice.labels, once.labels);
  EXPECT_EQ(twice.status.iterations.size(), once.status.iterations.size());
}

// `init` of a session "s" in `dir` over dir/features, cleaning class "five".
SessionCommandOptions init_options(const testing::TempDir& dir) {
  SessionCommandOptions o;
  o.session = dir / "s";
  o.features = dir / "features";
  o.class_of_interest = "five";
  return o;
}

// The loop through the command line: init, next writes review.csv, apply takes it, status and
// export report the corrections.
TEST(CliSession, InitNextApplyStatusExport) {
  testing::TempDir dir;
  const Labels truth = write_features(dir / "features");
  SessionCommandOptions o = init_options(dir);
  std::ostringstream log;
  ASSERT_EQ(run_init(o, Context(), log), 0);
  o.batch_size = 8;
  ASSERT_EQ(run_next(o, Context(), log), 0);
  const io::CsvTable sheet = io::read_csv(dir / "s" / "batches" / "001" / "review.csv");
  EXPECT_EQ(sheet.header, (std::vector<std::string>{"id", "image", "label", "importance",
                                                      "decision", "new_label", "suggested",
                                                      "findings"}));
  ASSERT_EQ(sheet.rows.size(), 8u);
  std::string csv = "id,image,label,importance,decision,new_label\n";
  std::map<SampleId, Label> relabels;
  for (const auto& row : sheet.rows) {
    EXPECT_EQ(row[2], "five");
    const SampleId id = std::stoll(row[0]);
    const Label t = truth[id - 1000];
    csv += row[0] + ",,five," + row[3] + "," + (t == 5 ? "keep," : "relabel,two") + "\n";
    if (t != 5) relabels[id] = t;
  }
  testing::write_text(dir / "filled.csv", csv);
  o.review_csv = dir / "filled.csv";
  ASSERT_EQ(run_apply(o, Context(), log), 0);
  EXPECT_GT(relabels.size(), 3u) << "the first batch should hold injected errors";

  o.json = true;
  std::ostringstream status;
  ASSERT_EQ(run_status(o, Context(), status), 0);
  const auto j = nlohmann::json::parse(status.str());
  EXPECT_EQ(j["relabelled"], relabels.size());
  EXPECT_EQ(j["iterations"].size(), 2u);

  o.labels_out = dir / "y.npy";
  ASSERT_EQ(run_export(o, Context(), log), 0);
  const Labels y = io::to_labels(io::read_npy(dir / "y.npy"), "y.npy");
  const io::FeatureSet fs = io::load_feature_set(dir / "features");
  for (std::size_t i = 0; i < y.size(); ++i) {
    const auto it = relabels.find(1000 + static_cast<SampleId>(i));
    EXPECT_EQ(y[i], it == relabels.end() ? fs.y_train[i] : it->second) << i;
  }
  // A session without a COCO file cannot export one (exit 2 with the reason).
  const auto r = testing::run_command(testing::shell_quote(CORECLEAN_CLI_PATH) + " export " +
                                      testing::shell_quote((dir / "s").string()) +
                                      " --coco-out " + testing::shell_quote((dir / "x.json").string()));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("has no COCO file"), std::string::npos) << r.output;
}


// next --random draws an audit batch; status estimates the wrong labels left from it, with the
// Wilson interval, in text and JSON.
TEST(CliSession, RandomAuditBatchEstimatesTheErrorsLeft) {
  testing::TempDir dir;
  const Labels truth = write_features(dir / "features");
  SessionCommandOptions o = init_options(dir);
  std::ostringstream log;
  ASSERT_EQ(run_init(o, Context(), log), 0);
  o.batch_size = 30;
  o.random = true;
  std::ostringstream next;
  ASSERT_EQ(run_next(o, Context(), next), 0);
  EXPECT_TRUE(testing::contains(next.str(), "30 randomly drawn boxes of 'five'"));
  const io::CsvTable sheet = io::read_csv(dir / "s" / "batches" / "001" / "review.csv");
  std::string csv = "id,decision,new_label\n";
  int wrong = 0;
  for (const auto& row : sheet.rows) {
    const SampleId id = std::stoll(row[0]);
    const bool flip = truth[id - 1000] != 5;
    wrong += flip;
    csv += row[0] + (flip ? ",relabel,two\n" : ",keep,\n");
  }
  testing::write_text(dir / "audit.csv", csv);
  o.review_csv = dir / "audit.csv";
  ASSERT_EQ(run_apply(o, Context(), log), 0);

  o.json = true;
  std::ostringstream json_status;
  ASSERT_EQ(run_status(o, Context(), json_status), 0);
  const auto j = nlohmann::json::parse(json_status.str());
  EXPECT_EQ(j["audited"], 30);
  EXPECT_EQ(j["audit_fixed"], wrong);
  const double share = wrong / 30.0;
  EXPECT_NEAR(j["audit_estimate"]["share"].get<double>(), share, 1e-12);
  EXPECT_NEAR(j["audit_estimate"]["wrong_unseen"].get<double>(), share * j["unseen"].get<double>(), 1e-9);
  EXPECT_LE(j["audit_estimate"]["low"].get<double>(), share);
  EXPECT_GE(j["audit_estimate"]["high"].get<double>(), share);
  o.json = false;
  std::ostringstream text;
  ASSERT_EQ(run_status(o, Context(), text), 0);
  EXPECT_TRUE(testing::contains(text.str(), fmt::format("random audit: {} of 30 boxes fixed", wrong)));
}

// export --coco-out writes exactly the applied corrections: relabelled boxes carry their new
// category, deleted boxes are gone, every other annotation is as it was.
TEST(CliSession, ExportCocoHasExactlyTheAppliedCorrections) {
  testing::TempDir dir;
  const Labels truth = write_features(dir / "features");
  const io::FeatureSet fs = io::load_feature_set(dir / "features");
  std::string coco = R"({"info": {"note": "kept"}, "images": [{"id": 1, "file_name": "a.jpg", )"
                     R"("width": 100, "height": 100}], "categories": [{"id": 2, "name": "two"}, )"
                     R"({"id": 5, "name": "five"}, {"id": 8, "name": "eight"}], "annotations": [)";
  for (std::size_t i = 0; i < fs.ids.size(); ++i)
    coco += (i ? ", " : "") + fmt::format(R"({{"id": {}, "image_id": 1, "category_id": {}, )"
                                          R"("bbox": [1, 2, 30, 40], "area": 1200, "extra": {}}})",
                                          fs.ids[i], fs.y_train[i], i);
  coco += "]}";
  testing::write_text(dir / "ann.json", coco);

  SessionCommandOptions o;
  o.session = dir / "s";
  o.features = dir / "features";
  o.coco = dir / "ann.json";
  o.class_of_interest = "five";
  std::ostringstream log;
  ASSERT_EQ(run_init(o, Context(), log), 0);
  std::map<SampleId, Label> relabels;
  std::set<SampleId> deleted;
  for (int round = 0; round < 2; ++round) {
    o.batch_size = 6;
    ASSERT_EQ(run_next(o, Context(), log), 0);
    session::Session s = session::Session::open(dir / "s");
    const session::Batch b = *s.open_batch();
    for (std::size_t k = 0; k < b.items.size(); ++k) {
      const SampleId id = b.items[k].id;
      if (k == 0) {
        s.record_decision({id, session::DecisionKind::kDelete, 0, "t"});
        deleted.insert(id);
      } else if (truth[id - 1000] != b.items[k].label) {
        s.record_decision({id, session::DecisionKind::kRelabel, truth[id - 1000], "t"});
        relabels[id] = truth[id - 1000];
      }
    }
    o.review_csv.reset();
    ASSERT_EQ(run_apply(o, Context(), log), 0);
  }
  ASSERT_FALSE(relabels.empty());
  o.coco_out = dir / "fixed.json";
  ASSERT_EQ(run_export(o, Context(), log), 0);
  const detect::CocoDataset fixed = detect::read_coco(dir / "fixed.json");
  EXPECT_EQ(fixed.annotations.size(), fs.ids.size() - deleted.size());
  for (std::size_t i = 0; i < fs.ids.size(); ++i) {
    const SampleId id = fs.ids[i];
    const auto at = fixed.annotation_index(id);
    if (deleted.contains(id)) {
      EXPECT_FALSE(at.has_value()) << id;
      continue;
    }
    ASSERT_TRUE(at.has_value()) << id;
    const auto r = relabels.find(id);
    EXPECT_EQ(fixed.annotations[*at].category_id, r == relabels.end() ? fs.y_train[i] : r->second) << id;
  }
  EXPECT_NE(testing::read_text(dir / "fixed.json").find(R"("info": {"note": "kept"})"), std::string::npos);
}

// 40,000 × 64 features in 8 classes: enough that `init` runs for a few seconds.
void write_slow_features(const std::filesystem::path& dir) {
  const auto data = testing::make_blobs(40000, 64, 8, 1.0, 0.0, 5);
  io::FeatureSet fs;
  fs.x_train = io::SampleMatrix(data.x);
  fs.y_train = data.y;
  io::save_feature_set(dir, fs);
}

// A session "s" over the blob features in `dir`, created through run_init; returns its truth.
Labels init_blob_session(const testing::TempDir& dir) {
  const Labels truth = write_features(dir / "features");
  std::ostringstream log;
  if (run_init(init_options(dir), Context(), log) != 0) throw std::runtime_error(log.str());
  return truth;
}

testing::CommandResult cli(const std::string& args) {
  return testing::run_command(testing::shell_quote(CORECLEAN_CLI_PATH) + " " + args + " 2>&1");
}

// The reviewer's scenario: fill in batches/001/review.csv by hand and run `apply SESSION`:
// with one row left empty nothing is applied (exit 2 naming the id); running `next` again
// meanwhile never rewrites the file; `next --random` over the open batch is refused; once the
// sheet is complete, `apply SESSION` applies exactly its decisions.
TEST(CliSession, ApplyTakesTheBatchsReviewCsvAndRefusesUndecidedRows) {
  testing::TempDir dir;
  const Labels truth = init_blob_session(dir);
  const std::string session = testing::shell_quote((dir / "s").string());
  ASSERT_EQ(cli("next " + session + " -n 6").exit_code, 0);
  const std::filesystem::path sheet_path = dir / "s" / "batches" / "001" / "review.csv";
  const io::CsvTable sheet = io::read_csv(sheet_path);
  ASSERT_EQ(sheet.rows.size(), 6u);
  std::string filled = "id,image,label,importance,decision,new_label\r\n";
  std::map<SampleId, Label> relabels;
  SampleId left_empty = 0;
  for (std::size_t k = 0; k < sheet.rows.size(); ++k) {
    const auto& row = sheet.rows[k];
    const SampleId id = std::stoll(row[0]);
    const Label t = truth[id - 1000];
    std::string decision = t == 5 ? "Keep," : "relabel, Two ";
    if (k == 4) {
      decision = ",";
      left_empty = id;
    } else if (t != 5) {
      relabels[id] = t;
    }
    filled += row[0] + "," + row[1] + "," + row[2] + "," + row[3] + "," + decision + "\r\n";
  }
  testing::write_text(sheet_path, filled);

  const testing::CommandResult refused = cli("apply " + session);
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_TRUE(testing::contains(refused.output, "1 of 6 boxes have no decision (ids " +
                                                    std::to_string(left_empty) + ")"));
  EXPECT_TRUE(testing::contains(refused.output, "--undecided keep"));
  {
    const Snapshot now = snapshot(dir / "s");
    EXPECT_EQ(now.status.open_batch, 1) << "nothing applied";
    EXPECT_EQ(now.status.iterations.size(), 1u);
    EXPECT_EQ(now.labels, snapshot(dir / "s").labels);
  }
  // next shows the open batch again and leaves the reviewer's file as it is.
  const testing::CommandResult again = cli("next " + session + " -n 6");
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_TRUE(testing::contains(again.output, "batch 1 is still open"));
  EXPECT_EQ(testing::read_text(sheet_path), filled);
  const testing::CommandResult random = cli("next " + session + " --random -n 6");
  EXPECT_EQ(random.exit_code, 2) << random.output;
  EXPECT_TRUE(testing::contains(random.output, "apply it before drawing a random audit batch"));
  EXPECT_EQ(testing::read_text(sheet_path), filled);
  const testing::CommandResult zero = cli("next " + session + " --size 0");
  EXPECT_EQ(zero.exit_code, 2);
  EXPECT_TRUE(testing::contains(zero.output, "--size: must be at least 1, got 0"));

  // The last row decided: apply SESSION applies the sheet.
  const std::string complete = std::regex_replace(
      filled, std::regex(std::to_string(left_empty) + ",([^,]*),([^,]*),([^,]*),,"),
      std::to_string(left_empty) + ",$1,$2,$3,delete,");
  ASSERT_NE(complete, filled);
  testing::write_text(sheet_path, complete);
  const testing::CommandResult applied = cli("apply " + session);
  EXPECT_EQ(applied.exit_code, 0) << applied.output;
  EXPECT_TRUE(testing::contains(applied.output, "decisions: 6 from"));
  const Snapshot after = snapshot(dir / "s");
  EXPECT_FALSE(after.status.open_batch.has_value());
  EXPECT_EQ(after.status.deleted, 1);
  EXPECT_EQ(after.status.relabelled, static_cast<std::int64_t>(relabels.size()));
  for (const auto& [id, label] : relabels) EXPECT_EQ(after.labels[id - 1000], label) << id;
  EXPECT_EQ(after.labels[left_empty - 1000], -1);
  EXPECT_EQ(cli("apply " + session).exit_code, 0) << "idempotent";
}

// `revise` corrects a decision of an applied batch from a CSV; unknown ids are refused.
TEST(CliSession, ReviseCorrectsAnAppliedDecision) {
  testing::TempDir dir;
  init_blob_session(dir);
  const std::string session = testing::shell_quote((dir / "s").string());
  ASSERT_EQ(cli("next " + session + " -n 3").exit_code, 0);
  const io::CsvTable sheet = io::read_csv(dir / "s" / "batches" / "001" / "review.csv");
  const std::string first = sheet.rows[0][0];
  testing::write_text(dir / "d.csv", "id,decision,new_label\n" + first + ",relabel,two\n");
  ASSERT_EQ(cli("apply " + session + " " + testing::shell_quote((dir / "d.csv").string()) +
                " --undecided keep").exit_code, 0);
  testing::write_text(dir / "bad.csv", "id,decision,new_label\n1,keep,\n");
  const testing::CommandResult bad =
      cli("revise " + session + " " + testing::shell_quote((dir / "bad.csv").string()));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_TRUE(testing::contains(bad.output, "bad.csv:2: column id: 1 has no applied decision"));
  testing::write_text(dir / "rev.csv", "id,decision,new_label,reviewer\n" + first + ",keep,,ben\n");
  const testing::CommandResult r =
      cli("revise " + session + " " + testing::shell_quote((dir / "rev.csv").string()));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(testing::contains(r.output, "1 decisions revised"));
  EXPECT_EQ(snapshot(dir / "s").labels[std::stoll(first) - 1000], 5);
  EXPECT_EQ(session::Session::open(dir / "s").revisions().size(), 1u);
}

// Ctrl-C during init stops it with exit code 130 and a message that says what was kept; no
// half-made session is left (the folder holds no session.db), so init can simply run again.
TEST(CliSession, InterruptedInitSaysWhatWasKept) {
  testing::TempDir dir;
  write_slow_features(dir / "features");
  // A signal that comes before the process has set its handler (a slow start, e.g. under the
  // sanitizers) ends it silently: then try again a little later.
  for (const char* delay : {"0.5", "1", "2", "4"}) {
    std::filesystem::remove_all(dir / "s");
    const testing::CommandResult r = testing::run_command(
        std::string("timeout -s INT --preserve-status ") + delay + " " +
        testing::shell_quote(CORECLEAN_CLI_PATH) + " init " +
        testing::shell_quote((dir / "s").string()) + " --features " +
        testing::shell_quote((dir / "features").string()) + " 2>&1");
    ASSERT_EQ(r.exit_code, 130) << "init must outlast " << delay << " s here: " << r.output;
    if (!testing::contains(r.output, "interrupted")) continue;
    EXPECT_TRUE(testing::contains(r.output, "Everything saved before is kept")) << r.output;
    EXPECT_FALSE(std::filesystem::exists(dir / "s" / "session.db"));
    return;
  }
  FAIL() << "no interrupt was handled";
}

// Long steps draw a progress bar on a terminal (here `script` gives the command one), none with
// --quiet. (Without a terminal none is drawn either: every other CLI test checks its output.)
TEST(CliSession, ProgressBarsOnATerminalOnly) {
  if (testing::run_command("command -v script").exit_code != 0)
    GTEST_SKIP() << "`script` (util-linux) is missing: no terminal to test on";
  testing::TempDir dir;
  write_slow_features(dir / "features");
  const std::string cli = testing::shell_quote(CORECLEAN_CLI_PATH);
  const std::string features = testing::shell_quote((dir / "features").string());
  auto init = [&](const std::string& name, const std::string& flags) {
    return cli + flags + " init " + testing::shell_quote((dir / name).string()) + " --features " +
           features;
  };
  const testing::CommandResult tty = testing::run_command(
      "script -qec " + testing::shell_quote(init("a", "")) + " /dev/null");
  ASSERT_EQ(tty.exit_code, 0) << tty.output;
  // Cross-validating a multinomial model on 40,000 rows outlasts the half second before a bar
  // shows; a finished bar is full.
  EXPECT_TRUE(std::regex_search(tty.output, std::regex(R"(\[#{30}\] (\d+)/\1)"))) << tty.output;
  const testing::CommandResult quiet = testing::run_command(
      "script -qec " + testing::shell_quote(init("b", " --quiet")) + " /dev/null");
  ASSERT_EQ(quiet.exit_code, 0) << quiet.output;
  EXPECT_FALSE(testing::contains(quiet.output, "[#")) << quiet.output;
}

}  // namespace
}  // namespace coreclean::cli
