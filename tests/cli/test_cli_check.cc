// `coreclean check`: in-process for the output, as a process for exit codes and --help.
#include <coreclean/core/error.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include <coreclean/io/feature_set.h>
#include <coreclean/io/npy.h>

#include <map>
#include <random>

#include "check.h"
#include "testing/helpers.h"

namespace coreclean::cli {
namespace {

namespace fs = std::filesystem;

fs::path fixture(const std::string& name) {
  return fs::path(CORECLEAN_TEST_DATA_DIR) / "coco" / name;
}

std::string cli() { return testing::shell_quote(CORECLEAN_CLI_PATH); }

// --json on BCCD prints one array: the two one-pixel boxes and the seven duplicate pairs, each
// with annotation_id, image_id, check and detail, and other_annotation_id for duplicates only.
TEST(CliCheck, JsonOnBccd) {
  CORECLEAN_REQUIRE_SHARED_DATA();
  CheckOptions options;
  options.coco = testing::shared_data_dir() / "bccd" / "instances.json";
  options.images = testing::shared_data_dir() / "bccd" / "images";
  options.json = true;
  std::ostringstream out;
  ASSERT_EQ(run_check(options, Context(), out), 0);
  const nlohmann::json j = nlohmann::json::parse(out.str());
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 9u);
  int degenerate = 0, duplicate = 0;
  for (const auto& f : j) {
    const std::string check = f.at("check");
    EXPECT_TRUE(f.at("annotation_id").is_number_integer());
    EXPECT_TRUE(f.at("image_id").is_number_integer());
    EXPECT_TRUE(f.at("detail").is_string());
    if (check == "degenerate") {
      ++degenerate;
      EXPECT_FALSE(f.contains("other_annotation_id"));
      EXPECT_TRUE(f["annotation_id"] == 3951 || f["annotation_id"] == 4005) << f.dump();
    } else {
      ASSERT_EQ(check, "duplicate");
      ++duplicate;
      EXPECT_EQ(f.at("other_annotation_id").get<int>() + 1, f["annotation_id"].get<int>());
    }
  }
  EXPECT_EQ(degenerate, 2);
  EXPECT_EQ(duplicate, 7);
  EXPECT_EQ(j[0], (nlohmann::json{{"annotation_id", 372},
                                  {"image_id", 21},
                                  {"check", "duplicate"},
                                  {"detail",
                                   "IoU 0.929 with annotation 371 (same class 1 'RBC'; "
                                   "bbox [141, 363, 108, 108] and [143, 365, 108, 108])"},
                                  {"other_annotation_id", 371}}));
}

// The text output starts with the counts per check, then one line per finding.
TEST(CliCheck, TextSummaryAndTable) {
  CheckOptions options;
  options.coco = fixture("checks.json");
  std::ostringstream out;
  ASSERT_EQ(run_check(options, Context(), out), 0);
  const std::string text = out.str();
  EXPECT_TRUE(testing::contains(text, "17 annotations on 3 images, 2 categories\n"));
  EXPECT_TRUE(testing::contains(text, "17 findings on 15 annotations\n"));
  EXPECT_TRUE(testing::contains(text, "degenerate                5\n"));
  EXPECT_TRUE(testing::contains(text, "tiny                      2\n"));
  EXPECT_TRUE(testing::contains(text, "outside                   3\n"));
  EXPECT_TRUE(testing::contains(text, "aspect                    2\n"));
  EXPECT_TRUE(testing::contains(text, "duplicate                 3\n"));
  EXPECT_TRUE(testing::contains(text, "missing_image             1\n"));
  EXPECT_TRUE(testing::contains(text, "unknown_category          1\n"));
  EXPECT_TRUE(testing::contains(
      text,
      "           9           1  aspect            aspect ratio 20 is above 10 (100 x 5 px)\n"));
  // Thresholds from the options.
  options.min_side = 0;
  options.max_aspect = 50;
  options.json = true;
  std::ostringstream json;
  ASSERT_EQ(run_check(options, Context(), json), 0);
  for (const auto& f : nlohmann::json::parse(json.str())) {
    EXPECT_NE(f["check"], "tiny");
    EXPECT_NE(f["check"], "aspect");
  }
}

// Malformed input exits with 2 and a message naming the file, line and column; a missing field
// names the entry and field; a missing file names the path. A file with findings exits with 0.
TEST(CliCheck, ExitCodes) {
  const fs::path bad = fixture("syntax_error.json");
  auto r = testing::run_command(cli() + " check --coco " + testing::shell_quote(bad.string()));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(testing::contains(r.output, bad.string() + ": invalid JSON at line 7, column 5"));

  r = testing::run_command(cli() + " check --json --coco " +
                           testing::shell_quote(fixture("missing_bbox.json").string()));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(
      testing::contains(r.output, "annotations[1] (id 2): the required field 'bbox' is missing"));

  r = testing::run_command(cli() + " check --coco /nonexistent/file.json");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(testing::contains(r.output, "/nonexistent/file.json"));

  r = testing::run_command(cli() + " check --coco " +
                           testing::shell_quote(fixture("checks.json").string()) +
                           " --images /nonexistent/images");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(testing::contains(r.output, "--images: /nonexistent/images is not a directory"));

  r = testing::run_command(cli() + " check --coco " +
                           testing::shell_quote(fixture("checks.json").string()) + " --iou 1.5");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(testing::contains(r.output, "--iou must be in (0, 1], got 1.5"));

  r = testing::run_command(cli() + " check --json --coco " +
                           testing::shell_quote(fixture("checks.json").string()));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(r.output).size(), 17u);
}

