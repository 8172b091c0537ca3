#include <coreclean/core/error.h>
#include <coreclean/io/feature_set.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "testing/helpers.h"

namespace coreclean::io {
namespace {

using coreclean::testing::contains;
using coreclean::testing::error_of;
using coreclean::testing::TempDir;
using coreclean::testing::write_text;

// n x d samples with distinct values.
RowMatrixXf samples(Eigen::Index n, Eigen::Index d, float offset = 0) {
  RowMatrixXf x(n, d);
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index j = 0; j < d; ++j) x(i, j) = offset + static_cast<float>(i * d + j) * 0.5f;
  }
  return x;
}

// A valid minimal features directory: 6 x 3 X_train, labels 1 2 1 2 1 2.
std::filesystem::path write_train(const TempDir& tmp) {
  auto dir = tmp / "features";
  std::filesystem::create_directories(dir);
  write_npy(dir / "X_train.npy", samples(6, 3));
  write_npy(dir / "y_train.npy", Labels{1, 2, 1, 2, 1, 2});
  return dir;
}

// Loads `dir`, expecting an exception of type E, and returns its message.
template <typename E>
std::string load_error(const std::filesystem::path& dir) {
  return error_of<E>([&] { (void)load_feature_set(dir); });
}

FeatureSet example_set() {
  FeatureSet f;
  f.x_train = SampleMatrix(samples(6, 3));
  f.y_train = {1, 2, 1, 2, 7, 7};
  f.x_test = SampleMatrix(samples(2, 3, 100));
  f.y_test = {7, 1};
  f.ids = {10, 11, 12, 13, 14, 900100581904};
  f.class_names = {{1, "person"}, {2, "bicycle"}, {7, "train"}};
  return f;
}

// ---- loading and saving ----------------------------------------------------------------------

TEST(FeatureSet, SaveThenLoadRoundTripsEveryPart) {
  // Invariant: load_feature_set(save_feature_set(f)) == f, test split, ids and names included.
  TempDir tmp;
  const FeatureSet saved = example_set();
  save_feature_set(tmp / "out", saved);
  const FeatureSet loaded = load_feature_set(tmp / "out");
  EXPECT_EQ(loaded.x_train.view(), saved.x_train.view());
  EXPECT_EQ(loaded.y_train, saved.y_train);
  ASSERT_TRUE(loaded.x_test.has_value());
  EXPECT_EQ(loaded.x_test->view(), saved.x_test->view());
  EXPECT_EQ(loaded.y_test, saved.y_test);
  EXPECT_EQ(loaded.ids, saved.ids);
  EXPECT_EQ(loaded.class_names, saved.class_names);
  // Labels and ids are stored as int64, whatever their values.
  EXPECT_EQ(read_npy(tmp / "out" / "y_train.npy").dtype(), DType::kInt64);
}

TEST(FeatureSet, MinimalDirectoryGetsDefaultIdsAndNoTestSplit) {
  // Invariant: without ids.npy the ids are 0..n-1; without X_test/y_test there is no test split;
  // without classes.json there are no names.
  TempDir tmp;
  const auto dir = write_train(tmp);
  const FeatureSet f = load_feature_set(dir);
  EXPECT_EQ(f.x_train.rows(), 6);
  EXPECT_EQ(f.x_train.cols(), 3);
  EXPECT_EQ(f.x_train.view(), samples(6, 3));
  EXPECT_EQ(f.ids, (std::vector<SampleId>{0, 1, 2, 3, 4, 5}));
  EXPECT_FALSE(f.x_test.has_value());
  EXPECT_TRUE(f.y_test.empty());
  EXPECT_TRUE(f.class_names.empty());
}

