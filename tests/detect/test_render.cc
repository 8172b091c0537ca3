// Crops and the three review views on synthetic images with exact pixel expectations.
#include <coreclean/core/error.h>
#include <coreclean/detect/render.h>
#include <gtest/gtest.h>

#include <cmath>
#include <opencv2/imgproc.hpp>

#include "testing/helpers.h"

namespace coreclean::detect {
namespace {

// A BGR image whose every pixel differs from its neighbours: (x·7 + y·13 + c·50) mod 256,
// rounded down to a multiple of 4 so that dimming by 1/4 is exact.
cv::Mat pattern(int width, int height) {
  cv::Mat image(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < 3; ++c) {
        image.at<cv::Vec3b>(y, x)[c] =
            static_cast<unsigned char>(((x * 7 + y * 13 + c * 50) % 256) & ~3);
      }
    }
  }
  return image;
}

bool same_pixels(const cv::Mat& a, const cv::Mat& b) {
  if (a.size() != b.size() || a.type() != b.type()) return false;
  return cv::countNonZero(a.reshape(1) != b.reshape(1)) == 0;
}

cv::Vec3b colour_of(const cv::Scalar& s) {
  return {static_cast<unsigned char>(s[0]), static_cast<unsigned char>(s[1]),
          static_cast<unsigned char>(s[2])};
}

// A crop of a whole-pixel box is exactly the annotated pixels, and owns them.
TEST(RenderCrop, CropOfKnownPatternEqualsPattern) {
  const cv::Mat image = pattern(40, 30);
  const cv::Mat crop = crop_box(image, Box{5, 4, 10, 8});
  ASSERT_EQ(crop.size(), cv::Size(10, 8));
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 10; ++x)
      EXPECT_EQ(crop.at<cv::Vec3b>(y, x), image.at<cv::Vec3b>(y + 4, x + 5));
  }
  EXPECT_NE(crop.data, image.data);
  cv::Mat copy = crop;
  copy.setTo(cv::Scalar(1, 1, 1));
  EXPECT_EQ(image.at<cv::Vec3b>(4, 5), pattern(40, 30).at<cv::Vec3b>(4, 5));
}

// Padding is a fraction of the box per side and is clamped at the image border; fractional
// edges widen to whole pixels.
TEST(RenderCrop, PaddingAndFractionalEdges) {
  const cv::Size size(40, 30);
  EXPECT_EQ(box_rect(Box{10, 10, 10, 6}, size, 0.5), cv::Rect(5, 7, 20, 12));
  EXPECT_EQ(box_rect(Box{2, 3, 10, 10}, size, 0.5), cv::Rect(0, 0, 17, 18));
  EXPECT_EQ(box_rect(Box{30, 20, 10, 10}, size, 0.5), cv::Rect(25, 15, 15, 15));
  EXPECT_EQ(box_rect(Box{1.5, 2.2, 3.1, 4.0}, size), cv::Rect(1, 2, 4, 5));
  EXPECT_EQ(box_rect(Box{-5, -5, 10, 10}, size), cv::Rect(0, 0, 5, 5));
  const cv::Mat image = pattern(40, 30);
  EXPECT_TRUE(same_pixels(crop_box(image, Box{2, 3, 10, 10}, 0.5), image(cv::Rect(0, 0, 17, 18))));
}

// Boxes that have no pixels are refused with the box and the image size in the message.
TEST(RenderCrop, DegenerateBoxesAreRefused) {
  const cv::Size size(40, 30);
  using testing::contains;
  using testing::error_of;
  EXPECT_TRUE(contains(error_of<InvalidArgument>([&] {
                         (void)box_rect(Box{1, 1, 0, 5}, size);
                       }),
                       "is empty"));
  EXPECT_TRUE(contains(error_of<InvalidArgument>([&] {
                         (void)box_rect(Box{NAN, 1, 3, 5}, size);
                       }),
                       "non-finite"));
  EXPECT_TRUE(contains(error_of<InvalidArgument>([&] {
                         (void)box_rect(Box{50, 1, 3, 5}, size);
                       }),
                       "outside the 40×30 image"));
  EXPECT_TRUE(contains(error_of<InvalidArgument>([&] {
                         (void)box_rect(Box{1, 1, 3, 5}, size, -0.1);
                       }),
                       "padding"));
  CocoAnnotation crowd;
  crowd.id = 77;
  crowd.bbox = Box{1, 1, 3, 5};
  crowd.iscrowd = true;
  EXPECT_TRUE(
      contains(error_of<InvalidArgument>([&] { (void)crop_annotation(pattern(40, 30), crowd); }),
               "annotation 77"));
}

