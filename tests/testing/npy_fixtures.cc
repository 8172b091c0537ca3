#include "testing/npy_fixtures.h"

#include <cstring>

#include "testing/helpers.h"

namespace coreclean::testing {

using io::DType;
using io::dtype_size;

const std::vector<std::vector<std::int64_t>>& test_shapes() {
  static const std::vector<std::vector<std::int64_t>> shapes = {{},     {0},       {5},
                                                                {3, 4}, {2, 3, 4}, {0, 3}};
  return shapes;
}

std::string shape_name(const std::vector<std::int64_t>& shape) {
  if (shape.empty()) return "scalar";
  std::string out;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += 'x';
    out += std::to_string(shape[i]);
  }
  return out;
}

std::int64_t element_count(const std::vector<std::int64_t>& shape) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::vector<std::byte> expected_bytes(DType dtype, std::int64_t n) {
  std::vector<std::byte> out(static_cast<std::size_t>(n) * dtype_size(dtype));
  for (std::int64_t s = 0; s < n; ++s) {
    const auto i = static_cast<std::uint64_t>(s);
    std::byte* dst = out.data() + static_cast<std::size_t>(s) * dtype_size(dtype);
    const double small = static_cast<double>(static_cast<std::int64_t>((i * 7919) % 2001) - 1000);
    const auto put = [&](auto v) { std::memcpy(dst, &v, sizeof v); };
    switch (dtype) {
      case DType::kFloat32:
        put(static_cast<float>(small / 8.0));
        break;
      case DType::kFloat64:
        put(small / 1024.0);
        break;
      case DType::kInt32:
        put(static_cast<std::int32_t>(
            static_cast<std::int64_t>((i * 2654435761ULL) % 4294967296ULL) - 2147483648LL));
        break;
      case DType::kInt64:
        put(static_cast<std::int64_t>(i * 11400714819323198485ULL));
        break;
      case DType::kUInt8:
        put(static_cast<std::uint8_t>((i * 37 + 11) % 256));
        break;
      case DType::kBool:
        put(static_cast<std::uint8_t>(i % 3 == 0));
        break;
    }
  }
  return out;
}

const std::filesystem::path& numpy_files() {
  static const TempDir dir;
  static const bool written = [] {
    run_oracle("npy_roundtrip.py", {"write", dir.path().string()});
    return true;
  }();
  (void)written;
  return dir.path();
}

}  // namespace coreclean::testing
