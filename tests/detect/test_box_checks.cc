// Model-free box checks: hand-computed IoU, a fixture with one case per check, the real BCCD
// errors, and the duplicate sweep against all pairs.
#include <coreclean/core/error.h>
#include <coreclean/detect/box_checks.h>
#include <coreclean/detect/coco.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "testing/helpers.h"

namespace coreclean::detect {
namespace {

namespace fs = std::filesystem;

fs::path fixture(const std::string& name) {
  return fs::path(CORECLEAN_TEST_DATA_DIR) / "coco" / name;
}

// (annotation, check, other annotation or 0), the parts of a finding a test compares.
using Key = std::tuple<SampleId, BoxCheck, SampleId>;

std::vector<Key> keys(const std::vector<BoxFinding>& findings) {
  std::vector<Key> out;
  for (const auto& f : findings)
    out.emplace_back(f.annotation_id, f.check, f.other_annotation_id.value_or(0));
  return out;
}

const BoxFinding& find(const std::vector<BoxFinding>& findings, SampleId id, BoxCheck check) {
  for (const auto& f : findings)
    if (f.annotation_id == id && f.check == check) return f;
  throw std::runtime_error("no such finding");
}

// IoU of hand-computed cases: identical, disjoint, touching, half overlap, containment, BCCD's
// copy/paste pair, and boxes without area or with NaN.
TEST(BoxCheckIou, HandComputed) {
  EXPECT_DOUBLE_EQ(iou({0, 0, 2, 2}, {0, 0, 2, 2}), 1.0);
  EXPECT_DOUBLE_EQ(iou({0, 0, 2, 2}, {5, 5, 2, 2}), 0.0);
  EXPECT_DOUBLE_EQ(iou({0, 0, 2, 2}, {2, 0, 2, 2}), 0.0);  // sharing an edge only
  EXPECT_DOUBLE_EQ(iou({0, 0, 2, 2}, {1, 0, 2, 2}), 2.0 / 6.0);
  EXPECT_DOUBLE_EQ(iou({0, 0, 4, 4}, {1, 1, 2, 2}), 4.0 / 16.0);
  EXPECT_DOUBLE_EQ(iou({1, 1, 2, 2}, {0, 0, 4, 4}), 0.25);  // symmetric
  // BCCD annotations 371/372: 106 × 106 overlap of two 108 × 108 boxes.
  EXPECT_DOUBLE_EQ(iou({143, 365, 108, 108}, {141, 363, 108, 108}),
                   106.0 * 106.0 / (2 * 108.0 * 108.0 - 106.0 * 106.0));
  EXPECT_NEAR(iou({143, 365, 108, 108}, {141, 363, 108, 108}), 0.929, 5e-4);
  EXPECT_DOUBLE_EQ(iou({10, 10, 20, 20}, {11, 10, 20, 20}), 380.0 / 420.0);
  EXPECT_DOUBLE_EQ(iou({0, 0, 0, 5}, {0, 0, 0, 5}), 0.0);
  EXPECT_DOUBLE_EQ(iou({0, 0, -2, 5}, {-2, 0, 2, 5}), 0.0);
  EXPECT_DOUBLE_EQ(iou({NAN, 0, 2, 2}, {0, 0, 2, 2}), 0.0);
}

// The fixture has one or more cases per check; exactly these findings come out, in file order.
TEST(BoxCheck, FixtureFindsExactlyTheExpected) {
  const CocoDataset d = read_coco(fixture("checks.json"));
  const std::vector<BoxFinding> f = check_boxes(d);
  const std::vector<Key> expected = {
      {2, BoxCheck::kDuplicate, 1},         // IoU 380/420 = 0.905, different classes
      {3, BoxCheck::kDegenerate, 0},        // width 0
      {4, BoxCheck::kDegenerate, 0},        // 1 × 1: degenerate only, not also tiny
      {5, BoxCheck::kTiny, 0},              // 3 × 10
      {6, BoxCheck::kOutside, 0},           // x = -2
      {7, BoxCheck::kOutside, 0},           // 10 px past right and bottom
      {8, BoxCheck::kOutside, 0},           // entirely outside
      {9, BoxCheck::kAspect, 0},            // 100 × 5
      {10, BoxCheck::kMissingImage, 0},     // image 99
      {11, BoxCheck::kUnknownCategory, 0},  // category 42
      {12, BoxCheck::kDegenerate, 0},       // NaN
      {14, BoxCheck::kTiny, 0},             // 2 × 30: tiny and aspect 15
      {14, BoxCheck::kAspect, 0},
      {15, BoxCheck::kDuplicate, 1},   // identical to 1 (crowd boxes are checked too)
      {15, BoxCheck::kDuplicate, 2},   // IoU 0.905 with 2
      {16, BoxCheck::kDegenerate, 0},  // negative height; no outside finding as well
      {17, BoxCheck::kDegenerate, 0},  // ±Infinity
  };
  EXPECT_EQ(keys(f), expected);

  EXPECT_EQ(find(f, 2, BoxCheck::kDuplicate).detail,
            "IoU 0.905 with annotation 1 (classes 2 'b' and 1 'a'; bbox [11, 10, 20, 20] and "
            "[10, 10, 20, 20])");
  EXPECT_EQ(find(f, 2, BoxCheck::kDuplicate).image_id, 1);
  EXPECT_EQ(find(f, 4, BoxCheck::kDegenerate).detail,
            "width 1 px, height 1 px: a side of at most 1 px (bbox [50, 50, 1, 1])");
  EXPECT_EQ(find(f, 16, BoxCheck::kDegenerate).detail,
            "height -5 px (negative): a side of at most 1 px (bbox [0, -3, 10, -5])");
  EXPECT_EQ(find(f, 12, BoxCheck::kDegenerate).detail,
            "bbox [nan, 0, 10, 10] has a non-finite value");
  EXPECT_EQ(find(f, 5, BoxCheck::kTiny).detail,
            "shorter side 3 px is below 4 px (bbox [5, 5, 3, 10])");
  EXPECT_EQ(find(f, 6, BoxCheck::kOutside).detail,
            "bbox [-2, 10, 20, 20] extends 2 px beyond the left edge of the 100x100 image");
  EXPECT_EQ(find(f, 7, BoxCheck::kOutside).detail,
            "bbox [90, 90, 20, 20] extends 10 px beyond the right edge, 10 px beyond the bottom "
            "edge of the 100x100 image");
  EXPECT_EQ(find(f, 8, BoxCheck::kOutside).detail,
            "bbox [150, 150, 10, 10] lies entirely outside the 100x100 image");
  EXPECT_EQ(find(f, 9, BoxCheck::kAspect).detail, "aspect ratio 20 is above 10 (100 x 5 px)");
  EXPECT_EQ(find(f, 10, BoxCheck::kMissingImage).detail, "image_id 99 is not in 'images'");
  EXPECT_EQ(find(f, 10, BoxCheck::kMissingImage).image_id, 99);
  EXPECT_EQ(find(f, 11, BoxCheck::kUnknownCategory).detail,
            "category_id 42 is not in 'categories'");
}

// Thresholds move the findings as documented: strict comparisons for tiny and aspect, ≥ for IoU.
TEST(BoxCheck, ThresholdsAreHonoured) {
  const CocoDataset d = read_coco(fixture("checks.json"));
  BoxCheckParams p;
  p.min_side = 2;     // 2 × 30 is not below 2; 3 × 10 neither
  p.max_aspect = 20;  // 20 is not above 20
  p.duplicate_iou = 0.95;
  std::vector<Key> found = keys(check_boxes(d, p));
  std::vector<Key> expected = {
      {3, BoxCheck::kDegenerate, 0},       {4, BoxCheck::kDegenerate, 0},
      {6, BoxCheck::kOutside, 0},          {7, BoxCheck::kOutside, 0},
      {8, BoxCheck::kOutside, 0},          {10, BoxCheck::kMissingImage, 0},
      {11, BoxCheck::kUnknownCategory, 0}, {12, BoxCheck::kDegenerate, 0},
      {15, BoxCheck::kDuplicate, 1},       {16, BoxCheck::kDegenerate, 0},
      {17, BoxCheck::kDegenerate, 0},
  };
  EXPECT_EQ(found, expected);
  p = BoxCheckParams{};
  p.min_side = 0;                   // off
  p.duplicate_iou = 380.0 / 420.0;  // exactly the IoU of 1/2 and 2/15: still a duplicate
  found = keys(check_boxes(d, p));
  EXPECT_EQ(std::count(found.begin(), found.end(), Key{2, BoxCheck::kDuplicate, 1}), 1);
  EXPECT_EQ(std::count(found.begin(), found.end(), Key{15, BoxCheck::kDuplicate, 2}), 1);
  EXPECT_EQ(std::count(found.begin(), found.end(), Key{5, BoxCheck::kTiny, 0}), 0);
}

// With an images directory, annotations whose image file is absent are reported (once per
// annotation); without one, files are not looked at.
TEST(BoxCheck, MissingImageFiles) {
  const CocoDataset d = read_coco(fixture("checks.json"));
  testing::TempDir dir;
  testing::write_text(dir / "one.jpg", "x");
  testing::write_text(dir / "three.jpg", "x");
  BoxCheckParams p;
  p.images_dir = dir.path();
  const std::vector<BoxFinding> f = check_boxes(d, p);
  std::vector<SampleId> missing;
  for (const auto& x : f)
    if (x.check == BoxCheck::kMissingImage) missing.push_back(x.annotation_id);
  EXPECT_EQ(missing, (std::vector<SampleId>{10, 11, 12, 14, 17}));  // 10: no image; others: two.jpg
  EXPECT_TRUE(testing::contains(find(f, 11, BoxCheck::kMissingImage).detail,
                                "image file " + (dir / "two.jpg").string() + " does not exist"));
}

// Bad parameters are refused with the field and value.
TEST(BoxCheck, ParamsValidate) {
  const CocoDataset d;
  BoxCheckParams p;
  p.min_side = -1;
  EXPECT_TRUE(testing::contains(testing::error_of<InvalidArgument>([&] { check_boxes(d, p); }),
                                "min_side must be a finite number ≥ 0 (pixels), got -1"));
  p = {};
  p.max_aspect = 0.5;
  EXPECT_THROW(check_boxes(d, p), InvalidArgument);
  p = {};
  p.duplicate_iou = 0;
  EXPECT_THROW(check_boxes(d, p), InvalidArgument);
  p.duplicate_iou = NAN;
  EXPECT_THROW(check_boxes(d, p), InvalidArgument);
  p = {};
  p.images_dir = "/nonexistent/images";
  EXPECT_TRUE(testing::contains(testing::error_of<InvalidArgument>([&] { check_boxes(d, p); }),
                                "/nonexistent/images does not exist"));
}

// On BCCD exactly the known errors come out: the two one-pixel boxes and the seven copy/paste
// pairs listed in its README, and nothing else (all boxes lie inside their 640 × 480 images,
// the next smallest box is 20 × 24, the widest aspect ratio is below 3, and every image file
// is present).
TEST(BoxCheck, BccdFindsExactlyTheKnownErrors) {
  CORECLEAN_REQUIRE_SHARED_DATA();
  const fs::path dir = testing::shared_data_dir() / "bccd";
  const CocoDataset d = read_coco(dir / "instances.json");
  BoxCheckParams p;
  p.images_dir = dir / "images";
  const std::vector<BoxFinding> f = check_boxes(d, p);
  const std::vector<Key> expected = {
      {372, BoxCheck::kDuplicate, 371},   {1505, BoxCheck::kDuplicate, 1504},
      {1567, BoxCheck::kDuplicate, 1566}, {3026, BoxCheck::kDuplicate, 3025},
      {3369, BoxCheck::kDuplicate, 3368}, {3851, BoxCheck::kDuplicate, 3850},
      {3951, BoxCheck::kDegenerate, 0},   {4005, BoxCheck::kDegenerate, 0},
      {4770, BoxCheck::kDuplicate, 4769},
  };
  EXPECT_EQ(keys(f), expected);
  EXPECT_TRUE(testing::contains(find(f, 372, BoxCheck::kDuplicate).detail,
                                "IoU 0.929 with annotation 371 (same class 1 'RBC'"));
  EXPECT_TRUE(testing::contains(find(f, 3951, BoxCheck::kDegenerate).detail, "[503, 336, 1, 1]"));
  // The README's other figures: 8 pairs above IoU 0.7, 14 above 0.5, none between classes.
  p.duplicate_iou = 0.7;
  std::size_t pairs = 0;
  for (const auto& x : check_boxes(d, p)) pairs += x.check == BoxCheck::kDuplicate;
  EXPECT_EQ(pairs, 8u);
  p.duplicate_iou = 0.5;
  pairs = 0;
  for (const auto& x : check_boxes(d, p)) {
    if (x.check != BoxCheck::kDuplicate) continue;
    ++pairs;
    EXPECT_TRUE(testing::contains(x.detail, "same class 1 'RBC'")) << x.detail;
  }
  EXPECT_EQ(pairs, 14u);
}

// The per-image sweep finds exactly the pairs that comparing all pairs finds, for random boxes
// with many near-copies, and for several thresholds.
TEST(BoxCheck, DuplicateSweepMatchesAllPairs) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  CocoDataset d;
  d.categories.push_back({1, "a", ""});
  for (int i = 1; i <= 6; ++i) d.images.push_back({i, "x.jpg", 0, 0});
  for (int k = 0; k < 1500; ++k) {
    CocoAnnotation a;
    a.id = 1000 + k;
    a.image_id = 1 + k % 6;
    a.category_id = 1;
    // 40 % are jittered copies of an earlier box of the same image (k − 6, k − 12 or k − 18).
    const int source = k - 6 * (1 + static_cast<int>(unit(rng) * 3));
    if (source >= 0 && unit(rng) < 0.4) {
      // A quarter are exact copies (equal left edges test the sweep's ties).
      const Box& b = d.annotations[static_cast<std::size_t>(source)].bbox;
      const double jitter = unit(rng) < 0.25 ? 0.0 : unit(rng);
      a.bbox = {b.x + (unit(rng) - 0.5) * 4 * jitter, b.y + (unit(rng) - 0.5) * 4 * jitter,
                b.w * (1 + 0.2 * (unit(rng) - 0.5) * jitter),
                b.h * (1 + 0.2 * (unit(rng) - 0.5) * jitter)};
    } else {
      a.bbox = {unit(rng) * 300, unit(rng) * 300, 2 + unit(rng) * 60, 2 + unit(rng) * 60};
    }
    d.annotations.push_back(a);
  }
  d.index();
  for (double t : {0.3, 0.6, 0.85, 0.9, 0.97}) {
    SCOPED_TRACE(t);
    std::set<std::pair<SampleId, SampleId>> brute;
    for (std::size_t i = 0; i < d.annotations.size(); ++i)
      for (std::size_t j = i + 1; j < d.annotations.size(); ++j) {
        const auto &a = d.annotations[i], &b = d.annotations[j];
        if (a.image_id == b.image_id && iou(a.bbox, b.bbox) >= t) brute.insert({b.id, a.id});
      }
    BoxCheckParams p;
    p.duplicate_iou = t;
    p.min_side = 0;
    p.max_aspect = 1e9;
    std::set<std::pair<SampleId, SampleId>> swept;
    for (const auto& f : check_boxes(d, p)) {
      if (f.check != BoxCheck::kDuplicate) continue;  // jittered copies may cross x = 0
      EXPECT_TRUE(swept.insert({f.annotation_id, *f.other_annotation_id}).second);
    }
    EXPECT_GT(brute.size(), 10u);
    EXPECT_EQ(swept, brute);
  }
}

// The names used in output and JSON.
TEST(BoxCheck, Names) {
  std::vector<std::string> names;
  for (BoxCheck c : kAllBoxChecks) names.emplace_back(box_check_name(c));
  EXPECT_EQ(names, (std::vector<std::string>{"degenerate", "tiny", "outside", "aspect", "duplicate",
                                             "missing_image", "unknown_category"}));
}

}  // namespace
}  // namespace coreclean::detect
