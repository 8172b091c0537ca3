#include "io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <random>
#include <string>
#include <system_error>

#include "core/check.h"

namespace coreclean::io::detail {
namespace {

// The OS's explanation of an errno value (thread-safe, unlike strerror).
std::string os_reason(int error) { return std::generic_category().message(error); }

// Closes a descriptor on scope exit, so that every throw path releases it.
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  int get() const { return fd_; }
  // Closes now and reports the result: for a written file, close() can be the first call to
  // report a deferred write error (e.g. on NFS), so the writer must check it.
  int close_now() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

// Opens `path` for reading and returns its descriptor and size; refuses non-regular files
// because mmap and size-based reads make no sense for pipes or directories.
int open_regular_file(const std::filesystem::path& path, std::size_t& size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    throw IoError(fmt::format("cannot open {}: {}", path.string(), os_reason(error)));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int error = errno;
    ::close(fd);
    throw IoError(fmt::format("cannot stat {}: {}", path.string(), os_reason(error)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw IoError(fmt::format("cannot read {}: not a regular file", path.string()));
  }
  size = static_cast<std::size_t>(st.st_size);
  return fd;
}

// Writes all of `bytes` to `fd`, resuming after partial writes and signals.
bool write_all(int fd, std::span<const std::byte> bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes = bytes.subspan(static_cast<std::size_t>(n));
  }
  return true;
}

// A name for the temporary file that cannot collide with a concurrent writer of the same path
// in this or another process: process id, a per-process counter and a random word.
std::filesystem::path temporary_name(const std::filesystem::path& path) {
  static std::atomic<std::uint64_t> counter{0};
  std::random_device random;
  const std::string name = fmt::format(".{}.tmp-{}-{}-{:08x}", path.filename().string(), ::getpid(),
                                       counter.fetch_add(1, std::memory_order_relaxed), random());
  return path.parent_path() / name;
}

}  // namespace

MappedFile::MappedFile(const std::filesystem::path& path) {
  std::size_t size = 0;
  FdGuard fd(open_regular_file(path, size));
  // mmap refuses a zero length; an empty file simply has no bytes.
  if (size == 0) return;
  void* address = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (address == MAP_FAILED) {
    const int error = errno;
    throw IoError(
        fmt::format("cannot memory-map {} ({} bytes): {}", path.string(), size, os_reason(error)));
  }
  address_ = address;
  size_ = size;
}

MappedFile::~MappedFile() {
  if (address_ != nullptr) ::munmap(address_, size_);
}

std::int64_t regular_file_size(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int error = errno;
    throw IoError(fmt::format("cannot open {}: {}", path.string(), os_reason(error)));
  }
  if (!S_ISREG(st.st_mode))
    throw IoError(fmt::format("cannot read {}: not a regular file", path.string()));
  return static_cast<std::int64_t>(st.st_size);
}

FileBytes read_file(const std::filesystem::path& path) {
  std::size_t size = 0;
  FdGuard fd(open_regular_file(path, size));
  // operator new[] aligns to __STDCPP_DEFAULT_NEW_ALIGNMENT__, enough for any element type, so
  // the array data inside a .npy image (at a multiple of 64, or at least 16, bytes) is aligned.
  std::shared_ptr<std::byte[]> buffer(new std::byte[size]);
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(fd.get(), buffer.get() + done, size - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      throw IoError(fmt::format("cannot read {}: {}", path.string(), os_reason(error)));
    }
    if (n == 0) {
      throw IoError(
          fmt::format("cannot read {}: the file shrank from {} to {} bytes while being "
                      "read",
                      path.string(), size, done));
    }
    done += static_cast<std::size_t>(n);
  }
  const std::span<const std::byte> bytes(buffer.get(), size);
  return {std::move(buffer), bytes};
}

FileBytes map_file(const std::filesystem::path& path) {
  auto mapped = std::make_shared<const MappedFile>(path);
  const std::span<const std::byte> bytes = mapped->bytes();
  return {std::move(mapped), bytes};
}

void write_file_atomically(const std::filesystem::path& path,
                           std::span<const std::span<const std::byte>> parts) {
  const std::filesystem::path target =
      path.has_parent_path() ? path : std::filesystem::path(".") / path;
  std::filesystem::path temporary;
  int raw_fd = -1;
  for (int attempt = 0; attempt < 100 && raw_fd < 0; ++attempt) {
    temporary = temporary_name(target);
    // 0666 lets the umask decide the final permissions, as for any newly created file (mkstemp
    // would force 0600).
    raw_fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (raw_fd < 0 && errno != EEXIST) break;
  }
  if (raw_fd < 0) {
    const int error = errno;
    throw IoError(fmt::format("cannot write {}: cannot create a temporary file in {}: {}",
                              path.string(), target.parent_path().string(), os_reason(error)));
  }
  FdGuard fd(raw_fd);
  // Removes the temporary file and throws; used for every failure after it was created.
  const auto fail = [&](const char* what, int error) {
    fd.close_now();
    ::unlink(temporary.c_str());
    throw IoError(
        fmt::format("cannot write {}: {} failed: {}", path.string(), what, os_reason(error)));
  };
  for (const auto& part : parts) {
    if (!write_all(fd.get(), part)) fail("write", errno);
  }
  // Without the flush a crash shortly after the rename could leave a correctly named but empty
  // or partial file on file systems that reorder metadata and data writes.
  if (::fsync(fd.get()) != 0) fail("fsync", errno);
  if (fd.close_now() != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    throw IoError(
        fmt::format("cannot write {}: close failed: {}", path.string(), os_reason(error)));
  }
  if (::rename(temporary.c_str(), target.c_str()) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    throw IoError(fmt::format("cannot write {}: rename from {} failed: {}", path.string(),
                              temporary.string(), os_reason(error)));
  }
}

}  // namespace coreclean::io::detail