TEST(FeatureSet, NumpyWrittenDirectoryLoadsWithConversions) {
  // Invariant: a directory written with numpy (float64 X, float labels, int32 test labels, large
  // ids) loads with X converted to float32 and labels to int64.
  CORECLEAN_REQUIRE_ORACLE();
  TempDir tmp;
  coreclean::testing::run_oracle("npy_roundtrip.py", {"write", tmp.path().string()});
  const FeatureSet f = load_feature_set(tmp / "features");
  ASSERT_EQ(f.x_train.rows(), 6);
  ASSERT_EQ(f.x_train.cols(), 3);
  for (int i = 0; i < 18; ++i) {
    // values("f8", ...) of the oracle: ((i * 7919) % 2001 - 1000) / 1024, exact in float32.
    const double expected = static_cast<double>((i * 7919) % 2001 - 1000) / 1024.0;
    EXPECT_EQ(f.x_train.view()(i / 3, i % 3), static_cast<float>(expected)) << i;
  }
  EXPECT_EQ(f.y_train, (Labels{1, 2, 1, 2, 7, 7}));
  ASSERT_TRUE(f.x_test.has_value());
  EXPECT_EQ(f.x_test->rows(), 2);
  EXPECT_EQ(f.y_test, (Labels{7, 1}));
  EXPECT_EQ(f.ids.back(), 900100581904);
  EXPECT_EQ(f.class_name(2), "bicycle");
}

TEST(FeatureSet, ClassInJsonWithoutSamplesIsFine) {
  // Invariant: classes.json may name labels that have no samples; they are just names.
  TempDir tmp;
  const auto dir = write_train(tmp);
  write_text(dir / "classes.json", R"({"1": "cat", "2": "dog", "99": "unicorn"})");
  const FeatureSet f = load_feature_set(dir);
  EXPECT_EQ(f.class_names.size(), 3u);
  EXPECT_EQ(f.class_name(99), "unicorn");
}

TEST(FeatureSet, NumberTooLargeInClassesJsonIsAFormatError) {
  // nlohmann reports a number beyond a double as out_of_range, not as a parse error; it used
  // to escape load_feature_set as a non-coreclean exception.
  TempDir tmp;
  const auto dir = write_train(tmp);
  for (const char* text : {R"({"1": 1e400})", "203485e29422", R"({"1": "cat"} 1e999)"}) {
    write_text(dir / "classes.json", text);
    const std::string message = error_of<FormatError>([&] { (void)load_feature_set(dir); });
    EXPECT_TRUE(contains(message, "classes.json: invalid JSON")) << text << ": " << message;
  }
}

// classes.json names class ids in y_train's range only: a key y_train would refuse (negative,
// above int32) is refused as well, naming the key.
TEST(FeatureSet, ClassesJsonKeysOutsideTheLabelRangeAreRefused) {
  TempDir tmp;
  const auto dir = write_train(tmp);
  for (const char* key : {"-1", "2147483648", "-9223372036854775808"}) {
    write_text(dir / "classes.json", fmt::format(R"({{"1": "cat", "{}": "ghost"}})", key));
    const std::string message = error_of<FormatError>([&] { (void)load_feature_set(dir); });
    EXPECT_TRUE(contains(message, fmt::format("key \"{}\" is not a class id", key))) << message;
  }
  write_text(dir / "classes.json", R"({"0": "zero", "2147483647": "last"})");
  FeatureSet f = load_feature_set(dir);
  EXPECT_EQ(f.class_name(2147483647), "last");
  // Saving leaves out names no label can carry (a COCO category numbered -1): what it writes loads.
  f.class_names[-1] = "background";
  f.class_names[Label{1} << 40] = "huge";
  save_feature_set(dir, f);
  const FeatureSet back = load_feature_set(dir);
  EXPECT_EQ(back.class_names.size(), 2u);
  EXPECT_EQ(back.class_name(0), "zero");
}

