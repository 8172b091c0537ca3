// `coreclean build`, `rank`, `update`: in-process and as a process for exit codes.
#include <coreclean/core/error.h>
#include <coreclean/coreset/coreset_tree.h>
#include <coreclean/io/csv.h>
#include <coreclean/io/feature_set.h>
#include <coreclean/io/npz.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

#include "coreset/tree_state.h"
#include "testing/data.h"
#include "testing/helpers.h"
#include "tree_commands.h"

namespace coreclean::cli {
namespace {

// A features directory with labels 2, 5, 8 named two, five, eight and ids 100, 101, ...;
// `relabel` (id → label) overrides some labels.
void write_features(const std::filesystem::path& dir, const std::map<SampleId, Label>& relabel = {}) {
  const auto data = testing::make_blobs(300, 5, 3, 1.5, 0.1, 41);
  io::FeatureSet fs;
  fs.x_train = io::SampleMatrix(data.x);
  fs.y_train = data.y;
  for (const auto& [id, label] : relabel) fs.y_train[id - 100] = label;
  for (int i = 0; i < 300; ++i) fs.ids.push_back(100 + i);
  fs.class_names = {{2, "two"}, {5, "five"}, {8, "eight"}};
  io::save_feature_set(dir, fs);
}

// Writes the blob features into dir/features; build options reading them into dir/t.tree.
BuildOptions blob_build_options(const testing::TempDir& dir) {
  write_features(dir / "features");
  BuildOptions b;
  b.features = dir / "features";
  b.out = dir / "t.tree";
  return b;
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// build keeps the requested classes and names; rank prints the contract's CSV, highest first,
// for a class given by name; --mark-seen makes the next rank continue after those.
TEST(CliTree, BuildRankAndMarkSeen) {
  testing::TempDir dir;
  BuildOptions b = blob_build_options(dir);
  b.classes = {"five", "8"};
  std::ostringstream log;
  ASSERT_EQ(run_build(b, Context(), log), 0);
  const coreset::CoresetTree tree = coreset::load_tree(b.out);
  EXPECT_EQ(tree.classes(), (Labels{5, 8}));
  EXPECT_EQ(tree.class_names().at(5), "five");

  RankOptions r;
  r.tree = b.out;
  r.class_name = "eight";
  r.top = 5;
  r.mark_seen = true;
  std::ostringstream first;
  ASSERT_EQ(run_rank(r, Context(), first), 0);
  std::istringstream lines(first.str());
  std::string header, line;
  std::getline(lines, header);
  EXPECT_EQ(header,
            "id,label,importance,misfit,atypical,suggested_label,ridge,held_out,neighbour,"
            "neighbour_label");
  std::vector<SampleId> ids;
  double previous = 1e300;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string field; std::getline(fields, field, ',');) f.push_back(field);
    ASSERT_EQ(f.size(), 10u) << line;
    const std::string& id = f[0];
    const std::string& label = f[1];
    const std::string& importance = f[2];
    EXPECT_EQ(label, "8");
    // The row's scores are the tree's.
    const coreset::SampleScore s = tree.score(std::stoll(id));
    EXPECT_NEAR(std::stod(f[6]), s.ridge, 1e-5 * std::max(1.0, s.ridge));
    EXPECT_NEAR(std::stod(f[7]), s.held_out, 1e-5);
    EXPECT_NEAR(std::stod(f[8]), s.neighbour, 1e-5);
    EXPECT_EQ(std::stoll(f[9]), s.neighbour_label);
    EXPECT_GT(tree.neighbours(std::stoll(id)).size(), 0u) << "the neighbour view is on by default";
    EXPECT_LE(std::stod(importance), previous);
    previous = std::stod(importance);
    ids.push_back(std::stoll(id));
  }
  ASSERT_EQ(ids.size(), 5u);
  std::ostringstream second;
  ASSERT_EQ(run_rank(r, Context(), second), 0);
  for (SampleId id : ids) EXPECT_EQ(second.str().find("\n" + std::to_string(id) + ","), std::string::npos);
}

// update refreshes by default: the saved tree scores every sample as a fresh build over the
// corrected labels does; with refresh off the cross-fitted part stays stale (and says so).
// --held-out-rows sets how many rows each held-out model trains on at most, and is kept in the
// tree file; a negative value is refused before anything is built.
TEST(CliTree, HeldOutRowsReachTheTree) {
  testing::TempDir dir;
  BuildOptions b = blob_build_options(dir);
  b.held_out_rows = 120;
  std::ostringstream log;
  ASSERT_EQ(run_build(b, Context(), log), 0);
  EXPECT_EQ(coreset::load_tree(b.out).params().cross_fit_max_rows, 120);
  b.held_out_rows = 0;
  ASSERT_EQ(run_build(b, Context(), log), 0);
  EXPECT_EQ(coreset::load_tree(b.out).params().cross_fit_max_rows, 0);
  b.held_out_rows = -1;
  b.out = dir / "never.tree";
  EXPECT_THROW(run_build(b, Context(), log), InvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(b.out));
  // --neighbours: kept in the tree; out of range refused before anything is built.
  b.held_out_rows = 0;
  b.neighbours = 4;
  b.out = dir / "four.tree";
  ASSERT_EQ(run_build(b, Context(), log), 0);
  const coreset::CoresetTree four = coreset::load_tree(b.out);
  EXPECT_EQ(four.params().neighbours, 4);
  EXPECT_EQ(four.neighbours(four.scores().front().id).size(), 4u);
  b.neighbours = 101;
  b.out = dir / "never.tree";
  EXPECT_THROW(run_build(b, Context(), log), InvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(b.out));
}

// --max-memory refuses, before any work, a build whose estimated peak exceeds it, naming the
// estimate; a budget above the estimate builds. The estimate is the documented sum, checked by
// hand for a small shape.
TEST(CliTree, MaxMemoryRefusesABuildThatWouldNotFit) {
  coreset::CoresetTreeParams p;
  p.chunk_size = 100;
  p.cross_fit_max_rows = 500;
  // n = 1000, d = 8 ≤ r: no feature map to fit; r = 8, r̃ = 9, K = 3, 10 leaves, 1 thread;
  // 10 neighbours searched on all 8 columns (lists, the unit-length copy, one 16 MB block of
  // products), the fusion's views of the 1000 samples (3 × 3 doubles each).
  const double neighbours = 1000.0 * (12 * 10 + 4 * 8) + 4.0 * 4096 * 1024;
  const double fusion = 1000.0 * 3 * 3 * 8;
  const double rest = 4.0 * 1000 * 8 + 121.0 * 1000 + neighbours + fusion + 8.0 * 19 * (81 + 27) +
                      2.0 * 8 * 3 * 81 + 500.0 * (4 * 8 + 5 * 8 * 3) + 3.0 * 8 * 1024 * 9 +
                      8.0 * 16 * 81;
  EXPECT_EQ(coreset::estimated_build_bytes(1000, 8, 3, p, 1),
            static_cast<std::int64_t>(rest + 64.0 * (1 << 20)));
  // Wider than the sketch: the feature map's fit (every row of X and two 1000 × 266 work
  // matrices) is compared with the rest, whose φ is then 1000 × 256.
  const double fit = 4.0 * 1000 * 2048 + 2.0 * 8 * 1000 * 266;
  // (The search then uses the sketch's 64 leading columns.)
  const double neighbours_wide = 1000.0 * (12 * 10 + 4 * 64) + 4.0 * 4096 * 1024;
  const double rest_wide = 4.0 * 1000 * 256 + 121.0 * 1000 + neighbours_wide + fusion +
                           8.0 * 19 * (257.0 * 257 + 257.0 * 3) +
                           2.0 * 8 * 3 * 257 * 257 + 500.0 * (4 * 256 + 5 * 8 * 3) +
                           3.0 * 8 * 1024 * 257 + 8.0 * 16 * 257 * 257;
  EXPECT_EQ(coreset::estimated_build_bytes(1000, 2048, 3, p, 1),
            static_cast<std::int64_t>(std::max(fit, rest_wide) + 64.0 * (1 << 20)));
  // From labels: their three distinct values are the classes.
  Labels y(1000);
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = static_cast<Label>(7 * (i % 3));
  EXPECT_EQ(coreset::estimated_build_bytes(2048, y, p, 1), coreset::estimated_build_bytes(1000, 2048, 3, p, 1));

  testing::TempDir dir;
  BuildOptions b = blob_build_options(dir);
  b.max_memory_gb = 0.01;  // below the 64 MB the estimate counts for the program alone
  std::ostringstream log;
  Context one_thread;
  one_thread.threads = 1;
  const std::string message =
      testing::error_of<InvalidArgument>([&] { run_build(b, one_thread, log); });
  // 64 MB for the program and 16 MB for the thread's block of the neighbour search.
  EXPECT_TRUE(testing::contains(message, "build would need about 0.08 GiB")) << message;
  EXPECT_TRUE(testing::contains(message, "--max-memory is 0.01 GiB")) << message;
  EXPECT_FALSE(std::filesystem::exists(b.out));
  b.max_memory_gb = 1.0;
  EXPECT_EQ(run_build(b, Context(), log), 0);
  EXPECT_TRUE(std::filesystem::exists(b.out));
  b.max_memory_gb = -1.0;
  EXPECT_THROW(run_build(b, Context(), log), InvalidArgument);
}

TEST(CliTree, UpdateRefreshEqualsFreshBuild) {
  testing::TempDir dir;
  BuildOptions b = blob_build_options(dir);
  std::ostringstream log;
  ASSERT_EQ(run_build(b, Context(), log), 0);
  const coreset::CoresetTree before = coreset::load_tree(b.out);
  std::map<SampleId, Label> relabel;
  for (SampleId id : {110, 150, 230}) relabel[id] = before.score(id).label == 2 ? 8 : 2;
  std::ofstream csv(dir / "d.csv");
  csv << "id,decision,new_label\n";
  for (const auto& [id, label] : relabel) csv << id << ",relabel," << label << "\n";
  csv.close();

  std::filesystem::copy_file(b.out, dir / "lazy.tree");
  UpdateOptions lazy{dir / "lazy.tree", dir / "d.csv"};
  lazy.refresh = false;
  ASSERT_EQ(run_update(lazy, Context(), log), 0);
  EXPECT_GT(coreset::load_tree(lazy.tree).stale_updates(), 0);

  UpdateOptions u{b.out, dir / "d.csv"};
  ASSERT_EQ(run_update(u, Context(), log), 0);
  const coreset::CoresetTree updated = coreset::load_tree(b.out);
  EXPECT_EQ(updated.stale_updates(), 0);

  write_features(dir / "fixed", relabel);
  BuildOptions fresh_options;
  fresh_options.features = dir / "fixed";
  fresh_options.out = dir / "fresh.tree";
  ASSERT_EQ(run_build(fresh_options, Context(), log), 0);
  const auto fresh = coreset::load_tree(fresh_options.out).scores();
  const auto got = updated.scores();
  const auto stale = coreset::load_tree(lazy.tree).scores();
  ASSERT_EQ(got.size(), fresh.size());
  double worst = 0.0, stale_worst = 0.0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].id, fresh[i].id);
    EXPECT_EQ(got[i].label, fresh[i].label);
    worst = std::max(worst, std::abs(got[i].importance - fresh[i].importance));
    stale_worst = std::max(stale_worst, std::abs(stale[i].importance - fresh[i].importance));
  }
  EXPECT_LT(worst, 1e-9);
  EXPECT_GT(stale_worst, 1e-6) << "the lazy update should differ, else this test shows nothing";
}

