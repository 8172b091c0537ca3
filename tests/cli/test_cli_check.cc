// `coreclean check`: in-process for the output, as a process for exit codes and --help.
#include <coreclean/core/error.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

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

// --help explains every check.
TEST(CliCheck, HelpExplainsEachCheck) {
  const auto r = testing::run_command(cli() + " check --help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const char* name :
       {"degenerate", "tiny", "outside", "aspect", "duplicate", "missing_image", "unknown_category",
        "--min-side", "--max-aspect", "--iou", "--images", "--json"}) {
    EXPECT_TRUE(testing::contains(r.output, name));
  }
}

}  // namespace
}  // namespace coreclean::cli
