#include <coreclean/core/error.h>
#include <coreclean/io/npy.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <fstream>

#include "testing/helpers.h"
#include "testing/npy_fixtures.h"

namespace coreclean::io {
namespace {

using coreclean::testing::contains;
using coreclean::testing::element_count;
using coreclean::testing::error_of;
using coreclean::testing::expected_bytes;
using coreclean::testing::kCodes;
using coreclean::testing::numpy_files;
using coreclean::testing::read_text;
using coreclean::testing::shape_name;
using coreclean::testing::TempDir;
using coreclean::testing::test_shapes;
using coreclean::testing::write_text;

// ---- helpers shared by the tests of this file ----------------------------------------------

::testing::AssertionResult has_values(const NpyArray& a, DType dtype,
                                      const std::vector<std::int64_t>& shape) {
  if (a.dtype() != dtype)
    return ::testing::AssertionFailure() << "dtype " << dtype_descr(a.dtype());
  if (a.shape() != shape) return ::testing::AssertionFailure() << "shape differs";
  if (a.size() != element_count(shape)) return ::testing::AssertionFailure() << "size differs";
  const auto expected = expected_bytes(dtype, a.size());
  if (!expected.empty() && std::memcmp(a.bytes(), expected.data(), expected.size()) != 0)
    return ::testing::AssertionFailure() << "values differ";
  return ::testing::AssertionSuccess();
}

// A .npy image with the given header text. `align` pads like numpy (64); 1 leaves only the '\n',
// so that tests can place the data at any offset.
std::string npy_image(std::string_view dict, std::string_view data, int major = 1,
                      std::size_t align = 64) {
  const std::size_t prefix = major == 1 ? 10 : 12;
  std::string text(dict);
  while ((prefix + text.size() + 1) % align != 0) text += ' ';
  text += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  for (std::size_t i = 0; i < prefix - 8; ++i)
    out += static_cast<char>((text.size() >> (8 * i)) & 0xff);
  return out + text + std::string(data);
}

std::string float_bytes(std::initializer_list<float> values) {
  std::string out(values.size() * sizeof(float), '\0');
  std::memcpy(out.data(), std::data(values), out.size());
  return out;
}

// Wraps a vector in an NpyArray, as if read from a file.
template <typename T>
NpyArray make_array(DType dtype, std::vector<std::int64_t> shape, std::vector<T> values) {
  auto storage = std::make_shared<std::vector<T>>(std::move(values));
  const auto* bytes = reinterpret_cast<const std::byte*>(storage->data());
  return NpyArray(dtype, std::move(shape), storage, bytes);
}

// True when /proc/self/maps lists a mapping of `path`.
bool is_mapped(const std::filesystem::path& path) {
  const std::string maps = read_text("/proc/self/maps");
  return maps.find(std::filesystem::canonical(path).string()) != std::string::npos;
}

// ---- round trips -----------------------------------------------------------------------------

TEST(NpyRoundTrip, EveryDtypeAndShapeReadsBackIdentically) {
  // Invariant: read_npy(write_npy(a)) == a for every dtype and rank, read or memory-mapped.
  TempDir dir;
  for (const auto& [dtype, code] : kCodes) {
    for (const auto& shape : test_shapes()) {
      const auto path = dir / (std::string(code) + "_" + shape_name(shape) + ".npy");
      const auto bytes = expected_bytes(dtype, element_count(shape));
      write_npy(path, dtype, shape, bytes.data());
      EXPECT_TRUE(has_values(read_npy(path), dtype, shape)) << path;
      EXPECT_TRUE(has_values(read_npy(path, {.mmap_threshold = 0}), dtype, shape)) << path;
    }
  }
}

TEST(NpyRoundTrip, EncodeNpyMatchesWrittenFileAndParsesBack) {
  // Invariant: encode_npy produces exactly the bytes write_npy stores, and parse_npy reads them.
  TempDir dir;
  const std::vector<std::int64_t> shape = {3, 4};
  const auto data = expected_bytes(DType::kInt64, 12);
  const auto image = encode_npy(DType::kInt64, shape, data.data());
  write_npy(dir / "a.npy", DType::kInt64, shape, data.data());
  const std::string file = read_text(dir / "a.npy");
  ASSERT_EQ(file.size(), image.size());
  EXPECT_EQ(std::memcmp(file.data(), image.data(), image.size()), 0);
  auto storage = std::make_shared<std::vector<std::byte>>(image);
  EXPECT_TRUE(has_values(parse_npy(*storage, storage, "image"), DType::kInt64, shape));
}

TEST(NpyRoundTrip, MatrixAndVectorOverloadsWriteFloat32AndInt64) {
  // Invariant: write_npy(RowMatrixXf) stores <f4 n x d; write_npy(span<int64>) stores <i8 (n,).
  TempDir dir;
  RowMatrixXf x(2, 3);
  x << 1, 2, 3, 4, 5, 6.5f;
  write_npy(dir / "x.npy", x);
  const NpyArray a = read_npy(dir / "x.npy");
  ASSERT_EQ(a.dtype(), DType::kFloat32);
  ASSERT_EQ(a.shape(), (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(a.data<float>()[5], 6.5f);
  const std::vector<std::int64_t> v = {7, -1, std::numeric_limits<std::int64_t>::max()};
  write_npy(dir / "v.npy", v);
  const NpyArray b = read_npy(dir / "v.npy");
  ASSERT_EQ(b.dtype(), DType::kInt64);
  ASSERT_EQ(b.shape(), (std::vector<std::int64_t>{3}));
  EXPECT_EQ(std::vector<std::int64_t>(b.data<std::int64_t>(), b.data<std::int64_t>() + 3), v);
}

TEST(NpyHeader, DataStartsAtMultipleOf64AndHeaderEndsWithNewline) {
  // Invariant: like numpy, the header is space-padded so the data offset is a multiple of 64.
  for (const auto& shape :
       {std::vector<std::int64_t>{}, std::vector<std::int64_t>{7},
        std::vector<std::int64_t>{123456789, 0, 5}, std::vector<std::int64_t>(20, 1)}) {
    const std::uint8_t zeros[8] = {};
    const auto image = encode_npy(DType::kUInt8, shape, zeros);
    const std::string_view text(reinterpret_cast<const char*>(image.data()), image.size());
    const std::size_t header_length =
        static_cast<unsigned char>(text[8]) | static_cast<unsigned char>(text[9]) << 8;
    const std::size_t offset = 10 + header_length;
    EXPECT_EQ(text.substr(0, 8), std::string_view("\x93NUMPY\x01\x00", 8));
    EXPECT_EQ(offset % 64, 0u) << shape_name(shape);
    EXPECT_EQ(text[offset - 1], '\n');
    EXPECT_EQ(image.size(), offset + static_cast<std::size_t>(element_count(shape)));
  }
}

TEST(NpyHeader, HeaderLongerThan65535BytesUsesFormat2) {
  // Invariant: a header too long for format 1.0's uint16 length is written as format 2.0 and
  // still reads back (numpy cannot load so many dimensions, so only coreclean checks this).
  const std::vector<std::int64_t> shape(30000, 1);
  const std::uint8_t value = 42;
  const auto image = encode_npy(DType::kUInt8, shape, &value);
  ASSERT_GT(image.size(), 65536u);
  EXPECT_EQ(static_cast<int>(image[6]), 2);
  std::uint32_t header_length = 0;
  std::memcpy(&header_length, image.data() + 8, 4);
  EXPECT_EQ((12 + header_length) % 64, 0u);
  auto storage = std::make_shared<std::vector<std::byte>>(image);
  const NpyArray a = parse_npy(*storage, storage, "long");
  EXPECT_EQ(a.shape(), shape);
  EXPECT_EQ(a.data<std::uint8_t>()[0], 42);
}

TEST(NpyHeader, PythonLiteralVariantsParse) {
  // Invariant: headers that numpy accepts in other spellings (key order, double quotes, Python 2
  // 'L' suffixes, '=' byte order, no trailing comma) parse to the same array.
  const std::string data = float_bytes({1.5f, -2.0f});
  for (const std::string dict :
       {"{'shape': (2,), 'fortran_order': False, 'descr': '<f4'}",
        "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2L,)}",
        "{'descr':'=f4','fortran_order':False,'shape':(2,),}",
        "{ 'descr' : '<f4' ,\n 'fortran_order' : False , 'shape' : ( 2 , ) , }"}) {
    const std::string image = npy_image(dict, data);
    auto storage = std::make_shared<std::string>(image);
    const NpyArray a = parse_npy(std::as_bytes(std::span(*storage)), storage, "variant");
    ASSERT_EQ(a.dtype(), DType::kFloat32) << dict;
    ASSERT_EQ(a.shape(), (std::vector<std::int64_t>{2})) << dict;
    EXPECT_EQ(a.data<float>()[1], -2.0f) << dict;
  }
}

TEST(NpyRead, MisalignedDataIsCopiedToAlignedStorage) {
  // Invariant: data at an offset that is not a multiple of the element size (old or foreign
  // writers) is still read correctly and data<T>() returns an aligned pointer.
  TempDir dir;
  std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";
  while ((10 + dict.size() + 1) % 8 != 3) dict += ' ';
  const double values[] = {3.25, -1e300};
  const std::string image =
      npy_image(dict, std::string(reinterpret_cast<const char*>(values), sizeof values), 1, 1);
  write_text(dir / "odd.npy", image);
  for (const std::int64_t threshold : {std::int64_t{0}, std::int64_t{1} << 40}) {
    const NpyArray a = read_npy(dir / "odd.npy", {.mmap_threshold = threshold});
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a.data<double>()) % alignof(double), 0u);
    EXPECT_EQ(a.data<double>()[0], 3.25);
    EXPECT_EQ(a.data<double>()[1], -1e300);
  }
}

TEST(NpyRead, TrailingBytesAfterDataAreIgnored) {
  // Invariant: like numpy.load, extra bytes after the array data do not change the array.
  const std::string image =
      npy_image("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", float_bytes({7.0f})) +
      "extra";
  auto storage = std::make_shared<std::string>(image);
  const NpyArray a = parse_npy(std::as_bytes(std::span(*storage)), storage, "trailing");
  ASSERT_EQ(a.size(), 1);
  EXPECT_EQ(a.data<float>()[0], 7.0f);
}

TEST(NpyArrayAccess, DataThrowsWhenTypeDoesNotMatchDtype) {
  // Invariant: data<T>() refuses a T other than the array's dtype, naming both.
  const NpyArray a = make_array<float>(DType::kFloat32, {2}, {1, 2});
  EXPECT_EQ(a.data<float>()[1], 2.0f);
  const std::string message = error_of<InvalidArgument>([&] { (void)a.data<double>(); });
  EXPECT_TRUE(contains(message, "double"));
  EXPECT_TRUE(contains(message, "<f4"));
}

TEST(NpyArrayAccess, ScalarHasSizeOneAndEmptyShapeHasSizeZero) {
  // Invariant: size() is the product of shape: 1 for a 0-d array, 0 with any zero dimension.
  EXPECT_EQ(make_array<double>(DType::kFloat64, {}, {4.0}).size(), 1);
  EXPECT_EQ(make_array<double>(DType::kFloat64, {0, 3}, {}).size(), 0);
  EXPECT_EQ(dtype_size(DType::kInt64), 8u);
  EXPECT_EQ(dtype_descr(DType::kBool), "|b1");
}

// ---- numpy interoperability -----------------------------------------------------------------

TEST(NpyNumpy, FilesWrittenByNumpyLoadIdentically) {
  // Invariant: every dtype and shape np.save writes reads back with numpy's values, both from a
  // buffer and memory-mapped.
  CORECLEAN_REQUIRE_ORACLE();
  for (const auto& [dtype, code] : kCodes) {
    for (const auto& shape : test_shapes()) {
      const auto path = numpy_files() / (std::string(code) + "_" + shape_name(shape) + ".npy");
      EXPECT_TRUE(has_values(read_npy(path), dtype, shape)) << path;
      EXPECT_TRUE(has_values(read_npy(path, {.mmap_threshold = 0}), dtype, shape)) << path;
    }
  }
}

TEST(NpyNumpy, Format2And3HeadersLoad) {
  // Invariant: format 2.0 and 3.0 headers (uint32 header length) read like format 1.0.
  CORECLEAN_REQUIRE_ORACLE();
  EXPECT_TRUE(has_values(read_npy(numpy_files() / "f8_3x4_v2.npy"), DType::kFloat64, {3, 4}));
  EXPECT_TRUE(has_values(read_npy(numpy_files() / "i4_5_v3.npy"), DType::kInt32, {5}));
}

TEST(NpyNumpy, SpecialFloatValuesKeepTheirBits) {
  // Invariant: -0, infinities, NaN, denormals and the largest double are read bit-exactly.
  CORECLEAN_REQUIRE_ORACLE();
  const double expected[] = {0.0,
                             -0.0,
                             std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity(),
                             std::numeric_limits<double>::quiet_NaN(),
                             std::numeric_limits<double>::denorm_min(),
                             std::numeric_limits<double>::max(),
                             -1.5};
  const NpyArray a = read_npy(numpy_files() / "f8_special.npy");
  ASSERT_EQ(a.size(), 8);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(std::bit_cast<std::uint64_t>(a.data<double>()[i]),
              std::bit_cast<std::uint64_t>(expected[i]))
        << i;
  }
}

TEST(NpyNumpy, FilesWrittenByCorecleanAreByteIdenticalToNpSave) {
  // Invariant: numpy loads every file coreclean writes, with the same values, and the bytes equal
  // np.save's (header text, growth padding, 64-byte alignment).
  CORECLEAN_REQUIRE_ORACLE();
  TempDir dir;
  for (const auto& [dtype, code] : kCodes) {
    for (const auto& shape : test_shapes()) {
      const auto bytes = expected_bytes(dtype, element_count(shape));
      write_npy(dir / (std::string(code) + "_" + shape_name(shape) + ".npy"), dtype, shape,
                bytes.data());
    }
  }
  const auto large = expected_bytes(DType::kFloat32, std::int64_t{100} * 7);
  write_npy(dir / "f4_100x7.npy", DType::kFloat32, std::vector<std::int64_t>{100, 7}, large.data());
  // 15 dimensions: a header whose length crosses a 64-byte boundary only with numpy's spare
  // space for the growth axis, so that the byte comparison also checks that space.
  const std::vector<std::int64_t> many = {2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3};
  const auto six = expected_bytes(DType::kUInt8, 6);
  write_npy(dir / ("u1_" + shape_name(many) + ".npy"), DType::kUInt8, many, six.data());
  const std::string output =
      coreclean::testing::run_oracle("npy_roundtrip.py", {"verify", dir.path().string()});
  EXPECT_TRUE(contains(output, "ok: 38 files"));
}

// ---- memory mapping --------------------------------------------------------------------------

TEST(NpyMmap, FileAtThresholdIsMappedAndViewKeepsMappingAlive) {
  // Invariant: files >= mmap_threshold are mapped, not copied; to_sample_matrix views the mapping
  // and keeps it alive after the NpyArray is gone; it is unmapped when the last user dies.
  TempDir dir;
  const auto path = dir / "x.npy";
  const auto values = expected_bytes(DType::kFloat32, std::int64_t{50} * 8);
  write_npy(path, DType::kFloat32, std::vector<std::int64_t>{50, 8}, values.data());
  const auto file_size = static_cast<std::int64_t>(std::filesystem::file_size(path));
  {
    const NpyArray buffered = read_npy(path, {.mmap_threshold = file_size + 1});
    EXPECT_FALSE(is_mapped(path));
    EXPECT_TRUE(has_values(buffered, DType::kFloat32, {50, 8}));
  }
  SampleMatrix x;
  {
    const NpyArray mapped = read_npy(path, {.mmap_threshold = file_size});
    EXPECT_TRUE(is_mapped(path));
    EXPECT_TRUE(has_values(mapped, DType::kFloat32, {50, 8}));
    x = to_sample_matrix(mapped, path.string());
    EXPECT_EQ(x.view().data(), mapped.data<float>());  // zero-copy
  }
  EXPECT_TRUE(is_mapped(path));
  ASSERT_EQ(x.rows(), 50);
  EXPECT_EQ(std::memcmp(x.view().data(), values.data(), values.size()), 0);
  x = SampleMatrix();
  EXPECT_FALSE(is_mapped(path));
}

// This process's resident pages of mapped files (RssFile of /proc/self/status), in KB.
long resident_file_kb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("RssFile:", 0) == 0) return std::stol(line.substr(8));
  return -1;
}

