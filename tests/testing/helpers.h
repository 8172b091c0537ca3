#ifndef CORECLEAN_TESTS_TESTING_HELPERS_H_
#define CORECLEAN_TESTS_TESTING_HELPERS_H_

// Test helpers: temporary folders, files, expected exceptions, running the oracle scripts,
// locating shared data.

#include <gtest/gtest.h>

#include <exception>
#include <filesystem>
#include <map>
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

/// Changes the current working folder for the object's lifetime (restored when it dies).
class ScopedCurrentPath {
 public:
  explicit ScopedCurrentPath(const std::filesystem::path& dir);
  ~ScopedCurrentPath();
  ScopedCurrentPath(const ScopedCurrentPath&) = delete;
  ScopedCurrentPath& operator=(const ScopedCurrentPath&) = delete;

 private:
  std::filesystem::path previous_;
};

/// Sets an environment variable for the object's lifetime (restored, or unset, when it dies).
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::string& value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  bool had_value_ = false;
  std::string previous_;
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

/// Every regular file under `dir` (recursively): path relative to `dir` → bytes.
std::map<std::string, std::string> files_under(const std::filesystem::path& dir);

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

/// True when Debian's dataset-fashion-mnist holds the split `split` ("t10k" or "train").
bool fashion_mnist_installed(std::string_view split);

/// The shared data folder (`../shared/data` beside the repository), or empty when absent.
std::filesystem::path shared_data_dir();

}  // namespace coreclean::testing

/// Skips the current test when the oracle interpreter is missing.
#define CORECLEAN_REQUIRE_ORACLE()                                            \
  do {                                                                        \
    const std::string reason = ::coreclean::testing::oracle_unavailable_reason(); \
    if (!reason.empty()) GTEST_SKIP() << reason;                              \
  } while (false)

/// Skips the current test when Fashion-MNIST's split `split` is not installed.
#define CORECLEAN_REQUIRE_FASHION_MNIST(split)                                       \
  do {                                                                               \
    if (!::coreclean::testing::fashion_mnist_installed(split))                       \
      GTEST_SKIP() << "needs Fashion-MNIST (apt-get install dataset-fashion-mnist)"; \
  } while (false)

/// Skips the current test when ../shared/data is absent.
#define CORECLEAN_REQUIRE_SHARED_DATA()                                                  \
  do {                                                                                   \
    if (::coreclean::testing::shared_data_dir().empty())                                 \
      GTEST_SKIP() << "../shared/data is absent (it holds real third-party data for this " \
                      "test); skipping";                                                 \
  } while (false)

#endif  // CORECLEAN_TESTS_TESTING_HELPERS_H_
