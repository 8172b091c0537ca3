// Output folders: a command writes only into a new, an empty or its own marked folder, and only
// ever overwrites or removes the entries the marker lists.
#include <coreclean/core/error.h>
#include <coreclean/io/output_folder.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "testing/helpers.h"

namespace coreclean::io {
namespace {

namespace fs = std::filesystem;
using testing::contains;
using testing::error_of;
using testing::read_text;
using testing::TempDir;
using testing::write_text;

constexpr const char* kWhatToDo = "choose a new folder, or an empty one";

TEST(OutputFolder, NewFolderIsCreatedWithParentsAndMarked) {
  // A folder that does not exist is created and carries the marker naming the command.
  TempDir tmp;
  const fs::path dir = tmp / "a" / "b" / "out";
  const OutputFolder folder = OutputFolder::claim(dir, "demo", {});
  EXPECT_TRUE(fs::is_directory(dir));
  const std::string marker = read_text(dir / std::string(kOutputMarker));
  EXPECT_TRUE(contains(marker, "coreclean demo"));
  EXPECT_TRUE(folder.entries().empty());
  EXPECT_EQ(folder.command(), "demo");
}

TEST(OutputFolder, EmptyFolderIsMarked) {
  // An existing empty folder is accepted and marked.
  TempDir tmp;
  fs::create_directory(tmp / "out");
  OutputFolder::claim(tmp / "out", "make-demo", {});
  EXPECT_TRUE(fs::exists(tmp / "out" / std::string(kOutputMarker)));
}

TEST(OutputFolder, EntriesAreListedOnePerLineAndKeptAcrossClaims) {
  // entry() lists a name once; a later claim of the same folder by the same command sees it.
  TempDir tmp;
  OutputFolder folder = OutputFolder::claim(tmp / "out", "demo", {});
  EXPECT_EQ(folder.entry("data"), tmp / "out" / "data");
  folder.entry("summary.json");
  folder.entry("data");
  const std::string marker = read_text(tmp / "out" / std::string(kOutputMarker));
  EXPECT_TRUE(contains(marker, "\ndata\nsummary.json\n"));
  const OutputFolder again = OutputFolder::claim(tmp / "out", "demo", {});
  EXPECT_EQ(again.entries(), (std::vector<std::string>{"data", "summary.json"}));
}

TEST(OutputFolder, EntryIsListedBeforeItIsWritten) {
  // Crash safety: the marker on disk lists an entry as soon as entry() returns, before any write.
  TempDir tmp;
  OutputFolder folder = OutputFolder::claim(tmp / "out", "embed", {});
  const fs::path path = folder.entry(".partial");
  EXPECT_FALSE(fs::exists(path));
  const OutputFolder after_crash = OutputFolder::claim(tmp / "out", "embed", {});
  EXPECT_EQ(after_crash.entries(), (std::vector<std::string>{".partial"}));
}

TEST(OutputFolder, UserFileInMarkedFolderSurvivesAndIsNeverClaimed) {
  // A file the marker does not list is the user's: remove_own keeps it, entry() refuses it.
  TempDir tmp;
  OutputFolder folder = OutputFolder::claim(tmp / "out", "demo", {});
  write_text(folder.entry("summary.json"), "ours");
  fs::create_directories(folder.entry("data") / "images");
  write_text(tmp / "out" / "data" / "images" / "1.jpg", "ours");
  write_text(tmp / "out" / "important.txt", "user's");

  OutputFolder again = OutputFolder::claim(tmp / "out", "demo", {});
  const std::string message = error_of<InvalidArgument>([&] { again.entry("important.txt"); });
  EXPECT_TRUE(contains(message, "important.txt"));
  EXPECT_TRUE(contains(message, "never overwritten"));
  again.remove_own();
  EXPECT_EQ(read_text(tmp / "out" / "important.txt"), "user's");
  EXPECT_FALSE(fs::exists(tmp / "out" / "summary.json"));
  EXPECT_FALSE(fs::exists(tmp / "out" / "data"));
  EXPECT_TRUE(again.entries().empty());
  EXPECT_TRUE(OutputFolder::claim(tmp / "out", "demo", {}).entries().empty());
}

TEST(OutputFolder, RemoveOwnRemovesALinkNotItsTarget) {
  // A listed entry that became a symbolic link is unlinked; what it points to stays.
  TempDir tmp;
  fs::create_directory(tmp / "elsewhere");
  write_text(tmp / "elsewhere" / "keep.txt", "user's");
  OutputFolder folder = OutputFolder::claim(tmp / "out", "demo", {});
  fs::create_directory_symlink(tmp / "elsewhere", folder.entry("data"));
  folder.remove_own();
  EXPECT_FALSE(fs::exists(fs::symlink_status(tmp / "out" / "data")));
  EXPECT_EQ(read_text(tmp / "elsewhere" / "keep.txt"), "user's");
}

TEST(OutputFolder, RefusesFolderThatIsNotEmptyAndUnmarked) {
  // An unrelated file makes a folder unusable; the file is left as it was.
  TempDir tmp;
  fs::create_directory(tmp / "mydir");
  write_text(tmp / "mydir" / "important.txt", "user's");
  const std::string message =
      error_of<InvalidArgument>([&] { OutputFolder::claim(tmp / "mydir", "demo", {}); });
  EXPECT_TRUE(contains(message, kWhatToDo));
  EXPECT_TRUE(contains(message, "not empty"));
  EXPECT_EQ(read_text(tmp / "mydir" / "important.txt"), "user's");
  EXPECT_FALSE(fs::exists(tmp / "mydir" / std::string(kOutputMarker)));
}

TEST(OutputFolder, RefusesAnExistingFile) {
  // A path that is a file is never replaced by a folder.
  TempDir tmp;
  write_text(tmp / "file", "user's");
  const std::string message =
      error_of<InvalidArgument>([&] { OutputFolder::claim(tmp / "file", "demo", {}); });
  EXPECT_TRUE(contains(message, "existing file"));
  EXPECT_EQ(read_text(tmp / "file"), "user's");
}

TEST(OutputFolder, RefusesTheCurrentFolderHoweverSpelled) {
  // ".", "./", an absolute spelling and "sub/.." all name the working folder (even when empty).
  TempDir tmp;
  fs::create_directory(tmp / "sub");
  const testing::ScopedCurrentPath cd(tmp.path());
  for (const fs::path& spelling : {fs::path("."), fs::path("./"), tmp.path(), fs::path("sub/..")}) {
    const std::string message =
        error_of<InvalidArgument>([&] { OutputFolder::claim(spelling, "demo", {}); });
    EXPECT_TRUE(contains(message, "current folder")) << spelling;
    EXPECT_TRUE(contains(message, kWhatToDo)) << spelling;
  }
  EXPECT_FALSE(fs::exists(tmp / std::string(kOutputMarker)));
}

TEST(OutputFolder, RefusesAFolderHoldingTheCurrentFolder) {
  // Removing the folder's entries could remove the folder the user is working in.
  TempDir tmp;
  fs::create_directory(tmp / "out");
  fs::create_directory(tmp / "out" / "inner");
  const testing::ScopedCurrentPath cd(tmp / "out" / "inner");
  EXPECT_TRUE(contains(error_of<InvalidArgument>([&] { OutputFolder::claim("..", "demo", {}); }),
                       "holds the current folder"));
}

TEST(OutputFolder, RefusesTheRoot) {
  // "/" is never an output folder.
  EXPECT_TRUE(
      contains(error_of<InvalidArgument>([] { OutputFolder::claim("/", "demo", {}); }), "root"));
  EXPECT_TRUE(contains(error_of<InvalidArgument>([] { OutputFolder::claim("/..//", "demo", {}); }),
                       "root"));
}

TEST(OutputFolder, RefusesTheHomeFolderEvenWhenEmpty) {
  // $HOME is refused by name, not only because it usually holds files.
  TempDir tmp;
  fs::create_directory(tmp / "home");
  const testing::ScopedEnv home("HOME", (tmp / "home").string());
  const std::string message =
      error_of<InvalidArgument>([&] { OutputFolder::claim(tmp / "home" / ".", "demo", {}); });
  EXPECT_TRUE(contains(message, "home folder"));
  EXPECT_FALSE(fs::exists(tmp / "home" / std::string(kOutputMarker)));
  OutputFolder::claim(tmp / "home" / "out", "demo", {});  // a folder inside it is fine
}

TEST(OutputFolder, RefusesAFolderHoldingAnInput) {
  // The output folder may not be, or contain, anything the command reads.
  TempDir tmp;
  fs::create_directories(tmp / "data" / "images");
  write_text(tmp / "data" / "annotations.json", "{}");
  const std::vector<fs::path> inputs = {tmp / "data" / "annotations.json", tmp / "data" / "images"};
  for (const fs::path& out :
       {tmp / "data", tmp / "data" / "images", tmp.path() / "data" / "images" / ".." / ""}) {
    const std::string message =
        error_of<InvalidArgument>([&] { OutputFolder::claim(out, "embed", inputs); });
    EXPECT_TRUE(contains(message, "holds the input")) << out;
  }
  OutputFolder::claim(tmp / "data" / "features", "embed", inputs);  // beside them is fine
  EXPECT_TRUE(fs::exists(tmp / "data" / "features" / std::string(kOutputMarker)));
}

TEST(OutputFolder, RefusesTheFolderOfAnotherCommand) {
  // One command does not remove what another wrote.
  TempDir tmp;
  OutputFolder::claim(tmp / "out", "make-demo", {}).entry("images");
  const std::string message =
      error_of<InvalidArgument>([&] { OutputFolder::claim(tmp / "out", "demo", {}); });
  EXPECT_TRUE(contains(message, "coreclean make-demo"));
}

TEST(OutputFolder, RefusesNamesThatAreNotPlain) {
  // Entries are top-level names: no separators, no "." or "..", not the marker itself.
  TempDir tmp;
  OutputFolder folder = OutputFolder::claim(tmp / "out", "demo", {});
  for (const char* name : {"", ".", "..", "a/b", "../x", ".coreclean-output", "a\nb"}) {
    error_of<InvalidArgument>([&] { folder.entry(name); });
  }
  EXPECT_TRUE(folder.entries().empty());
}

TEST(OutputFolder, ForeignOrTamperedMarkerIsAFormatError) {
  // A marker must be ours; a listed entry outside the folder is never trusted.
  TempDir tmp;
  fs::create_directory(tmp / "a");
  write_text(tmp / "a" / std::string(kOutputMarker), "hello\n");
  error_of<FormatError>([&] { OutputFolder::claim(tmp / "a", "demo", {}); });
  OutputFolder::claim(tmp / "b", "demo", {});
  const std::string marker = read_text(tmp / "b" / std::string(kOutputMarker));
  write_text(tmp / "b" / std::string(kOutputMarker), marker + "../a\n");
  error_of<FormatError>([&] { OutputFolder::claim(tmp / "b", "demo", {}); });
}

}  // namespace
}  // namespace coreclean::io
