// Demo scenes: boxes are tight around the painted items, injected errors match the requested
// rate and agree with truth.json, and the files are a function of the seed.
#include <coreclean/core/error.h>
#include <coreclean/detect/demo_scenes.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "testing/helpers.h"

namespace coreclean::detect {
namespace {

const std::filesystem::path kFashion{std::string(kFashionMnistDir)};

// 60 hand-made 28 × 28 items (ink blobs of varied size, shape and grey levels), labels 0-9:
// the generator is tested without the Fashion-MNIST package.
io::LabelledImages synthetic_items() {
  io::LabelledImages set;
  set.count = 60;
  set.rows = 28;
  set.cols = 28;
  set.pixels.assign(60 * 28 * 28, 0);
  std::mt19937 rng(7);
  for (int i = 0; i < 60; ++i) {
    const int x0 = 2 + static_cast<int>(rng() % 8), y0 = 1 + static_cast<int>(rng() % 8);
    const int x1 = 18 + static_cast<int>(rng() % 9), y1 = 16 + static_cast<int>(rng() % 11);
    for (int y = y0; y <= y1; ++y) {
      for (int x = x0; x <= x1; ++x) {
        // An ellipse for odd items, a rectangle with a faint rim for even ones.
        const double u = (x - (x0 + x1) / 2.0) / ((x1 - x0) / 2.0 + 0.5);
        const double v = (y - (y0 + y1) / 2.0) / ((y1 - y0) / 2.0 + 0.5);
        if (i % 2 == 1 && u * u + v * v > 1.0) continue;
        const bool rim = x == x0 || x == x1 || y == y0 || y == y1;
        set.pixels[static_cast<std::size_t>(i * 784 + y * 28 + x)] =
            static_cast<std::uint8_t>(rim ? 20 : 60 + (x * 7 + y * 3 + i) % 190);
      }
    }
    set.labels.push_back(static_cast<std::uint8_t>(i % 10));
  }
  return set;
}

bool have_fashion() { return std::filesystem::exists(kFashion / "t10k-images-idx3-ubyte.gz"); }

// Real items when the package is installed (loaded once), else the synthetic ones.
const io::LabelledImages& items() {
  static const io::LabelledImages set = have_fashion() ? load_fashion_mnist() : synthetic_items();
  return set;
}

double iou(const Box& a, const Box& b) {
  const double w = std::min(a.x + a.w, b.x + b.w) - std::max(a.x, b.x);
  const double h = std::min(a.y + a.h, b.y + b.h) - std::max(a.y, b.y);
  const double inter = w > 0 && h > 0 ? w * h : 0.0;
  return inter / (a.w * a.h + b.w * b.h - inter);
}

bool same(const Box& a, const Box& b) {
  return a.x == b.x && a.y == b.y && a.w == b.w && a.h == b.h;
}

bool inside_canvas(const Box& b, const DemoSceneParams& p) {
  return b.x >= 0 && b.y >= 0 && b.w >= 1 && b.h >= 1 && b.x + b.w <= p.canvas_width &&
         b.y + b.h <= p.canvas_height && b.x == std::floor(b.x) && b.y == std::floor(b.y) &&
         b.w == std::floor(b.w) && b.h == std::floor(b.h);
}

// The most common pixel of a flat-background scene is its background colour.
cv::Vec3b background_of(const cv::Mat& m) {
  std::map<std::tuple<int, int, int>, int> counts;
  for (int y = 0; y < m.rows; ++y) {
    for (int x = 0; x < m.cols; ++x) {
      const cv::Vec3b p = m.at<cv::Vec3b>(y, x);
      ++counts[{p[0], p[1], p[2]}];
    }
  }
  const auto best =
      std::max_element(counts.begin(), counts.end(),
                       [](const auto& a, const auto& b) { return a.second < b.second; });
  const auto [b, g, r] = best->first;
  return {static_cast<std::uint8_t>(b), static_cast<std::uint8_t>(g), static_cast<std::uint8_t>(r)};
}

DemoSceneParams flat_params(int images, int min_items, int max_items) {
  DemoSceneParams p;
  p.images = images;
  p.min_items = min_items;
  p.max_items = max_items;
  p.background_texture = 0;
  p.background_noise = 0;
  return p;
}

// With one item per scene on a flat background, the item's box is exactly the bounding box of
// the pixels that differ from the background, and a correct annotation carries that box.
TEST(DemoScenes, BoxIsTightAroundThePaintedItem) {
  const DemoSceneParams p = flat_params(40, 1, 1);
  std::vector<cv::Mat> canvases;
  Context ctx;
  ctx.seed = 11;
  const DemoScenes scenes = generate_demo_scenes(
      items(), p, ctx, [&](const CocoImage&, const cv::Mat& m) { canvases.push_back(m.clone()); });
  ASSERT_EQ(canvases.size(), 40u);
  ASSERT_EQ(scenes.objects.size(), 40u);
  std::set<SampleId> faulty;
  for (const DemoError& e : scenes.errors) faulty.insert(e.annotation_id);
  for (const DemoObject& o : scenes.objects) {
    const cv::Mat& m = canvases[static_cast<std::size_t>(o.image_id - 1)];
    const cv::Vec3b bg = background_of(m);
    int x0 = m.cols, y0 = m.rows, x1 = -1, y1 = -1;
    for (int y = 0; y < m.rows; ++y) {
      for (int x = 0; x < m.cols; ++x) {
        if (m.at<cv::Vec3b>(y, x) == bg) continue;
        x0 = std::min(x0, x);
        x1 = std::max(x1, x);
        y0 = std::min(y0, y);
        y1 = std::max(y1, y);
      }
    }
    const Box painted{double(x0), double(y0), double(x1 - x0 + 1), double(y1 - y0 + 1)};
    EXPECT_TRUE(same(o.box, painted))
        << "image " << o.image_id << ": box " << o.box.x << "," << o.box.y << "," << o.box.w << ","
        << o.box.h << " painted " << x0 << "," << y0 << "," << x1 << "," << y1;
    // Scaled 28 × 28 items are 40-110 px; the ink is usually narrower than the square.
    EXPECT_LE(std::max(o.box.w, o.box.h), p.max_item_size);
    EXPECT_GE(std::max(o.box.w, o.box.h), 10);
    const CocoAnnotation& a =
        scenes.coco.annotations[*scenes.coco.annotation_index(o.annotation_id)];
    if (!faulty.count(a.id)) {
      EXPECT_TRUE(same(a.bbox, o.box));
      EXPECT_EQ(a.category_id, o.category_id);
    }
  }
}

// With several items per scene, every box lies inside the canvas, every item's box has ink on
// each of its four edges, and no ink lies outside the items' boxes.
TEST(DemoScenes, BoxesInsideCanvasAndCoverAllInk) {
  const DemoSceneParams p = flat_params(25, 3, 8);
  std::vector<cv::Mat> canvases;
  const DemoScenes scenes = generate_demo_scenes(
      items(), p, Context(),
      [&](const CocoImage&, const cv::Mat& m) { canvases.push_back(m.clone()); });
  for (const CocoAnnotation& a : scenes.coco.annotations) {
    EXPECT_TRUE(inside_canvas(a.bbox, p)) << "annotation " << a.id;
    EXPECT_EQ(a.area, a.bbox.w * a.bbox.h);
    EXPECT_FALSE(a.iscrowd);
  }
  std::int64_t overlapping = 0;
  for (std::size_t i = 0; i < canvases.size(); ++i) {
    const cv::Mat& m = canvases[i];
    const cv::Vec3b bg = background_of(m);
    std::vector<Box> boxes;
    for (const DemoObject& o : scenes.objects) {
      if (o.image_id == static_cast<std::int64_t>(i + 1)) boxes.push_back(o.box);
    }
    ASSERT_GE(boxes.size(), 1u);
    for (std::size_t k = 0; k < boxes.size(); ++k) {
      const Box& b = boxes[k];
      ASSERT_TRUE(inside_canvas(b, p));
      const int left = int(b.x), top = int(b.y), right = int(b.x + b.w) - 1,
                bottom = int(b.y + b.h) - 1;
      bool ink_top = false, ink_bottom = false, ink_left = false, ink_right = false;
      for (int x = left; x <= right; ++x) {
        ink_top |= m.at<cv::Vec3b>(top, x) != bg;
        ink_bottom |= m.at<cv::Vec3b>(bottom, x) != bg;
      }
      for (int y = top; y <= bottom; ++y) {
        ink_left |= m.at<cv::Vec3b>(y, left) != bg;
        ink_right |= m.at<cv::Vec3b>(y, right) != bg;
      }
      EXPECT_TRUE(ink_top && ink_bottom && ink_left && ink_right)
          << "image " << i + 1 << " box " << k;
      for (std::size_t j = k + 1; j < boxes.size(); ++j)
        overlapping += iou(b, boxes[j]) > 0 ? 1 : 0;
    }
    for (int y = 0; y < m.rows; ++y) {
      for (int x = 0; x < m.cols; ++x) {
        if (m.at<cv::Vec3b>(y, x) == bg) continue;
        const bool covered = std::any_of(boxes.begin(), boxes.end(), [&](const Box& b) {
          return x >= b.x && x < b.x + b.w && y >= b.y && y < b.y + b.h;
        });
        ASSERT_TRUE(covered) << "ink outside every box at " << x << "," << y << " of image "
                             << i + 1;
      }
    }
  }
  EXPECT_GT(overlapping, 0) << "some items should overlap";
}

// The number of errors is round(rate × annotations), split over the kinds by their weights
// (each kind within one of its share), for several rates.
TEST(DemoScenes, ErrorCountsFollowTheRate) {
  for (const double rate : {0.05, 0.10, 0.25}) {
    DemoSceneParams p;
    p.images = 150;
    p.error_rate = rate;
    const DemoScenes scenes = generate_demo_scenes(items(), p, Context());
    const auto annotations = static_cast<double>(scenes.coco.annotations.size());
    const auto errors = static_cast<std::int64_t>(scenes.errors.size());
    EXPECT_EQ(errors, std::llround(rate * annotations)) << "rate " << rate;
    EXPECT_EQ(scenes.coco.annotations.size(),
              scenes.objects.size() +
                  static_cast<std::size_t>(scenes.error_count(DemoErrorKind::kDuplicate)));
    const double sum = p.flip_weight + p.miss_weight + p.span_weight + p.duplicate_weight;
    const std::map<DemoErrorKind, double> weights = {
        {DemoErrorKind::kFlip, p.flip_weight},
        {DemoErrorKind::kMiss, p.miss_weight},
        {DemoErrorKind::kSpan, p.span_weight},
        {DemoErrorKind::kDuplicate, p.duplicate_weight}};
    for (const auto& [kind, w] : weights) {
      EXPECT_NEAR(static_cast<double>(scenes.error_count(kind)), errors * w / sum, 1.0)
          << to_string(kind) << " at rate " << rate;
    }
    EXPECT_GT(scenes.error_count(DemoErrorKind::kFlip), errors / 2) << "flips should dominate";
  }
  DemoSceneParams none;
  none.images = 20;
  none.error_rate = 0.0;
  EXPECT_TRUE(generate_demo_scenes(items(), none, Context()).errors.empty());
}

// Every truth entry agrees with the annotations: flips stay in the confusable group, misses
// are off their object, spans cover two objects, duplicates sit on an annotated object with
// IoU ≥ 0.9; clean annotations carry their object's box and label.
TEST(DemoScenes, TruthAgreesWithAnnotations) {
  DemoSceneParams p;
  p.images = 120;
  p.error_rate = 0.2;
  Context ctx;
  ctx.seed = 5;
  const DemoScenes scenes = generate_demo_scenes(items(), p, ctx);
  const CocoDataset& coco = scenes.coco;
  for (std::size_t i = 0; i < coco.annotations.size(); ++i) {
    ASSERT_EQ(coco.annotations[i].id, static_cast<SampleId>(i + 1));
  }
  const auto confusable = [](Label l) {
    return std::find(kFashionMnistConfusable.begin(), kFashionMnistConfusable.end(), l) !=
           kFashionMnistConfusable.end();
  };
  std::set<SampleId> faulty;
  for (const DemoError& e : scenes.errors) {
    ASSERT_TRUE(faulty.insert(e.annotation_id).second) << "two errors on one annotation";
    const CocoAnnotation& a = coco.annotations[*coco.annotation_index(e.annotation_id)];
    ASSERT_FALSE(e.objects.empty());
    const DemoObject& object = scenes.objects[e.objects[0]];
    EXPECT_EQ(a.image_id, object.image_id);
    EXPECT_EQ(demo_error_fix(e.kind) == AnnotationEdit::Kind::kRelabel,
              e.kind == DemoErrorKind::kFlip);
    switch (e.kind) {
      case DemoErrorKind::kFlip:
        EXPECT_NE(a.category_id, e.true_category_id);
        EXPECT_TRUE(confusable(a.category_id)) << a.category_id;
        EXPECT_TRUE(confusable(e.true_category_id)) << e.true_category_id;
        EXPECT_EQ(e.true_category_id, object.category_id);
        EXPECT_TRUE(same(a.bbox, object.box));
        break;
      case DemoErrorKind::kMiss:
        EXPECT_EQ(a.category_id, e.true_category_id);
        EXPECT_LE(iou(a.bbox, object.box), 0.1);
        EXPECT_EQ(a.bbox.w, object.box.w);
        EXPECT_EQ(a.bbox.h, object.box.h);
        break;
      case DemoErrorKind::kSpan: {
        ASSERT_EQ(e.objects.size(), 2u);
        const DemoObject& other = scenes.objects[e.objects[1]];
        EXPECT_EQ(other.image_id, object.image_id);
        EXPECT_EQ(a.category_id, object.category_id);
        for (const Box& b : {object.box, other.box}) {
          EXPECT_TRUE(b.x >= a.bbox.x && b.y >= a.bbox.y && b.x + b.w <= a.bbox.x + a.bbox.w &&
                      b.y + b.h <= a.bbox.y + a.bbox.h);
        }
        EXPECT_LE(iou(a.bbox, object.box), 0.8);
        break;
      }
      case DemoErrorKind::kDuplicate: {
        const CocoAnnotation& original = coco.annotations[*coco.annotation_index(e.duplicate_of)];
        EXPECT_EQ(original.image_id, a.image_id);
        EXPECT_EQ(original.category_id, a.category_id);
        EXPECT_GE(iou(original.bbox, a.bbox), 0.9);
        EXPECT_TRUE(same(original.bbox, object.box));
        EXPECT_EQ(object.annotation_id, e.duplicate_of);
        break;
      }
    }
  }
  for (const DemoError& e : scenes.errors) {
    if (e.kind == DemoErrorKind::kDuplicate) {
      EXPECT_FALSE(faulty.count(e.duplicate_of));
    }
  }
  std::set<SampleId> object_annotations;
  for (const DemoObject& o : scenes.objects) {
    ASSERT_TRUE(object_annotations.insert(o.annotation_id).second);
    if (faulty.count(o.annotation_id)) continue;
    const CocoAnnotation& a = coco.annotations[*coco.annotation_index(o.annotation_id)];
    EXPECT_TRUE(same(a.bbox, o.box));
    EXPECT_EQ(a.category_id, o.category_id);
    EXPECT_EQ(a.image_id, o.image_id);
  }
}

// The written files are a function of the seed: the same seed gives byte-identical files, a
// different seed different ones; both JSON files parse and agree with each other.
TEST(DemoScenes, FilesAreDeterministicBySeed) {
  DemoSceneParams p;
  p.images = 12;
  testing::TempDir dir;
  Context ctx;
  ctx.seed = 42;
  const DemoScenes first = write_demo_scenes(dir / "a", items(), p, ctx);
  write_demo_scenes(dir / "b", items(), p, ctx);
  ctx.seed = 43;
  write_demo_scenes(dir / "c", items(), p, ctx);
  for (const std::string name :
       {"annotations.json", "truth.json", "images/000001.jpg", "images/000012.jpg"}) {
    const std::string a = testing::read_text(dir / "a" / name);
    ASSERT_FALSE(a.empty()) << name;
    EXPECT_EQ(a, testing::read_text(dir / "b" / name)) << name;
    EXPECT_NE(a, testing::read_text(dir / "c" / name)) << name;
  }
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir / "a" / "images")) {
    ++files;
    EXPECT_EQ(testing::read_text(entry.path()),
              testing::read_text(dir / "b" / "images" / entry.path().filename()));
  }
  EXPECT_EQ(files, 12u);

