// IDX (MNIST-family images and labels, plain or gzip-compressed): parse_idx on the input.
#include <coreclean/io/idx.h>

#include "fuzz_contract.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace coreclean;
  fuzz::expect_contract([&] { (void)io::parse_idx(fuzz::as_bytes(data, size), "fuzz.idx"); });
  return 0;
}