TEST(FeatureSet, SaveRemovesStaleOptionalFiles) {
  // Invariant: saving a set without test split, ids or names over a directory that had them
  // leaves a directory that loads as the new set (no stale X_test/ids/classes from before).
  TempDir tmp;
  save_feature_set(tmp / "out", example_set());
  FeatureSet smaller;
  smaller.x_train = SampleMatrix(samples(4, 3));
  smaller.y_train = {5, 6, 5, 6};
  save_feature_set(tmp / "out", smaller);
  const FeatureSet loaded = load_feature_set(tmp / "out");
  EXPECT_FALSE(loaded.x_test.has_value());
  EXPECT_EQ(loaded.ids, (std::vector<SampleId>{0, 1, 2, 3}));
  EXPECT_TRUE(loaded.class_names.empty());
  EXPECT_FALSE(std::filesystem::exists(tmp / "out" / "X_test.npy"));
  EXPECT_FALSE(std::filesystem::exists(tmp / "out" / "classes.json"));
}

TEST(FeatureSet, SaveRefusesInconsistentSet) {
  // Invariant: save_feature_set never writes a directory that load_feature_set would refuse for
  // mismatched lengths or widths.
  TempDir tmp;
  FeatureSet f = example_set();
  f.y_train.pop_back();
  EXPECT_TRUE(contains(error_of<InvalidArgument>([&] { save_feature_set(tmp / "a", f); }),
                       "y_train has 5 labels"));
  f = example_set();
  f.x_test = SampleMatrix(samples(2, 4));
  EXPECT_TRUE(contains(error_of<InvalidArgument>([&] { save_feature_set(tmp / "b", f); }),
                       "x_test has 4 columns"));
  f = example_set();
  f.x_test.reset();
  EXPECT_TRUE(
      contains(error_of<InvalidArgument>([&] { save_feature_set(tmp / "c", f); }), "no x_test"));
  f = example_set();
  f.ids.push_back(99);
  EXPECT_TRUE(contains(error_of<InvalidArgument>([&] { save_feature_set(tmp / "d", f); }),
                       "ids has 7 entries"));
}

TEST(FeatureSet, ClassNameUsesJsonNameOrNumber) {
  // Invariant: class_name is the classes.json name when there is one, else the label as text.
  const FeatureSet f = example_set();
  EXPECT_EQ(f.class_name(1), "person");
  EXPECT_EQ(f.class_name(3), "3");
  EXPECT_EQ(f.class_name(-4), "-4");
}

TEST(FeatureSet, FindClassByNameOrNumber) {
  // Invariant: find_class accepts a classes.json name or a known label written as a number;
  // names win over numbers.
  FeatureSet f = example_set();
  EXPECT_EQ(f.find_class("bicycle"), 2);
  EXPECT_EQ(f.find_class("7"), 7);
  f.class_names[2] = "7";
  EXPECT_EQ(f.find_class("7"), 2);
}

TEST(FeatureSet, FindClassUnknownListsKnownClasses) {
  // Invariant: an unknown name or label throws InvalidArgument naming the query and listing the
  // known classes with their names.
  const FeatureSet f = example_set();
  for (const std::string query : {"car", "3", "persons"}) {
    const std::string message = error_of<InvalidArgument>([&] { (void)f.find_class(query); });
    EXPECT_TRUE(contains(message, "'" + query + "'"));
    EXPECT_TRUE(contains(message, "1 (person), 2 (bicycle), 7 (train)"));
  }
  // Typed in a spreadsheet: spaces and letter case do not make a name unknown.
  EXPECT_EQ(f.find_class(" Person "), 1);
}

// ---- errors ----------------------------------------------------------------------------------

