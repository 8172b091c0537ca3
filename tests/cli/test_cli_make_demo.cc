// `coreclean make-demo`: in-process, through CLI11's parser, and as a process for exit codes.
#include <coreclean/core/error.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_common.h"
#include "make_demo.h"
#include "testing/helpers.h"

namespace coreclean::cli {
namespace {

bool have_fashion() {
  return std::filesystem::exists(std::filesystem::path(std::string(detect::kFashionMnistDir)) /
                                 "t10k-images-idx3-ubyte.gz");
}

#define REQUIRE_FASHION()                                                                       \
  do {                                                                                          \
    if (!have_fashion())                                                                        \
      GTEST_SKIP() << "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"; \
  } while (false)

// A small run writes the images, annotations.json and truth.json, and prints counts and paths.
TEST(CliMakeDemo, WritesDatasetAndSummary) {
  REQUIRE_FASHION();
  testing::TempDir dir;
  MakeDemoOptions o;
  o.out = dir / "demo";
  o.images = 10;
  o.seed = 3;
  std::ostringstream out;
  ASSERT_EQ(run_make_demo(o, Context(), out), kExitOk);
  for (const char* name :
       {"annotations.json", "truth.json", "images/000001.jpg", "images/000010.jpg"}) {
    EXPECT_TRUE(std::filesystem::is_regular_file(o.out / name)) << name;
  }
  EXPECT_FALSE(std::filesystem::exists(o.out / "images" / "000011.jpg"));
  const auto coco = nlohmann::json::parse(testing::read_text(o.out / "annotations.json"));
  const auto truth = nlohmann::json::parse(testing::read_text(o.out / "truth.json"));
  EXPECT_EQ(coco["images"].size(), 10u);
  EXPECT_EQ(coco["categories"].size(), 10u);
  EXPECT_EQ(truth["summary"]["annotations"], coco["annotations"].size());
  EXPECT_EQ(truth["info"]["seed"], 3);
  const std::string text = out.str();
  EXPECT_TRUE(testing::contains(
      text, "10 scenes, " + std::to_string(coco["annotations"].size()) + " boxes"));
  EXPECT_TRUE(testing::contains(text, "seed 3"));
  EXPECT_TRUE(testing::contains(text, "flip"));
  EXPECT_TRUE(testing::contains(text, "duplicate"));
  EXPECT_TRUE(testing::contains(text, (o.out / "annotations.json").string()));
  EXPECT_TRUE(testing::contains(text, (o.out / "truth.json").string()));
}

// A folder without Fashion-MNIST is bad input (exit 2) with a message naming the path and the
// package that provides the data.
TEST(CliMakeDemo, MissingFashionDirExitsTwo) {
  testing::TempDir dir;
  MakeDemoOptions o;
  o.out = dir / "demo";
  o.fashion_dir = dir / "no-such-folder";
  std::ostringstream out, err;
  EXPECT_EQ(run_guarded([&] { return run_make_demo(o, Context(), out); }, err), kExitBadInput);
  EXPECT_TRUE(testing::contains(err.str(), (dir / "no-such-folder").string()));
  EXPECT_TRUE(testing::contains(err.str(), "apt-get install dataset-fashion-mnist"));
  EXPECT_FALSE(std::filesystem::exists(o.out / "annotations.json"));
}

// The subcommand's options bind to MakeDemoOptions; --seed is optional and overrides the
// global seed only when given.
TEST(CliMakeDemo, ParsesOptions) {
  CLI::App app;
  MakeDemoOptions o;
  add_make_demo_command(app, o);
  app.parse("make-demo --out /tmp/x --images 25 --seed 7 --error-rate 0.2 --split train", false);
  EXPECT_EQ(o.out, "/tmp/x");
  EXPECT_EQ(o.images, 25);
  ASSERT_TRUE(o.seed.has_value());
  EXPECT_EQ(*o.seed, 7u);
  EXPECT_DOUBLE_EQ(o.error_rate, 0.2);
  EXPECT_EQ(o.split, "train");
  EXPECT_EQ(o.fashion_dir, std::string(detect::kFashionMnistDir));

  CLI::App bare;
  MakeDemoOptions defaults;
  add_make_demo_command(bare, defaults);
  bare.parse("make-demo --out /tmp/y", false);
  EXPECT_FALSE(defaults.seed.has_value());
  EXPECT_EQ(defaults.images, 400);
  EXPECT_DOUBLE_EQ(defaults.error_rate, 0.1);
  MakeDemoOptions rejected;
  CLI::App strict;
  add_make_demo_command(strict, rejected);
  EXPECT_THROW(strict.parse("make-demo --out /tmp/z --error-rate 0.9", false),
               CLI::ValidationError);
}

// As a process: the global --seed and the subcommand's --seed give the same files, and a
// missing dataset folder exits with 2.
TEST(CliMakeDemo, ProcessExitCodes) {
  REQUIRE_FASHION();
  testing::TempDir dir;
  const std::string exe = testing::shell_quote(CORECLEAN_CLI_PATH);
  const std::string a = testing::shell_quote((dir / "a").string());
  const std::string b = testing::shell_quote((dir / "b").string());
  auto r = testing::run_command(exe + " make-demo --out " + a + " --images 4 --seed 9");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = testing::run_command(exe + " --seed 9 make-demo --out " + b + " --images 4");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(testing::read_text(dir / "a" / "annotations.json"),
            testing::read_text(dir / "b" / "annotations.json"));
  r = testing::run_command(exe + " make-demo --out " + a + " --fashion-dir " +
                           testing::shell_quote((dir / "missing").string()));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(testing::contains(r.output, "apt-get install dataset-fashion-mnist"));
}

}  // namespace
}  // namespace coreclean::cli
