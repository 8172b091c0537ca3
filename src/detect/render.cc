#include <coreclean/detect/render.h>

#include <algorithm>
#include <cmath>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "core/check.h"
#include "detect/image_codecs.h"
#include "io/mapped_file.h"  // for read_file, write_file_atomically

namespace coreclean::detect {
namespace {

std::string describe(const Box& box) {
  return fmt::format("[{}, {}, {}, {}]", box.x, box.y, box.w, box.h);
}

// The box rectangle, or an InvalidArgument whose message starts with `what` (e.g. "annotation
// 17"), so that callers with more context do not need to catch and rethrow.
cv::Rect rect_of(const Box& box, cv::Size size, double padding, std::string_view what) {
  CORECLEAN_THROW_IF_NOT(std::isfinite(padding) && padding >= 0.0,
                         "{}: padding must be a finite fraction ≥ 0, got {}", what, padding);
  CORECLEAN_THROW_IF_NOT(
      std::isfinite(box.x) && std::isfinite(box.y) && std::isfinite(box.w) && std::isfinite(box.h),
      "{}: box {} has a non-finite coordinate", what, describe(box));
  CORECLEAN_THROW_IF_NOT(box.w > 0.0 && box.h > 0.0,
                         "{}: box {} is empty (width and height must be > 0)", what, describe(box));
  // Clamping in double before converting keeps absurd coordinates from overflowing int.
  const double pad_x = padding * box.w;
  const double pad_y = padding * box.h;
  const double x0 = std::clamp(std::floor(box.x - pad_x), 0.0, static_cast<double>(size.width));
  const double y0 = std::clamp(std::floor(box.y - pad_y), 0.0, static_cast<double>(size.height));
  const double x1 =
      std::clamp(std::ceil(box.x + box.w + pad_x), 0.0, static_cast<double>(size.width));
  const double y1 =
      std::clamp(std::ceil(box.y + box.h + pad_y), 0.0, static_cast<double>(size.height));
  CORECLEAN_THROW_IF_NOT(x1 > x0 && y1 > y0, "{}: box {} lies outside the {}×{} image", what,
                         describe(box), size.width, size.height);
  return {static_cast<int>(x0), static_cast<int>(y0), static_cast<int>(x1 - x0),
          static_cast<int>(y1 - y0)};
}

std::string annotation_name(const CocoAnnotation& a) {
  return fmt::format("annotation {} (image {})", a.id, a.image_id);
}

void require_image(const cv::Mat& image, std::string_view function) {
  CORECLEAN_THROW_IF_NOT(!image.empty() && image.dims == 2, "{}: the image is empty", function);
}

}  // namespace

cv::Mat decode_image(std::span<const std::byte> bytes, std::string_view name) {
  CORECLEAN_THROW_IF_NOT_AS(FormatError, !bytes.empty(), "{}: the image file is empty", name);
  // imdecode only reads through the Mat header; the const_cast never leads to a write.
  const cv::Mat raw(1, static_cast<int>(bytes.size()), CV_8U, const_cast<std::byte*>(bytes.data()));
  cv::Mat image;
  try {
    image = detail::imdecode(raw, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION);
  } catch (const cv::Exception& e) {
    throw FormatError(fmt::format("{}: not a decodable image: {}", name, e.what()));
  }
  CORECLEAN_THROW_IF_NOT_AS(FormatError, !image.empty(),
                            "{}: not a decodable image ({} bytes in no format OpenCV reads)", name,
                            bytes.size());
  return image;
}

cv::Mat read_image(const std::filesystem::path& path) {
  const io::detail::FileBytes file = io::detail::read_file(path);
  return decode_image(file.bytes, path.string());
}

void write_image(const std::filesystem::path& path, const cv::Mat& image) {
  require_image(image, "write_image");
  std::vector<unsigned char> encoded;
  bool ok = false;
  try {
    ok = detail::imencode(path.extension().string(), image, encoded);
  } catch (const cv::Exception& e) {
    throw InvalidArgument(fmt::format("cannot encode {}: {}", path.string(), e.what()));
  }
  CORECLEAN_THROW_IF_NOT(ok, "cannot encode {}: OpenCV has no encoder for '{}'", path.string(),
                         path.extension().string());
  io::detail::write_file_atomically(path, {std::as_bytes(std::span(encoded))});
}

cv::Rect box_rect(const Box& box, cv::Size image_size, double padding) {
  return rect_of(box, image_size, padding, "box_rect");
}

cv::Mat crop_box(const cv::Mat& image, const Box& box, double padding) {
  require_image(image, "crop_box");
  return image(rect_of(box, image.size(), padding, "crop_box")).clone();
}

cv::Mat crop_annotation(const cv::Mat& image, const CocoAnnotation& annotation, double padding) {
  require_image(image, "crop_annotation");
  const std::string what = annotation_name(annotation);
  CORECLEAN_THROW_IF_NOT(!annotation.iscrowd,
                         "{}: a crowd region (iscrowd = 1) marks a group of objects, not one "
                         "instance; it has no crop",
                         what);
  return image(rect_of(annotation.bbox, image.size(), padding, what)).clone();
}

void RenderStyle::validate() const {
  CORECLEAN_THROW_IF_NOT(std::isfinite(dim) && dim >= 0.0 && dim <= 1.0,
                         "RenderStyle.dim must be in [0, 1], got {}", dim);
  CORECLEAN_THROW_IF_NOT(thickness >= 1, "RenderStyle.thickness must be ≥ 1, got {}", thickness);
  CORECLEAN_THROW_IF_NOT(std::isfinite(font_scale) && font_scale > 0.0,
                         "RenderStyle.font_scale must be > 0, got {}", font_scale);
  CORECLEAN_THROW_IF_NOT(std::isfinite(padding) && padding >= 0.0,
                         "RenderStyle.padding must be ≥ 0, got {}", padding);
}

cv::Mat render_attention(const cv::Mat& image, const Box& box, const RenderStyle& style) {
  style.validate();
  require_image(image, "render_attention");
  const cv::Rect inside = rect_of(box, image.size(), 0.0, "render_attention");
  cv::Mat out;
  image.convertTo(out, -1, style.dim, 0.0);
  image(inside).copyTo(out(inside));
  return out;
}

cv::Mat render_overlay(const cv::Mat& image, const Box& box, std::string_view label,
                       const RenderStyle& style) {
  style.validate();
  require_image(image, "render_overlay");
  const cv::Rect r = rect_of(box, image.size(), 0.0, "render_overlay");
  cv::Mat out;
  if (image.channels() == 1) {
    cv::cvtColor(image, out, cv::COLOR_GRAY2BGR);
  } else if (image.channels() == 4) {
    cv::cvtColor(image, out, cv::COLOR_BGRA2BGR);
  } else {
    out = image.clone();
  }
  // Four filled bands rather than cv::rectangle: a thick cv::rectangle is centred on the edge,
  // so half of it would fall outside the image for boxes on the border.
  const int t_x = std::min(style.thickness, r.width);
  const int t_y = std::min(style.thickness, r.height);
  out(cv::Rect(r.x, r.y, r.width, t_y)).setTo(style.border_colour);
  out(cv::Rect(r.x, r.y + r.height - t_y, r.width, t_y)).setTo(style.border_colour);
  out(cv::Rect(r.x, r.y, t_x, r.height)).setTo(style.border_colour);
  out(cv::Rect(r.x + r.width - t_x, r.y, t_x, r.height)).setTo(style.border_colour);

  if (label.empty()) return out;
  const std::string text(label);
  const int font = cv::FONT_HERSHEY_SIMPLEX;
  int baseline = 0;
  const cv::Size text_size = cv::getTextSize(text, font, style.font_scale, 1, &baseline);
  const int margin = 2;
  const int patch_w = std::min(text_size.width + 2 * margin, out.cols);
  const int patch_h = std::min(text_size.height + baseline + 2 * margin, out.rows);
  const int patch_x = std::clamp(r.x, 0, out.cols - patch_w);
  const int patch_y = r.y >= patch_h ? r.y - patch_h : std::min(r.y, out.rows - patch_h);
  out(cv::Rect(patch_x, patch_y, patch_w, patch_h)).setTo(style.border_colour);
  const cv::Scalar& c = style.border_colour;
  const double luminance = 0.114 * c[0] + 0.587 * c[1] + 0.299 * c[2];
  const cv::Scalar text_colour =
      luminance > 127.5 ? cv::Scalar(0, 0, 0) : cv::Scalar(255, 255, 255);
  cv::putText(out, text, cv::Point(patch_x + margin, patch_y + margin + text_size.height), font,
              style.font_scale, text_colour, 1, cv::LINE_AA);
  return out;
}

BoxViews render_views(const cv::Mat& image, const CocoAnnotation& annotation,
                      std::string_view label, const RenderStyle& style) {
  style.validate();
  BoxViews views;
  views.crop = crop_annotation(image, annotation, style.padding);
  views.attention = render_attention(image, annotation.bbox, style);
  views.overlay = render_overlay(image, annotation.bbox, label, style);
  return views;
}

}  // namespace coreclean::detect
