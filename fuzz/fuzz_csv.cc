// CSV (decisions files): read_csv on the input written to a file.
#include <coreclean/io/csv.h>

#include "fuzz_contract.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace coreclean;
  const auto path = fuzz::scratch_file(data, size, ".csv");
  fuzz::expect_contract([&] {
    const io::CsvTable t = io::read_csv(path);
    for (const auto& name : t.header) (void)t.column(name);
  });
  return 0;
}