// build --append adds a second features directory to a tree file: the same tree as the
// library's build + append, and the CLI refuses ids the tree already has (exit 2, file unchanged).
TEST(CliTree, BuildAppendAddsLeavesToTheTreeFile) {
  testing::TempDir dir;
  const auto data = testing::make_blobs(300, 5, 3, 1.5, 0.1, 43);
  auto part = [&](int begin, int end, const std::filesystem::path& folder) {
    io::FeatureSet fs;
    fs.x_train = io::SampleMatrix(RowMatrixXf(data.x.middleRows(begin, end - begin)));
    fs.y_train.assign(data.y.begin() + begin, data.y.begin() + end);
    for (int i = begin; i < end; ++i) fs.ids.push_back(1000 + i);
    io::save_feature_set(folder, fs);
    return fs;
  };
  const io::FeatureSet a = part(0, 180, dir / "a"), b = part(180, 300, dir / "b");
  BuildOptions first;
  first.features = dir / "a";
  first.chunk_size = 64;
  first.out = dir / "t.tree";
  std::ostringstream log;
  ASSERT_EQ(run_build(first, Context(), log), 0);
  BuildOptions more;
  more.append = dir / "b";
  more.tree = dir / "t.tree";
  ASSERT_EQ(run_build(more, Context(), log), 0);
  EXPECT_NE(log.str().find("added 120 samples"), std::string::npos) << log.str();

  coreset::CoresetTreeParams p;
  p.chunk_size = 64;
  coreset::CoresetTree expected(p);
  expected.build(a.x_train.view(), a.y_train, {}, a.ids);
  ClassNames names;
  for (Label l : expected.classes()) names[l] = a.class_name(l);
  expected.set_class_names(names);
  expected.append(b.x_train.view(), b.y_train, {}, b.ids);
  const coreset::CoresetTree got = coreset::load_tree(dir / "t.tree");
  EXPECT_EQ(got.size(), 300);
  EXPECT_EQ(got.num_leaves(), 5);
  EXPECT_TRUE(got == expected);

  const std::string before = slurp(dir / "t.tree");
  const std::string exe = testing::shell_quote(CORECLEAN_CLI_PATH);
  const auto again = testing::run_command(exe + " build --append " +
                                          testing::shell_quote((dir / "b").string()) + " --tree " +
                                          testing::shell_quote((dir / "t.tree").string()));
  EXPECT_EQ(again.exit_code, 2) << again.output;
  EXPECT_NE(again.output.find("sample id 1180"), std::string::npos) << again.output;
  EXPECT_EQ(slurp(dir / "t.tree"), before);
  const auto both = testing::run_command(exe + " build --append " +
                                         testing::shell_quote((dir / "b").string()) + " --out " +
                                         testing::shell_quote((dir / "x.tree").string()));
  EXPECT_EQ(both.exit_code, 2) << both.output;
}

