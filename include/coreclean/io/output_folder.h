#ifndef CORECLEAN_IO_OUTPUT_FOLDER_H_
#define CORECLEAN_IO_OUTPUT_FOLDER_H_

/// @file
/// Output folders: the rule that no command deletes or overwrites anything it did not create.
///
/// A command that writes a folder claims it first. The folder is then either new (created, with
/// its parents), or an existing empty folder, or one that an earlier run of the same command
/// marked. The marker, `.coreclean-output`, is a small text file that names the command and
/// lists the top-level entries (files or folders) coreclean has written there (format in
/// docs/formats.md). The command asks for each top-level entry before writing it; the entry is
/// listed before anything is written, so an interrupted run leaves it listed. Only listed
/// entries are ever overwritten or removed: anything else in the folder belongs to the user.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace coreclean::io {

/// True when `outer` is `inner` or one of its ancestors, both made absolute with the symbolic
/// links of their existing parts resolved (two spellings of one path compare equal). False for
/// an empty `outer`.
bool path_holds(const std::filesystem::path& outer, const std::filesystem::path& inner);

/// File name of the marker of an output folder.
inline constexpr std::string_view kOutputMarker = ".coreclean-output";

/// A folder a command writes its output to, claimed under the rule above.
class OutputFolder {
 public:
  /// Claims `dir` for `command` (e.g. "demo"; named in the marker and in messages). `inputs` are
  /// the files and folders the command reads; they need not exist.
  ///
  /// Creates `dir` (and its parents) and marks it when it does not exist; marks it when it is an
  /// empty folder; accepts it when it carries the marker of the same command. Throws
  /// InvalidArgument, with a message saying to choose a new or an empty folder, when `dir` is
  /// empty, is the current working folder or holds it, is the file system root or $HOME, is an
  /// existing file, is a folder that is not empty and has no marker, carries the marker of
  /// another command, or is or holds one of `inputs` (paths compared after weakly_canonical).
  /// Throws FormatError when the marker cannot be parsed, IoError when the folder cannot be
  /// created or the marker not written.
  static OutputFolder claim(const std::filesystem::path& dir, std::string_view command,
                            const std::vector<std::filesystem::path>& inputs);

  /// The folder, as given to claim().
  [[nodiscard]] const std::filesystem::path& path() const { return dir_; }

  /// The command named in the marker.
  [[nodiscard]] const std::string& command() const { return command_; }

  /// Top-level entries the marker lists, in the order they were first claimed.
  [[nodiscard]] const std::vector<std::string>& entries() const { return entries_; }

  /// Claims the top-level entry `name` (one path component: a file or folder name) and returns
  /// path() / name. A name not yet listed is added to the marker (written atomically) before
  /// returning, so the write that follows is always covered. Throws InvalidArgument when `name`
  /// is not a single plain component or is the marker's name, and when an entry of that name
  /// exists but is not listed (it belongs to the user and is never overwritten).
  std::filesystem::path entry(std::string_view name);

  /// Removes every entry the marker lists (recursively; a symbolic link is removed, not its
  /// target) and then empties the list. Anything not listed is left alone. Throws IoError when
  /// an entry cannot be removed (the marker then still lists what is left).
  void remove_own();

 private:
  OutputFolder(std::filesystem::path dir, std::string command, std::vector<std::string> entries);
  void write_marker() const;

  std::filesystem::path dir_;
  std::string command_;
  std::vector<std::string> entries_;
};

}  // namespace coreclean::io

#endif  // CORECLEAN_IO_OUTPUT_FOLDER_H_
