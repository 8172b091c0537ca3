#include "testing/session_fixtures.h"

#include <coreclean/detect/box_table.h>
#include <coreclean/detect/render.h>
#include <coreclean/io/feature_set.h>

#include "testing/data.h"

#include <fmt/format.h>

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

void write_coco(const std::filesystem::path& file, const std::filesystem::path& features,
                const std::function<bool(SampleId, Label&, detect::Box&)>& edit) {
  const io::FeatureSet fs = io::load_feature_set(features);
  std::string coco = R"({"images": [)";
  for (int im = 0; im < 4; ++im)
    coco += fmt::format(R"({}{{"id": {}, "file_name": "{}.jpg", "width": 64, "height": 64}})",
                        im ? ", " : "", im + 1, static_cast<char>('a' + im));
  coco += R"(], "categories": [{"id": 2, "name": "two"}, {"id": 5, "name": "five"}, )"
          R"({"id": 8, "name": "eight"}], "annotations": [)";
  bool first = true;
  for (std::size_t i = 0; i < fs.ids.size(); ++i) {
    Label category = fs.y_train[i];
    detect::Box b{static_cast<double>(i % 30), 2.0 + static_cast<double>(i / 30), 20.0, 30.0};
    if (edit && !edit(fs.ids[i], category, b)) continue;
    coco += fmt::format(R"({}{{"id": {}, "image_id": {}, "category_id": {}, "bbox": [{}, {}, {}, {}]}})",
                        first ? "" : ", ", fs.ids[i], i % 4 + 1, category, b.x, b.y, b.w, b.h);
    first = false;
  }
  write_text(file, coco + "]}");
}

CocoBlobs::CocoBlobs() {
  blobs = write_blob_features(features);
  edit_coco({});
  std::filesystem::create_directories(images);
  for (const char* name : {"a.jpg", "b.jpg", "c.jpg", "d.jpg"})
    detect::write_image(images / name, cv::Mat(64, 64, CV_8UC3, cv::Scalar(90, 120, 150)));
}

void CocoBlobs::edit_coco(const std::function<bool(SampleId, Label&, detect::Box&)>& edit) {
  write_coco(coco, features, edit);
  // The box table embed writes: the features were made from this COCO file.
  const io::FeatureSet fs = io::load_feature_set(features);
  detect::write_box_table(features / detect::kBoxTableFile, detect::read_coco(coco), fs.ids);
}

}  // namespace coreclean::testing