// Untrusted COCO files: 100,000 nested brackets (which used to overflow the stack) and a
// file_name holding a NUL exit with 2 and a message naming the file, the place and the value.
TEST(CliCheck, HostileCocoFilesExitWith2) {
  testing::TempDir dir;
  const std::string tail = R"(, "images": [], "annotations": [], "categories": []})";
  testing::write_text(dir / "deep.json",
                      "{\"info\": " + std::string(100000, '[') + std::string(100000, ']') + tail);
  auto r = testing::run_command(cli() + " check --coco " +
                                testing::shell_quote((dir / "deep.json").string()));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(testing::contains(r.output, (dir / "deep.json").string() +
                                              ": arrays and objects are nested deeper than 512 "
                                              "levels"));
  EXPECT_TRUE(testing::contains(r.output, "byte offset 520"));

  testing::write_text(dir / "nul.json",
                      R"({"images": [{"id": 3, "file_name": "000001.jpg\u0000.txt"}],)"
                      R"( "annotations": [], "categories": []})");
  r = testing::run_command(cli() + " check --coco " +
                           testing::shell_quote((dir / "nul.json").string()));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(testing::contains(r.output, (dir / "nul.json").string() +
                                              ": images[0] (id 3): field 'file_name' holds a NUL "
                                              "character"));
}

// A features directory of 200 boxes in 40 dimensions (20 clusters, labels 0/1/2 by cluster) with
// planted copies: 120 ← 7 (another image, another label), 121 ← 8 (another image, same label),
// 122 ← 9 (the same image as 9: not reported), and test row 0 ← train row 10 (same label).
// Ids 1000 + row, test ids 5000 + row; image of train row i: i / 2.
void write_planted_features(const fs::path& dir) {
  std::mt19937_64 rng(17);
  std::normal_distribution<double> g(0.0, 1.0);
  RowMatrixXf centres(20, 40);
  for (Eigen::Index i = 0; i < centres.size(); ++i) centres.data()[i] = static_cast<float>(3.0 * g(rng));
  io::FeatureSet fs;
  RowMatrixXf x(200, 40), xt(10, 40);
  Labels y(200), yt(10);
  for (int i = 0; i < 200; ++i) {
    for (int c = 0; c < 40; ++c) x(i, c) = centres(i % 20, c) + static_cast<float>(g(rng));
    y[i] = (i % 20) % 3;
  }
  for (int i = 0; i < 10; ++i) {
    for (int c = 0; c < 40; ++c) xt(i, c) = centres(i % 20, c) + static_cast<float>(g(rng));
    yt[i] = (i % 20) % 3;
  }
  auto copy = [&](RowMatrixXf& to, int row, int from) {
    for (int c = 0; c < 40; ++c) to(row, c) = x(from, c) * (1.0f + 0.001f * static_cast<float>(g(rng)));
  };
  copy(x, 120, 7);
  y[120] = (y[7] + 1) % 3;
  copy(x, 121, 8);
  y[121] = y[8];
  copy(x, 122, 9);
  y[122] = (y[9] + 1) % 3;
  copy(xt, 0, 10);
  yt[0] = y[10];
  fs.x_train = io::SampleMatrix(x);
  fs.y_train = y;
  fs.x_test = io::SampleMatrix(xt);
  fs.y_test = yt;
  for (int i = 0; i < 200; ++i) fs.ids.push_back(1000 + i);
  fs.class_names = {{0, "cat"}, {1, "dog"}, {2, "owl"}};
  io::save_feature_set(dir, fs);
  std::vector<std::int64_t> test_ids;
  for (int i = 0; i < 10; ++i) test_ids.push_back(5000 + i);
  io::write_npy(dir / "ids_test.npy", test_ids);
  // boxes.npy: image_id, x, y, w, h per training row; row 122 sits in row 9's image.
  std::vector<double> boxes;
  for (int i = 0; i < 200; ++i)
    for (double v : {static_cast<double>(i == 122 ? 9 / 2 : i / 2), 0.0, 0.0, 10.0, 10.0}) boxes.push_back(v);
  const std::int64_t shape[] = {200, 5};
  io::write_npy(dir / "boxes.npy", io::DType::kFloat64, shape, boxes.data());
}