TEST(NpyMmap, StreamedRowsLeaveTheResidentSetWhenReleased) {
  // Invariant: SampleMatrix::streamed() of a mapped file releases the rows a pass is done with:
  // their pages leave this process's resident set, and reading them again gives the same values.
  // A matrix in memory has nothing to release.
  TempDir dir;
  const auto path = dir / "x.npy";
  const std::int64_t rows = 4096, cols = 1024;  // 16 MiB
  const auto values = expected_bytes(DType::kFloat32, rows * cols);
  write_npy(path, DType::kFloat32, std::vector<std::int64_t>{rows, cols}, values.data());
  const SampleMatrix x = to_sample_matrix(read_npy(path, {.mmap_threshold = 0}), path.string());
  const StreamedSamples streamed = x.streamed();
  ASSERT_TRUE(static_cast<bool>(streamed.release));
  double sum = 0.0;
  for (Eigen::Index i = 0; i < rows; ++i) sum += streamed.x.row(i).cast<double>().sum();
  const long touched = resident_file_kb();
  streamed.done_with(0, rows);
  const long released = resident_file_kb();
  ASSERT_GE(touched, 0);
  EXPECT_LT(released, touched - 15 * 1024) << "RssFile " << touched << " KB → " << released << " KB";
  double again = 0.0;
  for (Eigen::Index i = 0; i < rows; ++i) again += streamed.x.row(i).cast<double>().sum();
  EXPECT_EQ(again, sum);
  EXPECT_EQ(std::memcmp(x.view().data(), values.data(), values.size()), 0);
  EXPECT_FALSE(static_cast<bool>(SampleMatrix(RowMatrixXf::Ones(3, 2)).streamed().release));
}

