#ifndef CORECLEAN_EMBED_BUILTIN_FEATURES_H_
#define CORECLEAN_EMBED_BUILTIN_FEATURES_H_

/// @file
/// Model-free features of a crop, so that the tool works without a model file. Two parts, each
/// L2-normalised and then scaled by 1/√2, so that the whole vector has unit L2 norm (or norm
/// 1/√2 when one part is all zero, as the HOG part of a flat, gradient-free crop):
///
///   colour  (kColourDim = 128): joint HSV histogram of every pixel of the crop, at the crop's
///           own resolution — 8 hue × 4 saturation × 4 value bins of equal width over OpenCV's
///           8-bit ranges (H ∈ [0, 180), S, V ∈ [0, 256)); bin index
///           (h·8/180)·16 + (s·4/256)·4 + (v·4/256), integer division.
///   shape   (kHogDim = 1764): HOG (Dalal & Triggs, CVPR 2005; cv::HOGDescriptor) of the grey
///           crop resized to 64 × 64 (INTER_AREA when shrinking both sides, else INTER_LINEAR):
///           8 × 8-pixel cells, 16 × 16 blocks at stride 8 (7 × 7 blocks), 9 unsigned
///           orientation bins, L2-Hys block normalisation.
///
/// Total dimension kBuiltinFeatureDim = 1892. Colour captures stain and texture tone, HOG the
/// outline; the aspect ratio and size of the box are deliberately not encoded (crops are
/// resized), which matches what a CNN embedding sees.

#include <coreclean/core/types.h>

#include <opencv2/core.hpp>
#include <span>

namespace coreclean::embed {

/// Hue, saturation and value bins of the colour histogram.
inline constexpr int kHueBins = 8;
inline constexpr int kSaturationBins = 4;
inline constexpr int kValueBins = 4;
/// Length of the colour part (first in the vector).
inline constexpr int kColourDim = kHueBins * kSaturationBins * kValueBins;
/// Side of the square grey image HOG is computed on.
inline constexpr int kHogSide = 64;
/// Length of the HOG part (after the colour part).
inline constexpr int kHogDim = 1764;
/// Length of a built-in feature vector.
inline constexpr int kBuiltinFeatureDim = kColourDim + kHogDim;

/// Writes the features of one crop (8-bit; BGR, grey or BGRA) to `out`, which must hold
/// kBuiltinFeatureDim floats. Deterministic. Throws InvalidArgument for an empty crop, a depth
/// other than 8 bits, or a wrong output length.
void builtin_features(const cv::Mat& crop, std::span<float> out);

/// Features of several crops: crops.size() × kBuiltinFeatureDim, row i for crops[i].
RowMatrixXf builtin_features(std::span<const cv::Mat> crops);

}  // namespace coreclean::embed

#endif  // CORECLEAN_EMBED_BUILTIN_FEATURES_H_
