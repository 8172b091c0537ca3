#ifndef CORECLEAN_IO_NPY_H_
#define CORECLEAN_IO_NPY_H_

/// @file
/// NumPy `.npy` arrays: read (format 1.0, 2.0 and 3.0 headers; little-endian float32, float64,
/// int32, int64, uint8, bool; C order, Fortran order refused with a clear error) and write
/// (format 1.0, or 2.0 when the header needs it). Large files are memory-mapped, not copied.

#include <coreclean/core/types.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace coreclean::io {

/// Element type of an array, as numpy's dtype descr (`<f4`, `<f8`, `<i4`, `<i8`, `|u1`, `|b1`).
enum class DType { kFloat32, kFloat64, kInt32, kInt64, kUInt8, kBool };

/// Size of one element in bytes.
std::size_t dtype_size(DType dtype);
/// numpy's descr string for the type, e.g. "<f4".
std::string_view dtype_descr(DType dtype);

struct NpyReadOptions;

/// An n-dimensional array read from a `.npy` file or an `.npz` member. The bytes are either owned
/// or memory-mapped; copies of an NpyArray share them (cheap to copy, immutable).
class NpyArray {
 public:
  NpyArray() = default;
  /// Wraps bytes already in memory. `storage` keeps them alive; `bytes` points into it and
  /// holds product(shape) elements of `dtype` in C order.
  NpyArray(DType dtype, std::vector<std::int64_t> shape, std::shared_ptr<const void> storage,
           const std::byte* bytes);

  DType dtype() const { return dtype_; }
  /// Dimensions; an empty vector for a 0-d (scalar) array.
  const std::vector<std::int64_t>& shape() const { return shape_; }
  /// Number of elements (product of shape; 1 for a scalar).
  std::int64_t size() const;
  /// Raw element bytes, C order, little-endian.
  const std::byte* bytes() const { return bytes_; }
  /// Typed pointer; throws InvalidArgument when T does not match dtype(). Instantiated for
  /// float, double, std::int32_t, std::int64_t, std::uint8_t and bool only.
  template <typename T>
  const T* data() const;
  /// True when the bytes are a read-only mapping of the file (read_npy of a large file).
  bool mapped() const { return mapped_; }
  /// For a mapped array: lets the operating system drop the pages wholly inside bytes
  /// [offset, offset + length) of the data from the process's resident set (they stay in the
  /// page cache and come back on the next access). Nothing for an array in memory.
  void release(std::size_t offset, std::size_t length) const;

 private:
  DType dtype_ = DType::kFloat32;
  std::vector<std::int64_t> shape_;
  std::shared_ptr<const void> storage_;
  const std::byte* bytes_ = nullptr;
  bool mapped_ = false;

  friend NpyArray read_npy(const std::filesystem::path& path, const NpyReadOptions& options);
};

/// Options of read_npy.
struct NpyReadOptions {
  /// Files at least this large (bytes) are memory-mapped instead of read into memory.
  std::int64_t mmap_threshold = 64LL << 20;
};

/// Reads a `.npy` file. Throws FormatError (bad magic, unsupported version, header that does not
/// parse, big-endian or unsupported dtype, Fortran order, truncated data) or IoError, naming the
/// path and the offending value.
NpyArray read_npy(const std::filesystem::path& path, const NpyReadOptions& options = {});

/// Parses a whole `.npy` image held in memory; `name` is used in error messages. The array
/// shares `storage` (which must own `bytes`).
NpyArray parse_npy(std::span<const std::byte> bytes, std::shared_ptr<const void> storage,
                   const std::string& name);

/// Serialises an array to the bytes of a `.npy` file.
std::vector<std::byte> encode_npy(DType dtype, std::span<const std::int64_t> shape,
                                  const void* data);

/// Writes a `.npy` file atomically (temporary file, then rename). `data` holds product(shape)
/// elements of `dtype` in C order.
void write_npy(const std::filesystem::path& path, DType dtype, std::span<const std::int64_t> shape,
               const void* data);

/// Writes an n × d float32 matrix.
void write_npy(const std::filesystem::path& path, const RowMatrixXf& x);
/// Writes a vector of int64 (e.g. labels or ids) as a 1-d array.
void write_npy(const std::filesystem::path& path, std::span<const std::int64_t> v);

/// n × d float32 samples that either own their storage or view an NpyArray's bytes (e.g. a
/// memory-mapped file) without a copy. Cheap to copy; immutable.
class SampleMatrix {
 public:
  SampleMatrix() = default;
  /// Takes ownership of a matrix.
  explicit SampleMatrix(RowMatrixXf owned);
  /// Views `rows` × `cols` floats at `data`, kept alive by `storage`.
  SampleMatrix(std::shared_ptr<const void> storage, const float* data, Eigen::Index rows,
               Eigen::Index cols);

  /// The samples, row-major; binds to MatrixRef without a copy.
  Eigen::Map<const RowMatrixXf> view() const { return {data_, rows_, cols_}; }
  /// view() with release(): rows a pass is done with leave the resident set when the matrix
  /// is a memory-mapped file (see StreamedSamples); nothing is released otherwise.
  StreamedSamples streamed() const;
  Eigen::Index rows() const { return rows_; }
  Eigen::Index cols() const { return cols_; }

 private:
  friend SampleMatrix to_sample_matrix(const NpyArray& a, const std::string& name,
                                       std::pair<Eigen::Index, Eigen::Index> checked_rows);

  std::shared_ptr<const void> storage_;
  const NpyArray* mapped_array_ = nullptr;  // the mapped array viewed (kept alive by storage_)
  const float* data_ = nullptr;
  Eigen::Index rows_ = 0;
  Eigen::Index cols_ = 0;
};

/// Converts a 2-d numeric array to float32 samples. Refuses other ranks, bool, and any NaN or
/// Inf (naming `name`, the row and the column), and float64 values beyond float32's range.
/// A float32 array is viewed, not copied (so a
/// memory-mapped file stays mapped); other dtypes are converted into owned storage.
/// `checked_rows`: a float32 array's rows [begin, end) that are checked for NaN/Inf ({0, -1} =
/// all; a process that reads only its share of a large file checks only that share).
SampleMatrix to_sample_matrix(const NpyArray& a, const std::string& name,
                              std::pair<Eigen::Index, Eigen::Index> checked_rows = {0, -1});

/// Converts a 1-d array to labels: integer dtypes as they are; floating dtypes only when every
/// value is integral (else InvalidArgument naming `name`, the index and the value).
Labels to_labels(const NpyArray& a, const std::string& name);

}  // namespace coreclean::io

#endif  // CORECLEAN_IO_NPY_H_
