#include <coreclean/core/error.h>
#include <coreclean/io/output_folder.h>
#include <coreclean/io/text_file.h>

#include <algorithm>
#include <cstdlib>  // for getenv
#include <sstream>
#include <system_error>
#include <utility>

#include "core/check.h"
#include "io/mapped_file.h"

namespace coreclean::io {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kHeadPrefix = "# coreclean output folder, written by `coreclean ";
constexpr std::string_view kHeadSuffix = "`";
constexpr std::string_view kRuleLine =
    "# coreclean overwrites and deletes only the entries listed below; anything else here is "
    "left alone.";
constexpr std::string_view kWhatToDo = "choose a new folder, or an empty one";

// Absolute, symbolic links of the existing part resolved, no "." / ".." / trailing separator:
// two spellings of one folder compare equal.
fs::path normalized(const fs::path& p) {
  std::error_code error;
  fs::path n = fs::weakly_canonical(fs::absolute(p), error);
  if (error) n = fs::absolute(p);
  n = n.lexically_normal();
  if (!n.has_filename() && n.has_relative_path()) n = n.parent_path();
  return n;
}

// True when `outer` is `inner` or one of its ancestors (both normalized).
bool holds(const fs::path& outer, const fs::path& inner) {
  auto o = outer.begin();
  auto i = inner.begin();
  for (; o != outer.end(); ++o, ++i) {
    if (i == inner.end() || *o != *i) return false;
  }
  return true;
}

std::string marker_text(std::string_view command, const std::vector<std::string>& entries) {
  std::string text = fmt::format("{}{}{}\n{}\n", kHeadPrefix, command, kHeadSuffix, kRuleLine);
  for (const std::string& e : entries) text += e + "\n";
  return text;
}

// The command and entries of a marker; FormatError when it is not one.
std::pair<std::string, std::vector<std::string>> read_marker(const fs::path& path) {
  const detail::FileBytes bytes = detail::read_file(path);
  std::istringstream in(
      std::string(reinterpret_cast<const char*>(bytes.bytes.data()), bytes.bytes.size()));
  std::string line;
  std::getline(in, line);
  const std::string_view head(line);
  if (!head.starts_with(kHeadPrefix) || !head.ends_with(kHeadSuffix) ||
      head.size() <= kHeadPrefix.size() + kHeadSuffix.size()) {
    throw FormatError(
        fmt::format("{} is not a coreclean output marker (its first line is '{}'); "
                    "{}",
                    path.string(), line, kWhatToDo));
  }
  std::string command(
      head.substr(kHeadPrefix.size(), head.size() - kHeadPrefix.size() - kHeadSuffix.size()));
  std::vector<std::string> entries;
  while (std::getline(in, line)) {
    if (line.empty() || line.front() == '#') continue;
    if (line == "." || line == ".." || line.find('/') != std::string::npos) {
      throw FormatError(
          fmt::format("{}: '{}' is not a plain file or folder name", path.string(), line));
    }
    if (std::find(entries.begin(), entries.end(), line) == entries.end()) entries.push_back(line);
  }
  return {std::move(command), std::move(entries)};
}

}  // namespace

bool path_holds(const std::filesystem::path& outer, const std::filesystem::path& inner) {
  return !outer.empty() && holds(normalized(outer), normalized(inner));
}

OutputFolder::OutputFolder(fs::path dir, std::string command, std::vector<std::string> entries)
    : dir_(std::move(dir)), command_(std::move(command)), entries_(std::move(entries)) {}

