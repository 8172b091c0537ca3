#ifndef CORECLEAN_IO_IDX_H_
#define CORECLEAN_IO_IDX_H_

/// @file
/// IDX arrays, the format of MNIST and Fashion-MNIST (`*-images-idx3-ubyte.gz`,
/// `*-labels-idx1-ubyte.gz`), read from gzip-compressed or plain files.
///
/// Layout (all integers big-endian): a 4-byte magic number `00 00 TT DD` (TT = data type,
/// DD = number of dimensions), DD dimensions as 32-bit integers, then the values in C order.
/// Only TT = 0x08 (unsigned byte), the type of every MNIST-family file, is supported; the other
/// types of the format (0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64) are
/// recognised and refused by name.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace coreclean::io {

/// An IDX array of unsigned bytes.
struct IdxArray {
  /// Dimensions, outermost first (e.g. {10000, 28, 28} for an image file, {10000} for labels).
  std::vector<std::int64_t> shape;
  /// product(shape) values in C order (the last dimension varies fastest).
  std::vector<std::uint8_t> values;
};

/// Decodes an IDX file held in memory: gzip-compressed (detected by gzip's magic bytes 1f 8b;
/// concatenated gzip members are read as one stream) or plain. `name` names the input in error
/// messages (usually the path). Throws FormatError naming `name` and the field that is wrong:
/// "magic number" (first two bytes not zero), "data type" (not 0x08), "number of dimensions"
/// (zero), "dimension i" (beyond 2^31 - 1 or an element count beyond int64), "data" (fewer or
/// more value bytes than the dimensions declare), or "gzip stream" (corrupt or truncated).
IdxArray parse_idx(std::span<const std::byte> bytes, const std::string& name);

/// Reads and decodes an IDX file (gzip-compressed or plain). Throws IoError naming the path when
/// it cannot be read, FormatError as parse_idx.
IdxArray read_idx(const std::filesystem::path& path);

/// Grey-scale images with one label each, as MNIST-family datasets ship them (an idx3 image
/// file and an idx1 label file with the same count).
struct LabelledImages {
  std::int64_t count = 0;  ///< number of images
  int rows = 0;            ///< image height in pixels
  int cols = 0;            ///< image width in pixels
  /// count × rows × cols pixels, row-major per image; 0 = background, 255 = full ink.
  std::vector<std::uint8_t> pixels;
  /// count labels.
  std::vector<std::uint8_t> labels;

  /// The rows × cols pixels of image i (0 ≤ i < count), row-major; a view into `pixels`.
  [[nodiscard]] std::span<const std::uint8_t> image(std::int64_t i) const {
    const auto size = static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols);
    return {pixels.data() + static_cast<std::size_t>(i) * size, size};
  }
};

/// Reads an image file (3 dimensions: count × rows × cols) and its label file (1 dimension:
/// count). Throws FormatError naming the file and the field when a file has the wrong number of
/// dimensions or the counts differ (naming both files and both counts), IoError when a file
/// cannot be read.
LabelledImages read_idx_labelled_images(const std::filesystem::path& images,
                                        const std::filesystem::path& labels);

}  // namespace coreclean::io

#endif  // CORECLEAN_IO_IDX_H_