// keep_classes: the rows of the named classes, in order, with their ids, test rows and names.
TEST(FeatureSet, KeepClassesKeepsTheRowsOfTheNamedClasses) {
  FeatureSet fs;
  fs.x_train = SampleMatrix(samples(6, 2));
  fs.y_train = {0, 1, 2, 1, 0, 2};
  fs.ids = {10, 11, 12, 13, 14, 15};
  fs.x_test = SampleMatrix(samples(3, 2, 100.0f));
  fs.y_test = {2, 0, 1};
  fs.class_names = {{0, "cat"}, {1, "dog"}, {2, "fox"}};
  const std::vector<std::string> names = {"fox", "1", "fox"};
  const Labels classes = fs.find_classes(names);
  EXPECT_EQ(classes, (Labels{1, 2}));

  const FeatureSet kept = keep_classes(fs, classes);
  EXPECT_EQ(kept.y_train, (Labels{1, 2, 1, 2}));
  EXPECT_EQ(kept.ids, (std::vector<SampleId>{11, 12, 13, 15}));
  ASSERT_EQ(kept.x_train.rows(), 4);
  const std::vector<Eigen::Index> source_rows = {1, 2, 3, 5};
  for (Eigen::Index r = 0; r < 4; ++r)
    for (Eigen::Index c = 0; c < 2; ++c)
      EXPECT_EQ(kept.x_train.view()(r, c), static_cast<float>(source_rows[r] * 2 + c) * 0.5f);
  ASSERT_TRUE(kept.x_test.has_value());
  EXPECT_EQ(kept.y_test, (Labels{2, 1}));
  EXPECT_EQ(kept.x_test->view()(0, 0), 100.0f);
  EXPECT_EQ(kept.x_test->view()(1, 0), 100.0f + 4 * 0.5f);
  EXPECT_EQ(kept.class_names, (ClassNames{{1, "dog"}, {2, "fox"}}));

  // No test row of the kept classes: no test split; nothing of the classes: refused.
  const FeatureSet cats = keep_classes(fs, Labels{7, 0});
  EXPECT_EQ(cats.ids, (std::vector<SampleId>{10, 14}));
  EXPECT_EQ(cats.y_test, (Labels{0}));
  fs.y_test = {2, 2, 1};
  EXPECT_FALSE(keep_classes(fs, Labels{0}).x_test.has_value());
  EXPECT_THROW((void)keep_classes(fs, Labels{7}), InvalidArgument);
  EXPECT_THROW((void)fs.find_classes(std::vector<std::string>{"owl"}), InvalidArgument);
}

TEST(FeatureSetErrors, MissingDirectoryIsIoError) {
  // Invariant: a missing features directory, or a file in its place, is an IoError naming it.
  TempDir tmp;
  const std::string message = load_error<IoError>(tmp / "nowhere");
  EXPECT_TRUE(contains(message, (tmp / "nowhere").string()));
  EXPECT_TRUE(contains(message, "does not exist"));
  write_text(tmp / "file", "x");
  const std::string not_dir = load_error<IoError>(tmp / "file");
  EXPECT_TRUE(contains(not_dir, (tmp / "file").string()));
  EXPECT_TRUE(contains(not_dir, "is not a directory"));
}

TEST(FeatureSetErrors, MissingRequiredFileIsIoErrorNamingIt) {
  // Invariant: X_train.npy and y_train.npy are required; a missing one is named.
  TempDir tmp;
  const auto dir = write_train(tmp);
  std::filesystem::remove(dir / "y_train.npy");
  EXPECT_TRUE(contains(load_error<IoError>(dir), (dir / "y_train.npy").string()));
  std::filesystem::remove(dir / "X_train.npy");
  EXPECT_TRUE(contains(load_error<IoError>(dir), (dir / "X_train.npy").string()));
}

TEST(FeatureSetErrors, XTrainThatIsNot2dIsRefused) {
  // Invariant: X_train must be 2-d; the message names the file and its shape.
  TempDir tmp;
  const auto dir = write_train(tmp);
  write_npy(dir / "X_train.npy", std::vector<std::int64_t>{1, 2, 3, 4, 5, 6});
  const std::string message = load_error<InvalidArgument>(dir);
  EXPECT_TRUE(contains(message, (dir / "X_train.npy").string()));
  EXPECT_TRUE(contains(message, "shape (6,)"));
}

TEST(FeatureSetErrors, LengthMismatchNamesBothFilesAndLengths) {
  // Invariant: len(y_train) == rows(X_train), else both files and both lengths are named.
  TempDir tmp;
  const auto dir = write_train(tmp);
  write_npy(dir / "y_train.npy", Labels{1, 2, 1, 2, 1});
  const std::string message = load_error<InvalidArgument>(dir);
  EXPECT_TRUE(contains(message, (dir / "X_train.npy").string() + " has 6 rows"));
  EXPECT_TRUE(contains(message, (dir / "y_train.npy").string() + " has 5 labels"));
}