TEST(NpyMmap, MappedArrayKeepsOldContentWhenFileIsReplaced) {
  // Invariant: write_npy replaces files by rename, so an array mapped from the old file keeps its
  // values (the old inode lives until unmapped) instead of seeing a torn write.
  TempDir dir;
  const auto path = dir / "x.npy";
  const std::vector<std::int64_t> before = {1, 2, 3};
  const std::vector<std::int64_t> after = {4, 5, 6};
  write_npy(path, before);
  const NpyArray mapped = read_npy(path, {.mmap_threshold = 0});
  write_npy(path, after);
  EXPECT_EQ(std::vector<std::int64_t>(mapped.data<std::int64_t>(), mapped.data<std::int64_t>() + 3),
            before);
  const NpyArray fresh = read_npy(path);
  EXPECT_EQ(fresh.data<std::int64_t>()[0], 4);
}

// ---- writing ---------------------------------------------------------------------------------

TEST(NpyWrite, LeavesNoTemporaryFilesAndReplacesExistingFile) {
  // Invariant: an atomic write leaves exactly the target file in the folder.
  TempDir dir;
  write_npy(dir / "a.npy", std::vector<std::int64_t>{1});
  write_npy(dir / "a.npy", std::vector<std::int64_t>{1, 2});
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
    names.push_back(entry.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"a.npy"});
  EXPECT_EQ(read_npy(dir / "a.npy").size(), 2);
}