// update applies keep / relabel / delete; a bad row changes nothing and exits 2 naming the row,
// the column and the value.
TEST(CliTree, UpdateAppliesDecisionsOrNothing) {
  testing::TempDir dir;
  BuildOptions b = blob_build_options(dir);
  std::ostringstream log;
  ASSERT_EQ(run_build(b, Context(), log), 0);
  const coreset::CoresetTree before = coreset::load_tree(b.out);
  const Label label_105 = before.score(105).label;
  const std::string relabel_to = label_105 == 2 ? "five" : "two";
  std::ofstream(dir / "ok.csv") << "id,decision,new_label\n105,relabel," << relabel_to
                                << "\n106,delete,\n107,keep,\n";
  UpdateOptions u{b.out, dir / "ok.csv"};
  ASSERT_EQ(run_update(u, Context(), log), 0);
  const coreset::CoresetTree after = coreset::load_tree(b.out);
  EXPECT_EQ(after.score(105).label, label_105 == 2 ? 5 : 2);
  EXPECT_EQ(after.score(106).weight, 0.0);
  EXPECT_EQ(after.score(107).label, before.score(107).label);

  const std::string saved = slurp(b.out);
  const std::string exe = testing::shell_quote(CORECLEAN_CLI_PATH);
  struct Bad {
    std::string csv, expect;
  };
  for (const Bad& bad : {Bad{"id,decision,new_label\n108,keep,\n109,relabel,seven\n", ":3: column new_label"},
                         Bad{"id,decision,new_label\nabc,keep,\n", ":2: column id: 'abc'"},
                         Bad{"id,decision,new_label\n108,maybe,\n", ":2: column decision: 'maybe'"},
                         Bad{"id,decision,new_label\n99999,keep,\n", "99999 is not a sample"},
                         Bad{"id,decision,new_label\n108,relabel,\n", "column new_label: empty"}}) {
    std::ofstream(dir / "bad.csv") << bad.csv;
    const auto r = testing::run_command(exe + " update --tree " + testing::shell_quote(b.out.string()) +
                                        " --decisions " + testing::shell_quote((dir / "bad.csv").string()));
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(bad.expect), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("bad.csv"), std::string::npos) << r.output;
    EXPECT_EQ(slurp(b.out), saved) << "tree changed by a refused update";
  }
  // Unknown class for rank, and a file that is not a tree.
  auto r = testing::run_command(exe + " rank --tree " + testing::shell_quote(b.out.string()) + " --class nine");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("unknown class 'nine'"), std::string::npos) << r.output;
  r = testing::run_command(exe + " rank --tree " + testing::shell_quote((dir / "ok.csv").string()));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("not a coreclean tree file"), std::string::npos) << r.output;
}

