// The tree file. The input is the file without its trailing checksum: the harness appends the
// right one, so that the fuzzer explores the payload instead of the checksum. A tree that loads
// is then used as `rank` and `update` use it (scores, a query, a relabel, a removal, a refresh):
// whatever load_tree accepts must be safe to use.
#include <coreclean/coreset/coreset_tree.h>

#include <cstring>
#include <vector>

#include "coreset/tree_state.h"
#include "fuzz_contract.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace coreclean;
  if (size > (1u << 20)) return 0;
  std::vector<std::uint8_t> file(data, data + size);
  // The checksum of the format version the input names (after the 8-byte magic), as a writer
  // of that version would have computed it.
  std::uint32_t version = 0;
  if (size >= 12) std::memcpy(&version, data + 8, sizeof(version));
  const std::uint64_t sum = coreset::tree_file_checksum(fuzz::as_bytes(data, size), version);
  file.resize(size + 8);
  std::memcpy(file.data() + size, &sum, 8);
  const auto path = fuzz::scratch_file(file.data(), file.size(), ".tree");
  fuzz::expect_contract([&] {
    coreset::CoresetTree tree = coreset::load_tree(path);
    (void)tree.scores();
    coreset::ImportantSamplesQuery query;
    query.size = 3;
    (void)tree.important_samples(query);
    const std::vector<coreset::SampleScore> scores = tree.scores();
    const SampleId first = scores.front().id;
    const Label other = tree.classes().back();
    (void)tree.update_targets(std::span(&first, 1), std::span(&other, 1));
    (void)tree.remove_samples(std::span(&first, 1));
    Context context;
    tree.refresh(context);
    if (tree.params().optimized_for == coreset::OptimizedFor::kTraining) (void)tree.coreset(1);
  });
  return 0;
}
