// `coreclean pick` end to end: in-process through run_pick, and as a process for exit codes.
#include "pick.h"

#include <coreclean/io/feature_set.h>
#include <coreclean/io/npy.h>

#include "testing/helpers.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <random>
#include <sstream>

namespace coreclean::cli {
namespace {

// A features directory where "cat" (label 3) absorbs a third of the "dog" (label 8) samples.
void write_features(const std::filesystem::path& dir, bool with_test) {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> u;
  auto make = [&](int n, RowMatrixXf& x, Labels& y) {
    x.resize(n, 5);
    y.resize(n);
    for (int i = 0; i < n; ++i) {
      const int c = i % 3;  // 0 = dog (8), 1 = cat (3), 2 = bird (5)
      const int drawn = (c == 0 && u(rng) < 0.33) ? 1 : c;
      for (int j = 0; j < 5; ++j) x(i, j) = static_cast<float>(normal(rng) + (j == drawn ? 4 : 0));
      y[i] = c == 0 ? 8 : (c == 1 ? 3 : 5);
    }
  };
  io::FeatureSet fs;
  RowMatrixXf x;
  make(600, x, fs.y_train);
  fs.x_train = io::SampleMatrix(x);
  if (with_test) {
    RowMatrixXf xt;
    make(300, xt, fs.y_test);
    fs.x_test = io::SampleMatrix(xt);
  }
  fs.ids.resize(600);
  for (int i = 0; i < 600; ++i) fs.ids[i] = 1000 + i;
  fs.class_names = {{3, "cat"}, {5, "bird"}, {8, "dog"}};
  io::save_feature_set(dir, fs);
}

// The JSON output names the class of interest, the confused class, counts and the split used.
TEST(CliPick, JsonNamesClassesAndCounts) {
  testing::TempDir dir;
  write_features(dir.path(), true);
  PickOptions o;
  o.features = dir.path();
  o.pca = 3;
  o.json = true;
  std::ostringstream out;
  ASSERT_EQ(run_pick(o, Context(), out), 0);
  const auto j = nlohmann::json::parse(out.str());
  EXPECT_EQ(j["class_of_interest"]["name"], "cat");
  EXPECT_EQ(j["class_of_interest"]["id"], 3);
  EXPECT_EQ(j["class_of_interest"]["count"], 200);
  EXPECT_EQ(j["confused_with"]["name"], "dog");
  EXPECT_EQ(j["evaluated_on"], "test");
  EXPECT_EQ(j["pca_components"], 3);
  EXPECT_GT(j["confusion"].get<double>(), 0.2);
}

// The text output says the same in sentences; out-of-fold without a test split.
TEST(CliPick, TextOutputWithoutTestSplit) {
  testing::TempDir dir;
  write_features(dir.path(), false);
  PickOptions o;
  o.features = dir.path();
  std::ostringstream out;
  ASSERT_EQ(run_pick(o, Context(), out), 0);
  EXPECT_NE(out.str().find("class of interest: cat (200 samples)"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("confused with:     dog"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("out-of-fold"), std::string::npos) << out.str();
}

// Bad input gives exit code 2 and a message naming the file and the value.
TEST(CliPick, BadInputExitsWithCodeTwo) {
  testing::TempDir dir;
  write_features(dir.path(), false);
  const std::string exe = testing::shell_quote(CORECLEAN_CLI_PATH);
  const std::string d = testing::shell_quote(dir.path().string());
  // classes.json that does not parse.
  std::ofstream(dir / "classes.json") << "{\"3\": \"cat\",";
  auto r = testing::run_command(exe + " pick --features " + d);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("classes.json"), std::string::npos) << r.output;
  std::filesystem::remove(dir / "classes.json");
  // NaN in the features.
  RowMatrixXf x = RowMatrixXf::Ones(600, 5);
  x(17, 2) = std::numeric_limits<float>::quiet_NaN();
  io::write_npy(dir / "X_train.npy", x);
  r = testing::run_command(exe + " pick --features " + d);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("X_train.npy"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("17"), std::string::npos) << r.output;
  // Missing directory and a usage error.
  r = testing::run_command(exe + " pick --features /nonexistent/coreclean");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("/nonexistent/coreclean"), std::string::npos) << r.output;
  r = testing::run_command(exe + " pick");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  // Help succeeds and explains the layout.
  r = testing::run_command(exe + " pick --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("X_train.npy"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace coreclean::cli
