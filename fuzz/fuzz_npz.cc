// .npz (a zip of .npy members, stored or deflated): read_npz on the input written to a file.
#include <coreclean/io/npz.h>

#include "fuzz_contract.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace coreclean;
  const auto path = fuzz::scratch_file(data, size, ".npz");
  fuzz::expect_contract([&] {
    for (const auto& member : io::read_npz(path))
      fuzz::expect_contract([&] { (void)io::to_sample_matrix(member.second, member.first); });
  });
  return 0;
}
