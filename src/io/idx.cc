#include <coreclean/io/idx.h>
#include <zlib.h>

#include <algorithm>
#include <climits>
#include <limits>
#include <new>  // for std::bad_alloc
#include <string_view>
#include <utility>

#include "core/check.h"
#include "io/mapped_file.h"

namespace coreclean::io {

namespace {

// The one data type of MNIST-family files.
constexpr std::uint8_t kUnsignedByte = 0x08;
// Values are appended in slices that double from kFirstSlice up to kReadSlice, so that a header
// declaring absurd dimensions fails where the data runs out, having allocated about what the
// file holds, instead of the declared size (or a whole large slice) up front.
constexpr std::size_t kFirstSlice = std::size_t{64} << 10;
constexpr std::size_t kReadSlice = std::size_t{64} << 20;

std::string_view type_name(std::uint8_t code) {
  switch (code) {
    case 0x08:
      return "unsigned byte";
    case 0x09:
      return "signed byte";
    case 0x0B:
      return "int16";
    case 0x0C:
      return "int32";
    case 0x0D:
      return "float32";
    case 0x0E:
      return "float64";
    default:
      return {};
  }
}

bool starts_with_gzip_magic(std::span<const std::byte> bytes) {
  return bytes.size() >= 2 && bytes[0] == std::byte{0x1f} && bytes[1] == std::byte{0x8b};
}

std::string shape_repr(const std::vector<std::int64_t>& shape) {
  std::string out = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + ")";
}

// Hands out the bytes of a plain (uncompressed) file.
class PlainSource {
 public:
  explicit PlainSource(std::span<const std::byte> bytes) : bytes_(bytes) {}

  // Copies up to n bytes to out; fewer only at the end of the data.
  std::size_t read(std::uint8_t* out, std::size_t n) {
    const std::size_t count = std::min(n, bytes_.size() - offset_);
    std::copy_n(reinterpret_cast<const std::uint8_t*>(bytes_.data()) + offset_, count, out);
    offset_ += count;
    return count;
  }

 private:
  std::span<const std::byte> bytes_;
  std::size_t offset_ = 0;
};

// Hands out the decompressed bytes of a gzip file, member after member: `cat a.gz b.gz` is a
// valid gzip file whose content is the concatenation, and gunzip reads it that way too.
class GzipSource {
 public:
  GzipSource(std::span<const std::byte> bytes, const std::string& name)
      : bytes_(bytes), name_(name) {
    // 16 + MAX_WBITS: expect a gzip header and trailer, whose CRC-32 and length zlib checks.
    const int rc = inflateInit2(&stream_, 16 + MAX_WBITS);
    if (rc == Z_MEM_ERROR) throw std::bad_alloc();
    if (rc != Z_OK) throw InternalError(fmt::format("inflateInit2 failed with code {}", rc));
  }
  ~GzipSource() { inflateEnd(&stream_); }
  GzipSource(const GzipSource&) = delete;
  GzipSource& operator=(const GzipSource&) = delete;

  // Decompresses up to n bytes to out; fewer only at the end of the data.
  std::size_t read(std::uint8_t* out, std::size_t n) {
    std::size_t done = 0;
    while (done < n) {
      refill();
      if (member_ended_) {
        if (stream_.avail_in == 0) break;  // the end of the file
        if (!starts_with_gzip_magic(bytes_.subspan(unconsumed()))) {
          fail(fmt::format("{} bytes after the end of the compressed data are not a gzip member",
                           bytes_.size() - unconsumed()));
        }
        inflateReset(&stream_);
        member_ended_ = false;
      }
      const std::size_t room = std::min<std::size_t>(n - done, UINT_MAX);
      stream_.next_out = out + done;
      stream_.avail_out = static_cast<uInt>(room);
      const int rc = inflate(&stream_, Z_NO_FLUSH);
      done += room - stream_.avail_out;
      if (rc == Z_STREAM_END) {
        member_ended_ = true;
      } else if (rc == Z_BUF_ERROR || (rc == Z_OK && stream_.avail_in == 0 &&
                                       offset_ == bytes_.size() && stream_.avail_out > 0)) {
        // No progress is possible: all input is consumed but the member has not ended.
        fail("the file ends inside the compressed data (truncated download?)");
      } else if (rc == Z_MEM_ERROR) {
        throw std::bad_alloc();
      } else if (rc != Z_OK) {
        fail(stream_.msg != nullptr ? stream_.msg : fmt::format("zlib error {}", rc));
      }
    }
    return done;
  }

 private:
  // Offset of the first byte zlib has not consumed yet.
  std::size_t unconsumed() const { return offset_ - stream_.avail_in; }

  // zlib counts input in 32-bit units, so files beyond 4 GiB are fed in slices.
  void refill() {
    if (stream_.avail_in > 0 || offset_ == bytes_.size()) return;
    const std::size_t count = std::min<std::size_t>(bytes_.size() - offset_, UINT_MAX);
    // zlib's interface takes a non-const pointer but never writes through next_in.
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(bytes_.data() + offset_));
    stream_.avail_in = static_cast<uInt>(count);
    offset_ += count;
  }

  [[noreturn]] void fail(const std::string& reason) const {
    throw FormatError(fmt::format("{}: gzip stream: {}", name_, reason));
  }