  const auto coco = nlohmann::json::parse(testing::read_text(dir / "a" / "annotations.json"));
  ASSERT_EQ(coco["categories"].size(), 10u);
  for (std::size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(coco["categories"][i]["id"], i);
    EXPECT_EQ(coco["categories"][i]["name"], std::string(kFashionMnistClasses[i]));
  }
  EXPECT_EQ(coco["categories"][6]["name"], "Shirt");
  ASSERT_EQ(coco["images"].size(), 12u);
  EXPECT_EQ(coco["images"][0]["file_name"], "000001.jpg");
  EXPECT_EQ(coco["images"][0]["width"], p.canvas_width);
  ASSERT_EQ(coco["annotations"].size(), first.coco.annotations.size());
  const auto& a0 = coco["annotations"][0];
  EXPECT_EQ(a0["iscrowd"], 0);
  EXPECT_EQ(a0["bbox"].size(), 4u);
  EXPECT_EQ(a0["area"].get<double>(), a0["bbox"][2].get<double>() * a0["bbox"][3].get<double>());
  EXPECT_EQ(coco["info"]["seed"], 42);

  const auto truth = nlohmann::json::parse(testing::read_text(dir / "a" / "truth.json"));
  EXPECT_EQ(truth["summary"]["images"], 12);
  EXPECT_EQ(truth["summary"]["annotations"], first.coco.annotations.size());
  EXPECT_EQ(truth["summary"]["errors"], first.errors.size());
  EXPECT_EQ(truth["errors"].size(), first.errors.size());
  for (const DemoError& e : first.errors) {
    const auto& entry = truth["errors"][std::to_string(e.annotation_id)];
    EXPECT_EQ(entry["kind"], std::string(to_string(e.kind)));
    EXPECT_EQ(entry["fix"], e.kind == DemoErrorKind::kFlip ? "relabel" : "delete");
    EXPECT_EQ(entry["true_category_id"], e.true_category_id);
  }
}

