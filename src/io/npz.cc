#include <coreclean/io/npz.h>
#include <zip.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <memory>
#include <string_view>
#include <vector>

#include "core/check.h"
#include "io/mapped_file.h"

namespace coreclean::io {
namespace {

constexpr std::string_view kNpySuffix = ".npy";

// An archive of numpy's savez with no arrays: just the end-of-central-directory record.
// libzip deletes an archive that ends up empty instead of writing one, so it is built by hand.
constexpr std::array<unsigned char, 22> kEmptyZip = {'P', 'K', 5, 6};

// libzip's explanation of one of its error codes.
std::string zip_reason(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string reason = zip_error_strerror(&error);
  zip_error_fini(&error);
  return reason;
}

std::string zip_reason(zip_error_t* error) { return zip_error_strerror(error); }

// Closes (discarding changes) an archive on scope exit.
struct ArchiveCloser {
  void operator()(zip_t* archive) const { zip_discard(archive); }
};
using ArchivePtr = std::unique_ptr<zip_t, ArchiveCloser>;

struct MemberCloser {
  void operator()(zip_file_t* file) const { zip_fclose(file); }
};
using MemberPtr = std::unique_ptr<zip_file_t, MemberCloser>;

// Reads one member completely; libzip verifies the CRC when the last byte has been read.
NpyArray read_member(zip_t* archive, zip_uint64_t index, const zip_stat_t& stat,
                     const std::string& path, const std::string& member) {
  const std::string where = fmt::format("{} (member {})", path, member);
  if ((stat.valid & ZIP_STAT_SIZE) == 0) {
    throw FormatError(fmt::format("{}: the archive does not record the member's size", where));
  }
  if (stat.size > std::numeric_limits<std::size_t>::max()) {
    throw FormatError(fmt::format("{}: member size {} is too large", where, stat.size));
  }
  MemberPtr file(zip_fopen_index(archive, index, 0));
  if (file == nullptr) {
    throw FormatError(
        fmt::format("{}: cannot open the member: {}", where, zip_reason(zip_get_error(archive))));
  }
  const auto size = static_cast<std::size_t>(stat.size);
  // The recorded size is only a claim of the archive's directory (a few bytes can claim
  // terabytes): memory grows with the bytes actually read, doubling up to the recorded size.
  constexpr std::size_t kFirstBlock = std::size_t{1} << 20;
  auto buffer = std::make_shared<std::vector<std::byte>>(std::min(size, kFirstBlock));
  std::size_t done = 0;
  while (done < size) {
    if (done == buffer->size()) buffer->resize(std::min(size, 2 * buffer->size()));
    const zip_int64_t n = zip_fread(file.get(), buffer->data() + done, buffer->size() - done);
    if (n < 0) {
      throw FormatError(fmt::format("{}: cannot read the member: {}", where,
                                    zip_reason(zip_file_get_error(file.get()))));
    }
    if (n == 0) {
      throw FormatError(
          fmt::format("{}: the member ends after {} of its {} bytes", where, done, size));
    }
    done += static_cast<std::size_t>(n);
  }
  // Reading past the recorded size makes libzip run its end-of-data checks (CRC) when it has not
  // yet; a member longer than recorded is corrupt.
  std::byte extra{};
  const zip_int64_t n = zip_fread(file.get(), &extra, 1);
  if (n != 0) {
    throw FormatError(fmt::format("{}: cannot read the member: {}", where,
                                  n < 0 ? zip_reason(zip_file_get_error(file.get()))
                                        : std::string("it is longer than recorded")));
  }
  const std::span<const std::byte> bytes(buffer->data(), size);
  return parse_npy(bytes, std::move(buffer), where);
}

}  // namespace

std::map<std::string, NpyArray> read_npz(const std::filesystem::path& path) {
  const std::string name = path.string();
  // libzip opens a zero-length file as a valid empty archive; numpy (and users) would not expect
  // an empty file to be a valid .npz.
  if (detail::regular_file_size(path) == 0) {
    throw FormatError(fmt::format("{}: not a zip archive (.npz): the file is empty", name));
  }
  int code = ZIP_ER_OK;
  ArchivePtr archive(zip_open(path.c_str(), ZIP_RDONLY, &code));
  if (archive == nullptr) {
    const std::string reason = zip_reason(code);
    switch (code) {
      case ZIP_ER_NOENT:
      case ZIP_ER_OPEN:
      case ZIP_ER_READ:
      case ZIP_ER_SEEK:
      case ZIP_ER_MEMORY:
        throw IoError(fmt::format("cannot open {}: {}", name, reason));
      case ZIP_ER_NOZIP:
        throw FormatError(fmt::format("{}: not a zip archive (.npz): {}", name, reason));
      default:
        throw FormatError(fmt::format("{}: not a valid zip archive (.npz): {}", name, reason));
    }
  }
  const zip_int64_t count = zip_get_num_entries(archive.get(), 0);
  std::map<std::string, NpyArray> arrays;
  for (zip_int64_t i = 0; i < count; ++i) {
    const auto index = static_cast<zip_uint64_t>(i);
    zip_stat_t stat;
    zip_stat_init(&stat);
    if (zip_stat_index(archive.get(), index, 0, &stat) != 0 || (stat.valid & ZIP_STAT_NAME) == 0) {
      throw FormatError(fmt::format("{}: cannot read entry {} of the archive: {}", name, i,
                                    zip_reason(zip_get_error(archive.get()))));
    }
    const std::string member = stat.name;
    // Directory entries carry no data; numpy never writes them but zip tools may.
    if (!member.empty() && member.back() == '/') continue;
    std::string key = member;
    if (key.size() >= kNpySuffix.size() &&
        key.compare(key.size() - kNpySuffix.size(), kNpySuffix.size(), kNpySuffix) == 0) {
      key.resize(key.size() - kNpySuffix.size());
    }
    if (arrays.contains(key)) {
      throw FormatError(
          fmt::format("{}: two members map to the key '{}' (one is {})", name, key, member));
    }
    arrays.emplace(std::move(key), read_member(archive.get(), index, stat, name, member));
  }
  return arrays;
}

void write_npz(const std::filesystem::path& path, const std::map<std::string, NpyArray>& arrays) {
  const std::string name = path.string();
  if (arrays.empty()) {
    detail::write_file_atomically(path, {std::as_bytes(std::span(kEmptyZip))});
    return;
  }
  // The archive is assembled in memory and then written with write_file_atomically, so that the
  // temporary-file-and-rename discipline and its error messages are the same as for .npy.
  std::vector<std::vector<std::byte>> members;
  members.reserve(arrays.size());
  for (const auto& [key, array] : arrays) {
    CORECLEAN_THROW_IF_NOT(!key.empty(), "{}: an array has an empty key", name);
    members.push_back(encode_npy(array.dtype(), array.shape(), array.bytes()));
  }

  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* sink = zip_source_buffer_create(nullptr, 0, 0, &error);
  if (sink == nullptr) {
    const std::string reason = zip_reason(&error);
    zip_error_fini(&error);
    throw IoError(fmt::format("cannot write {}: {}", name, reason));
  }
  // The archive consumes one reference of the sink on close; this keeps the sink (and the
  // finished archive bytes in it) for reading back afterwards.
  zip_source_keep(sink);
  const auto release_sink = [&] { zip_source_free(sink); };
  ArchivePtr archive(zip_open_from_source(sink, ZIP_TRUNCATE, &error));
  if (archive == nullptr) {
    const std::string reason = zip_reason(&error);
    zip_error_fini(&error);
    zip_source_free(sink);  // the reference kept above
    zip_source_free(sink);  // the reference zip_open_from_source did not take over
    throw IoError(fmt::format("cannot write {}: {}", name, reason));
  }
  zip_error_fini(&error);
  const auto fail = [&](const std::string& what) {
    const std::string reason = zip_reason(zip_get_error(archive.get()));
    archive.reset();
    release_sink();
    throw IoError(fmt::format("cannot write {}: {}: {}", name, what, reason));
  };

  std::size_t m = 0;
  for (const auto& [key, array] : arrays) {
    const std::vector<std::byte>& bytes = members[m++];
    const std::string member = key + std::string(kNpySuffix);
    zip_source_t* source = zip_source_buffer(archive.get(), bytes.data(), bytes.size(), 0);
    if (source == nullptr) fail(fmt::format("member {}", member));
    const zip_int64_t index =
        zip_file_add(archive.get(), member.c_str(), source, ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE);
    if (index < 0) {
      zip_source_free(source);
      fail(fmt::format("member {}", member));
    }
    if (zip_set_file_compression(archive.get(), static_cast<zip_uint64_t>(index), ZIP_CM_DEFLATE,
                                 0) != 0) {
      fail(fmt::format("member {}: deflate", member));
    }
  }
  // zip_close compresses the members (which must stay alive until here) into the sink.
  if (zip_close(archive.get()) != 0) fail("compressing the archive");
  (void)archive.release();  // zip_close freed it

  std::vector<std::byte> zipped;
  zip_stat_t stat;
  zip_stat_init(&stat);
  if (zip_source_stat(sink, &stat) != 0 || zip_source_open(sink) != 0) {
    const std::string reason = zip_reason(zip_source_error(sink));
    release_sink();
    throw IoError(fmt::format("cannot write {}: reading back the archive: {}", name, reason));
  }
  zipped.resize(static_cast<std::size_t>(stat.size));
  const zip_int64_t got = zip_source_read(sink, zipped.data(), zipped.size());
  zip_source_close(sink);
  release_sink();
  if (got < 0 || static_cast<std::uint64_t>(got) != stat.size) {
    throw IoError(fmt::format("cannot write {}: reading back the archive gave {} of {} bytes", name,
                              got, stat.size));
  }
  detail::write_file_atomically(path, {std::span<const std::byte>(zipped)});
}

}  // namespace coreclean::io