TEST(NpyWrite, MissingFolderIsIoErrorNamingPath) {
  // Invariant: a write the OS refuses throws IoError naming the target path.
  TempDir dir;
  const auto path = dir / "no_such_folder" / "a.npy";
  const std::string message =
      error_of<IoError>([&] { write_npy(path, std::vector<std::int64_t>{1}); });
  EXPECT_TRUE(contains(message, path.string()));
  EXPECT_TRUE(contains(message, "No such file or directory"));
}

TEST(NpyWrite, NegativeDimensionIsInvalidArgument) {
  // Invariant: a shape with a negative dimension is refused before anything is written.
  const std::vector<std::int64_t> shape = {2, -3};
  const std::string message =
      error_of<InvalidArgument>([&] { (void)encode_npy(DType::kFloat32, shape, nullptr); });
  EXPECT_TRUE(contains(message, "(2, -3)"));
}

// ---- read errors -----------------------------------------------------------------------------

// Writes `image` to dir/name and returns the message of the FormatError read_npy throws.
std::string format_error_of(const TempDir& dir, const std::string& name, std::string_view image) {
  write_text(dir / name, image);
  return error_of<FormatError>([&] { (void)read_npy(dir / name); });
}

TEST(NpyErrors, MissingFileIsIoErrorNamingPath) {
  // Invariant: reading a missing file throws IoError naming the path and the OS's reason.
  TempDir dir;
  const std::string message = error_of<IoError>([&] { (void)read_npy(dir / "missing.npy"); });
  EXPECT_TRUE(contains(message, (dir / "missing.npy").string()));
  EXPECT_TRUE(contains(message, "No such file or directory"));
}

