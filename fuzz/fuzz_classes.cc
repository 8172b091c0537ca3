// classes.json of a features directory: load_feature_set on a fixed small X_train.npy and
// y_train.npy (labels 0, 1, 2) with the input as classes.json; when it loads, every name is
// found again by find_class, and a save and reload gives back the same names.
#include <coreclean/io/feature_set.h>

#include "fuzz_contract.h"

namespace {

namespace fs = std::filesystem;
using namespace coreclean;

fs::path make_dir(const char* name) {
  const fs::path dir = fs::temp_directory_path() /
                       ("coreclean-fuzz-classes-" + std::to_string(::getpid()) + name);
  fs::remove_all(dir);
  return dir;
}

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "finding: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const fs::path dir = [] {
    const fs::path d = make_dir("");
    io::FeatureSet features;
    Eigen::MatrixXf x(3, 2);
    x << 0, 1, 2, 3, 4, 5;
    features.x_train = io::SampleMatrix(x);
    features.y_train = {0, 1, 2};
    io::save_feature_set(d, features);
    return d;
  }();
  static const fs::path copy = make_dir("-copy");
  {
    std::ofstream out(dir / "classes.json", std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  fuzz::expect_contract([&] {
    const io::FeatureSet features = io::load_feature_set(dir);
    for (const auto& [label, name] : features.class_names) {
      if (features.class_name(label) != name) finding("class_name() differs from classes.json");
      // Names take precedence over numbers, so a name finds its label unless another class
      // has the same name.
      const Label found = features.find_class(name);
      if (found != label && features.class_names.at(found) != name)
        finding("find_class() does not find a name of classes.json");
    }
    io::save_feature_set(copy, features);
    if (io::load_feature_set(copy).class_names != features.class_names)
      finding("the names change in a save and reload");
  });
  return 0;
}
