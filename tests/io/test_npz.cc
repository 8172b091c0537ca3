#include <coreclean/core/error.h>
#include <coreclean/io/npz.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

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

// An NpyArray holding the expected values of (dtype, shape).
NpyArray expected_array(DType dtype, const std::vector<std::int64_t>& shape) {
  auto storage =
      std::make_shared<std::vector<std::byte>>(expected_bytes(dtype, element_count(shape)));
  return NpyArray(dtype, shape, storage, storage->data());
}

::testing::AssertionResult has_values(const NpyArray& a, DType dtype,
                                      const std::vector<std::int64_t>& shape) {
  if (a.dtype() != dtype)
    return ::testing::AssertionFailure() << "dtype " << dtype_descr(a.dtype());
  if (a.shape() != shape) return ::testing::AssertionFailure() << "shape differs";
  const auto expected = expected_bytes(dtype, a.size());
  if (!expected.empty() && std::memcmp(a.bytes(), expected.data(), expected.size()) != 0)
    return ::testing::AssertionFailure() << "values differ";
  return ::testing::AssertionSuccess();
}

// Every dtype x shape, keyed "<code>_<shape>" as the oracle expects.
std::map<std::string, NpyArray> all_arrays() {
  std::map<std::string, NpyArray> arrays;
  for (const auto& [dtype, code] : kCodes) {
    for (const auto& shape : test_shapes())
      arrays.emplace(std::string(code) + "_" + shape_name(shape), expected_array(dtype, shape));
  }
  return arrays;
}

// The members np.savez wrote in the oracle's savez*.npz.
void expect_oracle_members(const std::map<std::string, NpyArray>& arrays) {
  ASSERT_EQ(arrays.size(), 4u);
  ASSERT_TRUE(arrays.contains("f4_3x4"));
  EXPECT_TRUE(has_values(arrays.at("f4_3x4"), DType::kFloat32, {3, 4}));
  EXPECT_TRUE(has_values(arrays.at("i8_5"), DType::kInt64, {5}));
  EXPECT_TRUE(has_values(arrays.at("u1_scalar"), DType::kUInt8, {}));
  EXPECT_TRUE(has_values(arrays.at("b1_2x3x4"), DType::kBool, {2, 3, 4}));
}

TEST(NpzRoundTrip, EveryDtypeAndShapeReadsBack) {
  // Invariant: read_npz(write_npz(m)) == m for every dtype and rank, and no temporary file stays.
  TempDir dir;
  const auto arrays = all_arrays();
  write_npz(dir / "all.npz", arrays);
  const auto loaded = read_npz(dir / "all.npz");
  ASSERT_EQ(loaded.size(), arrays.size());
  for (const auto& [key, array] : arrays) {
    ASSERT_TRUE(loaded.contains(key)) << key;
    EXPECT_TRUE(has_values(loaded.at(key), array.dtype(), array.shape())) << key;
  }
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()),
            1);
}

TEST(NpzRoundTrip, EmptyArchiveReadsBackEmpty) {
  // Invariant: an archive without arrays is a valid, empty .npz (as numpy.savez writes it).
  TempDir dir;
  write_npz(dir / "empty.npz", {});
  EXPECT_TRUE(read_npz(dir / "empty.npz").empty());
}

TEST(NpzNumpy, SavezStoredMembersLoad) {
  // Invariant: numpy.savez archives (stored members) load with numpy's values and keys.
  CORECLEAN_REQUIRE_ORACLE();
  expect_oracle_members(read_npz(numpy_files() / "savez.npz"));
}

TEST(NpzNumpy, SavezCompressedDeflatedMembersLoad) {
  // Invariant: numpy.savez_compressed archives (deflated members) load with numpy's values.
  CORECLEAN_REQUIRE_ORACLE();
  expect_oracle_members(read_npz(numpy_files() / "savez_compressed.npz"));
}

TEST(NpzNumpy, ArchivesWrittenByCorecleanLoadInNumpyDeflated) {
  // Invariant: numpy.load reads coreclean's archives with the same values, every member deflated
  // and passing its CRC check; an empty archive loads too.
  CORECLEAN_REQUIRE_ORACLE();
  TempDir dir;
  write_npz(dir / "all.npz", all_arrays());
  write_npz(dir / "empty.npz", {});
  const std::string output =
      coreclean::testing::run_oracle("npy_roundtrip.py", {"verify", dir.path().string()});
  EXPECT_TRUE(contains(output, "ok: 2 files"));
}

TEST(NpzErrors, NotAZipIsFormatErrorNamingPath) {
  // Invariant: a file that is not a zip archive (here a .npy) is a FormatError naming the path.
  TempDir dir;
  write_npy(dir / "a.npz", std::vector<std::int64_t>{1, 2});
  const std::string message = error_of<FormatError>([&] { (void)read_npz(dir / "a.npz"); });
  EXPECT_TRUE(contains(message, (dir / "a.npz").string()));
  EXPECT_TRUE(contains(message, "not a zip archive"));
}

TEST(NpzErrors, EmptyFileIsFormatError) {
  // Invariant: a zero-byte file is not an archive (libzip alone would call it an empty one).
  TempDir dir;
  write_text(dir / "e.npz", "");
  const std::string message = error_of<FormatError>([&] { (void)read_npz(dir / "e.npz"); });
  EXPECT_TRUE(contains(message, (dir / "e.npz").string()));
  EXPECT_TRUE(contains(message, "empty"));
}

