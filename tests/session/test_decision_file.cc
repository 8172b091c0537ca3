// The decision-file reader: what spreadsheets write is accepted, every bad row is reported.
#include <coreclean/session/decision_file.h>

#include <coreclean/core/class_names.h>
#include <coreclean/core/error.h>

#include "testing/data.h"
#include "testing/helpers.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>

namespace coreclean::session {
namespace {

const ClassNames kNames = {{1, "Shirt"}, {2, "T-shirt/top"}, {3, "shirt dress"}};
const Labels kClasses = {1, 2, 3};

DecisionFileRules rules() {
  DecisionFileRules r;
  r.reject_id = [](SampleId id) -> std::optional<std::string> {
    if (id >= 10 && id < 20) return std::nullopt;
    return "is not in the open batch 1";
  };
  r.find_class = [](const std::string& name) { return find_class(kNames, kClasses, name); };
  return r;
}

// A sheet saved by a spreadsheet in a decimal-comma language: BOM, CRLF, `;`, capitalised
// words, spaces around values, a quoted field with the separator; class names in any case.
TEST(DecisionFile, AcceptsWhatSpreadsheetsWrite) {
  testing::TempDir dir;
  testing::write_text(dir / "r.csv",
                      "\xEF\xBB\xBF" "ID;Image;Decision;New_Label\r\n"
                      "10;\"a;b.jpg\";  Keep ;\r\n"
                      "11;x.jpg;RELABEL; t-shirt/top \r\n"
                      "12;x.jpg;delete;\r\n"
                      "13;x.jpg;;\r\n"
                      "14;x.jpg;relabel;3\r\n");
  const DecisionFile f = read_decision_file(dir / "r.csv", rules());
  ASSERT_EQ(f.decisions.size(), 4u);
  EXPECT_EQ(f.decisions[0].id, 10);
  EXPECT_EQ(f.decisions[0].kind, DecisionKind::kKeep);
  EXPECT_EQ(f.decisions[1].kind, DecisionKind::kRelabel);
  EXPECT_EQ(f.decisions[1].new_label, 2);
  EXPECT_EQ(f.decisions[2].kind, DecisionKind::kDelete);
  EXPECT_EQ(f.decisions[3].new_label, 3);
  EXPECT_EQ(f.lines, (std::vector<int>{2, 3, 4, 6}));
  EXPECT_EQ(f.undecided, (std::vector<SampleId>{13}));
}

// Every bad row is reported with file, line, column and value; nothing is returned.
TEST(DecisionFile, ReportsEveryBadRow) {
  testing::TempDir dir;
  testing::write_text(dir / "r.csv",
                      "id,decision,new_label\n"
                      "10,maybe,\n"
                      "x,keep,\n"
                      "11,relabel,\n"
                      "12,relabel,Dress\n"
                      "13,keep,Shirt\n"
                      "14,,Shirt\n"
                      "99,keep,\n"
                      "15,keep,\n"
                      "15,delete,\n");
  const std::string m = testing::error_of<InvalidArgument>(
      [&] { (void)read_decision_file(dir / "r.csv", rules()); });
  EXPECT_TRUE(testing::contains(m, "8 bad rows (nothing was applied)"));
  EXPECT_TRUE(testing::contains(m, "r.csv:2: column decision: 'maybe'"));
  EXPECT_TRUE(testing::contains(m, "r.csv:3: column id: 'x' is not an integer id"));
  EXPECT_TRUE(testing::contains(m, "r.csv:4: column new_label: empty"));
  EXPECT_TRUE(testing::contains(m, "r.csv:5: column new_label: unknown class 'Dress'"));
  EXPECT_TRUE(testing::contains(m, "r.csv:6: column new_label: 'Shirt' on a keep row"));
  EXPECT_TRUE(testing::contains(m, "r.csv:7: column decision: empty, but new_label is 'Shirt'"));
  EXPECT_TRUE(testing::contains(m, "r.csv:8: column id: 99 is not in the open batch 1"));
  EXPECT_TRUE(testing::contains(m, "r.csv:10: column id: 15 appears twice"));
}

// More than 20 bad rows: 20 are listed and the total is given.
TEST(DecisionFile, ListsAtMostTwentyProblems) {
  testing::TempDir dir;
  std::string text = "id,decision\n";
  for (int i = 0; i < 30; ++i) text += "10" + std::to_string(i) + ",keep\n";
  testing::write_text(dir / "r.csv", text);
  const std::string m = testing::error_of<InvalidArgument>(
      [&] { (void)read_decision_file(dir / "r.csv", rules()); });
  EXPECT_TRUE(testing::contains(m, "30 bad rows"));
  EXPECT_TRUE(testing::contains(m, "only the first 20 problems are shown"));
  std::size_t listed = 0;
  for (std::size_t p = m.find("\n  "); p != std::string::npos; p = m.find("\n  ", p + 1)) ++listed;
  EXPECT_EQ(listed, 21u) << m;
}

// Broken CSV is refused: text after a closing quote (`"del"ete` is not delete) and a row with
// fewer fields than the header (a missing decision column is not "no decision").
TEST(DecisionFile, RefusesTextAfterAQuoteAndShortRows) {
  testing::TempDir dir;
  testing::write_text(dir / "q.csv", "id,decision\n10,\"del\"ete\n");
  EXPECT_TRUE(testing::contains(
      testing::error_of<FormatError>([&] { (void)read_decision_file(dir / "q.csv", rules()); }),
      "q.csv:2: field 2: text after the closing quote"));
  testing::write_text(dir / "s.csv", "id,decision,new_label\n10\n");
  EXPECT_TRUE(testing::contains(
      testing::error_of<FormatError>([&] { (void)read_decision_file(dir / "s.csv", rules()); }),
      "s.csv:2: 1 fields but the header has 3"));
}

// A CSV beyond the size any decisions file reaches (a 2 GB single line, say) is refused before
// it is read.
TEST(DecisionFile, RefusesAnAbsurdlyLargeFile) {
  testing::TempDir dir;
  testing::write_text(dir / "big.csv", "id,decision\n");
  std::filesystem::resize_file(dir / "big.csv", std::uintmax_t{2} << 30);  // sparse: no disk used
  EXPECT_TRUE(testing::contains(
      testing::error_of<FormatError>([&] { (void)read_decision_file(dir / "big.csv", rules()); }),
      "big.csv: 2048 MiB; a decisions or review CSV is at most 256 MiB"));
}

// Class names: case and spaces are ignored only when exactly one class matches.
TEST(DecisionFile, ClassNamesIgnoreCaseOnlyWhenUnambiguous) {
  const ClassNames names = {{1, "Shirt"}, {2, "shirt"}, {3, "Coat"}};
  const Labels classes = {1, 2, 3};
  EXPECT_EQ(find_class(names, classes, "Shirt"), 1);
  EXPECT_EQ(find_class(names, classes, "shirt"), 2);
  EXPECT_EQ(find_class(names, classes, " coat "), 3);
  EXPECT_TRUE(testing::contains(
      testing::error_of<InvalidArgument>([&] { (void)find_class(names, classes, "SHIRT"); }),
      "ambiguous"));
}

// A decision file applied straight to a tree: relabels and removals land (the tree equals one
// updated by hand with the same calls), keeps change nothing; an id the tree lacks or a class
// it lacks refuses the whole file and leaves the tree as it was.
TEST(DecisionFile, AppliesToATreeOrChangesNothing) {
  const auto data = testing::make_blobs(200, 4, 3, 2.0, 0.05, 9);
  coreset::CoresetTreeParams params;
  params.chunk_size = 50;
  coreset::CoresetTree tree(params);
  tree.build(data.x, data.y);
  const Labels& classes = tree.classes();
  ASSERT_EQ(classes.size(), 3u);
  tree.set_class_names({{classes[0], "alpha"}, {classes[1], "beta"}, {classes[2], "gamma"}});
  const coreset::CoresetTree original = tree;
  const Label new_label = tree.score(3).label == classes[1] ? classes[2] : classes[1];
  testing::TempDir dir;
  testing::write_text(dir / "d.csv", fmt::format("id,decision,new_label\n3,relabel,{}\n7,delete,\n"
                                                 "8,keep,\n9,keep,\n",
                                                 new_label == classes[1] ? "BETA" : "gamma"));
  const TreeDecisions done = apply_decision_file(dir / "d.csv", tree);
  EXPECT_EQ(done.relabelled, 1u);
  EXPECT_EQ(done.deleted, 1u);
  EXPECT_EQ(done.kept, 2u);
  coreset::CoresetTree by_hand = original;
  // One update for the batch: samples 3 and 7 share a leaf, so its path is touched once.
  const Eigen::Index touched =
      by_hand.apply_review(std::vector<SampleId>{3}, Labels{new_label}, std::vector<SampleId>{7}).nodes_touched;
  EXPECT_EQ(done.nodes_touched, touched);
  EXPECT_EQ(touched, 3);
  EXPECT_TRUE(tree == by_hand);
  EXPECT_FALSE(tree == original);

  for (const std::string& bad : {std::string("id,decision,new_label\n4,delete,\n5000,keep,\n"),
                                 std::string("id,decision,new_label\n4,relabel,nine\n")}) {
    const coreset::CoresetTree before = tree;
    testing::write_text(dir / "bad.csv", bad);
    EXPECT_THROW((void)apply_decision_file(dir / "bad.csv", tree), InvalidArgument);
    EXPECT_TRUE(tree == before);
  }
  EXPECT_TRUE(tree.contains(7));  // removed, still a sample (weight 0)
  EXPECT_FALSE(tree.contains(5000));
}

}  // namespace
}  // namespace coreclean::session
