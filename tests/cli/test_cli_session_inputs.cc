// The session commands check their inputs and never overwrite them: init refuses a missing
// COCO file, a wrong images folder and features of another dataset; a corrected export of the
// same dataset starts a session from its labels; export and report write only files that are
// new or their own.
#include "report_command.h"
#include "session_commands.h"

#include <coreclean/coreset/coreset_tree.h>
#include <coreclean/detect/box_table.h>
#include <coreclean/io/csv.h>
#include <coreclean/detect/coco.h>
#include <coreclean/detect/render.h>
#include <coreclean/io/feature_set.h>
#include <coreclean/io/npy.h>
#include <coreclean/session/session.h>

#include "testing/helpers.h"
#include "testing/session_fixtures.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <set>
#include <sstream>

namespace coreclean::cli {
namespace {

testing::CommandResult cli(const std::string& args) {
  return testing::run_command(testing::shell_quote(CORECLEAN_CLI_PATH) + " " + args + " 2>&1");
}

std::string q(const std::filesystem::path& p) { return testing::shell_quote(p.string()); }

using testing::write_coco;

struct Data : testing::CocoBlobs {
  std::string init_args(const std::filesystem::path& session) const {
    return "init " + q(session) + " --features " + q(features) + " --coco " + q(coco) +
           " --images " + q(images) + " --class five";
  }
};

// A missing or broken COCO file, a wrong images folder and features of another dataset fail
// init at once (exit 2, naming the file), and no session folder is left behind.
TEST(CliSessionInputs, InitRefusesWrongInputs) {
  Data d;
  const std::filesystem::path s = d.dir / "s";
  const auto start = std::chrono::steady_clock::now();
  testing::CommandResult r = cli("init " + q(s) + " --features " + q(d.features) + " --coco " +
                                 q(d.dir / "nope.json") + " --class five");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(testing::contains(r.output, "nope.json"));
  EXPECT_FALSE(std::filesystem::exists(s));
  testing::write_text(d.dir / "broken.json", "{\"images\": [");
  r = cli("init " + q(s) + " --features " + q(d.features) + " --coco " + q(d.dir / "broken.json"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(testing::contains(r.output, "broken.json"));
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0)
      << "the COCO file is read before the long work";

  // Images: a folder without the session's images, and a folder that does not exist.
  std::filesystem::create_directories(d.dir / "other");
  testing::write_text(d.dir / "other" / "a.jpg", "x");
  r = cli("init " + q(s) + " --features " + q(d.features) + " --coco " + q(d.coco) +
          " --images " + q(d.dir / "other") + " --class five");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(testing::contains(r.output, "3 of the 4 images that hold the boxes of the features are missing"));
  EXPECT_FALSE(std::filesystem::exists(s / "session.db"));
  r = cli("init " + q(s) + " --features " + q(d.features) + " --coco " + q(d.coco) +
          " --images " + q(d.dir / "nowhere") + " --class five");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(testing::contains(r.output, "nowhere does not exist"));

  // Features of another dataset: the same annotation ids, other boxes.
  write_coco(d.dir / "other.json", d.features, [](SampleId, Label&, detect::Box& b) {
    b.x += 100;
    return true;
  });
  r = cli("init " + q(s) + " --features " + q(d.features) + " --coco " + q(d.dir / "other.json") +
          " --class five");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(testing::contains(r.output, "were made from another dataset"));
  EXPECT_TRUE(testing::contains(r.output, "annotation 1000 is box [100, 2, 20, 30] of image 1"));
  EXPECT_FALSE(std::filesystem::exists(s / "session.db"));
  // Without a box table, ids that are mostly not in the COCO file are refused too.
  std::filesystem::remove(d.features / detect::kBoxTableFile);
  write_coco(d.dir / "few.json", d.features, [](SampleId id, Label&, detect::Box&) { return id < 1100; });
  r = cli("init " + q(s) + " --features " + q(d.features) + " --coco " + q(d.dir / "few.json") +
          " --class five");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(testing::contains(r.output, "only 100 of their 600 ids"));

  ASSERT_EQ(cli(d.init_args(s)).exit_code, 0);
}

// A session started on a corrected export of the same dataset sees its corrections: labels
// come from the COCO file, boxes it deleted are out of the session and -1 in exported labels.
TEST(CliSessionInputs, LabelsComeFromTheCocoFile) {
  Data d;
  std::map<SampleId, Label> relabelled;
  std::set<SampleId> deleted;
  for (SampleId id : d.blobs.flipped) {
    if (deleted.size() < 3) deleted.insert(id); else relabelled[id] = 2;
  }
  write_coco(d.dir / "fixed.json", d.features, [&](SampleId id, Label& c, detect::Box&) {
    if (deleted.contains(id)) return false;
    if (relabelled.contains(id)) c = relabelled[id];
    return true;
  });
  const std::filesystem::path s = d.dir / "s";
  const testing::CommandResult r =
      cli("init " + q(s) + " --features " + q(d.features) + " --coco " + q(d.dir / "fixed.json") +
          " --images " + q(d.images) + " --class five");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  session::Session session = session::Session::open(s);
  const session::SessionStatus st = session.status();
  EXPECT_EQ(st.samples, 600 - 3);
  std::int64_t fives = 0;
  for (std::size_t i = 0; i < 600; ++i) fives += d.blobs.truth[i] == 5;
  EXPECT_EQ(st.class_size, fives) << "every flip is fixed in the corrected file";
  const Labels y = session.corrected_labels();
  for (SampleId id : deleted) EXPECT_EQ(y[id - 1000], -1) << id;
  for (const auto& [id, label] : relabelled) EXPECT_EQ(y[id - 1000], label) << id;
  // Rows outside a session of some classes keep the corrected file's labels in an export.
  const std::filesystem::path s2 = d.dir / "s2";
  ASSERT_EQ(cli("init " + q(s2) + " --features " + q(d.features) + " --coco " +
                q(d.dir / "fixed.json") + " --class eight --classes eight,two")
                .exit_code,
            0);
  ASSERT_EQ(cli("export " + q(s2) + " --labels-out " + q(d.dir / "y2.npy")).exit_code, 0);
  const Labels y2 = io::to_labels(io::read_npy(d.dir / "y2.npy"), "y2.npy");
  for (SampleId id : deleted) EXPECT_EQ(y2[id - 1000], -1) << id;
  for (const auto& [id, label] : relabelled) EXPECT_EQ(y2[id - 1000], label) << id;
  // Its export writes the corrected file's bytes again when nothing changed.
  ASSERT_EQ(cli("export " + q(s) + " --coco-out " + q(d.dir / "again.json")).exit_code, 0);
  EXPECT_EQ(testing::read_text(d.dir / "again.json"), testing::read_text(d.dir / "fixed.json"));
}

// export never overwrites the session's inputs or a file it did not write; it replaces its own
// earlier export; report likewise.
TEST(CliSessionInputs, ExportAndReportWriteOnlyNewOrTheirOwnFiles) {
  Data d;
  const std::filesystem::path s = d.dir / "s";
  ASSERT_EQ(cli(d.init_args(s)).exit_code, 0);
  const std::string coco_before = testing::read_text(d.coco);
  const std::string y_before = testing::read_text(d.features / "y_train.npy");
  struct Case {
    std::string args, message;
  };
  testing::write_text(d.dir / "mine.json", "the user's file");
  for (const Case& c : {Case{"--coco-out " + q(d.coco), "is the session's COCO file"},
                        Case{"--labels-out " + q(d.features / "y_train.npy"), "inside the features folder"},
                        Case{"--coco-out " + q(d.images / "x.json"), "inside the images folder"},
                        Case{"--coco-out " + q(s / "session.db"), "the session's own session.db"},
                        Case{"--coco-out " + q(d.dir / "mine.json"), "was not written by this session"}}) {
    const testing::CommandResult r = cli("export " + q(s) + " " + c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.output;
    EXPECT_TRUE(testing::contains(r.output, c.message)) << c.args;
  }
  EXPECT_EQ(testing::read_text(d.coco), coco_before);
  EXPECT_EQ(testing::read_text(d.features / "y_train.npy"), y_before);
  EXPECT_EQ(testing::read_text(d.dir / "mine.json"), "the user's file");
  EXPECT_FALSE(std::filesystem::exists(d.images / "x.json"));

  // Its own export is replaced; once the user edits it, it is theirs.
  ASSERT_EQ(cli("export " + q(s) + " --coco-out " + q(d.dir / "out.json")).exit_code, 0);
  ASSERT_EQ(cli("export " + q(s) + " --coco-out " + q(d.dir / "out.json")).exit_code, 0);
  testing::write_text(d.dir / "out.json", testing::read_text(d.dir / "out.json") + "\n");
  EXPECT_EQ(cli("export " + q(s) + " --coco-out " + q(d.dir / "out.json")).exit_code, 2);

  // A COCO file that changed since the session read it (e.g. another session's export wrote
  // it) is not exported from: the corrections would not be this session's work on that file.
  testing::write_text(d.coco, coco_before + "\n");
  const testing::CommandResult changed =
      cli("export " + q(s) + " --coco-out " + q(d.dir / "out2.json"));
  EXPECT_EQ(changed.exit_code, 2) << changed.output;
  EXPECT_TRUE(testing::contains(changed.output, "changed since the session was created"));
  EXPECT_FALSE(std::filesystem::exists(d.dir / "out2.json"));
  testing::write_text(d.coco, coco_before);

  // report: its own files are replaced, a user's file of the same name is not. A report in the
  // session folder is the session's own, also one an older version wrote without recording it.
  std::filesystem::create_directories(s / "report");
  testing::write_text(s / "report" / "report.html", "written by an older coreclean");
  ASSERT_EQ(cli("report " + q(s)).exit_code, 0);
  ASSERT_EQ(cli("report " + q(s)).exit_code, 0);
  testing::write_text(d.dir / "r-iterations.csv", "the user's table");
  const testing::CommandResult r = cli("report " + q(s) + " --out " + q(d.dir / "r.html"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(testing::contains(r.output, "r-iterations.csv: exists and was not written"));
  EXPECT_FALSE(std::filesystem::exists(d.dir / "r.html")) << "nothing written";
  EXPECT_EQ(testing::read_text(d.dir / "r-iterations.csv"), "the user's table");
}

// The box checks' findings join the review: stored at init, a findings batch holds the flagged
// boxes (degenerate first, both boxes of a duplicate pair), review.csv and the suggestion say to
// delete the degenerate box and the duplicate the model fits worse, status counts them.
TEST(CliSessionInputs, FindingsJoinTheReview) {
  Data d;
  // Box 1003 is 1 px wide; box 1010 (image 3) lies on box 1006 (image 3).
  write_coco(d.coco, d.features, [](SampleId id, Label&, detect::Box& b) {
    if (id == 1003) b.w = 1;
    if (id == 1010) b = {6.0, 2.0, 20.0, 30.0};
    return true;
  });
  const io::FeatureSet fs = io::load_feature_set(d.features);
  detect::write_box_table(d.features / detect::kBoxTableFile, detect::read_coco(d.coco), fs.ids);
  const std::filesystem::path s = d.dir / "s";
  ASSERT_EQ(cli(d.init_args(s)).exit_code, 0);
  {
    const session::Session session = session::Session::open(s);
    std::map<SampleId, std::set<std::string>> checks;
    for (const session::BoxIssue& f : session.findings()) checks[f.id].insert(f.check);
    EXPECT_TRUE(checks[1003].contains("degenerate"));
    EXPECT_TRUE(checks[1010].contains("duplicate"));
    EXPECT_EQ(session.findings(1006).size(), 1u) << "the earlier box sees the pair too";
    EXPECT_EQ(session.findings(1006)[0].other, 1010);
    EXPECT_EQ(session.suggestion(1003).kind, session::DecisionKind::kDelete);
    const bool del_1006 = session.suggestion(1006).kind == session::DecisionKind::kDelete;
    const bool del_1010 = session.suggestion(1010).kind == session::DecisionKind::kDelete;
    EXPECT_NE(del_1006, del_1010) << "exactly one box of the pair is suggested for deletion";
    const SampleId worse = session.tree_path().empty() ? 0 : (del_1006 ? 1006 : 1010);
    const auto scores = coreset::load_tree(session.tree_path());
    const SampleId other = worse == 1006 ? 1010 : 1006;
    EXPECT_GE(scores.score(worse).misfit, scores.score(other).misfit);
  }
  const std::string sq = q(s);
  testing::CommandResult r = cli("next " + sq + " --findings -n 10");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(testing::contains(r.output, "3 boxes flagged by the box checks"));
  const io::CsvTable sheet = io::read_csv(s / "batches" / "001" / "review.csv");
  ASSERT_EQ(sheet.rows.size(), 3u);
  EXPECT_EQ(sheet.header, (std::vector<std::string>{"id", "image", "label", "importance", "decision",
                                                     "new_label", "suggested", "findings"}));
  EXPECT_EQ(sheet.rows[0][0], "1003") << "degenerate first";
  EXPECT_EQ(sheet.rows[0][6], "delete");
  EXPECT_TRUE(testing::contains(sheet.rows[0][7], "degenerate: "));
  std::set<std::string> pair = {sheet.rows[1][0], sheet.rows[2][0]};
  EXPECT_EQ(pair, (std::set<std::string>{"1006", "1010"}));
  r = cli("next " + sq + " --random");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(testing::contains(r.output, "boxes flagged by the box checks) is open"));

  std::string filled = "id,decision,new_label\n";
  for (const auto& row : sheet.rows) filled += row[0] + "," + (row[6] == "delete" ? "delete" : "keep") + ",\n";
  testing::write_text(d.dir / "f.csv", filled);
  ASSERT_EQ(cli("apply " + sq + " " + q(d.dir / "f.csv")).exit_code, 0);
  r = cli("status " + sq + " --json");
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["flagged"]["boxes"], 3);
  EXPECT_EQ(j["flagged"]["reviewed"], 3);
  EXPECT_EQ(j["flagged"]["fixed"], 2);
  EXPECT_TRUE(testing::contains(cli("next " + sq + " --findings").output,
                                "every flagged box has been reviewed"));
}

// Two boxes of different images with near-identical embeddings and different labels join the
// review at init as a conflicting_labels finding (stored on the later box, seen from both), and
// a findings batch offers both.
TEST(CliSessionInputs, ConflictingNearDuplicatesJoinTheReview) {
  Data d;
  io::FeatureSet fs = io::load_feature_set(d.features);
  // Row 2 (image 2) is copied onto the first later row of another image and another label.
  Eigen::Index copy = -1;
  for (Eigen::Index i = 3; i < fs.x_train.rows() && copy < 0; ++i)
    if (i % 4 != 2 && fs.y_train[i] != fs.y_train[2]) copy = i;
  ASSERT_GE(copy, 0);
  RowMatrixXf x = fs.x_train.view();
  x.row(copy) = x.row(2) * 1.0001f;
  fs.x_train = io::SampleMatrix(x);
  io::save_feature_set(d.features, fs);
  const SampleId a = fs.ids[2], b = fs.ids[static_cast<std::size_t>(copy)];

  const std::filesystem::path s = d.dir / "s";
  ASSERT_EQ(cli(d.init_args(s)).exit_code, 0);
  {
    const session::Session session = session::Session::open(s);
    std::vector<session::BoxIssue> conflicts;
    for (const session::BoxIssue& f : session.findings())
      if (f.check == "conflicting_labels") conflicts.push_back(f);
    ASSERT_EQ(conflicts.size(), 1u) << "only the planted pair";
    EXPECT_EQ(conflicts[0].id, b);
    EXPECT_EQ(conflicts[0].other, a);
    EXPECT_TRUE(testing::contains(conflicts[0].detail, "one label is likely wrong")) << conflicts[0].detail;
    ASSERT_EQ(session.findings(a).size(), 1u) << "the earlier box sees the pair too";
    EXPECT_EQ(session.findings(a)[0].other, b);
  }
  const std::string sq = q(s);
  const testing::CommandResult r = cli("next " + sq + " --findings -n 10");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const io::CsvTable sheet = io::read_csv(s / "batches" / "001" / "review.csv");
  std::set<std::string> ids;
  for (const auto& row : sheet.rows) ids.insert(row[0]);
  EXPECT_EQ(ids, (std::set<std::string>{std::to_string(a), std::to_string(b)}));
  EXPECT_TRUE(testing::contains(sheet.rows[0][7], "conflicting_labels: ")) << sheet.rows[0][7];
}

}  // namespace
}  // namespace coreclean::cli