TEST(NpyErrors, DirectoryIsIoError) {
  // Invariant: a path that is not a regular file throws IoError naming it.
  TempDir dir;
  std::filesystem::create_directory(dir / "d.npy");
  const std::string message = error_of<IoError>([&] { (void)read_npy(dir / "d.npy"); });
  EXPECT_TRUE(contains(message, (dir / "d.npy").string()));
  EXPECT_TRUE(contains(message, "not a regular file"));
}

TEST(NpyErrors, BadMagicIsFormatErrorShowingFoundBytes) {
  // Invariant: a file without the \x93NUMPY magic is refused, quoting what it starts with.
  TempDir dir;
  const std::string message = format_error_of(dir, "text.npy", "hello world, not numpy");
  EXPECT_TRUE(contains(message, (dir / "text.npy").string()));
  EXPECT_TRUE(contains(message, "\"hello \""));
  EXPECT_TRUE(contains(message, "magic"));
}

TEST(NpyErrors, EmptyAndTinyFilesAreFormatErrors) {
  // Invariant: files too short to hold a header are refused as truncated, naming their size.
  TempDir dir;
  EXPECT_TRUE(contains(format_error_of(dir, "empty.npy", ""), "empty.npy"));
  const std::string message = format_error_of(dir, "tiny.npy", "\x93NUMPY\x01");
  EXPECT_TRUE(contains(message, "tiny.npy"));
  EXPECT_TRUE(contains(message, "only 7 bytes"));
}

TEST(NpyErrors, UnsupportedVersionIsNamed) {
  // Invariant: format versions other than 1.0, 2.0 and 3.0 are refused, naming the version.
  TempDir dir;
  std::string image = npy_image("{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }", "", 1);
  image[6] = 4;
  const std::string message = format_error_of(dir, "v4.npy", image);
  EXPECT_TRUE(contains(message, "v4.npy"));
  EXPECT_TRUE(contains(message, "version 4.0"));
}

TEST(NpyErrors, TruncatedDataNamesExpectedAndActualBytes) {
  // Invariant: missing data bytes are refused, stating how many were needed and found.
  TempDir dir;
  const auto bytes = expected_bytes(DType::kFloat32, 12);
  write_npy(dir / "full.npy", DType::kFloat32, std::vector<std::int64_t>{3, 4}, bytes.data());
  std::string image = read_text(dir / "full.npy");
  image.resize(image.size() - 4);
  for (const std::int64_t threshold : {std::int64_t{0}, std::int64_t{1} << 40}) {
    write_text(dir / "cut.npy", image);
    const std::string message = error_of<FormatError>(
        [&] { (void)read_npy(dir / "cut.npy", {.mmap_threshold = threshold}); });
    EXPECT_TRUE(contains(message, (dir / "cut.npy").string()));
    EXPECT_TRUE(contains(message, "needs 48 bytes"));
    EXPECT_TRUE(contains(message, "only 44"));
  }
}