OutputFolder OutputFolder::claim(const fs::path& dir, std::string_view command,
                                 const std::vector<fs::path>& inputs) {
  CORECLEAN_THROW_IF_NOT(!dir.empty(), "the output folder is empty text; {}", kWhatToDo);
  CORECLEAN_THROW_IF_NOT(!command.empty() && command.find('\n') == std::string_view::npos &&
                             command.find('`') == std::string_view::npos,
                         "OutputFolder::claim: bad command name '{}'", command);
  const fs::path n = normalized(dir);
  const auto refuse = [&](const std::string& why) {
    return InvalidArgument(
        fmt::format("refusing to write into {}: {}; {}", dir.string(), why, kWhatToDo));
  };
  if (n == n.root_path()) throw refuse("it is the root of the file system");
  if (const char* home = std::getenv("HOME");
      home != nullptr && *home != '\0' && normalized(home) == n) {
    throw refuse("it is the home folder");
  }
  std::error_code error;
  const fs::path cwd = fs::current_path(error);
  if (!error && holds(n, normalized(cwd))) {
    throw refuse(n == normalized(cwd)
                     ? "it is the current folder"
                     : fmt::format("it holds the current folder {}", cwd.string()));
  }
  for (const fs::path& input : inputs) {
    if (input.empty()) continue;
    if (holds(n, normalized(input)))
      throw refuse(fmt::format("it holds the input {}", input.string()));
  }

  const fs::file_status status = fs::status(dir, error);
  if (status.type() == fs::file_type::not_found) {
    fs::create_directories(dir, error);
    if (error) {
      throw IoError(
          fmt::format("cannot create the output folder {}: {}", dir.string(), error.message()));
    }
    OutputFolder folder(dir, std::string(command), {});
    folder.write_marker();
    return folder;
  }
  if (error) {
    throw IoError(
        fmt::format("cannot read the output folder {}: {}", dir.string(), error.message()));
  }
  if (!fs::is_directory(status)) throw refuse("it is an existing file, not a folder");

  const fs::path marker = dir / kOutputMarker;
  if (fs::exists(fs::symlink_status(marker, error))) {
    auto [marked_by, entries] = read_marker(marker);
    if (marked_by != command) {
      throw refuse(fmt::format("it holds the output of `coreclean {}`, not of `coreclean {}`",
                               marked_by, command));
    }
    return OutputFolder(dir, std::move(marked_by), std::move(entries));
  }
  fs::directory_iterator it(dir, error);
  if (error) {
    throw IoError(
        fmt::format("cannot list the output folder {}: {}", dir.string(), error.message()));
  }
  if (it != fs::directory_iterator()) {
    throw refuse(fmt::format("it is not empty and was not written by coreclean (no {} file)",
                             kOutputMarker));
  }
  OutputFolder folder(dir, std::string(command), {});
  folder.write_marker();
  return folder;
}

fs::path OutputFolder::entry(std::string_view name) {
  CORECLEAN_THROW_IF_NOT(
      !name.empty() && name != "." && name != ".." &&
          name.find_first_of(std::string_view("/\n\r\0", 4)) == std::string_view::npos &&
          name.front() != '#' && name != kOutputMarker,
      "output folder {}: '{}' is not a plain file or folder name", dir_.string(), name);
  const fs::path path = dir_ / fs::path(name);
  if (std::find(entries_.begin(), entries_.end(), name) != entries_.end()) return path;
  std::error_code error;
  if (fs::exists(fs::symlink_status(path, error))) {
    throw InvalidArgument(fmt::format(
        "{} exists and was not written by coreclean (the folder's {} does not list it); it is "
        "never overwritten: move it away, or choose a new folder, or an empty one",
        path.string(), kOutputMarker));
  }
  entries_.emplace_back(name);
  try {
    write_marker();
  } catch (...) {
    entries_.pop_back();
    throw;
  }
  return path;
}

void OutputFolder::remove_own() {
  for (const std::string& name : entries_) {
    std::error_code error;
    fs::remove_all(dir_ / name, error);
    if (error) {
      throw IoError(fmt::format("cannot remove {}: {}", (dir_ / name).string(), error.message()));
    }
  }
  entries_.clear();
  write_marker();
}

void OutputFolder::write_marker() const {
  const std::string text = marker_text(command_, entries_);
  write_text_atomically(dir_ / kOutputMarker, text);
}

}  // namespace coreclean::io
