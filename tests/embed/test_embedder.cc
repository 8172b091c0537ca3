// Built-in features (hand-checked and against a numpy/cv2 recomputation), preprocessing, the
// batch pipeline, and the ONNX path on the shared MobileNetV2 against Python's cv2.dnn.
#include <coreclean/core/error.h>
#include <coreclean/detect/render.h>
#include <coreclean/embed/builtin_features.h>
#include <coreclean/embed/embedder.h>
#include <coreclean/io/npy.h>
#include <coreclean/io/npz.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <set>
#include <thread>

#include "testing/helpers.h"

namespace coreclean::embed {
namespace {

using testing::contains;
using testing::error_of;

// Whether the oracle interpreter can import cv2 (asked once: starting Python costs ~0.5 s).
bool oracle_has_cv2() {
  static const bool has =
      testing::run_command(testing::shell_quote(CORECLEAN_ORACLE_PYTHON) + " -c 'import cv2'")
          .exit_code == 0;
  return has;
}

cv::Mat noise_image(int width, int height, unsigned seed) {
  cv::Mat image(height, width, CV_8UC3);
  cv::RNG rng(seed);
  rng.fill(image, cv::RNG::UNIFORM, 0, 256);
  return image;
}

double norm_of(const RowMatrixXf& x, Eigen::Index row, Eigen::Index begin, Eigen::Index count) {
  return x.row(row).segment(begin, count).cast<double>().norm();
}

// The feature vector has the documented length, is deterministic, and each part has norm 1/√2.
TEST(EmbedBuiltin, DimensionDeterminismAndNorms) {
  static_assert(kBuiltinFeatureDim == 1892);
  const std::vector<cv::Mat> crops = {noise_image(37, 81, 1), noise_image(120, 64, 2),
                                      noise_image(3, 2, 3)};
  const RowMatrixXf a = builtin_features(crops);
  const RowMatrixXf b = builtin_features(crops);
  ASSERT_EQ(a.rows(), 3);
  ASSERT_EQ(a.cols(), kBuiltinFeatureDim);
  EXPECT_EQ(a, b);
  for (Eigen::Index i = 0; i < 3; ++i) {
    EXPECT_NEAR(norm_of(a, i, 0, kColourDim), 1.0 / std::sqrt(2.0), 1e-6);
    EXPECT_NEAR(norm_of(a, i, kColourDim, kHogDim), 1.0 / std::sqrt(2.0), 1e-6);
    EXPECT_NEAR(a.row(i).cast<double>().norm(), 1.0, 1e-6);
    EXPECT_GE(a.row(i).minCoeff(), 0.0f);
  }
  EXPECT_GT((a.row(0) - a.row(1)).norm(), 0.1f);
}

// Flat colours, by hand: pure red (BGR 0,0,255) is HSV (0,255,255) → bin (0·4 + 3)·4 + 3 = 15;
// pure blue (255,0,0) is HSV (120,255,255) → hue bin 120·8/180 = 5 → bin 95. A flat crop has no
// gradient, so its HOG part is zero and its norm 1/√2. One quarter red, three quarters blue →
// counts 1 : 3, normalised (1, 3)/√10 · 1/√2.
TEST(EmbedBuiltin, HandCheckedHistogramOnFlatColours) {
  const cv::Mat red(16, 16, CV_8UC3, cv::Scalar(0, 0, 255));
  std::vector<float> f(kBuiltinFeatureDim);
  builtin_features(red, f);
  for (int k = 0; k < kColourDim; ++k) {
    EXPECT_FLOAT_EQ(f[k], k == 15 ? static_cast<float>(1.0 / std::sqrt(2.0)) : 0.0f) << "bin " << k;
  }
  for (int k = kColourDim; k < kBuiltinFeatureDim; ++k) ASSERT_EQ(f[k], 0.0f) << "HOG " << k;

  cv::Mat mixed(16, 16, CV_8UC3, cv::Scalar(255, 0, 0));
  mixed(cv::Rect(0, 0, 4, 16)).setTo(cv::Scalar(0, 0, 255));
  builtin_features(mixed, f);
  const double s = 1.0 / std::sqrt(20.0);
  EXPECT_NEAR(f[15], 1.0 * s, 1e-7);
  EXPECT_NEAR(f[95], 3.0 * s, 1e-7);
  double others = 0.0;
  for (int k = 0; k < kColourDim; ++k) others += (k == 15 || k == 95) ? 0.0 : std::abs(f[k]);
  EXPECT_EQ(others, 0.0);

  // A grey crop is treated as its BGR copy; a 16-bit crop is refused.
  const cv::Mat grey = noise_image(30, 30, 9);
  cv::Mat g1, g3;
  cv::cvtColor(grey, g1, cv::COLOR_BGR2GRAY);
  cv::cvtColor(g1, g3, cv::COLOR_GRAY2BGR);
  EXPECT_EQ(builtin_features(std::vector<cv::Mat>{g1}), builtin_features(std::vector<cv::Mat>{g3}));
  EXPECT_TRUE(contains(error_of<InvalidArgument>(
                           [&] { builtin_features(cv::Mat(4, 4, CV_16UC3, cv::Scalar(1)), f); }),
                       "8-bit"));
}

// The C++ features equal an independent numpy + cv2 computation (tests/oracle/cv2_builtin.py).
TEST(EmbedBuiltin, MatchesNumpyCv2Recomputation) {
  CORECLEAN_REQUIRE_ORACLE();
  if (!oracle_has_cv2()) GTEST_SKIP() << "python3-opencv is not installed";
  testing::TempDir dir;
  std::vector<cv::Mat> crops = {noise_image(37, 81, 11), noise_image(120, 64, 12),
                                noise_image(5, 9, 13), noise_image(64, 64, 14)};
  cv::GaussianBlur(crops[1], crops[1], cv::Size(9, 9), 3.0);
  std::map<std::string, io::NpyArray> members;
  for (std::size_t i = 0; i < crops.size(); ++i) {
    auto owned = std::make_shared<cv::Mat>(crops[i].clone());
    std::string name = "c";  // not "c" + to_string(i): GCC 12 warns falsely (-Wrestrict)
    name += std::to_string(i);
    members[name] = io::NpyArray(io::DType::kUInt8, {owned->rows, owned->cols, 3}, owned,
                                 reinterpret_cast<const std::byte*>(owned->data));
  }
  io::write_npz(dir / "crops.npz", members);
  testing::run_oracle("cv2_builtin.py",
                      {(dir / "crops.npz").string(), (dir / "want.npy").string()});
  const io::NpyArray want = io::read_npy(dir / "want.npy");
  ASSERT_EQ(want.shape(), (std::vector<std::int64_t>{4, kBuiltinFeatureDim}));
  const Eigen::Map<const RowMatrixXf> expected(want.data<float>(), 4, kBuiltinFeatureDim);
  const RowMatrixXf got = builtin_features(crops);
  EXPECT_LE((got - expected).cwiseAbs().maxCoeff(), 1e-6f);
}

// Preprocessing: (pixel − mean)·scale/stddev per channel, in the network's channel order.
TEST(EmbedPreprocess, MeanScaleStddevInNetworkChannelOrder) {
  const cv::Mat flat(5, 7, CV_8UC3, cv::Scalar(10, 20, 30));  // B, G, R
  EmbedderParams p;
  p.input_width = 4;
  p.input_height = 3;
  p.mean = {1, 2, 3};
  p.scale = 0.5;
  p.stddev = {2, 4, 8};
  p.swap_rb = true;
  const std::vector<cv::Mat> crops = {flat, flat};
  cv::Mat blob = preprocess(crops, p);
  ASSERT_EQ(blob.dims, 4);
  EXPECT_EQ(std::vector<int>(blob.size.p, blob.size.p + 4), (std::vector<int>{2, 3, 3, 4}));
  const float rgb[3] = {(30 - 1) * 0.5f / 2, (20 - 2) * 0.5f / 4, (10 - 3) * 0.5f / 8};
  for (int n = 0; n < 2; ++n) {
    for (int c = 0; c < 3; ++c) {
      const float* plane = blob.ptr<float>(n, c);
      for (int k = 0; k < 12; ++k) ASSERT_FLOAT_EQ(plane[k], rgb[c]) << n << " " << c << " " << k;
    }
  }
  p.swap_rb = false;
  blob = preprocess(crops, p);
  const float bgr[3] = {(10 - 1) * 0.5f / 2, (20 - 2) * 0.5f / 4, (30 - 3) * 0.5f / 8};
  for (int c = 0; c < 3; ++c) EXPECT_FLOAT_EQ(blob.ptr<float>(1, c)[5], bgr[c]);
  p.stddev = {1, 0, 1};
  EXPECT_TRUE(
      contains(error_of<InvalidArgument>([&] { (void)preprocess(crops, p); }), "stddev[1]"));
}

// Without a model the Embedder gives the built-in features, the same however crops are batched.
TEST(EmbedBuiltin, EmbedderWithoutModelIsBatchIndependent) {
  std::vector<cv::Mat> crops;
  for (unsigned i = 0; i < 7; ++i) crops.push_back(noise_image(20 + 3 * i, 30 - 2 * i, 100 + i));
  EmbedderParams p;
  p.batch_size = 3;
  Embedder e(p);
  EXPECT_FALSE(e.uses_model());
  EXPECT_EQ(e.dim(), kBuiltinFeatureDim);
  const RowMatrixXf batched = e.embed(crops);
  EXPECT_EQ(batched, builtin_features(crops));
  p.batch_size = 1;
  Embedder single(p);
  EXPECT_EQ(single.embed(crops), batched);
  EXPECT_EQ(e.embed(std::span<const cv::Mat>()).rows(), 0);
  EXPECT_TRUE(
      contains(error_of<InvalidArgument>([&] { (void)e.embed(std::vector<cv::Mat>{cv::Mat()}); }),
               "crop 0 is empty"));
}

// embed_batches: loading of batch b + 1 overlaps the embedding of batch b (the sink of batch 0
// waits until loading of batch 1 has started — without overlap it would time out); results come
// in order; a loader error reaches the caller; cancellation stops before the next batch.
TEST(EmbedPipeline, LoadingOverlapsEmbeddingAndErrorsPropagate) {
  Embedder e;
  std::vector<std::vector<cv::Mat>> batches(4);
  for (unsigned b = 0; b < 4; ++b) {
    for (unsigned i = 0; i < b; ++i)
      batches[b].push_back(noise_image(16 + static_cast<int>(i), 16, 10 * b + i));
  }
  std::mutex mutex;
  std::condition_variable loaded;
  std::set<std::int64_t> started;
  const auto caller = std::this_thread::get_id();
  bool loader_on_other_thread = true;
  CropLoader load = [&](std::int64_t b) {
    std::lock_guard lock(mutex);
    started.insert(b);
    loader_on_other_thread = loader_on_other_thread && std::this_thread::get_id() != caller;
    loaded.notify_all();
    return batches[static_cast<std::size_t>(b)];
  };
  std::vector<std::int64_t> order;
  bool overlapped = false;
  e.embed_batches(4, load, [&](std::int64_t b, RowMatrixXf x) {
    if (b == 0) {
      std::unique_lock lock(mutex);
      overlapped =
          loaded.wait_for(lock, std::chrono::seconds(10), [&] { return started.count(1) > 0; });
    }
    order.push_back(b);
    EXPECT_EQ(x, builtin_features(batches[static_cast<std::size_t>(b)])) << "batch " << b;
  });
  EXPECT_TRUE(overlapped);
  EXPECT_TRUE(loader_on_other_thread);
  EXPECT_EQ(order, (std::vector<std::int64_t>{0, 1, 2, 3}));

  order.clear();
  CropLoader failing = [&](std::int64_t b) -> std::vector<cv::Mat> {
    if (b == 2) throw FormatError("image b2.jpg is broken");
    return batches[static_cast<std::size_t>(b)];
  };
  EXPECT_TRUE(contains(error_of<FormatError>([&] {
                         e.embed_batches(4, failing,
                                         [&](std::int64_t b, RowMatrixXf) { order.push_back(b); });
                       }),
                       "b2.jpg"));
  EXPECT_EQ(order, (std::vector<std::int64_t>{0, 1}));

  order.clear();
  Context context;
  EXPECT_TRUE(contains(error_of<Error>([&] {
                         e.embed_batches(
                             4, load,
                             [&](std::int64_t b, RowMatrixXf) {
                               order.push_back(b);
                               if (b == 1) context.cancel = true;
                             },
                             context);
                       }),
                       "cancelled"));
  EXPECT_EQ(order, (std::vector<std::int64_t>{0, 1}));
}

// ---- The shared MobileNetV2 on real BCCD crops --------------------------------------------------

struct CropSpec {
  std::filesystem::path image;
  detect::Box box;
};

// The first `n` annotations of BCCD, read with nlohmann (independent of the COCO reader).
std::vector<CropSpec> bccd_boxes(std::size_t n) {
  const auto dir = testing::shared_data_dir() / "bccd";
  const nlohmann::json coco = nlohmann::json::parse(std::ifstream(dir / "instances.json"));
  std::map<std::int64_t, std::string> files;
  for (const auto& image : coco["images"]) files[image["id"]] = image["file_name"];
  std::vector<CropSpec> out;
  for (const auto& a : coco["annotations"]) {
    if (out.size() == n) break;
    const auto& b = a["bbox"];
    out.push_back({dir / "images" / files.at(a["image_id"]),
                   detect::Box{b[0].get<double>(), b[1].get<double>(), b[2].get<double>(),
                               b[3].get<double>()}});
  }
  return out;
}

std::vector<cv::Mat> crops_of(const std::vector<CropSpec>& specs) {
  std::vector<cv::Mat> crops;
  for (const auto& s : specs) crops.push_back(detect::crop_box(detect::read_image(s.image), s.box));
  return crops;
}

std::filesystem::path shared_model() {
  return testing::shared_data_dir() / "models" / "mobilenet_v2_nsfwjs.onnx";
}

EmbedderParams mobilenet_params() {
  EmbedderParams p;
  p.model = shared_model();
  p.mean = {0, 0, 0};
  p.scale = 1.0 / 255;
  p.swap_rb = true;
  p.input_width = p.input_height = 224;
  return p;
}

// The model's "embedding" output is chosen by default; on six BCCD crops it equals Python's
// cv2.dnn within 1e-4, and batched and one-by-one passes give identical rows.
TEST(EmbedModel, MatchesPythonCv2DnnAndBatchEqualsSingle) {
  CORECLEAN_REQUIRE_SHARED_DATA();
  CORECLEAN_REQUIRE_ORACLE();
  if (!oracle_has_cv2()) GTEST_SKIP() << "python3-opencv is not installed";
  const std::vector<CropSpec> specs = bccd_boxes(6);
  const std::vector<cv::Mat> crops = crops_of(specs);
  EmbedderParams p = mobilenet_params();
  p.batch_size = 6;
  Embedder batched(p);
  EXPECT_TRUE(batched.uses_model());
  EXPECT_EQ(batched.output_layer(), "embedding");
  EXPECT_EQ(batched.dim(), 1280);
  const RowMatrixXf x = batched.embed(crops);
  p.batch_size = 1;
  Embedder single(p);
  EXPECT_EQ(single.embed(crops), x);

  testing::TempDir dir;
  nlohmann::json spec = {{"model", shared_model().string()},
                         {"output", "embedding"},
                         {"size", {224, 224}},
                         {"mean", {0, 0, 0}},
                         {"scale", 1.0 / 255},
                         {"swap_rb", true},
                         {"batch", 6}};
  for (const auto& s : specs) {
    spec["crops"].push_back(
        {{"image", s.image.string()}, {"bbox", {s.box.x, s.box.y, s.box.w, s.box.h}}});
  }
  testing::write_text(dir / "spec.json", spec.dump());
  testing::run_oracle("cv2_embed.py", {(dir / "spec.json").string(), (dir / "want.npy").string()});
  const io::NpyArray want = io::read_npy(dir / "want.npy");
  ASSERT_EQ(want.shape(), (std::vector<std::int64_t>{6, 1280}));
  const Eigen::Map<const RowMatrixXf> expected(want.data<float>(), 6, 1280);
  EXPECT_LE((x - expected).cwiseAbs().maxCoeff(), 1e-4f);
  EXPECT_GT(x.maxCoeff(), 0.5f);  // a real, non-degenerate embedding
}

// A named output is used as is: dense_3 gives 5 softmax probabilities per crop.
TEST(EmbedModel, NamedOutputLayer) {
  CORECLEAN_REQUIRE_SHARED_DATA();
  EmbedderParams p = mobilenet_params();
  p.output_layer = "dense_3";
  Embedder e(p);
  EXPECT_EQ(e.dim(), 5);
  const RowMatrixXf probabilities = e.embed(crops_of(bccd_boxes(2)));
  for (Eigen::Index i = 0; i < 2; ++i) EXPECT_NEAR(probabilities.row(i).sum(), 1.0f, 1e-5f);
}

// Model errors name the file, the layer, the outputs or the shape.
TEST(EmbedModel, BadModelsAndOutputsAreRefused) {
  testing::TempDir dir;
  EmbedderParams p;
  p.model = dir / "absent.onnx";
  EXPECT_TRUE(contains(error_of<IoError>([&] { Embedder e(p); }), "absent.onnx"));
  testing::write_text(dir / "garbage.onnx", "not a protobuf at all");
  p.model = dir / "garbage.onnx";
  EXPECT_TRUE(contains(error_of<InvalidArgument>([&] { Embedder e(p); }), "garbage.onnx"));

  CORECLEAN_REQUIRE_SHARED_DATA();
  p = mobilenet_params();
  p.output_layer = "no_such_layer";
  const std::string missing = error_of<InvalidArgument>([&] { Embedder e(p); });
  EXPECT_TRUE(contains(missing, "no_such_layer"));
  EXPECT_TRUE(contains(missing, "dense_3, embedding"));
  p.output_layer =
      "onnx_node!embed_gap";  // global average pool before flattening: N × 1280 × 1 × 1
  const std::string four_d = error_of<InvalidArgument>([&] { Embedder e(p); });
  EXPECT_TRUE(contains(four_d, "'onnx_node!embed_gap'"));
  EXPECT_TRUE(contains(four_d, "[1, 1280, 1, 1]"));
  EXPECT_TRUE(contains(four_d, "2-D"));
}

}  // namespace
}  // namespace coreclean::embed
