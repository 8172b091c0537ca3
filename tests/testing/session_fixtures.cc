#include "testing/session_fixtures.h"

#include <coreclean/io/feature_set.h>

#include "testing/data.h"

namespace coreclean::testing {

BlobFeatures write_blob_features(const std::filesystem::path& dir, int flips,
                                 const ClassNames& names) {
  const auto data = make_blobs(600, 6, 3, 3.0, 0.0, 7);
  BlobFeatures out;
  out.truth = data.y;
  io::FeatureSet fs;
  fs.x_train = io::SampleMatrix(data.x);
  fs.y_train = data.y;
  int done = 0;
  for (int i = 0; i < 600; ++i) {
    fs.ids.push_back(1000 + i);
    if (data.y[i] == 2 && done < flips) {
      fs.y_train[i] = 5;
      out.flipped.insert(1000 + i);
      ++done;
    }
  }
  fs.class_names = names.empty() ? ClassNames{{2, "two"}, {5, "five"}, {8, "eight"}} : names;
  io::save_feature_set(dir, fs);
  return out;
}

}  // namespace coreclean::testing