// A missing file is an IoError and an undecodable one a FormatError, both naming the file; a
// written PNG reads back pixel for pixel.
TEST(RenderImage, ReadErrorsNameTheFileAndPngRoundTrips) {
  testing::TempDir dir;
  using testing::contains;
  using testing::error_of;
  EXPECT_TRUE(
      contains(error_of<IoError>([&] { (void)read_image(dir / "missing.jpg"); }), "missing.jpg"));
  testing::write_text(dir / "broken.jpg", "this is not a JPEG");
  EXPECT_TRUE(
      contains(error_of<FormatError>([&] { (void)read_image(dir / "broken.jpg"); }), "broken.jpg"));
  testing::write_text(dir / "empty.png", "");
  EXPECT_TRUE(
      contains(error_of<FormatError>([&] { (void)read_image(dir / "empty.png"); }), "empty.png"));
  const cv::Mat image = pattern(23, 17);
  write_image(dir / "p.png", image);
  EXPECT_TRUE(same_pixels(read_image(dir / "p.png"), image));
  EXPECT_TRUE(contains(error_of<InvalidArgument>([&] { write_image(dir / "p.unknown", image); }),
                       "p.unknown"));
}

// Attention: pixels inside the box keep their value; outside they are multiplied by dim.
TEST(RenderAttention, InsideKeptOutsideDimmed) {
  const cv::Mat image = pattern(40, 30);
  const Box box{6, 5, 12, 9};
  RenderStyle style;
  style.dim = 0.25;
  const cv::Mat out = render_attention(image, box, style);
  ASSERT_EQ(out.size(), image.size());
  ASSERT_EQ(out.type(), image.type());
  const cv::Rect inside(6, 5, 12, 9);
  int checked = 0;
  for (int y = 0; y < 30; ++y) {
    for (int x = 0; x < 40; ++x) {
      const cv::Vec3b v = image.at<cv::Vec3b>(y, x);
      const cv::Vec3b got = out.at<cv::Vec3b>(y, x);
      for (int c = 0; c < 3; ++c) {
        const int expected = inside.contains({x, y}) ? v[c] : v[c] / 4;
        ASSERT_EQ(got[c], expected) << "pixel (" << x << ", " << y << ") channel " << c;
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 40 * 30 * 3);
  style.dim = 0.0;
  const cv::Mat black = render_attention(image, box, style);
  EXPECT_EQ(black.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 0, 0));
  EXPECT_EQ(black.at<cv::Vec3b>(5, 6), image.at<cv::Vec3b>(5, 6));
  style.dim = 1.5;
  EXPECT_TRUE(testing::contains(
      testing::error_of<InvalidArgument>([&] { (void)render_attention(image, box, style); }),
      "dim"));
}

// Overlay: a border of `thickness` pixels along the inside of the box in the border colour, the
// interior and the rest of the image untouched except the label patch above the box, whose text
// is black on a light border colour.
TEST(RenderOverlay, BorderInBorderColourAndLabelAbove) {
  const cv::Mat image(80, 100, CV_8UC3, cv::Scalar(50, 60, 70));
  RenderStyle style;
  style.thickness = 2;
  const cv::Vec3b border = colour_of(style.border_colour);
  const cv::Mat out = render_overlay(image, Box{20, 40, 30, 20}, "RBC", style);
  for (const cv::Point p :
       {cv::Point(20, 40), cv::Point(21, 41), cv::Point(49, 59), cv::Point(48, 58),
        cv::Point(35, 40), cv::Point(35, 59), cv::Point(20, 50), cv::Point(49, 50)}) {
    EXPECT_EQ(out.at<cv::Vec3b>(p), border) << p;
  }
  for (const cv::Point p :
       {cv::Point(22, 42), cv::Point(35, 50), cv::Point(47, 57), cv::Point(80, 50),
        cv::Point(10, 70), cv::Point(5, 5), cv::Point(20, 5)}) {
    EXPECT_EQ(out.at<cv::Vec3b>(p), cv::Vec3b(50, 60, 70)) << p;
  }
  int baseline = 0;
  const cv::Size text =
      cv::getTextSize("RBC", cv::FONT_HERSHEY_SIMPLEX, style.font_scale, 1, &baseline);
  const cv::Rect patch(20, 40 - (text.height + baseline + 4), text.width + 4,
                       text.height + baseline + 4);
  const cv::Mat region = out(patch);
  int background = 0;
  int ink = 0;
  for (int y = 0; y < region.rows; ++y) {
    for (int x = 0; x < region.cols; ++x) {
      const cv::Vec3b v = region.at<cv::Vec3b>(y, x);
      if (v == border) ++background;
      if (v[0] < 100 && v[1] < 100 && v[2] < 100) ++ink;  // anti-aliased text
    }
  }
  EXPECT_GT(background, region.total() / 2);
  EXPECT_GT(ink, 5);
  // Nothing outside the box, its border and the patch changed.
  cv::Mat changed = cv::Mat::zeros(80, 100, CV_8U);
  cv::Mat diff;
  cv::absdiff(out, image, diff);
  cv::cvtColor(diff, diff, cv::COLOR_BGR2GRAY);
  diff(cv::Rect(20, 40, 30, 20)).setTo(0);
  diff(patch).setTo(0);
  EXPECT_EQ(cv::countNonZero(diff), 0);
}

// A box at the top edge gets its label inside the box; a grey image becomes BGR.
TEST(RenderOverlay, LabelInsideWhenNoRoomAboveAndGreyInput) {
  const cv::Mat grey(50, 60, CV_8UC1, cv::Scalar(90));
  RenderStyle style;
  const cv::Mat out = render_overlay(grey, Box{10, 0, 40, 30}, "WBC", style);
  ASSERT_EQ(out.type(), CV_8UC3);
  int ink = 0;
  for (int y = 0; y < 20; ++y) {
    for (int x = 10; x < 50; ++x) {
      const cv::Vec3b v = out.at<cv::Vec3b>(y, x);
      ink += v[0] < 60 && v[1] < 60 && v[2] < 60;  // darker than both the image and the patch
    }
  }
  EXPECT_GT(ink, 5);
  EXPECT_EQ(out.at<cv::Vec3b>(45, 55), cv::Vec3b(90, 90, 90));
  const cv::Mat no_label = render_overlay(grey, Box{10, 0, 40, 30}, "", style);
  EXPECT_EQ(no_label.at<cv::Vec3b>(15, 30), cv::Vec3b(90, 90, 90));
}

// The three views of an annotation are the crop (with the style's padding), the attention view
// and the overlay.
TEST(RenderViews, ThreeViewsOfAnAnnotation) {
  const cv::Mat image = pattern(40, 30);
  CocoAnnotation a;
  a.id = 5;
  a.bbox = Box{10, 10, 10, 6};
  RenderStyle style;
  style.padding = 0.5;
  const BoxViews v = render_views(image, a, "cat", style);
  EXPECT_TRUE(same_pixels(v.crop, image(cv::Rect(5, 7, 20, 12))));
  EXPECT_TRUE(same_pixels(v.attention, render_attention(image, a.bbox, style)));
  EXPECT_TRUE(same_pixels(v.overlay, render_overlay(image, a.bbox, "cat", style)));
}

}  // namespace
}  // namespace coreclean::detect
