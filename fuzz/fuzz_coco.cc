// COCO JSON: parse_coco on the input, then the model-free box checks on what was read. The same
// text is parsed again in 64-byte windows, so that window cuts land everywhere: the window size
// must never change the result (the same dataset, or the same error message).
#include <coreclean/detect/box_checks.h>
#include <coreclean/detect/coco.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "detect/coco_text.h"
#include "fuzz_contract.h"

namespace {

// What a parse gave, comparable across window sizes.
struct Outcome {
  std::string error;
  std::vector<std::int64_t> ids;  // images, annotations and categories, in file order
};

template <typename F>
Outcome outcome_of(F&& parse) {
  Outcome o;
  coreclean::fuzz::expect_contract([&] {
    try {
      const coreclean::detect::CocoDataset d = parse();
      for (const auto& x : d.images) o.ids.push_back(x.id);
      for (const auto& x : d.annotations) o.ids.push_back(x.id);
      for (const auto& x : d.categories) o.ids.push_back(x.id);
      (void)coreclean::detect::check_boxes(d);
    } catch (const coreclean::Error& e) {
      o.error = e.what();
      throw;
    }
  });
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace coreclean;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const Outcome whole = outcome_of([&] { return detect::parse_coco(text, "fuzz.json"); });
  const Outcome windows = outcome_of([&] {
    return detect::detail::parse_coco_text(detect::detail::CocoText{nullptr, text, false},
                                           "fuzz.json", nullptr, 64);
  });
  if (whole.error != windows.error || whole.ids != windows.ids) {
    std::fprintf(stderr, "finding: 64-byte windows changed the result:\n  default: %s\n  64: %s\n",
                 whole.error.c_str(), windows.error.c_str());
    std::abort();
  }
  return 0;
}
