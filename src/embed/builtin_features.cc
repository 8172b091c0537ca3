#include <coreclean/embed/builtin_features.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>  // for HOGDescriptor
#include <vector>

#include "core/check.h"

namespace coreclean::embed {
namespace {

// Each part gets norm 1/√2 so that neither dominates distances and the whole has norm 1.
void normalise_part(std::span<float> part) {
  double sum = 0.0;
  for (float v : part) sum += static_cast<double>(v) * v;
  if (sum <= 0.0) return;
  const double factor = 1.0 / (std::sqrt(sum) * std::sqrt(2.0));
  for (float& v : part) v = static_cast<float>(v * factor);
}

cv::Mat to_bgr(const cv::Mat& crop) {
  if (crop.channels() == 3) return crop;
  cv::Mat bgr;
  if (crop.channels() == 1) {
    cv::cvtColor(crop, bgr, cv::COLOR_GRAY2BGR);
  } else {
    cv::cvtColor(crop, bgr, cv::COLOR_BGRA2BGR);
  }
  return bgr;
}

}  // namespace

void builtin_features(const cv::Mat& crop, std::span<float> out) {
  CORECLEAN_THROW_IF_NOT(out.size() == static_cast<std::size_t>(kBuiltinFeatureDim),
                         "builtin_features: the output holds {} floats, need {}", out.size(),
                         kBuiltinFeatureDim);
  CORECLEAN_THROW_IF_NOT(!crop.empty() && crop.dims == 2, "builtin_features: the crop is empty");
  CORECLEAN_THROW_IF_NOT(crop.depth() == CV_8U,
                         "builtin_features: crops must be 8-bit images, got OpenCV depth {}",
                         crop.depth());
  CORECLEAN_THROW_IF_NOT(crop.channels() == 1 || crop.channels() == 3 || crop.channels() == 4,
                         "builtin_features: crops must have 1, 3 or 4 channels, got {}",
                         crop.channels());
  const cv::Mat bgr = to_bgr(crop);

  // Colour: a manual loop states the binning exactly (calcHist's float ranges hide it).
  cv::Mat hsv;
  cv::cvtColor(bgr, hsv, cv::COLOR_BGR2HSV);
  std::array<std::int64_t, kColourDim> counts{};
  for (int r = 0; r < hsv.rows; ++r) {
    const auto* p = hsv.ptr<cv::Vec3b>(r);
    for (int c = 0; c < hsv.cols; ++c) {
      const int h = std::min(p[c][0] * kHueBins / 180, kHueBins - 1);
      const int s = p[c][1] * kSaturationBins / 256;
      const int v = p[c][2] * kValueBins / 256;
      ++counts[static_cast<std::size_t>((h * kSaturationBins + s) * kValueBins + v)];
    }
  }
  std::span<float> colour = out.first(kColourDim);
  for (int k = 0; k < kColourDim; ++k) colour[k] = static_cast<float>(counts[k]);
  normalise_part(colour);

  // Shape: HOG on a fixed-size grey image.
  cv::Mat grey;
  cv::cvtColor(bgr, grey, cv::COLOR_BGR2GRAY);
  const bool shrink = grey.cols >= kHogSide && grey.rows >= kHogSide;
  cv::Mat resized;
  cv::resize(grey, resized, cv::Size(kHogSide, kHogSide), 0, 0,
             shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
  const cv::HOGDescriptor hog(cv::Size(kHogSide, kHogSide), cv::Size(16, 16), cv::Size(8, 8),
                              cv::Size(8, 8), 9);
  std::vector<float> descriptor;
  hog.compute(resized, descriptor);
  CORECLEAN_ASSERT(descriptor.size() == static_cast<std::size_t>(kHogDim));
  std::span<float> shape = out.subspan(kColourDim);
  std::copy(descriptor.begin(), descriptor.end(), shape.begin());
  normalise_part(shape);
}

RowMatrixXf builtin_features(std::span<const cv::Mat> crops) {
  RowMatrixXf x(static_cast<Eigen::Index>(crops.size()), kBuiltinFeatureDim);
  for (std::size_t i = 0; i < crops.size(); ++i) {
    builtin_features(crops[i], std::span<float>(x.row(static_cast<Eigen::Index>(i)).data(),
                                                static_cast<std::size_t>(kBuiltinFeatureDim)));
  }
  return x;
}

}  // namespace coreclean::embed