TEST(NpyErrors, TruncatedHeaderIsFormatError) {
  // Invariant: a header length field pointing past the end of the file is refused with both sizes.
  TempDir dir;
  std::string image = npy_image("{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }", "");
  image.resize(40);
  const std::string message = format_error_of(dir, "cut_header.npy", image);
  EXPECT_TRUE(contains(message, "cut_header.npy"));
  EXPECT_TRUE(contains(message, "says 118 bytes, but only 30"));
}

TEST(NpyErrors, FortranOrderRefusedWithAdvice) {
  // Invariant: fortran_order True is refused, telling the user how to fix the file.
  TempDir dir;
  const std::string message = format_error_of(
      dir, "f.npy",
      npy_image("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 1), }", float_bytes({1})));
  EXPECT_TRUE(contains(message, (dir / "f.npy").string()));
  EXPECT_TRUE(contains(message, "fortran_order is True"));
  EXPECT_TRUE(contains(message, "np.ascontiguousarray"));
}

TEST(NpyErrors, BigEndianRefusedNamingDtype) {
  // Invariant: big-endian dtypes are refused, naming the descr and the little-endian fix.
  TempDir dir;
  const std::string message = format_error_of(
      dir, "be.npy", npy_image("{'descr': '>i8', 'fortran_order': False, 'shape': (0,), }", ""));
  EXPECT_TRUE(contains(message, "be.npy"));
  EXPECT_TRUE(contains(message, "big-endian dtype '>i8'"));
  EXPECT_TRUE(contains(message, "astype('<i8')"));
}

TEST(NpyErrors, UnsupportedDtypeIsNamed) {
  // Invariant: dtypes outside <f4 <f8 <i4 <i8 |u1 |b1 are refused, naming the descr; structured
  // dtypes are refused quoting their description.
  TempDir dir;
  for (const std::string descr : {"<c8", "<u4", "|i1", "<U3", "|O"}) {
    const std::string message = format_error_of(
        dir, "d.npy",
        npy_image("{'descr': '" + descr + "', 'fortran_order': False, 'shape': (0,), }", ""));
    EXPECT_TRUE(contains(message, "d.npy"));
    EXPECT_TRUE(contains(message, "unsupported dtype '" + descr + "'"));
  }
  const std::string message = format_error_of(
      dir, "s.npy",
      npy_image("{'descr': [('x', '<f4'), ('y', '<i4')], 'fortran_order': False, 'shape': (0,), }",
                ""));
  EXPECT_TRUE(contains(message, "s.npy"));
  EXPECT_TRUE(contains(message, "[('x', '<f4'), ('y', '<i4')]"));
}