TEST(FeatureSetErrors, EmptyTrainingSetIsRefused) {
  // Invariant: a training set with 0 rows is refused, naming X_train.npy.
  TempDir tmp;
  const auto dir = write_train(tmp);
  write_npy(dir / "X_train.npy", RowMatrixXf(0, 3));
  write_npy(dir / "y_train.npy", Labels{});
  const std::string message = load_error<InvalidArgument>(dir);
  EXPECT_TRUE(contains(message, (dir / "X_train.npy").string()));
  EXPECT_TRUE(contains(message, "empty (shape (0, 3))"));
}

TEST(FeatureSetErrors, SingleClassIsRefused) {
  // Invariant: y_train needs at least two distinct classes; the single label is named.
  TempDir tmp;
  const auto dir = write_train(tmp);
  write_npy(dir / "y_train.npy", Labels{4, 4, 4, 4, 4, 4});
  const std::string message = load_error<InvalidArgument>(dir);
  EXPECT_TRUE(contains(message, (dir / "y_train.npy").string()));
  EXPECT_TRUE(contains(message, "need at least two classes, but every label is 4"));
}

TEST(FeatureSetErrors, NonIntegerLabelsAreRefused) {
  // Invariant: fractional labels are refused naming y_train.npy, the index and the value.
  TempDir tmp;
  const auto dir = write_train(tmp);
  const double y[] = {1, 2, 1, 2, 1.25, 2};
  write_npy(dir / "y_train.npy", DType::kFloat64, std::vector<std::int64_t>{6}, y);
  const std::string message = load_error<InvalidArgument>(dir);
  EXPECT_TRUE(contains(message, (dir / "y_train.npy").string()));
  EXPECT_TRUE(contains(message, "index 4 is 1.25"));
}

TEST(FeatureSetErrors, LabelsThatAreNotClassIdsAreRefused) {
  // Invariant: labels are class ids in [0, 2^31 - 1]; -1 (a deleted box in an export) says how
  // to drop those rows; negative and absurd values name the file, the row and the value.
  TempDir tmp;
  const auto dir = write_train(tmp);
  write_npy(dir / "y_train.npy", Labels{1, 2, 1, -1, 1, 2});
  std::string message = load_error<FormatError>(dir);
  EXPECT_TRUE(contains(message, (dir / "y_train.npy").string() + ": label -1 at row 3"));
  EXPECT_TRUE(contains(message, "export --labels-out"));
  EXPECT_TRUE(contains(message, "keep = y != -1"));
  for (const Label bad :
       {Label{-7}, Label{1} << 62, std::numeric_limits<Label>::min(), Label{2147483648}}) {
    write_npy(dir / "y_train.npy", Labels{1, 2, 1, 2, bad, 2});
    message = load_error<FormatError>(dir);
    EXPECT_TRUE(contains(message, fmt::format("{}: label {} at row 4 is not a class id; labels "
                                              "must be integers from 0 to 2147483647",
                                              (dir / "y_train.npy").string(), bad)));
  }
  // The largest class id is fine; the test split is checked as well.
  write_npy(dir / "y_train.npy", Labels{0, 2147483647, 0, 2147483647, 0, 2147483647});
  EXPECT_EQ(load_feature_set(dir).y_train[1], 2147483647);
  write_npy(dir / "X_test.npy", samples(2, 3));
  write_npy(dir / "y_test.npy", Labels{0, -2});
  EXPECT_TRUE(contains(load_error<FormatError>(dir),
                       (dir / "y_test.npy").string() + ": label -2 at row 1 is not a class id"));
}

