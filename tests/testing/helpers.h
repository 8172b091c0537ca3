#ifndef CORECLEAN_TESTS_TESTING_HELPERS_H_
#define CORECLEAN_TESTS_TESTING_HELPERS_H_

// Test helpers: temporary folders, files, expected exceptions, running the oracle scripts,
// locating shared data.

#include <gtest/gtest.h>

#include <exception>
#include <filesystem>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

namespace coreclean::testing {

/// A fresh temporary folder, removed (with its content) when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

/// Runs f and returns the message of the E it throws; any other outcome fails the test ("").
template <typename E, typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected " << typeid(E).name() << ", got " << typeid(e).name() << ": "
                  << e.what();
    return {};
  }
  ADD_FAILURE() << "expected " << typeid(E).name() << ", but nothing was thrown";
  return {};
}

/// Success when `text` contains `part`; otherwise a failure quoting both.
::testing::AssertionResult contains(const std::string& text, const std::string& part);

/// Writes `text` to `path` as is (binary), replacing the file.
void write_text(const std::filesystem::path& path, std::string_view text);

/// The whole content of the file at `path` (binary); empty when it cannot be read.
std::string read_text(const std::filesystem::path& path);

/// Result of a child process.
struct CommandResult {
  int exit_code = -1;
  std::string output;  ///< stdout and stderr, interleaved
};

/// Runs a shell command line and captures its output.
CommandResult run_command(const std::string& command_line);

/// Quotes a string for /bin/sh.
std::string shell_quote(const std::string& s);

/// Empty when the oracle interpreter (Debian's python3 with numpy and scikit-learn) works;
/// otherwise a sentence saying what is missing, for GTEST_SKIP.
std::string oracle_unavailable_reason();

/// Runs tests/oracle/<script> with the oracle interpreter and `args`; fails the test (via
/// exception) when the script exits non-zero, with its output in the message.
std::string run_oracle(const std::string& script, const std::vector<std::string>& args);

/// The shared data folder (`../shared/data` beside the repository), or empty when absent.
std::filesystem::path shared_data_dir();

}  // namespace coreclean::testing

/// Skips the current test when the oracle interpreter is missing.
#define CORECLEAN_REQUIRE_ORACLE()                                            \
  do {                                                                        \
    const std::string reason = ::coreclean::testing::oracle_unavailable_reason(); \
    if (!reason.empty()) GTEST_SKIP() << reason;                              \
  } while (false)

/// Skips the current test when ../shared/data is absent.
#define CORECLEAN_REQUIRE_SHARED_DATA()                                                  \
  do {                                                                                   \
    if (::coreclean::testing::shared_data_dir().empty())                                 \
      GTEST_SKIP() << "../shared/data is absent (it holds real third-party data for this " \
                      "test); skipping";                                                 \
  } while (false)

#endif  // CORECLEAN_TESTS_TESTING_HELPERS_H_