TEST(NpyErrors, MalformedHeadersAreNamed) {
  // Invariant: a header that is not the expected dictionary is refused, quoting the offending
  // part (missing or extra key, bad shape, bad fortran_order, unparsable literal).
  TempDir dir;
  const struct {
    std::string dict;
    std::string expected;
  } cases[] = {
      {"{'descr': '<f4', 'fortran_order': False}", "has no 'shape' key"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", "unexpected key 'x'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", "invalid dimension -1"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2), }", "shape (2) is not a tuple"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': [2], }", "shape [2] is not a tuple"},
      {"{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", "fortran_order is 0"},
      {"{'descr': '<f4', 'fortran_order': Nope, 'shape': (2,), }", "unexpected word 'Nope'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }",
       "integer too large"},
      {"{'descr' '<f4'}", "expected ':'"},
      {"{'descr': '<f4' 'fortran_order': False}", "expected ',' or '}'"},
      {"['descr', '<f4']", "is not a dictionary"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } junk", "unexpected text"},
      {"{'descr': '<f4", "unterminated string"},
  };
  for (const auto& c : cases) {
    const std::string message = format_error_of(dir, "h.npy", npy_image(c.dict, ""));
    EXPECT_TRUE(contains(message, (dir / "h.npy").string())) << c.dict;
    EXPECT_TRUE(contains(message, c.expected)) << c.dict;
  }
}

TEST(NpyErrors, HugeShapeIsRefusedNotAllocated) {
  // Invariant: a shape whose element count overflows is refused instead of overflowing.
  TempDir dir;
  const std::string message = format_error_of(
      dir, "huge.npy",
      npy_image("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }",
                ""));
  EXPECT_TRUE(contains(message, "huge.npy"));
  EXPECT_TRUE(contains(message, "(4294967296, 4294967296)"));
}

TEST(NpyErrors, BoolByteOtherThanZeroOrOneIsRefused) {
  // Invariant: a |b1 array may only hold bytes 0 and 1 (anything else is not a valid C++ bool).
  TempDir dir;
  const std::string message =
      format_error_of(dir, "b.npy",
                      npy_image("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }",
                                std::string("\1\0\7", 3)));
  EXPECT_TRUE(contains(message, "b.npy"));
  EXPECT_TRUE(contains(message, "element 2 has byte value 7"));
}

TEST(NpyErrors, NumpyFortranBigEndianAndFloat16FilesAreRefused) {
  // Invariant: the refusals above also hold for the files numpy itself writes.
  CORECLEAN_REQUIRE_ORACLE();
  const auto fortran = numpy_files() / "f4_3x4_fortran.npy";
  std::string message = error_of<FormatError>([&] { (void)read_npy(fortran); });
  EXPECT_TRUE(contains(message, fortran.string()));
  EXPECT_TRUE(contains(message, "fortran_order is True"));
  const auto big = numpy_files() / "f4_3x4_bigendian.npy";
  message = error_of<FormatError>([&] { (void)read_npy(big); });
  EXPECT_TRUE(contains(message, big.string()));
  EXPECT_TRUE(contains(message, "'>f4'"));
  const auto half = numpy_files() / "f2_3.npy";
  message = error_of<FormatError>([&] { (void)read_npy(half); });
  EXPECT_TRUE(contains(message, half.string()));
  EXPECT_TRUE(contains(message, "'<f2'"));
}

// ---- SampleMatrix ----------------------------------------------------------------------------

TEST(SampleMatrix, OwningConstructorKeepsValuesAndCopiesShareThem) {
  // Invariant: a SampleMatrix owns its matrix; copies view the same storage.
  RowMatrixXf m(2, 2);
  m << 1, 2, 3, 4;
  const SampleMatrix a(m);
  const SampleMatrix b = a;  // NOLINT(performance-unnecessary-copy-initialization): under test
  EXPECT_EQ(a.rows(), 2);
  EXPECT_EQ(a.cols(), 2);
  EXPECT_EQ(b.view().data(), a.view().data());
  EXPECT_TRUE(a.view().isApprox(m));
}

TEST(SampleMatrix, Float32ArrayIsViewedWithoutCopy) {
  // Invariant: to_sample_matrix of a <f4 array points at the array's bytes.
  const NpyArray a = make_array<float>(DType::kFloat32, {2, 3}, {1, 2, 3, 4, 5, 6});
  const SampleMatrix x = to_sample_matrix(a, "x.npy");
  EXPECT_EQ(x.view().data(), a.data<float>());
  EXPECT_EQ(x.rows(), 2);
  EXPECT_EQ(x.cols(), 3);
  EXPECT_EQ(x.view()(1, 2), 6.0f);
}

TEST(SampleMatrix, OtherNumericDtypesConvertToFloat32) {
  // Invariant: <f8, <i4, <i8 and |u1 arrays convert element-wise to float32, same layout.
  const auto check = [](const NpyArray& a, const std::vector<float>& expected) {
    const SampleMatrix x = to_sample_matrix(a, "x.npy");
    ASSERT_EQ(x.rows(), 2);
    ASSERT_EQ(x.cols(), 2);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(x.view()(i / 2, i % 2), expected[i]) << i;
  };
  check(make_array<double>(DType::kFloat64, {2, 2}, {1, -2, 3.5, 1e-3}), {1, -2, 3.5f, 1e-3f});
  check(make_array<std::int32_t>(DType::kInt32, {2, 2}, {1, -2, 3, 255}), {1, -2, 3, 255});
  check(make_array<std::int64_t>(DType::kInt64, {2, 2}, {1, -2, 3, 1LL << 40}),
        {1, -2, 3, 1099511627776.0f});
  check(make_array<std::uint8_t>(DType::kUInt8, {2, 2}, {1, 254, 3, 255}), {1, 254, 3, 255});
}

TEST(SampleMatrix, NanOrInfRefusedNamingRowColumnAndValue) {
  // Invariant: non-finite features are refused with the file, row, column and value.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> values(std::size_t{5000} * 3, 0.5f);  // more than one scan block
  values[4321 * 3 + 1] = nan;
  std::string message = error_of<InvalidArgument>([&] {
    (void)to_sample_matrix(make_array<float>(DType::kFloat32, {5000, 3}, values), "X_train.npy");
  });
  EXPECT_TRUE(contains(message, "X_train.npy"));
  EXPECT_TRUE(contains(message, "nan at row 4321, column 1"));

  message = error_of<InvalidArgument>([&] {
    (void)to_sample_matrix(make_array<double>(DType::kFloat64, {2, 2}, {0, 0, -HUGE_VAL, 0}),
                           "X_test.npy");
  });
  EXPECT_TRUE(contains(message, "X_test.npy"));
  EXPECT_TRUE(contains(message, "-inf at row 1, column 0"));

  message = error_of<InvalidArgument>([&] {
    (void)to_sample_matrix(make_array<double>(DType::kFloat64, {1, 2}, {0, 1e300}), "big.npy");
  });
  EXPECT_TRUE(contains(message, "big.npy"));
  EXPECT_TRUE(contains(message, "1e+300 at row 0, column 1 does not fit in float32"));
}

TEST(SampleMatrix, ArraysThatAreNot2dRefusedNamingShape) {
  // Invariant: only 2-d arrays are samples; the message names the file and the actual shape.
  std::string message = error_of<InvalidArgument>([&] {
    (void)to_sample_matrix(make_array<float>(DType::kFloat32, {3}, {1, 2, 3}), "X.npy");
  });
  EXPECT_TRUE(contains(message, "X.npy"));
  EXPECT_TRUE(contains(message, "shape (3,)"));
  message = error_of<InvalidArgument>([&] {
    (void)to_sample_matrix(make_array<float>(DType::kFloat32, {1, 1, 1}, {1}), "X3.npy");
  });
  EXPECT_TRUE(contains(message, "X3.npy"));
  EXPECT_TRUE(contains(message, "shape (1, 1, 1)"));
}

TEST(SampleMatrix, BoolArrayRefused) {
  // Invariant: bool arrays are not features; the message names the file and the dtype.
  const std::string message = error_of<InvalidArgument>([&] {
    (void)to_sample_matrix(make_array<std::uint8_t>(DType::kBool, {1, 2}, {1, 0}), "B.npy");
  });
  EXPECT_TRUE(contains(message, "B.npy"));
  EXPECT_TRUE(contains(message, "|b1"));
}

TEST(SampleMatrix, EmptyMatrixIsAccepted) {
  // Invariant: 0 x d arrays convert (callers decide whether empty is acceptable).
  const SampleMatrix x = to_sample_matrix(make_array<double>(DType::kFloat64, {0, 4}, {}), "e");
  EXPECT_EQ(x.rows(), 0);
  EXPECT_EQ(x.cols(), 4);
}

// ---- labels ----------------------------------------------------------------------------------

TEST(Labels, IntegerDtypesAreKeptAsTheyAre) {
  // Invariant: <i4, <i8 and |u1 labels convert to int64 unchanged.
  EXPECT_EQ(to_labels(make_array<std::int32_t>(DType::kInt32, {3}, {-5, 0, 7}), "y"),
            (Labels{-5, 0, 7}));
  EXPECT_EQ(to_labels(make_array<std::int64_t>(DType::kInt64, {2}, {900100581904, 1}), "y"),
            (Labels{900100581904, 1}));
  EXPECT_EQ(to_labels(make_array<std::uint8_t>(DType::kUInt8, {2}, {255, 3}), "y"),
            (Labels{255, 3}));
}

TEST(Labels, IntegralFloatsAreAccepted) {
  // Invariant: float labels convert when every value is an exact integer.
  EXPECT_EQ(to_labels(make_array<double>(DType::kFloat64, {3}, {1, -2, 1e15}), "y"),
            (Labels{1, -2, 1000000000000000}));
  EXPECT_EQ(to_labels(make_array<float>(DType::kFloat32, {2}, {3, 0}), "y"), (Labels{3, 0}));
}

TEST(Labels, NonIntegralOrNonFiniteFloatRefusedNamingIndexAndValue) {
  // Invariant: a fractional, NaN, infinite or out-of-range float label is refused, naming file,
  // index and value.
  std::string message = error_of<InvalidArgument>([&] {
    (void)to_labels(make_array<double>(DType::kFloat64, {4}, {1, 2, 3, 2.5}), "y_train.npy");
  });
  EXPECT_TRUE(contains(message, "y_train.npy"));
  EXPECT_TRUE(contains(message, "label at index 3 is 2.5"));
  message = error_of<InvalidArgument>([&] {
    (void)to_labels(make_array<float>(DType::kFloat32, {2}, {1, NAN}), "y_test.npy");
  });
  EXPECT_TRUE(contains(message, "y_test.npy"));
  EXPECT_TRUE(contains(message, "index 1 is nan"));
  message = error_of<InvalidArgument>(
      [&] { (void)to_labels(make_array<double>(DType::kFloat64, {1}, {1e19}), "y.npy"); });
  EXPECT_TRUE(contains(message, "index 0 is 1e+19"));
}

TEST(Labels, BoolAndNon1dRefused) {
  // Invariant: labels are a 1-d integer (or integral float) array; bool and other ranks are not.
  std::string message = error_of<InvalidArgument>([&] {
    (void)to_labels(make_array<std::uint8_t>(DType::kBool, {2}, {1, 0}), "yb.npy");
  });
  EXPECT_TRUE(contains(message, "yb.npy"));
  EXPECT_TRUE(contains(message, "|b1"));
  message = error_of<InvalidArgument>([&] {
    (void)to_labels(make_array<std::int64_t>(DType::kInt64, {2, 1}, {1, 2}), "y2.npy");
  });
  EXPECT_TRUE(contains(message, "y2.npy"));
  EXPECT_TRUE(contains(message, "shape (2, 1)"));
}

}  // namespace
}  // namespace coreclean::io