// check --features: the planted pairs of different images, and nothing else, as
// conflicting_labels or leakage on the later box, naming the earlier one; a copy within one
// image is left to the box checks; --min-cosine replaces the relative threshold; bad values and
// no input at all exit with 2.
TEST(CliCheck, NearDuplicateEmbeddings) {
  testing::TempDir dir;
  const fs::path features = dir / "features";
  write_planted_features(features);
  CheckOptions options;
  options.features = features;
  options.json = true;
  std::ostringstream out;
  ASSERT_EQ(run_check(options, Context(), out), 0);
  const nlohmann::json j = nlohmann::json::parse(out.str());
  ASSERT_EQ(j.size(), 3u) << j.dump(1);
  std::map<std::int64_t, nlohmann::json> by_id;
  for (const auto& f : j) by_id[f.at("annotation_id").get<std::int64_t>()] = f;
  ASSERT_TRUE(by_id.contains(1120) && by_id.contains(1121) && by_id.contains(5000)) << j.dump(1);
  EXPECT_EQ(by_id[1120].at("check"), "conflicting_labels");
  EXPECT_EQ(by_id[1120].at("other_annotation_id"), 1007);
  EXPECT_EQ(by_id[1120].at("image_id"), 60);
  EXPECT_GT(by_id[1120].at("cosine").get<double>(), 0.99);
  EXPECT_TRUE(testing::contains(by_id[1120].at("detail").get<std::string>(), "labelled dog and owl"))
      << by_id[1120].at("detail");
  EXPECT_EQ(by_id[1121].at("check"), "leakage");
  EXPECT_EQ(by_id[1121].at("other_annotation_id"), 1008);
  EXPECT_TRUE(testing::contains(by_id[1121].at("detail").get<std::string>(), "if the two land in different splits"));
  EXPECT_EQ(by_id[5000].at("check"), "leakage");
  EXPECT_EQ(by_id[5000].at("other_annotation_id"), 1010);
  EXPECT_TRUE(by_id[5000].at("image_id").is_null()) << "test rows' images are unknown";
  EXPECT_TRUE(testing::contains(by_id[5000].at("detail").get<std::string>(),
                                "leaks between the training and the test split"));

  // A fixed cosine low enough to take in whole clusters reports far more.
  options.min_cosine = 0.5;
  std::ostringstream loose;
  ASSERT_EQ(run_check(options, Context(), loose), 0);
  EXPECT_GT(nlohmann::json::parse(loose.str()).size(), 100u);

  // Text: the threshold used and a count per kind.
  options.min_cosine = 0.0;
  options.json = false;
  std::ostringstream text;
  ASSERT_EQ(run_check(options, Context(), text), 0);
  EXPECT_TRUE(testing::contains(text.str(), "(0.2 of the median distance to the nearest box)")) << text.str();
  EXPECT_TRUE(testing::contains(text.str(), "conflicting_labels        1\n")) << text.str();
  EXPECT_TRUE(testing::contains(text.str(), "leakage                   2\n")) << text.str();

  const std::string f = " --features " + testing::shell_quote(features.string());
  auto r = testing::run_command(cli() + " check" + f + " --share 0");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(testing::contains(r.output, "--share must be in (0, 1], got 0"));
  r = testing::run_command(cli() + " check");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(testing::contains(r.output, "give --coco (box checks), --features"));
  r = testing::run_command(cli() + " check --features " + testing::shell_quote((dir / "nope").string()));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(testing::contains(r.output, "nope is not a directory"));
}

// --help explains every check.
TEST(CliCheck, HelpExplainsEachCheck) {
  const auto r = testing::run_command(cli() + " check --help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const char* name :
       {"degenerate", "tiny", "outside", "aspect", "duplicate", "missing_image", "unknown_category",
        "--min-side", "--max-aspect", "--iou", "--images", "--json", "conflicting_labels",
        "leakage", "--features", "--share", "--min-cosine"}) {
    EXPECT_TRUE(testing::contains(r.output, name));
  }
}

}  // namespace
}  // namespace coreclean::cli