TEST(FeatureSetErrors, NanInFeaturesIsRefusedNamingRowAndColumn) {
  // Invariant: NaN/Inf in X_train or X_test is refused naming the file, row, column and value.
  TempDir tmp;
  const auto dir = write_train(tmp);
  RowMatrixXf x = samples(6, 3);
  x(4, 2) = std::numeric_limits<float>::infinity();
  write_npy(dir / "X_train.npy", x);
  const std::string message = load_error<InvalidArgument>(dir);
  EXPECT_TRUE(contains(message, (dir / "X_train.npy").string()));
  EXPECT_TRUE(contains(message, "inf at row 4, column 2"));
}

TEST(FeatureSetErrors, OnlyTheCheckedRowsAreCheckedForNan) {
  // A process that reads only its share of X_train checks only those rows; the row count it is
  // asked about is the file's.
  TempDir tmp;
  const auto dir = write_train(tmp);
  RowMatrixXf x = samples(6, 3);
  x(4, 2) = std::numeric_limits<float>::quiet_NaN();
  write_npy(dir / "X_train.npy", x);
  Eigen::Index asked = 0;
  const auto rows = [&](Eigen::Index begin, Eigen::Index end) {
    return [&asked, begin, end](Eigen::Index n) {
      asked = n;
      return std::pair<Eigen::Index, Eigen::Index>{begin, end};
    };
  };
  EXPECT_EQ(load_feature_set(dir, rows(0, 4)).x_train.rows(), 6);
  EXPECT_EQ(asked, 6);
  EXPECT_EQ(load_feature_set(dir, rows(5, 6)).x_train.rows(), 6);
  const std::string message =
      error_of<InvalidArgument>([&] { (void)load_feature_set(dir, rows(3, 6)); });
  EXPECT_TRUE(contains(message, "nan at row 4, column 2")) << message;
}

TEST(FeatureSetErrors, TestSplitNeedsBothFiles) {
  // Invariant: X_test.npy without y_test.npy (or the reverse) is refused, naming both files.
  TempDir tmp;
  const auto dir = write_train(tmp);
  write_npy(dir / "X_test.npy", samples(2, 3));
  std::string message = load_error<InvalidArgument>(dir);
  EXPECT_TRUE(contains(message, (dir / "X_test.npy").string() + " is present but " +
                                    (dir / "y_test.npy").string() + " is missing"));
  std::filesystem::remove(dir / "X_test.npy");
  write_npy(dir / "y_test.npy", Labels{1, 2});
  message = load_error<InvalidArgument>(dir);
  EXPECT_TRUE(contains(message, (dir / "y_test.npy").string() + " is present but " +
                                    (dir / "X_test.npy").string() + " is missing"));
}

TEST(FeatureSetErrors, TestWidthMismatchNamesBothFiles) {
  // Invariant: cols(X_test) == cols(X_train), else both files and widths are named.
  TempDir tmp;
  const auto dir = write_train(tmp);
  write_npy(dir / "X_test.npy", samples(2, 4));
  write_npy(dir / "y_test.npy", Labels{1, 2});
  const std::string message = load_error<InvalidArgument>(dir);
  EXPECT_TRUE(contains(message, (dir / "X_test.npy").string() + " has 4 columns"));
  EXPECT_TRUE(contains(message, (dir / "X_train.npy").string() + " has 3"));
}

TEST(FeatureSetErrors, TestLengthMismatchNamesBothFiles) {
  // Invariant: len(y_test) == rows(X_test), else both files and lengths are named.
  TempDir tmp;
  const auto dir = write_train(tmp);
  write_npy(dir / "X_test.npy", samples(2, 3));
  write_npy(dir / "y_test.npy", Labels{1, 2, 1});
  const std::string message = load_error<InvalidArgument>(dir);
  EXPECT_TRUE(contains(message, (dir / "X_test.npy").string() + " has 2 rows"));
  EXPECT_TRUE(contains(message, (dir / "y_test.npy").string() + " has 3 labels"));
}

