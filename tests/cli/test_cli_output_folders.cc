// Output folders of make-demo, embed and demo: `--out .` and a folder with an unrelated file exit
// with 2 and leave every byte as it was; a second run into the command's own folder works, and
// a user's file added there survives it.
#include <coreclean/io/output_folder.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <iostream>
#include <sstream>

#include "cli_common.h"
#include "demo.h"
#include "embed.h"
#include "make_demo.h"
#include "testing/helpers.h"

namespace coreclean::cli {
namespace {

namespace fs = std::filesystem;
using testing::contains;

constexpr const char* kUserText = "my notes\n\x01\x02 binary too\n";

// Runs a command in-process as main() would: the exit code, and what it printed as an error.
template <typename Run>
int exit_code_of(Run&& run, std::string* error = nullptr) {
  std::ostringstream err;
  const int code = run_guarded(std::forward<Run>(run), err);
  if (error) *error = err.str();
  return code;
}

// A folder holding one file of the user's; `check()` says whether it is exactly as it was.
struct UserFolder {
  fs::path dir;
  std::map<std::string, std::string> before;

  explicit UserFolder(fs::path d) : dir(std::move(d)) {
    fs::create_directories(dir);
    testing::write_text(dir / "important.txt", kUserText);
    before = testing::files_under(dir);
  }
  ::testing::AssertionResult unchanged() const {
    if (testing::files_under(dir) == before) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << dir << " changed";
  }
};

// `--out .` from inside a folder that holds a file of the user's, and `--out` that folder, both
// exit with 2 and leave the folder byte for byte as it was. `run(out)` runs the command.
void expect_refuses_current_and_foreign_folder(const std::function<int(const fs::path&)>& run) {
  testing::TempDir tmp;
  const UserFolder work(tmp / "work");
  std::string error;
  {
    const testing::ScopedCurrentPath cd(work.dir);
    EXPECT_EQ(exit_code_of([&] { return run("."); }, &error), kExitBadInput);
    EXPECT_TRUE(contains(error, "current folder"));
    EXPECT_TRUE(contains(error, "choose a new folder, or an empty one"));
  }
  EXPECT_TRUE(work.unchanged());
  EXPECT_EQ(exit_code_of([&] { return run(work.dir); }, &error), kExitBadInput);
  EXPECT_TRUE(contains(error, "not empty"));
  EXPECT_TRUE(work.unchanged());
}

MakeDemoOptions small_make_demo(const fs::path& out) {
  return {.out = out, .seed = 3, .images = 5};
}

TEST(CliOutputFolders, MakeDemoRefusesTheCurrentFolderAndAForeignOne) {
  CORECLEAN_REQUIRE_FASHION_MNIST("t10k");
  expect_refuses_current_and_foreign_folder([](const fs::path& out) {
    return run_make_demo(small_make_demo(out), Context(), std::cout);
  });
}

TEST(CliOutputFolders, MakeDemoRunsAgainInItsOwnFolderAndKeepsUserFiles) {
  CORECLEAN_REQUIRE_FASHION_MNIST("t10k");
  testing::TempDir tmp;
  std::ostringstream log;
  ASSERT_EQ(run_make_demo(small_make_demo(tmp / "data"), Context(), log), 0);
  const std::string annotations = testing::read_text(tmp / "data" / "annotations.json");
  testing::write_text(tmp / "data" / "important.txt", kUserText);
  ASSERT_EQ(run_make_demo(small_make_demo(tmp / "data"), Context(), log), 0);
  EXPECT_EQ(testing::read_text(tmp / "data" / "annotations.json"), annotations);
  EXPECT_EQ(testing::read_text(tmp / "data" / "important.txt"), kUserText);
  // A file of the user's under a name make-demo writes is never overwritten.
  testing::TempDir other;
  const io::OutputFolder folder = io::OutputFolder::claim(other / "data", "make-demo", {});
  testing::write_text(other / "data" / "truth.json", kUserText);
  EXPECT_EQ(
      exit_code_of([&] { return run_make_demo(small_make_demo(other / "data"), Context(), log); }),
      kExitBadInput);
  EXPECT_EQ(testing::read_text(other / "data" / "truth.json"), kUserText);
  EXPECT_FALSE(fs::exists(other / "data" / "annotations.json"));
}

// Five demo scenes to embed, in `dir`/data.
EmbedOptions small_embed(const fs::path& dir, const fs::path& out) {
  if (!fs::exists(dir / "data")) {
    std::ostringstream log;
    run_make_demo(small_make_demo(dir / "data"), Context(), log);
  }
  EmbedOptions o;
  o.coco = dir / "data" / "annotations.json";
  o.images = dir / "data" / "images";
  o.out = out;
  return o;
}

TEST(CliOutputFolders, EmbedRefusesTheCurrentFolderAForeignOneAndTheInputsFolder) {
  CORECLEAN_REQUIRE_FASHION_MNIST("t10k");
  testing::TempDir tmp;
  expect_refuses_current_and_foreign_folder([&](const fs::path& out) {
    return run_embed(small_embed(tmp.path(), out), Context(), std::cout);
  });
  // The folder holding the COCO file and the images is an input, however spelled.
  const auto data = testing::files_under(tmp / "data");
  std::string error;
  EXPECT_EQ(exit_code_of(
                [&] {
                  return run_embed(small_embed(tmp.path(), tmp / "work" / ".." / "data"), Context(),
                                   std::cout);
                },
                &error),
            kExitBadInput);
  EXPECT_TRUE(contains(error, "holds the input"));
  EXPECT_EQ(testing::files_under(tmp / "data"), data);
}

TEST(CliOutputFolders, EmbedRunsAgainInItsOwnFolderAndKeepsUserFiles) {
  CORECLEAN_REQUIRE_FASHION_MNIST("t10k");
  testing::TempDir tmp;
  const EmbedOptions o = small_embed(tmp.path(), tmp / "features");
  std::ostringstream log;
  ASSERT_EQ(run_embed(o, Context(), log), 0) << log.str();
  const std::string x = testing::read_text(tmp / "features" / "X_train.npy");
  testing::write_text(tmp / "features" / "important.txt", kUserText);
  ASSERT_EQ(run_embed(o, Context(), log), 0) << log.str();
  EXPECT_EQ(testing::read_text(tmp / "features" / "X_train.npy"), x);
  EXPECT_EQ(testing::read_text(tmp / "features" / "important.txt"), kUserText);
  EXPECT_FALSE(fs::exists(tmp / "features" / ".partial"));
}

DemoOptions small_demo(const fs::path& out) { return {.out = out, .images = 40, .iterations = 1}; }

TEST(CliOutputFolders, DemoRefusesTheCurrentFolderAndAForeignOne) {
  CORECLEAN_REQUIRE_FASHION_MNIST("train");
  expect_refuses_current_and_foreign_folder(
      [](const fs::path& out) { return run_demo(small_demo(out), Context(), std::cout); });
}

TEST(CliOutputFolders, DemoReplacesOnlyWhatItWrote) {
  // A folder as an earlier demo left it (marked, with its own files), plus files of the user's.
  // One demo run here keeps the test short; the marker is what a real run writes.
  CORECLEAN_REQUIRE_FASHION_MNIST("train");
  testing::TempDir tmp;
  {
    io::OutputFolder earlier = io::OutputFolder::claim(tmp / "demo", "demo", {});
    testing::write_text(earlier.entry("summary.json"), "old summary");
    fs::create_directories(earlier.entry("session") / "batches");
    testing::write_text(earlier.entry("session") / "stale.txt", "old");
  }
  testing::write_text(tmp / "demo" / "important.txt", kUserText);
  fs::create_directory(tmp / "demo" / "notes");
  testing::write_text(tmp / "demo" / "notes" / "a.txt", kUserText);
  std::ostringstream log;
  ASSERT_EQ(run_demo(small_demo(tmp / "demo"), Context(), log), 0) << log.str();
  EXPECT_EQ(testing::read_text(tmp / "demo" / "important.txt"), kUserText);
  EXPECT_EQ(testing::read_text(tmp / "demo" / "notes" / "a.txt"), kUserText);
  EXPECT_NE(testing::read_text(tmp / "demo" / "summary.json"), "old summary");
  EXPECT_FALSE(fs::exists(tmp / "demo" / "session" / "stale.txt"));
  EXPECT_TRUE(fs::exists(tmp / "demo" / "session" / "session.db"));
  // The run left its folder marked with what it wrote, so a next run may replace it again.
  const io::OutputFolder after = io::OutputFolder::claim(tmp / "demo", "demo", {});
  for (const char* name : {"data", "features", "session", "summary.json", "report.html"}) {
    EXPECT_NE(std::find(after.entries().begin(), after.entries().end(), name),
              after.entries().end())
        << name;
  }
  EXPECT_EQ(std::find(after.entries().begin(), after.entries().end(), "important.txt"),
            after.entries().end());
}

}  // namespace
}  // namespace coreclean::cli
