#ifndef CORECLEAN_DETECT_RENDER_H_
#define CORECLEAN_DETECT_RENDER_H_

/// @file
/// Pixels of boxes: decoding images, cropping boxes, and the three views a reviewer looks at
/// for one annotation — the raw crop, the attention mask (the box at full brightness over the
/// dimmed image, for boxes that are hard to spot) and the box drawn on the full image with its
/// label.
///
/// Images are cv::Mat, 8-bit, BGR (OpenCV's channel order); every function here is pure: it
/// returns a new image and never writes into its inputs.
///
/// Pixel convention (COCO, pycocotools): a box [x, y, w, h] covers the half-open pixel range
/// [x, x + w) × [y, y + h). Fractional edges are widened to whole pixels (floor of the left/top
/// edge, ceil of the right/bottom edge) so that a crop never loses a pixel of the box; whole
/// numbers, as in most files, crop exactly the annotated pixels (cv::Rect(x, y, w, h)).

#include <coreclean/detect/coco.h>

#include <cstddef>
#include <filesystem>
#include <opencv2/core.hpp>
#include <span>
#include <string_view>

namespace coreclean::detect {

/// Decodes an image file to 8-bit BGR. The EXIF orientation tag is ignored on purpose: COCO
/// boxes are written in the stored pixel grid (pycocotools and PIL do not rotate either), so
/// rotating would move every box off its object. Throws IoError naming the path when the file
/// is missing or unreadable, FormatError naming the path when it is not a decodable image.
cv::Mat read_image(const std::filesystem::path& path);

/// Decodes an image held in memory (same rules as read_image); `name` is used in messages.
cv::Mat decode_image(std::span<const std::byte> bytes, std::string_view name);

/// Encodes `image` in the format named by the extension of `path` (.png, .jpg, ...) and writes
/// it atomically (temporary file, then rename). Throws InvalidArgument for an extension OpenCV
/// cannot encode, IoError when the file cannot be written.
void write_image(const std::filesystem::path& path, const cv::Mat& image);

/// The pixel rectangle of `box` widened by `padding` (a fraction of the box's width on the left
/// and right, of its height on the top and bottom; 0 = the box itself), clamped to an image of
/// `image_size`. Throws InvalidArgument, naming the box and the image size, when the box has a
/// non-finite coordinate, w ≤ 0 or h ≤ 0, or lies entirely outside the image, or when padding is
/// negative or non-finite.
cv::Rect box_rect(const Box& box, cv::Size image_size, double padding = 0.0);

/// The pixels of box_rect(box, image.size(), padding), copied (the result owns its pixels).
cv::Mat crop_box(const cv::Mat& image, const Box& box, double padding = 0.0);

/// crop_box for an annotation; refuses crowd regions (iscrowd = 1 marks a group of objects, not
/// one instance). Errors name the annotation id.
cv::Mat crop_annotation(const cv::Mat& image, const CocoAnnotation& annotation,
                        double padding = 0.0);

/// How the review views look. Plain data; call validate() before use.
struct RenderStyle {
  /// Attention view: pixels outside the box are multiplied by this factor (rounded to the
  /// nearest integer, saturated); 0 = black, 1 = unchanged. Pixels inside keep their value.
  double dim = 0.3;
  /// Overlay view: colour of the box border and of the label's background, BGR.
  cv::Scalar border_colour = cv::Scalar(0, 200, 255);
  /// Overlay view: border width in pixels, drawn inside the box so that it stays visible for
  /// boxes that touch the image border; the interior beyond it keeps its pixels.
  int thickness = 2;
  /// Overlay view: scale of the label text (OpenCV's Hershey simplex font; 1 ≈ 22 px tall).
  double font_scale = 0.5;
  /// Crop view: context around the box, as for box_rect.
  double padding = 0.0;

  /// Throws InvalidArgument naming the first bad field and its value.
  void validate() const;
};

/// The attention view: a copy of `image` in which every pixel outside the box (box_rect with
/// no padding) is dimmed by style.dim and every pixel inside keeps its value.
cv::Mat render_attention(const cv::Mat& image, const Box& box, const RenderStyle& style = {});

/// The overlay view: a copy of `image` (grey images become BGR) with the box's border drawn in
/// style.border_colour, style.thickness pixels wide along the inside of the box, and `label`
/// written on a patch of the border colour just above the box's top-left corner (inside the box
/// when there is no room above; shifted left to stay inside the image). The text is black or
/// white, whichever contrasts more with the border colour. An empty label draws no patch.
cv::Mat render_overlay(const cv::Mat& image, const Box& box, std::string_view label,
                       const RenderStyle& style = {});

/// The three views of one annotation.
struct BoxViews {
  cv::Mat crop;       ///< crop_annotation(image, annotation, style.padding)
  cv::Mat attention;  ///< render_attention
  cv::Mat overlay;    ///< render_overlay with the label text
};

/// Renders the three views of `annotation` on its `image`; `label` is the text of the overlay
/// (usually the category name). Refuses crowd regions like crop_annotation.
BoxViews render_views(const cv::Mat& image, const CocoAnnotation& annotation,
                      std::string_view label, const RenderStyle& style = {});

}  // namespace coreclean::detect

#endif  // CORECLEAN_DETECT_RENDER_H_
