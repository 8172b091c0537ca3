#include "testing/helpers.h"

#include <coreclean/detect/demo_scenes.h>  // for kFashionMnistDir

#include <sys/wait.h>  // for WEXITSTATUS

#include <array>
#include <cstdlib>  // for setenv, unsetenv
#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>
#include <utility>

namespace coreclean::testing {

TempDir::TempDir() {
  std::random_device rd;
  const auto base = std::filesystem::temp_directory_path();
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto candidate = base / ("coreclean-test-" + std::to_string(rd()));
    if (std::filesystem::create_directory(candidate)) {
      path_ = candidate;
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary folder");
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

ScopedCurrentPath::ScopedCurrentPath(const std::filesystem::path& dir)
    : previous_(std::filesystem::current_path()) {
  std::filesystem::current_path(dir);
}

ScopedCurrentPath::~ScopedCurrentPath() {
  std::error_code ignored;
  std::filesystem::current_path(previous_, ignored);
}

ScopedEnv::ScopedEnv(std::string name, const std::string& value) : name_(std::move(name)) {
  if (const char* old = std::getenv(name_.c_str())) {
    had_value_ = true;
    previous_ = old;
  }
  ::setenv(name_.c_str(), value.c_str(), 1);
}

ScopedEnv::~ScopedEnv() {
  if (had_value_) {
    ::setenv(name_.c_str(), previous_.c_str(), 1);
  } else {
    ::unsetenv(name_.c_str());
  }
}

::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\" does not contain \"" << part << "\"";
}

void write_text(const std::filesystem::path& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::map<std::string, std::string> files_under(const std::filesystem::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file())
      files[std::filesystem::relative(entry.path(), dir).string()] = read_text(entry.path());
  }
  return files;
}

bool fashion_mnist_installed(std::string_view split) {
  return std::filesystem::exists(std::filesystem::path(detect::kFashionMnistDir) /
                                 (std::string(split) + "-images-idx3-ubyte.gz"));
}

CommandResult run_command(const std::string& command_line) {
  CommandResult result;
  FILE* pipe = popen((command_line + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  std::size_t got = 0;
  while ((got = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), got);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

std::string oracle_unavailable_reason() {
  static const std::string reason = [] {
    const std::string py = CORECLEAN_ORACLE_PYTHON;
    if (!std::filesystem::exists(py)) return "oracle interpreter " + py + " is missing";
    const auto r = run_command(shell_quote(py) + " -c 'import numpy, sklearn'");
    if (r.exit_code != 0)
      return "oracle interpreter " + py +
             " lacks numpy/scikit-learn (apt-get install python3-sklearn): " + r.output;
    return std::string();
  }();
  return reason;
}

std::string run_oracle(const std::string& script, const std::vector<std::string>& args) {
  // One BLAS thread: oracle problems are small, and tests run side by side.
  std::string cmd = "OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 " + shell_quote(CORECLEAN_ORACLE_PYTHON) + " " +
                    shell_quote(std::string(CORECLEAN_ORACLE_DIR) + "/" + script);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  auto r = run_command(cmd);
  if (r.exit_code != 0)
    throw std::runtime_error("oracle " + script + " failed (exit " + std::to_string(r.exit_code) +
                             "): " + r.output);
  return r.output;
}

std::filesystem::path shared_data_dir() {
  const std::filesystem::path dir = std::filesystem::path(CORECLEAN_SHARED_DIR) / "data";
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return std::filesystem::weakly_canonical(dir);
  return {};
}

}  // namespace coreclean::testing
