#include <coreclean/embed/builtin_features.h>
#include <coreclean/embed/embedder.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <future>
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>
#include <utility>

#include "core/check.h"

namespace coreclean::embed {
namespace {

constexpr const char* kDefaultOutput = "embedding";

// OpenCV's what() spans several lines with source paths; err is the sentence that matters.
std::string opencv_reason(const cv::Exception& e) { return e.err.empty() ? e.what() : e.err; }

std::string shape_of(const cv::Mat& m) {
  std::vector<int> dims(m.size.p, m.size.p + m.dims);
  return fmt::format("[{}]", fmt::join(dims, ", "));
}

void check_crop(const cv::Mat& crop, std::size_t index) {
  CORECLEAN_THROW_IF_NOT(!crop.empty() && crop.dims == 2, "crop {} is empty", index);
  CORECLEAN_THROW_IF_NOT(crop.depth() == CV_8U, "crop {} is not an 8-bit image (OpenCV depth {})",
                         index, crop.depth());
  CORECLEAN_THROW_IF_NOT(crop.channels() == 1 || crop.channels() == 3 || crop.channels() == 4,
                         "crop {} has {} channels; expected 1, 3 or 4", index, crop.channels());
}

cv::Mat as_bgr(const cv::Mat& crop) {
  if (crop.channels() == 3) return crop;
  cv::Mat bgr;
  cv::cvtColor(crop, bgr, crop.channels() == 1 ? cv::COLOR_GRAY2BGR : cv::COLOR_BGRA2BGR);
  return bgr;
}

}  // namespace

void EmbedderParams::validate() const {
  CORECLEAN_THROW_IF_NOT(input_width >= 1 && input_height >= 1,
                         "EmbedderParams: input size must be ≥ 1 × 1, got {} × {}", input_width,
                         input_height);
  CORECLEAN_THROW_IF_NOT(std::isfinite(scale) && scale != 0.0,
                         "EmbedderParams: scale must be finite and non-zero, got {}", scale);
  for (int c = 0; c < 3; ++c) {
    CORECLEAN_THROW_IF_NOT(std::isfinite(mean[c]), "EmbedderParams: mean[{}] is {}", c, mean[c]);
    CORECLEAN_THROW_IF_NOT(std::isfinite(stddev[c]) && stddev[c] > 0.0,
                           "EmbedderParams: stddev[{}] must be > 0, got {}", c, stddev[c]);
  }
  CORECLEAN_THROW_IF_NOT(batch_size >= 1, "EmbedderParams: batch_size must be ≥ 1, got {}",
                         batch_size);
}

cv::Mat preprocess(std::span<const cv::Mat> crops, const EmbedderParams& params) {
  params.validate();
  CORECLEAN_THROW_IF_NOT(!crops.empty(), "preprocess: no crops");
  std::vector<cv::Mat> bgr;
  bgr.reserve(crops.size());
  for (std::size_t i = 0; i < crops.size(); ++i) {
    check_crop(crops[i], i);
    bgr.push_back(as_bgr(crops[i]));
  }
  cv::Mat blob = cv::dnn::blobFromImages(
      bgr, params.scale, cv::Size(params.input_width, params.input_height),
      cv::Scalar(params.mean[0], params.mean[1], params.mean[2]), params.swap_rb,
      /*crop=*/false, CV_32F);
  if (params.stddev != std::array<double, 3>{1.0, 1.0, 1.0}) {
    for (int n = 0; n < blob.size[0]; ++n) {
      for (int c = 0; c < 3; ++c) {
        cv::Mat plane(params.input_height, params.input_width, CV_32F, blob.ptr<float>(n, c));
        plane *= 1.0 / params.stddev[c];
      }
    }
  }
  return blob;
}

struct Embedder::Impl {
  EmbedderParams params;
  bool has_model = false;
  cv::dnn::Net net;
  std::string output;
  int dim = 0;

  // One forward pass (or the built-in features) over crops already checked.
  RowMatrixXf run(std::span<const cv::Mat> crops) {
    const auto n = static_cast<Eigen::Index>(crops.size());
    if (!has_model) return builtin_features(crops);
    const cv::Mat blob = preprocess(crops, params);
    cv::Mat y;
    try {
      net.setInput(blob, params.input_name);
      y = net.forward(output);
    } catch (const cv::Exception& e) {
      throw Error(fmt::format("model {} failed on a batch of {} crops: {}", params.model.string(),
                              crops.size(), opencv_reason(e)));
    }
    CORECLEAN_THROW_IF_NOT(y.dims == 2 && y.size[0] == n && y.size[1] == dim && y.type() == CV_32F,
                           "output '{}' of {} has shape {} for a batch of {}; expected {} × {} "
                           "float32",
                           output, params.model.string(), shape_of(y), n, n, dim);
    RowMatrixXf x(n, dim);
    for (Eigen::Index i = 0; i < n; ++i) {
      std::memcpy(x.row(i).data(), y.ptr<float>(static_cast<int>(i)),
                  sizeof(float) * static_cast<std::size_t>(dim));
    }
    return x;
  }

