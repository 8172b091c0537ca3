#ifndef CORECLEAN_EMBED_EMBEDDER_H_
#define CORECLEAN_EMBED_EMBEDDER_H_

/// @file
/// Embeddings of crops: an ONNX model run through OpenCV DNN in batches, or, without a model,
/// the built-in features of builtin_features.h.
///
/// Preprocessing of a model's input (cv::dnn::blobFromImages, then an optional per-channel
/// division): each 8-bit BGR crop is resized to input_width × input_height (bilinear, aspect
/// ratio not kept, no centre crop), its channels are reordered to RGB when swap_rb is set, and
/// channel c of the NCHW float32 blob becomes
///
///     (pixel_c − mean[c]) · scale / stddev[c]
///
/// with mean, stddev in the order of the network's channels (R, G, B when swap_rb) and in pixel
/// units (0…255). blobFromImage in OpenCV 4.6 only takes one scalar scale; a per-channel std
/// (e.g. torchvision's ImageNet normalisation) is therefore applied here as a second step on the
/// blob, channel by channel.
///
/// Settings of common models:
///   the shared MobileNetV2 (input "input", RGB in [0, 1]): mean 0, scale 1/255, stddev 1,
///     swap_rb, 224 × 224, output "embedding" (N × 1280).
///   torchvision ResNet50 exported to ONNX with fc = Identity: mean 123.675, 116.28, 103.53
///     (0.485, 0.456, 0.406 × 255), scale 1/255, stddev 0.229, 0.224, 0.225, swap_rb,
///     224 × 224; its output is N × 2048.

#include <coreclean/core/context.h>
#include <coreclean/core/types.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <opencv2/core.hpp>
#include <span>
#include <string>
#include <vector>

namespace coreclean::embed {

/// Parameters of an Embedder. Plain data; call validate() before use (the Embedder does).
struct EmbedderParams {
  /// Model file cv::dnn::readNet can load (normally .onnx); empty = built-in features.
  std::filesystem::path model;
  /// Layer whose output is the embedding. Empty = the output named "embedding" when the model
  /// has one, else the model's last unconnected output. Any layer of the network may be named
  /// (e.g. a flatten layer before the classifier); its output must be N × D.
  std::string output_layer;
  /// Network input the blob is bound to; empty = the network's first input.
  std::string input_name;
  /// Size the crops are resized to, in pixels.
  int input_width = 224;
  int input_height = 224;
  /// Subtracted from each channel, pixel units, in the network's channel order.
  std::array<double, 3> mean = {0.0, 0.0, 0.0};
  /// Multiplies every value after the mean is subtracted.
  double scale = 1.0 / 255.0;
  /// Each channel is divided by this after scaling, in the network's channel order.
  std::array<double, 3> stddev = {1.0, 1.0, 1.0};
  /// Reorder BGR crops to RGB. Off by default, as in cv::dnn::blobFromImage: crops are fed in
  /// OpenCV's BGR order unless asked. Most models are trained on RGB and need it set (see the
  /// settings in the file comment). This is the one default of the setting; the command line's
  /// --swap-rb flag takes it from here.
  bool swap_rb = false;
  /// Crops per forward pass.
  int batch_size = 32;

  /// Throws InvalidArgument naming the first bad field and its value.
  void validate() const;
};

/// The NCHW float32 blob that an Embedder feeds its model for `crops` (8-bit; BGR, grey or
/// BGRA; any sizes): crops.size() × 3 × input_height × input_width, computed as described in
/// the file comment. Exposed so that the preprocessing can be checked and reproduced.
cv::Mat preprocess(std::span<const cv::Mat> crops, const EmbedderParams& params);

/// Produces the crops of batch `batch` (0-based). Called on a worker thread, one call at a
/// time, in increasing order of `batch`, while the previous batch is being embedded; may return
/// fewer crops than a full batch (even none). Exceptions propagate to the caller of
/// Embedder::embed_batches.
using CropLoader = std::function<std::vector<cv::Mat>(std::int64_t batch)>;

/// Receives the embeddings of batch `batch`, one row per crop the loader returned, in order.
/// Called on the caller's thread, in increasing order of `batch`.
using EmbeddingSink = std::function<void(std::int64_t batch, RowMatrixXf embeddings)>;

/// Turns crops into n × dim() float32 embeddings. Loading the model checks it: the file must
/// load, the output layer must exist, and one forward pass on a blank input must give an
/// N × D output. Results do not depend on how crops are grouped into batches (row i depends on
/// crop i only). Not thread-safe (an OpenCV network holds per-run state); use one Embedder per
/// thread. Move-only.
class Embedder {
 public:
  /// Validates `params` and loads the model (or prepares built-in features). Throws IoError
  /// when the model file is missing; InvalidArgument naming the file when OpenCV cannot load it,
  /// when the output layer does not exist (listing the model's outputs), when the test forward
  /// pass fails (e.g. a wrong input size), or when the output is not 2-D (naming the output and
  /// its shape).
  explicit Embedder(EmbedderParams params = {});
  ~Embedder();
  Embedder(Embedder&&) noexcept;
  Embedder& operator=(Embedder&&) noexcept;
  Embedder(const Embedder&) = delete;
  Embedder& operator=(const Embedder&) = delete;

  /// Length D of an embedding.
  [[nodiscard]] int dim() const;
  /// True when a model runs; false for built-in features.
  [[nodiscard]] bool uses_model() const;
  /// The layer the embedding is read from (resolved when params().output_layer was empty);
  /// empty for built-in features.
  [[nodiscard]] const std::string& output_layer() const;
  /// One line naming the model, output and dimension, or the built-in features.
  [[nodiscard]] std::string description() const;
  [[nodiscard]] const EmbedderParams& params() const;

  /// Embeds crops (8-bit; BGR, grey or BGRA; not retained) in forward passes of
  /// params().batch_size; returns crops.size() × dim(). Checks `context` for cancellation
  /// between passes. Throws InvalidArgument for an empty or non-8-bit crop (naming its index).
  RowMatrixXf embed(std::span<const cv::Mat> crops, const Context& context = Context());

  /// Embeds `batches` batches produced by `load` and hands each result to `sink`. Loading
  /// (decoding, cropping) of batch b + 1 runs on a worker thread while batch b is embedded, so
  /// image decoding overlaps inference. Checks `context` for cancellation before each batch;
  /// batches already given to the sink stay given. Exceptions of the loader, the network or the
  /// sink reach the caller after the worker has stopped.
  void embed_batches(std::int64_t batches, const CropLoader& load, const EmbeddingSink& sink,
                     const Context& context = Context());

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace coreclean::embed

#endif  // CORECLEAN_EMBED_EMBEDDER_H_
