// .npy header and data: parse_npy on the input, then the conversions the features loader
// applies (samples, labels).
#include <coreclean/io/npy.h>

#include "fuzz_contract.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace coreclean;
  fuzz::expect_contract([&] {
    const io::NpyArray a = io::parse_npy(fuzz::as_bytes(data, size), nullptr, "fuzz.npy");
    fuzz::expect_contract([&] { (void)io::to_sample_matrix(a, "fuzz.npy"); });
    fuzz::expect_contract([&] { (void)io::to_labels(a, "fuzz.npy"); });
  });
  return 0;
}