TEST(NpzErrors, MissingFileIsIoError) {
  // Invariant: a missing archive is an IoError naming the path.
  TempDir dir;
  const std::string message = error_of<IoError>([&] { (void)read_npz(dir / "none.npz"); });
  EXPECT_TRUE(contains(message, (dir / "none.npz").string()));
}

TEST(NpzErrors, TruncatedArchiveIsFormatError) {
  // Invariant: an archive cut short (no central directory) is a FormatError naming the path.
  TempDir dir;
  write_npz(dir / "full.npz", all_arrays());
  const std::string bytes = read_text(dir / "full.npz");
  write_text(dir / "cut.npz", std::string_view(bytes).substr(0, bytes.size() / 2));
  const std::string message = error_of<FormatError>([&] { (void)read_npz(dir / "cut.npz"); });
  EXPECT_TRUE(contains(message, (dir / "cut.npz").string()));
}

TEST(NpzErrors, MemberThatIsNotNpyIsNamed) {
  // Invariant: a member that is not a .npy image is a FormatError naming archive and member.
  CORECLEAN_REQUIRE_ORACLE();
  const auto path = numpy_files() / "bad_member.npz";
  const std::string message = error_of<FormatError>([&] { (void)read_npz(path); });
  EXPECT_TRUE(contains(message, path.string()));
  EXPECT_TRUE(contains(message, "member junk.npy"));
  EXPECT_TRUE(contains(message, "\"this i\""));
}

TEST(NpzErrors, CorruptMemberFailsCrcCheck) {
  // Invariant: a member whose bytes do not match its CRC is refused, naming it.
  CORECLEAN_REQUIRE_ORACLE();
  const auto path = numpy_files() / "crc_corrupt.npz";
  const std::string message = error_of<FormatError>([&] { (void)read_npz(path); });
  EXPECT_TRUE(contains(message, path.string()));
  EXPECT_TRUE(contains(message, "member f4_3x4.npy"));
  EXPECT_TRUE(contains(message, "CRC"));
}

// A stored zip archive with one member `name` holding `data`, whose central directory claims an
// uncompressed size of `claimed` bytes (in a zip64 extra field, as large archives record it).
std::string archive_claiming(const std::string& name, const std::string& data,
                             std::uint64_t claimed) {
  std::string out;
  const auto put = [&](std::uint64_t v, int bytes) {
    for (int b = 0; b < bytes; ++b) out += static_cast<char>((v >> (8 * b)) & 0xFF);
  };
  std::uint32_t crc = 0xFFFFFFFFu;  // CRC-32 (zip's), bit by bit
  for (const char c : data) {
    crc ^= static_cast<unsigned char>(c);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  crc ^= 0xFFFFFFFFu;
  // Local header, stored, with the true sizes.
  put(0x04034b50, 4), put(20, 2), put(0, 2), put(0, 2), put(0, 4), put(crc, 4);
  put(data.size(), 4), put(data.size(), 4), put(name.size(), 2), put(0, 2);
  out += name + data;
  const std::size_t directory = out.size();
  // Central directory: uncompressed size 0xFFFFFFFF, the claimed size in the zip64 extra field.
  put(0x02014b50, 4), put(45, 2), put(45, 2), put(0, 2), put(0, 2), put(0, 4), put(crc, 4);
  put(data.size(), 4), put(0xFFFFFFFF, 4), put(name.size(), 2), put(12, 2), put(0, 2);
  put(0, 2), put(0, 2), put(0, 4), put(0, 4);
  out += name;
  put(0x0001, 2), put(8, 2), put(claimed, 8);
  const std::size_t directory_size = out.size() - directory;
  put(0x06054b50, 4), put(0, 2), put(0, 2), put(1, 2), put(1, 2), put(directory_size, 4);
  put(directory, 4), put(0, 2);
  return out;
}

TEST(NpzErrors, ClaimedMemberSizeIsNotAllocatedUpFront) {
  // Invariant: a member's size recorded in the archive (here 2^50 bytes for a 128-byte member)
  // is not allocated before the data is there: the short member is a FormatError naming the
  // archive and the member (it used to throw std::bad_alloc).
  TempDir dir;
  const std::vector<std::byte> npy = encode_npy(DType::kUInt8, std::vector<std::int64_t>{3},
                                                std::array<std::uint8_t, 3>{1, 2, 3}.data());
  const std::string member(reinterpret_cast<const char*>(npy.data()), npy.size());
  write_text(dir / "ok.npz", archive_claiming("x.npy", member, member.size()));
  const NpyArray ok = read_npz(dir / "ok.npz").at("x");
  ASSERT_EQ(ok.shape(), (std::vector<std::int64_t>{3}));
  EXPECT_EQ(ok.data<std::uint8_t>()[2], 3);
  write_text(dir / "claim.npz", archive_claiming("x.npy", member, std::uint64_t{1} << 50));
  const std::string message = error_of<FormatError>([&] { (void)read_npz(dir / "claim.npz"); });
  EXPECT_TRUE(contains(message, (dir / "claim.npz").string() + " (member x.npy): "));
}

TEST(NpzErrors, EmptyKeyIsInvalidArgument) {
  // Invariant: write_npz refuses an empty key (the member would be named ".npy").
  TempDir dir;
  std::map<std::string, NpyArray> arrays;
  arrays.emplace("", expected_array(DType::kInt32, {2}));
  const std::string message = error_of<InvalidArgument>([&] { write_npz(dir / "k.npz", arrays); });
  EXPECT_TRUE(contains(message, (dir / "k.npz").string()));
  EXPECT_FALSE(std::filesystem::exists(dir / "k.npz"));
}

}  // namespace
}  // namespace coreclean::io