// Bad parameters are refused naming the field; a missing dataset names the path and the package.
TEST(DemoScenes, RefusesBadParamsAndMissingDataset) {
  DemoSceneParams p;
  p.error_rate = 0.7;
  EXPECT_TRUE(testing::contains(testing::error_of<InvalidArgument>([&] { p.validate(); }),
                                "error_rate = 0.7"));
  p = DemoSceneParams();
  p.max_item_size = 400;
  EXPECT_TRUE(testing::contains(testing::error_of<InvalidArgument>([&] { p.validate(); }),
                                "item size = [40, 400]"));
  p = DemoSceneParams();
  p.min_items = 5;
  p.max_items = 2;
  EXPECT_TRUE(testing::contains(testing::error_of<InvalidArgument>([&] { p.validate(); }),
                                "items per scene = [5, 2]"));
  testing::TempDir dir;
  const std::string message = testing::error_of<IoError>([&] { load_fashion_mnist(dir.path()); });
  EXPECT_TRUE(testing::contains(message, (dir / "t10k-images-idx3-ubyte.gz").string()));
  EXPECT_TRUE(testing::contains(message, "apt-get install dataset-fashion-mnist"));
  EXPECT_TRUE(testing::contains(
      testing::error_of<InvalidArgument>([&] { load_fashion_mnist(dir.path(), "val"); }),
      "split 'val'"));
  io::LabelledImages bad = synthetic_items();
  bad.labels[3] = 12;
  EXPECT_TRUE(testing::contains(testing::error_of<InvalidArgument>([&] {
                                  generate_demo_scenes(bad, DemoSceneParams(), Context());
                                }),
                                "item 3 has label 12"));
}

}  // namespace
}  // namespace coreclean::detect
