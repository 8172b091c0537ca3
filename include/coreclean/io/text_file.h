#ifndef CORECLEAN_IO_TEXT_FILE_H_
#define CORECLEAN_IO_TEXT_FILE_H_

/// @file
/// Writing a text file so that no reader ever sees half of it.
///
/// The text goes to a temporary file in the same folder (`.<name>.tmp-*`, same file system, so
/// the rename cannot degrade into a copy), which is flushed to disk (fsync) and then renamed over
/// `path`. rename(2) replaces a directory entry in one step, so a reader opens either the old
/// file or the complete new one; a crash leaves at most the stray temporary file. The `.npy`,
/// `.npz` and image writers of coreclean follow the same protocol.

#include <filesystem>
#include <string_view>

namespace coreclean::io {

/// Writes `text` (any bytes; not retained) to `path` atomically, as described above. The folder
/// of `path` must exist. Throws IoError naming `path` and the operating system's reason when the
/// temporary file cannot be created, written, flushed or renamed (the temporary file is then
/// removed).
void write_text_atomically(const std::filesystem::path& path, std::string_view text);

}  // namespace coreclean::io

#endif  // CORECLEAN_IO_TEXT_FILE_H_