// Labels that are not class ids (-1 from an export's deleted boxes, 2^62) are refused by build
// and pick with exit 2, naming y_train.npy, the row and the value.
TEST(CliTree, LabelsThatAreNotClassIdsExitWith2) {
  testing::TempDir dir;
  const std::string exe = testing::shell_quote(CORECLEAN_CLI_PATH);
  for (const Label bad : {Label{-1}, Label{1} << 62}) {
    write_features(dir / "features", {{103, bad}});
    const std::string y = (dir / "features" / "y_train.npy").string();
    const std::string features = testing::shell_quote((dir / "features").string());
    for (const std::string& command : {" build --features " + features + " --out " +
                                           testing::shell_quote((dir / "t.tree").string()),
                                       " pick --features " + features}) {
      const auto r = testing::run_command(exe + command);
      EXPECT_EQ(r.exit_code, 2) << command << r.output;
      EXPECT_NE(r.output.find(y + ": label " + std::to_string(bad) + " at row 3"),
                std::string::npos)
          << r.output;
    }
  }
}

// A tree file with a valid checksum but a parent cycle (which used to make update loop for
// ever) or an out-of-range label index: rank and update exit with 2, naming the file and field.
TEST(CliTree, InconsistentTreeFileExitsWith2) {
  testing::TempDir dir;
  BuildOptions b = blob_build_options(dir);
  std::ostringstream log;
  ASSERT_EQ(run_build(b, Context(), log), 0);
  const std::string exe = testing::shell_quote(CORECLEAN_CLI_PATH);
  std::ofstream(dir / "d.csv") << "id,decision,new_label\n108,keep,\n";
  const auto craft = [&](const std::string& name, const auto& mutate) {
    coreset::CoresetTree tree = coreset::load_tree(b.out);
    mutate(coreset::TreeStateAccess::state(tree));
    coreset::save_tree(tree, dir / name);
    return (dir / name).string();
  };
  const std::string cycle =
      craft("cycle.tree", [](coreset::CoresetTreeState& s) { s.nodes[0].parent = 0; });
  const std::string label =
      craft("label.tree", [](coreset::CoresetTreeState& s) { s.label[7] = 1000; });
  for (const auto& [file, field] : {std::pair{cycle, std::string("nodes[0].parent is 0")},
                                    std::pair{label, std::string("label[7] is 1000")}}) {
    for (const std::string& command :
         {" rank --tree " + testing::shell_quote(file),
          " update --tree " + testing::shell_quote(file) + " --decisions " +
              testing::shell_quote((dir / "d.csv").string())}) {
      const auto r = testing::run_command("timeout 60 " + exe + command);
      EXPECT_EQ(r.exit_code, 2) << command << r.output;
      EXPECT_NE(r.output.find(file + ": corrupt tree file: " + field), std::string::npos)
          << r.output;
    }
  }
}

// fit trains on a training tree's coreset, reports both AUCs and writes a model that reproduces
// the tree's classes; a cleaning tree is refused.
TEST(CliTree, FitOnTrainingCoreset) {
  testing::TempDir dir;
  BuildOptions b = blob_build_options(dir);
  b.optimized_for = "training";
  b.chunk_size = 100;
  std::ostringstream log;
  ASSERT_EQ(run_build(b, Context(), log), 0);
  FitOptions f;
  f.tree = b.out;
  f.out = dir / "model.npz";
  std::ostringstream report;
  ASSERT_EQ(run_fit(f, Context(), report), 0);
  EXPECT_NE(report.str().find("5-fold AUC: coreset model"), std::string::npos) << report.str();
  const auto model = io::read_npz(f.out);
  EXPECT_EQ(model.at("coef").shape(), (std::vector<std::int64_t>{3, 5}));
  EXPECT_EQ(model.at("classes").size(), 3);
  EXPECT_LT(model.at("coreset_ids").size(), 300);
  b.optimized_for = "cleaning";
  ASSERT_EQ(run_build(b, Context(), log), 0);
  EXPECT_THROW(run_fit(f, Context(), report), InvalidArgument);
}

}  // namespace
}  // namespace coreclean::cli
