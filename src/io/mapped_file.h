#ifndef CORECLEAN_SRC_IO_MAPPED_FILE_H_
#define CORECLEAN_SRC_IO_MAPPED_FILE_H_

// Internal helpers of the io module: a read-only memory mapping, whole-file reads and atomic
// writes (every failure throws coreclean::IoError naming the path and the OS's reason), plus the
// integer conversion shared by labels and ids.

#include <coreclean/io/npy.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace coreclean::io::detail {

/// A whole file mapped read-only into memory (POSIX mmap). The descriptor is closed right after
/// mapping: the mapping alone keeps the file's pages reachable, even if the path is later
/// replaced by an atomic rename (the old inode lives on until munmap).
///
/// Caveat inherent to mmap: if another process truncates the file in place while it is mapped,
/// touching the lost pages raises SIGBUS. coreclean itself never truncates in place (it writes
/// through a temporary file and rename), so only foreign writers can cause this.
class MappedFile {
 public:
  /// Maps `path`; throws IoError when it cannot be opened, is not a regular file or mmap fails.
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  /// The file's bytes (empty for an empty file, which cannot be mapped).
  std::span<const std::byte> bytes() const {
    return {static_cast<const std::byte*>(address_), size_};
  }

 private:
  void* address_ = nullptr;
  std::size_t size_ = 0;
};

/// Bytes of a file together with the object that owns them.
struct FileBytes {
  std::shared_ptr<const void> storage;  ///< keeps `bytes` alive
  std::span<const std::byte> bytes;
};

/// Size in bytes of a regular file; throws IoError when it does not exist or is not a regular
/// file (a directory, a socket, ...).
std::int64_t regular_file_size(const std::filesystem::path& path);

/// Reads a whole file into a freshly allocated buffer (aligned for any scalar type).
FileBytes read_file(const std::filesystem::path& path);

/// Maps a whole file; the returned storage owns the MappedFile.
FileBytes map_file(const std::filesystem::path& path);

/// Writes the concatenation of `parts` to `path` atomically: the bytes go to a temporary file in
/// the same folder (same file system, so rename cannot degrade into a copy), which is flushed to
/// disk and then renamed over `path`. Readers therefore see either the old file or the complete
/// new one, never a torn write, and a crash leaves at most a stray `.<name>.tmp-*` file.
void write_file_atomically(const std::filesystem::path& path,
                           std::span<const std::span<const std::byte>> parts);
inline void write_file_atomically(const std::filesystem::path& path,
                                  std::initializer_list<std::span<const std::byte>> parts) {
  write_file_atomically(path, std::span<const std::span<const std::byte>>(parts.begin(), parts.size()));
}

/// Converts a 1-d array to int64 values: integer dtypes as they are, floating dtypes only when
/// every value is finite, integral and within int64. `what` names the values in messages
/// ("label", "id"); `name` is the file. Throws InvalidArgument naming name, index and value.
std::vector<std::int64_t> to_integers(const NpyArray& a, const std::string& name,
                                      std::string_view what);

}  // namespace coreclean::io::detail

#endif  // CORECLEAN_SRC_IO_MAPPED_FILE_H_