  std::span<const std::byte> bytes_;
  const std::string& name_;
  z_stream stream_{};
  std::size_t offset_ = 0;  // bytes handed to zlib so far
  bool member_ended_ = false;
};

template <typename Source>
IdxArray decode(Source& source, const std::string& name) {
  std::uint8_t magic[4] = {};
  const std::size_t got = source.read(magic, 4);
  CORECLEAN_THROW_IF_NOT_AS(FormatError, got == 4,
                            "{}: magic number: the file holds only {} bytes; an IDX file starts "
                            "with the 4 bytes 00 00 <type> <dimensions>",
                            name, got);
  CORECLEAN_THROW_IF_NOT_AS(FormatError, magic[0] == 0 && magic[1] == 0,
                            "{}: magic number: expected 00 00 <type> <dimensions>, found "
                            "{:02x} {:02x} {:02x} {:02x} (not an IDX file)",
                            name, magic[0], magic[1], magic[2], magic[3]);
  const std::uint8_t type = magic[2];
  if (type != kUnsignedByte) {
    const std::string_view known = type_name(type);
    throw FormatError(
        known.empty()
            ? fmt::format("{}: data type: 0x{:02x} is not an IDX data type (not an IDX file?)",
                          name, type)
            : fmt::format("{}: data type: 0x{:02x} ({}) is not supported; only 0x08 (unsigned "
                          "byte), the type of MNIST-family files",
                          name, type, known));
  }
  const int rank = magic[3];
  CORECLEAN_THROW_IF_NOT_AS(FormatError, rank > 0,
                            "{}: number of dimensions: 0; an IDX array has at least one", name);

  IdxArray array;
  std::int64_t count = 1;
  for (int i = 0; i < rank; ++i) {
    std::uint8_t be[4] = {};
    CORECLEAN_THROW_IF_NOT_AS(FormatError, source.read(be, 4) == 4,
                              "{}: dimension {}: the file ends inside the header, which declares "
                              "{} dimensions",
                              name, i, rank);
    const std::uint32_t dim = (std::uint32_t{be[0]} << 24) | (std::uint32_t{be[1]} << 16) |
                              (std::uint32_t{be[2]} << 8) | std::uint32_t{be[3]};
    // The format's integers are signed 32-bit; a larger value is a corrupt or foreign header.
    CORECLEAN_THROW_IF_NOT_AS(FormatError, dim <= std::numeric_limits<std::int32_t>::max(),
                              "{}: dimension {}: {} exceeds the format's limit of 2^31 - 1", name,
                              i, dim);
    if (dim != 0 && count > std::numeric_limits<std::int64_t>::max() / dim) {
      throw FormatError(
          fmt::format("{}: dimension {}: {} makes the element count overflow int64", name, i, dim));
    }
    count *= dim;
    array.shape.push_back(dim);
  }

  const auto expected = static_cast<std::size_t>(count);
  while (array.values.size() < expected) {
    const std::size_t before = array.values.size();
    const std::size_t slice =
        std::min({expected - before, std::max(kFirstSlice, before), kReadSlice});
    array.values.resize(before + slice);
    const std::size_t read = source.read(array.values.data() + before, slice);
    if (read < slice) {
      throw FormatError(fmt::format(
          "{}: data: dimensions {} need {} value bytes, the file holds only {} (truncated?)", name,
          shape_repr(array.shape), expected, before + read));
    }
  }
  std::uint8_t extra = 0;
  CORECLEAN_THROW_IF_NOT_AS(FormatError, source.read(&extra, 1) == 0,
                            "{}: data: the file holds more than the {} value bytes that "
                            "dimensions {} declare",
                            name, expected, shape_repr(array.shape));
  return array;
}

}  // namespace

IdxArray parse_idx(std::span<const std::byte> bytes, const std::string& name) {
  if (starts_with_gzip_magic(bytes)) {
    GzipSource source(bytes, name);
    return decode(source, name);
  }
  // Plain files are accepted too: several downloaders (e.g. torchvision's) unpack the archives.
  PlainSource source(bytes);
  return decode(source, name);
}

IdxArray read_idx(const std::filesystem::path& path) {
  const detail::FileBytes file = detail::read_file(path);
  return parse_idx(file.bytes, path.string());
}

LabelledImages read_idx_labelled_images(const std::filesystem::path& images,
                                        const std::filesystem::path& labels) {
  IdxArray pixels = read_idx(images);
  CORECLEAN_THROW_IF_NOT_AS(FormatError, pixels.shape.size() == 3,
                            "{}: number of dimensions: an image file has 3 (count, rows, "
                            "columns), this one has {}",
                            images.string(), pixels.shape.size());
  IdxArray classes = read_idx(labels);
  CORECLEAN_THROW_IF_NOT_AS(FormatError, classes.shape.size() == 1,
                            "{}: number of dimensions: a label file has 1 (count), this one "
                            "has {}",
                            labels.string(), classes.shape.size());
  CORECLEAN_THROW_IF_NOT_AS(FormatError, pixels.shape[0] == classes.shape[0],
                            "{}: dimension 0: {} labels, but {} holds {} images", labels.string(),
                            classes.shape[0], images.string(), pixels.shape[0]);
  LabelledImages out;
  out.count = pixels.shape[0];
  out.rows = static_cast<int>(pixels.shape[1]);
  out.cols = static_cast<int>(pixels.shape[2]);
  out.pixels = std::move(pixels.values);
  out.labels = std::move(classes.values);
  return out;
}

}  // namespace coreclean::io
