// Atomic text writes: the content lands whole, replaces an older file, leaves no temporary file,
// and a failure names the path.
#include <coreclean/core/error.h>
#include <coreclean/io/text_file.h>
#include <gtest/gtest.h>

#include <string>

#include "testing/helpers.h"

namespace coreclean::io {
namespace {

namespace fs = std::filesystem;

// Writing twice leaves exactly the second text (bytes as given, a NUL included) and no
// `.<name>.tmp-*` file beside it.
TEST(TextFile, WriteReplacesWholeAndLeavesNoTemporaryFile) {
  testing::TempDir dir;
  write_text_atomically(dir / "a.json", "{\"first\": 1}\n");
  const std::string second("line one\nline two with a \0 byte\n", 31);
  write_text_atomically(dir / "a.json", second);
  EXPECT_EQ(testing::read_text(dir / "a.json"), second);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir.path())) names.push_back(e.path().filename());
  EXPECT_EQ(names, std::vector<std::string>{"a.json"});
  write_text_atomically(dir / "empty.txt", "");
  EXPECT_TRUE(fs::exists(dir / "empty.txt"));
  EXPECT_EQ(fs::file_size(dir / "empty.txt"), 0u);
}

// A folder that does not exist is an IoError naming the file.
TEST(TextFile, MissingFolderIsAnIoErrorNamingThePath) {
  testing::TempDir dir;
  const std::string message =
      testing::error_of<IoError>([&] { write_text_atomically(dir / "absent" / "b.txt", "text"); });
  EXPECT_TRUE(testing::contains(message, "absent/b.txt")) << message;
  EXPECT_FALSE(fs::exists(dir / "absent"));
}

}  // namespace
}  // namespace coreclean::io