  RowMatrixXf embed(std::span<const cv::Mat> crops, const Context& context) {
    for (std::size_t i = 0; i < crops.size(); ++i) check_crop(crops[i], i);
    const auto n = static_cast<Eigen::Index>(crops.size());
    RowMatrixXf x(n, dim);
    const std::size_t batch = static_cast<std::size_t>(params.batch_size);
    for (std::size_t begin = 0; begin < crops.size(); begin += batch) {
      context.throw_if_cancelled();
      const std::size_t count = std::min(batch, crops.size() - begin);
      x.middleRows(static_cast<Eigen::Index>(begin), static_cast<Eigen::Index>(count)) =
          run(crops.subspan(begin, count));
    }
    return x;
  }
};

Embedder::Embedder(EmbedderParams params) : impl_(std::make_unique<Impl>()) {
  params.validate();
  impl_->params = std::move(params);
  Impl& m = *impl_;
  if (m.params.model.empty()) {
    m.dim = kBuiltinFeatureDim;
    return;
  }
  const std::string path = m.params.model.string();
  std::error_code error;
  if (!std::filesystem::is_regular_file(m.params.model, error)) {
    throw IoError(fmt::format("model file {} does not exist or is not a regular file", path));
  }
  try {
    m.net = cv::dnn::readNet(path);
  } catch (const cv::Exception& e) {
    throw InvalidArgument(
        fmt::format("cannot load the model {}: OpenCV says: {}", path, opencv_reason(e)));
  }
  CORECLEAN_THROW_IF_NOT(!m.net.empty(), "cannot load the model {}: OpenCV read no layers", path);
  m.has_model = true;

  const std::vector<std::string> outputs = m.net.getUnconnectedOutLayersNames();
  if (m.params.output_layer.empty()) {
    CORECLEAN_THROW_IF_NOT(!outputs.empty(), "the model {} has no output", path);
    const bool has_default =
        std::find(outputs.begin(), outputs.end(), kDefaultOutput) != outputs.end();
    m.output = has_default ? kDefaultOutput : outputs.back();
  } else {
    CORECLEAN_THROW_IF_NOT(m.net.getLayerId(m.params.output_layer) >= 0,
                           "the model {} has no layer '{}'; its outputs are: {}", path,
                           m.params.output_layer, fmt::join(outputs, ", "));
    m.output = m.params.output_layer;
  }

  // One pass on a blank image checks input size, input name and output shape before any real
  // work, so that a wrong setting fails in a second rather than after the first batch.
  const int shape[4] = {1, 3, m.params.input_height, m.params.input_width};
  const cv::Mat blank(4, shape, CV_32F, cv::Scalar(0));
  cv::Mat y;
  try {
    m.net.setInput(blank, m.params.input_name);
    y = m.net.forward(m.output);
  } catch (const cv::Exception& e) {
    throw InvalidArgument(fmt::format(
        "the model {} fails on a 1 × 3 × {} × {} input{}: OpenCV says: {}", path,
        m.params.input_height, m.params.input_width,
        m.params.input_name.empty() ? std::string()
                                    : fmt::format(" bound to '{}'", m.params.input_name),
        opencv_reason(e)));
  }
  CORECLEAN_THROW_IF_NOT(y.dims == 2 && y.size[0] == 1 && y.size[1] >= 1,
                         "output '{}' of the model {} has shape {} for one input; an embedding "
                         "must be N × D (2-D): choose a flattened output with the output layer "
                         "option",
                         m.output, path, shape_of(y));
  CORECLEAN_THROW_IF_NOT(y.type() == CV_32F, "output '{}' of the model {} is not float32", m.output,
                         path);
  m.dim = y.size[1];
}

Embedder::~Embedder() = default;
Embedder::Embedder(Embedder&&) noexcept = default;
Embedder& Embedder::operator=(Embedder&&) noexcept = default;

int Embedder::dim() const { return impl_->dim; }
bool Embedder::uses_model() const { return impl_->has_model; }
const std::string& Embedder::output_layer() const { return impl_->output; }
const EmbedderParams& Embedder::params() const { return impl_->params; }

std::string Embedder::description() const {
  if (!impl_->has_model) {
    return fmt::format("built-in features (HSV histogram {} + HOG {}; {} dimensions)", kColourDim,
                       kHogDim, kBuiltinFeatureDim);
  }
  return fmt::format("{} (output '{}', {} dimensions)", impl_->params.model.string(), impl_->output,
                     impl_->dim);
}

RowMatrixXf Embedder::embed(std::span<const cv::Mat> crops, const Context& context) {
  return impl_->embed(crops, context);
}

void Embedder::embed_batches(std::int64_t batches, const CropLoader& load,
                             const EmbeddingSink& sink, const Context& context) {
  if (batches <= 0) return;
  context.throw_if_cancelled();
  auto start = [&load](std::int64_t b) {
    return std::async(std::launch::async, [&load, b] { return load(b); });
  };
  // The future of std::async joins its thread when destroyed, so an exception below never
  // leaves the worker running past this call.
  std::future<std::vector<cv::Mat>> next = start(0);
  for (std::int64_t b = 0; b < batches; ++b) {
    std::vector<cv::Mat> crops = next.get();
    context.throw_if_cancelled();
    if (b + 1 < batches) next = start(b + 1);
    sink(b, impl_->embed(crops, context));
  }
}

}  // namespace coreclean::embed
