#ifndef CORECLEAN_TESTS_TESTING_NPY_FIXTURES_H_
#define CORECLEAN_TESTS_TESTING_NPY_FIXTURES_H_

// Fixtures shared by the .npy and .npz tests: the dtypes and shapes covered, the deterministic
// values of tests/oracle/npy_roundtrip.py, and the files numpy writes.

#include <coreclean/io/npy.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace coreclean::testing {

/// A dtype and its numpy type code (without byte order).
struct DtypeCode {
  io::DType dtype;
  const char* code;
};

/// Every dtype, with the code the oracle uses in its file names.
inline constexpr DtypeCode kCodes[] = {{io::DType::kFloat32, "f4"}, {io::DType::kFloat64, "f8"},
                                       {io::DType::kInt32, "i4"},   {io::DType::kInt64, "i8"},
                                       {io::DType::kUInt8, "u1"},   {io::DType::kBool, "b1"}};

/// The shapes every dtype is tested with: scalar, empty, 1-d, 2-d, 3-d, empty 2-d.
const std::vector<std::vector<std::int64_t>>& test_shapes();

/// The oracle's name of a shape: "scalar", or the extents joined by 'x' ("2x3x4").
std::string shape_name(const std::vector<std::int64_t>& shape);

/// The number of elements of an array of this shape (1 for a scalar).
std::int64_t element_count(const std::vector<std::int64_t>& shape);

/// The deterministic values of tests/oracle/npy_roundtrip.py's `values`, as raw bytes.
std::vector<std::byte> expected_bytes(io::DType dtype, std::int64_t n);

/// Folder of files written by numpy (tests/oracle/npy_roundtrip.py write), created once.
const std::filesystem::path& numpy_files();

}  // namespace coreclean::testing

#endif  // CORECLEAN_TESTS_TESTING_NPY_FIXTURES_H_
