// IDX reader: exact values from hand-made fixtures, every header check, gzip corruption, and
// Fashion-MNIST's t10k split against Python.
#include <coreclean/core/error.h>
#include <coreclean/io/idx.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "testing/helpers.h"

namespace coreclean::io {
namespace {

const std::filesystem::path kFixtures = std::filesystem::path(CORECLEAN_TEST_DATA_DIR) / "idx";
const std::filesystem::path kFashion = "/usr/share/datasets/fashion-mnist";

std::vector<std::byte> bytes_of(std::initializer_list<int> values) {
  std::vector<std::byte> out;
  for (int v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}

std::vector<std::uint8_t> tiny_image_values() {
  std::vector<std::uint8_t> v;
  for (int i = 0; i < 24; ++i) v.push_back(static_cast<std::uint8_t>((37 * i + 5) % 256));
  return v;
}

// The gzipped fixtures decode to exactly the shape and values they were made from.
TEST(Idx, ReadsGzippedFixturesExactly) {
  const IdxArray images = read_idx(kFixtures / "tiny-images-idx3-ubyte.gz");
  EXPECT_EQ(images.shape, (std::vector<std::int64_t>{2, 3, 4}));
  EXPECT_EQ(images.values, tiny_image_values());
  const IdxArray labels = read_idx(kFixtures / "tiny-labels-idx1-ubyte.gz");
  EXPECT_EQ(labels.shape, (std::vector<std::int64_t>{2}));
  EXPECT_EQ(labels.values, (std::vector<std::uint8_t>{7, 3}));
}

// Concatenated gzip members read as one stream, even when a member ends inside the header.
TEST(Idx, ReadsConcatenatedGzipMembers) {
  const IdxArray labels = read_idx(kFixtures / "tiny-labels-two-members.gz");
  EXPECT_EQ(labels.shape, (std::vector<std::int64_t>{2}));
  EXPECT_EQ(labels.values, (std::vector<std::uint8_t>{7, 3}));
}

// Plain bytes parse too; dimensions are big-endian 32-bit (0x00000102 = 258).
TEST(Idx, ParsesPlainBigEndianDimensions) {
  std::vector<std::byte> raw = bytes_of({0, 0, 8, 2, 0, 0, 1, 2, 0, 0, 0, 1});
  for (int i = 0; i < 258; ++i) raw.push_back(static_cast<std::byte>(255 - i % 256));
  const IdxArray a = parse_idx(raw, "mem");
  EXPECT_EQ(a.shape, (std::vector<std::int64_t>{258, 1}));
  ASSERT_EQ(a.values.size(), 258u);
  EXPECT_EQ(a.values[0], 255);
  EXPECT_EQ(a.values[257], 255 - 1);
  // A zero dimension is a valid empty array.
  const IdxArray empty = parse_idx(bytes_of({0, 0, 8, 2, 0, 0, 0, 0, 0, 0, 0, 5}), "mem");
  EXPECT_EQ(empty.shape, (std::vector<std::int64_t>{0, 5}));
  EXPECT_TRUE(empty.values.empty());
}

// Each malformed header or body is a FormatError naming the input and the field.
TEST(Idx, RefusesMalformedHeadersNamingTheField) {
  struct Case {
    std::vector<std::byte> bytes;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {bytes_of({0, 0}), "bad.idx: magic number: the file holds only 2 bytes"},
      {bytes_of({1, 0, 8, 1, 0, 0, 0, 1, 9}), "bad.idx: magic number: expected 00 00"},
      {bytes_of({0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0}),
       "bad.idx: data type: 0x0d (float32) is not supported"},
      {bytes_of({0, 0, 0x42, 1, 0, 0, 0, 1, 9}),
       "bad.idx: data type: 0x42 is not an IDX data type"},
      {bytes_of({0, 0, 8, 0}), "bad.idx: number of dimensions: 0"},
      {bytes_of({0, 0, 8, 3, 0, 0, 0, 1, 0, 0}), "bad.idx: dimension 1: the file ends inside"},
      {bytes_of({0, 0, 8, 1, 0x80, 0, 0, 0}), "bad.idx: dimension 0: 2147483648 exceeds"},
      {bytes_of({0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4}),
       "bad.idx: data: dimensions (2, 3) need 6 value bytes, the file holds only 4"},
      {bytes_of({0, 0, 8, 1, 0, 0, 0, 2, 1, 2, 3}),
       "bad.idx: data: the file holds more than the 2 value bytes"},
  };
  for (const Case& c : cases) {
    const std::string message =
        testing::error_of<FormatError>([&] { parse_idx(c.bytes, "bad.idx"); });
    EXPECT_TRUE(testing::contains(message, c.expect));
  }
  // Dimensions whose product overflows int64 are refused before any allocation.
  const std::string message = testing::error_of<FormatError>([&] {
    parse_idx(bytes_of({0, 0, 8, 3, 0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff,
                        0xff, 0xff}),
              "big.idx");
  });
  EXPECT_TRUE(testing::contains(
      message, "big.idx: dimension 2: 2147483647 makes the element count overflow"));
}

// A truncated or corrupted gzip file is a FormatError naming the file and the gzip stream.
TEST(Idx, RefusesCorruptGzip) {
  testing::TempDir dir;
  const std::string good = testing::read_text(kFixtures / "tiny-images-idx3-ubyte.gz");
  ASSERT_FALSE(good.empty());
  testing::write_text(dir / "cut.gz", good.substr(0, good.size() - 6));
  std::string message = testing::error_of<FormatError>([&] { read_idx(dir / "cut.gz"); });
  EXPECT_TRUE(testing::contains(message, (dir / "cut.gz").string() + ": gzip stream:"));
  // The last 8 bytes are CRC-32 and length; damaging the CRC must not go unnoticed.
  std::string bad_crc = good;
  bad_crc[bad_crc.size() - 8] = static_cast<char>(bad_crc[bad_crc.size() - 8] ^ 0x55);
  testing::write_text(dir / "crc.gz", bad_crc);
  message = testing::error_of<FormatError>([&] { read_idx(dir / "crc.gz"); });
  EXPECT_TRUE(testing::contains(message, "crc.gz: gzip stream: incorrect data check"));
  // Bytes after the last member that are not another member.
  testing::write_text(dir / "tail.gz", good + "xyz");
  message = testing::error_of<FormatError>([&] { read_idx(dir / "tail.gz"); });
  EXPECT_TRUE(testing::contains(message, "tail.gz: gzip stream: 3 bytes after the end"));
}

// A missing file is an IoError naming the path.
TEST(Idx, MissingFileIsIoError) {
  testing::TempDir dir;
  const std::string message = testing::error_of<IoError>([&] { read_idx(dir / "none.gz"); });
  EXPECT_TRUE(testing::contains(message, (dir / "none.gz").string()));
}

// An image file needs 3 dimensions, a label file 1, and their counts must agree.
TEST(Idx, LabelledImagesCheckRanksAndCounts) {
  const LabelledImages set = read_idx_labelled_images(kFixtures / "tiny-images-idx3-ubyte.gz",
                                                      kFixtures / "tiny-labels-idx1-ubyte.gz");
  EXPECT_EQ(set.count, 2);
  EXPECT_EQ(set.rows, 3);
  EXPECT_EQ(set.cols, 4);
  EXPECT_EQ(set.labels, (std::vector<std::uint8_t>{7, 3}));
  const std::vector<std::uint8_t> values = tiny_image_values();
  const auto second = set.image(1);
  EXPECT_EQ(std::vector<std::uint8_t>(second.begin(), second.end()),
            std::vector<std::uint8_t>(values.begin() + 12, values.end()));

  testing::TempDir dir;
  testing::write_text(dir / "three-labels", std::string("\0\0\x08\x01\0\0\0\x03\x01\x02\x03", 11));
  std::string message = testing::error_of<FormatError>([&] {
    read_idx_labelled_images(kFixtures / "tiny-images-idx3-ubyte.gz", dir / "three-labels");
  });
  EXPECT_TRUE(testing::contains(message, "three-labels: dimension 0: 3 labels, but"));
  EXPECT_TRUE(testing::contains(message, "tiny-images-idx3-ubyte.gz holds 2 images"));
  message = testing::error_of<FormatError>([&] {
    read_idx_labelled_images(kFixtures / "tiny-labels-idx1-ubyte.gz", dir / "three-labels");
  });
  EXPECT_TRUE(testing::contains(
      message, "tiny-labels-idx1-ubyte.gz: number of dimensions: an image file has 3"));
  message = testing::error_of<FormatError>([&] {
    read_idx_labelled_images(kFixtures / "tiny-images-idx3-ubyte.gz",
                             kFixtures / "tiny-images-idx3-ubyte.gz");
  });
  EXPECT_TRUE(testing::contains(
      message, "number of dimensions: a label file has 1 (count), this one has 3"));
}

// Fashion-MNIST's t10k split, as Debian ships it, decodes to what Python's gzip + numpy read:
// 1000 labels per class, and the same pixel sums.
TEST(Idx, FashionMnistT10kAgreesWithPython) {
  if (!std::filesystem::exists(kFashion / "t10k-labels-idx1-ubyte.gz")) {
    GTEST_SKIP() << "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)";
  }
  // Only numpy is needed: checking for the whole oracle (scikit-learn) would double the time.
  const std::string python = testing::shell_quote(CORECLEAN_ORACLE_PYTHON);
  if (testing::run_command(python + " -c 'import numpy'").exit_code != 0) {
    GTEST_SKIP() << CORECLEAN_ORACLE_PYTHON << " with numpy is not available";
  }
  const LabelledImages set = read_idx_labelled_images(kFashion / "t10k-images-idx3-ubyte.gz",
                                                      kFashion / "t10k-labels-idx1-ubyte.gz");
  ASSERT_EQ(set.count, 10000);
  ASSERT_EQ(set.rows, 28);
  ASSERT_EQ(set.cols, 28);
  std::vector<std::int64_t> per_class(10, 0);
  for (std::uint8_t label : set.labels) ++per_class.at(label);
  EXPECT_EQ(per_class, std::vector<std::int64_t>(10, 1000));
  std::int64_t total = 0;
  for (std::uint8_t v : set.pixels) total += v;
  std::int64_t first = 0;
  for (std::uint8_t v : set.image(0)) first += v;
  std::int64_t last = 0;
  for (std::uint8_t v : set.image(9999)) last += v;

  const std::string script = R"(
import gzip, sys
import numpy as np
d = sys.argv[1]
y = np.frombuffer(gzip.open(d + '/t10k-labels-idx1-ubyte.gz').read(), np.uint8, offset=8)
x = np.frombuffer(gzip.open(d + '/t10k-images-idx3-ubyte.gz').read(), np.uint8, offset=16)
x = x.reshape(-1, 28, 28).astype(np.int64)
print(' '.join(str(c) for c in np.bincount(y, minlength=10)), int(x.sum()), int(x[0].sum()), int(x[-1].sum()))
)";
  const auto r = testing::run_command(python + " -c " + testing::shell_quote(script) + " " +
                                      testing::shell_quote(kFashion.string()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::istringstream in(r.output);
  std::vector<std::int64_t> python_counts(10);
  for (auto& c : python_counts) in >> c;
  std::int64_t python_total = 0, python_first = 0, python_last = 0;
  in >> python_total >> python_first >> python_last;
  EXPECT_EQ(per_class, python_counts);
  EXPECT_EQ(total, python_total);
  EXPECT_EQ(first, python_first);
  EXPECT_EQ(last, python_last);
}

}  // namespace
}  // namespace coreclean::io