TEST(FeatureSetErrors, TestClassAbsentFromTrainIsRefused) {
  // Invariant: every class of y_test occurs in y_train; the missing class is named (with its
  // classes.json name) together with both files.
  TempDir tmp;
  const auto dir = write_train(tmp);
  write_npy(dir / "X_test.npy", samples(3, 3));
  write_npy(dir / "y_test.npy", Labels{1, 2, 9});
  write_text(dir / "classes.json", R"({"9": "zebra"})");
  const std::string message = load_error<InvalidArgument>(dir);
  EXPECT_TRUE(contains(message, (dir / "y_test.npy").string()));
  EXPECT_TRUE(contains(message, "class zebra (label 9, at index 2)"));
  EXPECT_TRUE(contains(message, (dir / "y_train.npy").string()));
}

TEST(FeatureSetErrors, DuplicateIdsAreNamedWithValue) {
  // Invariant: ids must be unique; a duplicate is named with its value and both positions.
  TempDir tmp;
  const auto dir = write_train(tmp);
  write_npy(dir / "ids.npy", std::vector<std::int64_t>{10, 42, 11, 12, 42, 13});
  const std::string message = load_error<InvalidArgument>(dir);
  EXPECT_TRUE(contains(message, (dir / "ids.npy").string()));
  EXPECT_TRUE(contains(message, "id 42 occurs more than once (at indices 1 and 4)"));
}

TEST(FeatureSetErrors, IdsLengthMismatchAndNonIntegerIdsAreRefused) {
  // Invariant: ids.npy has one integer id per training sample.
  TempDir tmp;
  const auto dir = write_train(tmp);
  write_npy(dir / "ids.npy", std::vector<std::int64_t>{1, 2, 3});
  std::string message = load_error<InvalidArgument>(dir);
  EXPECT_TRUE(contains(message, (dir / "ids.npy").string() + " has 3 ids"));
  EXPECT_TRUE(contains(message, (dir / "X_train.npy").string() + " has 6 rows"));
  const float ids[] = {0, 1, 2, 3.5f, 4, 5};
  write_npy(dir / "ids.npy", DType::kFloat32, std::vector<std::int64_t>{6}, ids);
  message = load_error<InvalidArgument>(dir);
  EXPECT_TRUE(contains(message, (dir / "ids.npy").string()));
  EXPECT_TRUE(contains(message, "id at index 3 is 3.5"));
}

TEST(FeatureSetErrors, ClassesJsonParseErrorIsFormatErrorWithPosition) {
  // Invariant: unparsable classes.json is a FormatError naming the file, the byte position and
  // nlohmann's explanation.
  TempDir tmp;
  const auto dir = write_train(tmp);
  write_text(dir / "classes.json", R"({"1": "cat",})");
  const std::string message = load_error<FormatError>(dir);
  EXPECT_TRUE(contains(message, (dir / "classes.json").string()));
  EXPECT_TRUE(contains(message, "at byte 13"));
  EXPECT_TRUE(contains(message, "parse error"));
}

TEST(FeatureSetErrors, ClassesJsonWithBadKeysOrValuesIsRefused) {
  // Invariant: classes.json is an object from integer-label strings to string names; anything
  // else is a FormatError naming the file and the offending key or value.
  TempDir tmp;
  const auto dir = write_train(tmp);
  const struct {
    std::string json;
    std::string expected;
  } cases[] = {
      {R"({"cat": "dog"})", "key \"cat\" is not an integer label"},
      {R"({"1.5": "dog"})", "key \"1.5\" is not an integer label"},
      {R"({" 1": "dog"})", "key \" 1\" is not an integer label"},
      {R"({"1": 3})", "the name of class \"1\" is 3, not a string"},
      {R"({"1": "a", "01": "b"})", "keys \"01\" and \"1\" both denote label 1"},
      {R"(["cat", "dog"])", "got a JSON array"},
  };
  for (const auto& c : cases) {
    write_text(dir / "classes.json", c.json);
    const std::string message = load_error<FormatError>(dir);
    EXPECT_TRUE(contains(message, (dir / "classes.json").string())) << c.json;
    EXPECT_TRUE(contains(message, c.expected)) << c.json;
  }
}

}  // namespace
}  // namespace coreclean::io
