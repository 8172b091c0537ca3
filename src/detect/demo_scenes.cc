#include <coreclean/detect/demo_scenes.h>

#include <coreclean/io/text_file.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <numbers>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <utility>

#include "core/check.h"
#include "detect/image_codecs.h"

namespace coreclean::detect {

namespace {

using Json = nlohmann::ordered_json;

// Independent streams of Context::rng. Each scene has its own, so a scene's layout and pixels
// depend only on the seed, its index and the items it is given.
constexpr std::uint64_t kItemStream = 1;
constexpr std::uint64_t kErrorStream = 2;
constexpr std::uint64_t kOrderStream = 3;
constexpr std::uint64_t kSceneStreamBase = 1000;

// Fashion-MNIST scans carry a faint halo around the item; scaled pixels below this grey level
// are not painted, so that the tight box is the box a viewer would draw.
constexpr int kInkThreshold = 8;
// Grey level from which a pixel is painted fully opaque; fainter ones are blended in, which
// keeps the item's outline smooth.
constexpr double kOpaqueLevel = 32.0;
// Tries at placing an item (or an error box) before giving up on that option.
constexpr int kPlacementTries = 40;
// A missed box overlaps its object by at most this IoU, and any other item by at most
// kMissMaxOtherIou: landing on another item would make it a mislabelled box in disguise.
constexpr double kMissMaxIou = 0.1;
constexpr double kMissMaxOtherIou = 0.3;
// A duplicate must overlap the original by at least this IoU (what makes it a duplicate).
constexpr double kDuplicateMinIou = 0.9;
// A spanning box must differ clearly from its object's box to be an error at all.
constexpr double kSpanMaxIou = 0.8;

constexpr std::array<DemoErrorKind, 4> kKinds = {DemoErrorKind::kFlip, DemoErrorKind::kMiss,
                                                 DemoErrorKind::kSpan, DemoErrorKind::kDuplicate};

// ---- random numbers ------------------------------------------------------------------------
// Built on the raw output of mt19937_64, whose sequence the C++ standard fixes. The standard
// distributions are implementation-defined, and the files must not change with the library.

double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

double uniform(std::mt19937_64& rng, double lo, double hi) {
  return lo + (hi - lo) * uniform01(rng);
}

// Uniform on [lo, hi], by rejection (no modulo bias).
std::int64_t uniform_int(std::mt19937_64& rng, std::int64_t lo, std::int64_t hi) {
  const auto range = static_cast<std::uint64_t>(hi - lo) + 1;
  const std::uint64_t threshold = (0 - range) % range;  // 2^64 mod range
  std::uint64_t x = rng();
  while (x < threshold) x = rng();
  return lo + static_cast<std::int64_t>(x % range);
}

template <typename T>
void shuffle(std::vector<T>& v, std::mt19937_64& rng) {
  for (std::size_t i = v.size(); i > 1; --i) {
    std::swap(v[i - 1],
              v[static_cast<std::size_t>(uniform_int(rng, 0, static_cast<std::int64_t>(i) - 1))]);
  }
}

// ---- geometry ------------------------------------------------------------------------------

double area(const Box& b) { return b.w * b.h; }

double intersection(const Box& a, const Box& b) {
  const double w = std::min(a.x + a.w, b.x + b.w) - std::max(a.x, b.x);
  const double h = std::min(a.y + a.h, b.y + b.h) - std::max(a.y, b.y);
  return w > 0 && h > 0 ? w * h : 0.0;
}

double iou(const Box& a, const Box& b) {
  const double inter = intersection(a, b);
  const double uni = area(a) + area(b) - inter;
  return uni > 0 ? inter / uni : 0.0;
}

Box union_box(const Box& a, const Box& b) {
  const double x = std::min(a.x, b.x);
  const double y = std::min(a.y, b.y);
  return {x, y, std::max(a.x + a.w, b.x + b.w) - x, std::max(a.y + a.h, b.y + b.h) - y};
}

bool same_box(const Box& a, const Box& b) {
  return a.x == b.x && a.y == b.y && a.w == b.w && a.h == b.h;
}

// ---- rendering -----------------------------------------------------------------------------

// h in degrees, s and v in [0, 1]; returns B, G, R in grey levels.
cv::Vec3d hsv_to_bgr(double h, double s, double v) {
  const double c = v * s;
  const double x = c * (1.0 - std::abs(std::fmod(h / 60.0, 2.0) - 1.0));
  const double m = v - c;
  double r = 0, g = 0, b = 0;
  switch (static_cast<int>(h / 60.0) % 6) {
    case 0:
      r = c;
      g = x;
      break;
    case 1:
      r = x;
      g = c;
      break;
    case 2:
      g = c;
      b = x;
      break;
    case 3:
      g = x;
      b = c;
      break;
    case 4:
      r = x;
      b = c;
      break;
    default:
      r = c;
      b = x;
      break;
  }
  return {255.0 * (b + m), 255.0 * (g + m), 255.0 * (r + m)};
}

// Hands out item indices: a random permutation of the split, then another when it is used up,
// so that no item appears twice before every item has appeared once.
class ItemOrder {
 public:
  ItemOrder(std::int64_t count, std::mt19937_64 rng) : rng_(std::move(rng)) {
    order_.resize(static_cast<std::size_t>(count));
    for (std::int64_t i = 0; i < count; ++i) order_[static_cast<std::size_t>(i)] = i;
    shuffle(order_, rng_);
  }

  std::int64_t next() {
    if (next_ == order_.size()) {
      shuffle(order_, rng_);
      next_ = 0;
    }
    return order_[next_++];
  }

 private:
  std::mt19937_64 rng_;
  std::vector<std::int64_t> order_;
  std::size_t next_ = 0;
};

// A light background: one pale colour per scene, smooth blotches (a coarse random grid scaled
// up) and per-pixel grain, so that an item's box cannot be found by thresholding alone.
cv::Mat make_background(const DemoSceneParams& p, std::mt19937_64& rng) {
  const cv::Vec3d base =
      hsv_to_bgr(uniform(rng, 0.0, 360.0), uniform(rng, 0.0, 0.12), uniform(rng, 0.84, 0.96));
  cv::Mat coarse(5, 5, CV_32F);
  for (int y = 0; y < coarse.rows; ++y) {
    for (int x = 0; x < coarse.cols; ++x)
      coarse.at<float>(y, x) = static_cast<float>(uniform(rng, -1, 1));
  }
  cv::Mat blotches;
  cv::resize(coarse, blotches, cv::Size(p.canvas_width, p.canvas_height), 0, 0, cv::INTER_CUBIC);
  cv::Mat canvas(p.canvas_height, p.canvas_width, CV_8UC3);
  for (int y = 0; y < canvas.rows; ++y) {
    const float* blotch = blotches.ptr<float>(y);
    auto* out = canvas.ptr<cv::Vec3b>(y);
    for (int x = 0; x < canvas.cols; ++x) {
      // Triangular grain in [-1, 1]: the sum of two uniform bytes looks like film grain.
      const std::uint64_t bits = rng();
      const double grain =
          (static_cast<double>(bits & 0xff) + static_cast<double>((bits >> 8) & 0xff) - 255.0) /
          255.0;
      const double shift = p.background_texture * blotch[x] + p.background_noise * grain;
      for (int c = 0; c < 3; ++c) out[x][c] = cv::saturate_cast<std::uint8_t>(base[c] + shift);
    }
  }
  return canvas;
}

// One item of a scene as painted.
struct SceneItem {
  Box box;
  Label label = 0;
  std::int64_t source = 0;
};

// Scales item `source` so that its longer side is `size` pixels. Returns the scaled grey image
// and the tight box of its ink (pixels ≥ kInkThreshold) in its own coordinates, or nullopt when
// nothing is left above the threshold.
std::optional<std::pair<cv::Mat, cv::Rect>> scale_item(const io::LabelledImages& items,
                                                       std::int64_t source, int size) {
  // cv::Mat does not write through a const view; the pixels are only read.
  const cv::Mat original(items.rows, items.cols, CV_8U,
                         const_cast<std::uint8_t*>(items.image(source).data()));
  const double f = static_cast<double>(size) / std::max(items.rows, items.cols);
  const cv::Size scaled_size(std::max(1, static_cast<int>(std::lround(items.cols * f))),
                             std::max(1, static_cast<int>(std::lround(items.rows * f))));
  cv::Mat scaled;
  // Bilinear: cubic or Lanczos kernels would ring and spread ink beyond the item's outline.
  cv::resize(original, scaled, scaled_size, 0, 0, cv::INTER_LINEAR);
  int x0 = scaled.cols, y0 = scaled.rows, x1 = -1, y1 = -1;
  for (int y = 0; y < scaled.rows; ++y) {
    const std::uint8_t* row = scaled.ptr<std::uint8_t>(y);
    for (int x = 0; x < scaled.cols; ++x) {
      if (row[x] < kInkThreshold) continue;
      x0 = std::min(x0, x);
      x1 = std::max(x1, x);
      y0 = std::min(y0, y);
      y1 = std::max(y1, y);
    }
  }
  if (x1 < 0) return std::nullopt;
  return std::make_pair(std::move(scaled), cv::Rect(x0, y0, x1 - x0 + 1, y1 - y0 + 1));
}

// Paints the ink of `scaled` (inside `ink`, its tight box) with its top-left corner at
// (left, top) of the canvas, in `tint` shaded by the item's grey levels.
void paint_item(cv::Mat& canvas, const cv::Mat& scaled, const cv::Rect& ink, int left, int top,
                const cv::Vec3d& tint) {
  for (int y = 0; y < ink.height; ++y) {
    const std::uint8_t* src = scaled.ptr<std::uint8_t>(ink.y + y) + ink.x;
    auto* dst = canvas.ptr<cv::Vec3b>(top + y) + left;
    for (int x = 0; x < ink.width; ++x) {
      const int v = src[x];
      if (v < kInkThreshold) continue;
      const double alpha = std::min(1.0, v / kOpaqueLevel);
      // Dim parts of the scan (folds, seams, prints) stay darker, as in the original photo.
      const double shade = 0.35 + 0.65 * v / 255.0;
      for (int c = 0; c < 3; ++c) {
        dst[x][c] =
            cv::saturate_cast<std::uint8_t>((1.0 - alpha) * dst[x][c] + alpha * shade * tint[c]);
      }
    }
  }
}

// Renders one scene onto `canvas` and returns its items in painting order.
std::vector<SceneItem> render_scene(cv::Mat& canvas, const io::LabelledImages& items,
                                    ItemOrder& order, const DemoSceneParams& p,
                                    std::mt19937_64& rng) {
  canvas = make_background(p, rng);
  const auto wanted = uniform_int(rng, p.min_items, p.max_items);
  std::vector<SceneItem> placed;
  for (std::int64_t k = 0; k < wanted; ++k) {
    const std::int64_t source = order.next();
    const auto drawn_size = static_cast<int>(uniform_int(rng, p.min_item_size, p.max_item_size));
    // Dark, moderately saturated colours: they stand out from every background colour.
    const cv::Vec3d tint =
        hsv_to_bgr(uniform(rng, 0.0, 360.0), uniform(rng, 0.25, 0.8), uniform(rng, 0.35, 0.7));
    // A crowded scene first tries the item smaller (down to min_item_size), then leaves it out.
    for (int shrink = 0; shrink < 3; ++shrink) {
      const int size = drawn_size - shrink * (drawn_size - p.min_item_size) / 2;
      auto scaled = scale_item(items, source, size);
      if (!scaled) break;
      const cv::Rect& ink = scaled->second;
      if (ink.width > p.canvas_width || ink.height > p.canvas_height) continue;
      std::optional<Box> spot;
      for (int attempt = 0; attempt < kPlacementTries && !spot; ++attempt) {
        const Box candidate{static_cast<double>(uniform_int(rng, 0, p.canvas_width - ink.width)),
                            static_cast<double>(uniform_int(rng, 0, p.canvas_height - ink.height)),
                            static_cast<double>(ink.width), static_cast<double>(ink.height)};
        const bool fits = std::all_of(placed.begin(), placed.end(), [&](const SceneItem& other) {
          return intersection(candidate, other.box) <=
                 p.max_overlap * std::min(area(candidate), area(other.box));
        });
        if (fits) spot = candidate;
      }
      if (!spot) continue;
      paint_item(canvas, scaled->first, ink, static_cast<int>(spot->x), static_cast<int>(spot->y),
                 tint);
      placed.push_back(
          {*spot, static_cast<Label>(items.labels[static_cast<std::size_t>(source)]), source});
      break;
    }
  }
  return placed;
}

// ---- error injection -----------------------------------------------------------------------

// Where flips go, with probabilities. It follows how Fashion-MNIST's classes are confused:
// Shirt is the class classifiers mix up most, with T-shirt/top, Pullover and Coat, and Pullover
// and Coat are mixed up with each other. Flips therefore pile up in Shirt, as real label noise
// concentrates in one ambiguous class.
struct FlipTarget {
  Label to;
  double probability;
};

std::vector<FlipTarget> flip_targets(Label from) {
  switch (from) {
    case 0:
      return {{6, 0.70}, {2, 0.15}, {4, 0.15}};
    case 2:
      return {{4, 0.45}, {6, 0.45}, {0, 0.10}};
    case 4:
      return {{2, 0.45}, {6, 0.45}, {0, 0.10}};
    case 6:
      return {{0, 0.50}, {2, 0.25}, {4, 0.25}};
    default:
      return {};
  }
}

Label draw_flip(Label from, std::mt19937_64& rng) {
  const std::vector<FlipTarget> targets = flip_targets(from);
  double u = uniform01(rng);
  for (const FlipTarget& t : targets) {
    if (u < t.probability) return t.to;
    u -= t.probability;
  }
  return targets.back().to;
}

// Splits `total` by `weights` with largest remainders (ties to the earlier kind).
std::vector<std::int64_t> split_by_weights(std::int64_t total, const std::vector<double>& weights) {
  std::vector<std::int64_t> counts(weights.size(), 0);
  double sum = 0;
  for (double w : weights) sum += w;
  if (total <= 0 || sum <= 0) return counts;
  std::vector<std::pair<double, std::size_t>> remainders;
  std::int64_t given = 0;
  for (std::size_t k = 0; k < weights.size(); ++k) {
    const double exact = static_cast<double>(total) * weights[k] / sum;
    counts[k] = static_cast<std::int64_t>(std::floor(exact));
    given += counts[k];
    remainders.emplace_back(exact - static_cast<double>(counts[k]), k);
  }
  std::stable_sort(remainders.begin(), remainders.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (std::size_t i = 0; given < total && i < remainders.size(); ++i, ++given) {
    ++counts[remainders[i].second];
  }
  return counts;
}

// One annotation before ids are given out.
struct Draft {
  std::size_t object = 0;  // the object it was meant for
  Label category = 0;
  Box box;
  std::optional<std::size_t> error;  // index into the error list
};

// Chooses which objects get which error and builds the annotations of every scene.
class ErrorInjector {
 public:
  ErrorInjector(const std::vector<DemoObject>& objects,
                const std::vector<std::pair<std::size_t, std::size_t>>& scene_ranges,
                const DemoSceneParams& p, std::mt19937_64 rng)
      : objects_(objects),
        scene_ranges_(scene_ranges),
        p_(p),
        rng_(std::move(rng)),
        used_(objects.size(), false),
        drafts_(objects.size()) {
    for (std::size_t i = 0; i < objects.size(); ++i) {
      drafts_[i] = {i, objects[i].category_id, objects[i].box, std::nullopt};
    }
    order_.resize(objects.size());
    for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = i;
    shuffle(order_, rng_);
  }

  void inject() {
    const auto n = static_cast<double>(objects_.size());
    const double sum = p_.flip_weight + p_.miss_weight + p_.span_weight + p_.duplicate_weight;
    const double r = p_.error_rate;
    const double share_duplicate = p_.duplicate_weight / sum;
    // Duplicates add annotations, so their number is settled first: with D duplicates there
    // are N + D annotations, E = round(r (N + D)) errors, and about share × E of them are D.
    const double expected_errors = r * n / (1.0 - r * share_duplicate);
    const auto duplicates = std::min<std::int64_t>(std::llround(share_duplicate * expected_errors),
                                                   static_cast<std::int64_t>(n));
    const std::int64_t errors = std::llround(r * (n + static_cast<double>(duplicates)));
    const std::vector<std::int64_t> rest =
        split_by_weights(std::max<std::int64_t>(0, errors - duplicates),
                         {p_.flip_weight, p_.miss_weight, p_.span_weight});
    // A kind that runs out of candidates (few confusable items, scenes of one item) hands its
    // shortfall on, so that the total stays at the requested rate whenever possible.
    std::int64_t carry = 0;
    carry = take(DemoErrorKind::kFlip, rest[0] + carry);
    carry = take(DemoErrorKind::kMiss, rest[1] + carry);
    carry = take(DemoErrorKind::kSpan, rest[2] + carry);
    carry = take(DemoErrorKind::kFlip, carry);
    take(DemoErrorKind::kMiss, carry);
    // Duplicates last: they need an object whose own annotation is still correct.
    take(DemoErrorKind::kDuplicate, duplicates);
  }

  std::vector<Draft>& drafts() { return drafts_; }
  std::vector<DemoError>& errors() { return errors_; }

 private:
  // Gives up to `wanted` unused objects an error of `kind`; returns how many it could not.
  std::int64_t take(DemoErrorKind kind, std::int64_t wanted) {
    for (std::size_t i = 0; i < order_.size() && wanted > 0; ++i) {
      const std::size_t o = order_[i];
      if (used_[o]) continue;
      if (try_inject(kind, o)) {
        used_[o] = true;
        --wanted;
      }
    }
    return wanted;
  }

  bool try_inject(DemoErrorKind kind, std::size_t o) {
    const DemoObject& object = objects_[o];
    DemoError error;
    error.kind = kind;
    error.true_category_id = object.category_id;
    error.objects = {o};
    switch (kind) {
      case DemoErrorKind::kFlip: {
        if (flip_targets(object.category_id).empty()) return false;
        drafts_[o].category = draw_flip(object.category_id, rng_);
        drafts_[o].error = errors_.size();
        break;
      }
      case DemoErrorKind::kMiss: {
        const std::optional<Box> box = miss_box(o);
        if (!box) return false;
        drafts_[o].box = *box;
        drafts_[o].error = errors_.size();
        break;
      }
      case DemoErrorKind::kSpan: {
        const std::optional<std::size_t> neighbour = nearest_neighbour(o);
        if (!neighbour) return false;
        const Box box = union_box(object.box, objects_[*neighbour].box);
        if (iou(box, object.box) > kSpanMaxIou) return false;
        drafts_[o].box = box;
        drafts_[o].error = errors_.size();
        error.objects.push_back(*neighbour);
        break;
      }
      case DemoErrorKind::kDuplicate: {
        drafts_.push_back({o, object.category_id, duplicate_box(object.box), errors_.size()});
        break;
      }
    }
    errors_.push_back(std::move(error));
    return true;
  }

  std::pair<std::size_t, std::size_t> scene_of(std::size_t o) const {
    return scene_ranges_[static_cast<std::size_t>(objects_[o].image_id - 1)];
  }

  // The box moved off its object along a random direction by about one box size, kept inside
  // the canvas, the way a box drawn on the wrong spot (or left behind after an edit) looks.
  std::optional<Box> miss_box(std::size_t o) {
    const Box& b = objects_[o].box;
    const auto [first, last] = scene_of(o);
    for (int attempt = 0; attempt < kPlacementTries; ++attempt) {
      const double angle = uniform(rng_, 0.0, 2.0 * std::numbers::pi);
      const double distance = uniform(rng_, 0.9, 1.6);
      const double x = std::clamp(std::round(b.x + distance * b.w * std::cos(angle)), 0.0,
                                  p_.canvas_width - b.w);
      const double y = std::clamp(std::round(b.y + distance * b.h * std::sin(angle)), 0.0,
                                  p_.canvas_height - b.h);
      const Box candidate{x, y, b.w, b.h};
      if (iou(candidate, b) > kMissMaxIou) continue;
      bool clear = true;
      for (std::size_t other = first; other < last && clear; ++other) {
        if (other != o && iou(candidate, objects_[other].box) > kMissMaxOtherIou) clear = false;
      }
      if (clear) return candidate;
    }
    return std::nullopt;
  }

  // The other object of the same scene whose centre is nearest: a box around two items is
  // drawn around items next to each other.
  std::optional<std::size_t> nearest_neighbour(std::size_t o) const {
    const Box& b = objects_[o].box;
    const auto [first, last] = scene_of(o);
    std::optional<std::size_t> best;
    double best_distance = std::numeric_limits<double>::infinity();
    for (std::size_t other = first; other < last; ++other) {
      if (other == o) continue;
      const Box& c = objects_[other].box;
      const double dx = (c.x + c.w / 2) - (b.x + b.w / 2);
      const double dy = (c.y + c.h / 2) - (b.y + b.h / 2);
      const double distance = dx * dx + dy * dy;
      if (distance < best_distance) {
        best_distance = distance;
        best = other;
      }
    }
    return best;
  }

  // A second box on the object: each edge moves by at most 3 % of the box's side (at least one
  // pixel), as when a second annotator draws the same object. An exact copy is the fallback.
  Box duplicate_box(const Box& b) {
    const auto mx = std::max<std::int64_t>(1, std::llround(0.03 * b.w));
    const auto my = std::max<std::int64_t>(1, std::llround(0.03 * b.h));
    for (int attempt = 0; attempt < kPlacementTries; ++attempt) {
      const double x0 = std::max(0.0, b.x + static_cast<double>(uniform_int(rng_, -mx, mx)));
      const double y0 = std::max(0.0, b.y + static_cast<double>(uniform_int(rng_, -my, my)));
      const double x1 = std::min<double>(
          p_.canvas_width, b.x + b.w + static_cast<double>(uniform_int(rng_, -mx, mx)));
      const double y1 = std::min<double>(
          p_.canvas_height, b.y + b.h + static_cast<double>(uniform_int(rng_, -my, my)));
      if (x1 <= x0 || y1 <= y0) continue;
      const Box candidate{x0, y0, x1 - x0, y1 - y0};
      if (!same_box(candidate, b) && iou(candidate, b) >= kDuplicateMinIou) return candidate;
    }
    return b;
  }

  const std::vector<DemoObject>& objects_;
  const std::vector<std::pair<std::size_t, std::size_t>>& scene_ranges_;
  const DemoSceneParams& p_;
  std::mt19937_64 rng_;
  std::vector<std::size_t> order_;  // objects in the random order in which they are considered
  std::vector<bool> used_;          // object already carries an error
  std::vector<Draft> drafts_;       // one per object, then the duplicates
  std::vector<DemoError> errors_;
};

std::string_view supercategory(Label label) {
  switch (label) {
    case 5:
    case 7:
    case 9:
      return "footwear";
    case 8:
      return "accessory";
    default:
      return "clothing";
  }
}

Json box_json(const Box& b) {
  // Every box lies on whole pixels, so integers are exact (and read as such by every tool).
  return Json::array({std::llround(b.x), std::llround(b.y), std::llround(b.w), std::llround(b.h)});
}

std::string_view fix_name(DemoErrorKind kind) {
  return demo_error_fix(kind) == AnnotationEdit::Kind::kRelabel ? "relabel" : "delete";
}

std::string annotations_json(const DemoScenes& scenes, const DemoSceneParams& params,
                             std::uint64_t seed) {
  Json info = {
      {"description",
       "coreclean demo scenes: Fashion-MNIST items composed into detection scenes, with "
       "injected annotation errors listed in truth.json"},
      {"version", "1.0"},
      {"contributor", "coreclean make-demo"},
      {"seed", seed},
      {"error_rate", params.error_rate},
  };
  Json licenses = Json::array(
      {{{"id", 1},
        {"name", "MIT License (Fashion-MNIST, Zalando SE)"},
        {"url", "https://github.com/zalandoresearch/fashion-mnist/blob/master/LICENSE"}}});
  Json images = Json::array();
  for (const CocoImage& image : scenes.coco.images) {
    images.push_back({{"id", image.id},
                      {"file_name", image.file_name},
                      {"width", image.width},
                      {"height", image.height},
                      {"license", 1}});
  }
  Json categories = Json::array();
  for (const CocoCategory& category : scenes.coco.categories) {
    categories.push_back(
        {{"id", category.id}, {"name", category.name}, {"supercategory", category.supercategory}});
  }
  Json annotations = Json::array();
  for (const CocoAnnotation& a : scenes.coco.annotations) {
    annotations.push_back({{"id", a.id},
                           {"image_id", a.image_id},
                           {"category_id", a.category_id},
                           {"bbox", box_json(a.bbox)},
                           {"area", std::llround(a.area)},
                           {"iscrowd", 0}});
  }
  const Json root = {{"info", std::move(info)},
                     {"licenses", std::move(licenses)},
                     {"images", std::move(images)},
                     {"categories", std::move(categories)},
                     {"annotations", std::move(annotations)}};
  return root.dump() + "\n";
}

std::string truth_json(const DemoScenes& scenes, const DemoSceneParams& params,
                       std::uint64_t seed) {
  Json by_kind = Json::object();
  for (DemoErrorKind kind : kKinds)
    by_kind[std::string(to_string(kind))] = scenes.error_count(kind);
  std::int64_t relabel = 0;
  for (const DemoError& e : scenes.errors) relabel += e.kind == DemoErrorKind::kFlip ? 1 : 0;
  const auto total = static_cast<std::int64_t>(scenes.errors.size());
  const auto annotations = static_cast<std::int64_t>(scenes.coco.annotations.size());
  Json summary = {
      {"images", scenes.coco.images.size()},
      {"objects", scenes.objects.size()},
      {"annotations", annotations},
      {"errors", total},
      {"error_share", annotations > 0 ? static_cast<double>(total) / annotations : 0.0},
      {"by_kind", std::move(by_kind)},
      {"by_fix", {{"relabel", relabel}, {"delete", total - relabel}}},
  };
  Json errors = Json::object();
  for (const DemoError& e : scenes.errors) {
    const CocoAnnotation& a =
        scenes.coco.annotations[*scenes.coco.annotation_index(e.annotation_id)];
    Json boxes = Json::array();
    for (std::size_t o : e.objects) boxes.push_back(box_json(scenes.objects[o].box));
    Json entry = {{"kind", to_string(e.kind)},    {"fix", fix_name(e.kind)},
                  {"category_id", a.category_id}, {"true_category_id", e.true_category_id},
                  {"image_id", a.image_id},       {"object_bboxes", std::move(boxes)}};
    if (e.kind == DemoErrorKind::kDuplicate) entry["duplicate_of"] = e.duplicate_of;
    errors[std::to_string(e.annotation_id)] = std::move(entry);
  }
  const Json root = {
      {"info",
       {{"description",
         "Annotation errors injected into annotations.json. fix: the decision that repairs "
         "the annotation (relabel to true_category_id, or delete). object_bboxes: the true "
         "box(es) of the object(s) the annotation was meant for."},
        {"seed", seed},
        {"error_rate", params.error_rate}}},
      {"summary", std::move(summary)},
      {"errors", std::move(errors)}};
  return root.dump(2) + "\n";
}

void write_bytes(const std::filesystem::path& path, const void* data, std::size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (out) out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (out) out.close();
  if (!out) {
    throw IoError(fmt::format("cannot write {}: {}", path.string(),
                              std::error_code(errno, std::generic_category()).message()));
  }
}

}  // namespace

io::LabelledImages load_fashion_mnist(const std::filesystem::path& dir, std::string_view split) {
  CORECLEAN_THROW_IF_NOT(split == "t10k" || split == "train",
                         "Fashion-MNIST split '{}' does not exist (choose t10k or train)", split);
  const std::filesystem::path images = dir / fmt::format("{}-images-idx3-ubyte.gz", split);
  const std::filesystem::path labels = dir / fmt::format("{}-labels-idx1-ubyte.gz", split);
  for (const auto& path : {images, labels}) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      throw IoError(fmt::format(
          "{} does not exist: Fashion-MNIST is missing; install it with `apt-get install "
          "dataset-fashion-mnist` (it goes to {}), or point to a folder holding "
          "{}-images-idx3-ubyte.gz and {}-labels-idx1-ubyte.gz",
          path.string(), kFashionMnistDir, split, split));
    }
  }
  io::LabelledImages set = io::read_idx_labelled_images(images, labels);
  CORECLEAN_THROW_IF_NOT_AS(FormatError, set.rows == 28 && set.cols == 28,
                            "{}: dimensions 1 and 2: Fashion-MNIST images are 28 × 28, these are "
                            "{} × {}",
                            images.string(), set.rows, set.cols);
  for (std::size_t i = 0; i < set.labels.size(); ++i) {
    CORECLEAN_THROW_IF_NOT_AS(FormatError, set.labels[i] < kFashionMnistClasses.size(),
                              "{}: data: label {} at index {} is not a Fashion-MNIST class (0-9)",
                              labels.string(), set.labels[i], i);
  }
  return set;
}

void DemoSceneParams::validate() const {
  CORECLEAN_THROW_IF_NOT(images >= 1, "demo scenes: images = {} (must be ≥ 1)", images);
  CORECLEAN_THROW_IF_NOT(
      canvas_width >= 8 && canvas_width <= 16384 && canvas_height >= 8 && canvas_height <= 16384,
      "demo scenes: canvas = {} × {} (each side must be in [8, 16384])", canvas_width,
      canvas_height);
  CORECLEAN_THROW_IF_NOT(min_items >= 1 && min_items <= max_items && max_items <= 1000,
                         "demo scenes: items per scene = [{}, {}] (need 1 ≤ min_items ≤ "
                         "max_items ≤ 1000)",
                         min_items, max_items);
  CORECLEAN_THROW_IF_NOT(min_item_size >= 1 && min_item_size <= max_item_size &&
                             max_item_size <= std::min(canvas_width, canvas_height),
                         "demo scenes: item size = [{}, {}] (need 1 ≤ min_item_size ≤ "
                         "max_item_size ≤ the canvas's shorter side, {})",
                         min_item_size, max_item_size, std::min(canvas_width, canvas_height));
  CORECLEAN_THROW_IF_NOT(max_overlap >= 0.0 && max_overlap <= 1.0,
                         "demo scenes: max_overlap = {} (must be in [0, 1])", max_overlap);
  CORECLEAN_THROW_IF_NOT(error_rate >= 0.0 && error_rate <= 0.5,
                         "demo scenes: error_rate = {} (must be in [0, 0.5])", error_rate);
  for (const auto& [name, w] :
       {std::pair{"flip_weight", flip_weight}, std::pair{"miss_weight", miss_weight},
        std::pair{"span_weight", span_weight}, std::pair{"duplicate_weight", duplicate_weight}}) {
    CORECLEAN_THROW_IF_NOT(std::isfinite(w) && w >= 0.0, "demo scenes: {} = {} (must be ≥ 0)", name,
                           w);
  }
  CORECLEAN_THROW_IF_NOT(flip_weight + miss_weight + span_weight + duplicate_weight > 0.0,
                         "demo scenes: the error kind weights are all 0 (one must be > 0)");
  CORECLEAN_THROW_IF_NOT(background_texture >= 0.0 && background_texture <= 255.0,
                         "demo scenes: background_texture = {} (must be in [0, 255])",
                         background_texture);
  CORECLEAN_THROW_IF_NOT(background_noise >= 0.0 && background_noise <= 255.0,
                         "demo scenes: background_noise = {} (must be in [0, 255])",
                         background_noise);
  CORECLEAN_THROW_IF_NOT(jpeg_quality >= 1 && jpeg_quality <= 100,
                         "demo scenes: jpeg_quality = {} (must be in [1, 100])", jpeg_quality);
}

std::string_view to_string(DemoErrorKind kind) {
  switch (kind) {
    case DemoErrorKind::kFlip:
      return "flip";
    case DemoErrorKind::kMiss:
      return "miss";
    case DemoErrorKind::kSpan:
      return "span";
    case DemoErrorKind::kDuplicate:
      return "duplicate";
  }
  throw InternalError(fmt::format("unknown DemoErrorKind {}", static_cast<int>(kind)));
}

AnnotationEdit::Kind demo_error_fix(DemoErrorKind kind) {
  return kind == DemoErrorKind::kFlip ? AnnotationEdit::Kind::kRelabel
                                      : AnnotationEdit::Kind::kDelete;
}

std::int64_t DemoScenes::error_count(DemoErrorKind kind) const {
  return std::count_if(errors.begin(), errors.end(),
                       [kind](const DemoError& e) { return e.kind == kind; });
}

DemoScenes generate_demo_scenes(const io::LabelledImages& items, const DemoSceneParams& params,
                                const Context& context, const DemoImageSink& sink) {
  params.validate();
  CORECLEAN_THROW_IF_NOT(items.count >= 1 && items.rows >= 1 && items.cols >= 1,
                         "demo scenes: the item set is empty ({} images of {} × {})", items.count,
                         items.rows, items.cols);
  CORECLEAN_THROW_IF_NOT(
      items.pixels.size() == static_cast<std::size_t>(items.count) * items.rows * items.cols &&
          items.labels.size() == static_cast<std::size_t>(items.count),
      "demo scenes: the item set holds {} pixels and {} labels for {} images of {} × {}",
      items.pixels.size(), items.labels.size(), items.count, items.rows, items.cols);
  for (std::size_t i = 0; i < items.labels.size(); ++i) {
    CORECLEAN_THROW_IF_NOT(items.labels[i] < kFashionMnistClasses.size(),
                           "demo scenes: item {} has label {} (must be a Fashion-MNIST class, 0-9)",
                           i, items.labels[i]);
  }

  DemoScenes scenes;
  for (std::size_t label = 0; label < kFashionMnistClasses.size(); ++label) {
    scenes.coco.categories.push_back({static_cast<std::int64_t>(label),
                                      std::string(kFashionMnistClasses[label]),
                                      std::string(supercategory(static_cast<Label>(label)))});
  }
  // [first, last) of each scene's objects.
  std::vector<std::pair<std::size_t, std::size_t>> scene_ranges;
  ItemOrder order(items.count, context.rng(kItemStream));
  cv::Mat canvas;
  for (int i = 0; i < params.images; ++i) {
    context.throw_if_cancelled();
    std::mt19937_64 rng = context.rng(kSceneStreamBase + static_cast<std::uint64_t>(i));
    const std::vector<SceneItem> placed = render_scene(canvas, items, order, params, rng);
    const CocoImage image{i + 1, fmt::format("{:06d}.jpg", i + 1), params.canvas_width,
                          params.canvas_height};
    scenes.coco.images.push_back(image);
    const std::size_t first = scenes.objects.size();
    for (const SceneItem& item : placed) {
      scenes.objects.push_back({image.id, item.label, item.box, item.source, 0});
    }
    scene_ranges.emplace_back(first, scenes.objects.size());
    if (sink) sink(image, canvas);
    context.report_progress(i + 1, params.images, "rendering demo scenes");
  }

  ErrorInjector injector(scenes.objects, scene_ranges, params, context.rng(kErrorStream));
  injector.inject();
  std::vector<Draft>& drafts = injector.drafts();
  std::vector<DemoError>& errors = injector.errors();

  // Annotations go out scene by scene in a random order within each scene, so that neither
  // the ids nor the file order give an injected error away (a duplicate is not always next to
  // its original).
  std::vector<std::vector<std::size_t>> per_scene(scene_ranges.size());
  for (std::size_t d = 0; d < drafts.size(); ++d) {
    per_scene[static_cast<std::size_t>(scenes.objects[drafts[d].object].image_id - 1)].push_back(d);
  }
  std::vector<SampleId> id_of_draft(drafts.size(), 0);
  SampleId next_id = 1;
  std::mt19937_64 order_rng = context.rng(kOrderStream);
  for (std::vector<std::size_t>& list : per_scene) {
    shuffle(list, order_rng);
    for (std::size_t d : list) {
      const Draft& draft = drafts[d];
      const SampleId id = next_id++;
      id_of_draft[d] = id;
      scenes.coco.annotations.push_back({id, scenes.objects[draft.object].image_id, draft.category,
                                         draft.box, false, area(draft.box)});
      if (draft.error) errors[*draft.error].annotation_id = id;
    }
  }
  // The first |objects| drafts are the objects' own annotations, the rest are duplicates.
  for (std::size_t o = 0; o < scenes.objects.size(); ++o)
    scenes.objects[o].annotation_id = id_of_draft[o];
  for (DemoError& e : errors) {
    if (e.kind == DemoErrorKind::kDuplicate)
      e.duplicate_of = scenes.objects[e.objects[0]].annotation_id;
  }
  std::sort(errors.begin(), errors.end(), [](const DemoError& a, const DemoError& b) {
    return a.annotation_id < b.annotation_id;
  });
  scenes.errors = std::move(errors);
  scenes.coco.index();
  return scenes;
}

DemoScenes write_demo_scenes(const std::filesystem::path& out_dir, const io::LabelledImages& items,
                             const DemoSceneParams& params, const Context& context) {
  params.validate();
  const std::filesystem::path images_dir = out_dir / "images";
  std::error_code ec;
  std::filesystem::create_directories(images_dir, ec);
  if (ec) throw IoError(fmt::format("cannot create {}: {}", images_dir.string(), ec.message()));
  const std::vector<int> jpeg_options = {cv::IMWRITE_JPEG_QUALITY, params.jpeg_quality};
  std::vector<std::uint8_t> encoded;
  const DemoScenes scenes = generate_demo_scenes(
      items, params, context, [&](const CocoImage& image, const cv::Mat& pixels) {
        const std::filesystem::path path = images_dir / image.file_name;
        if (!detail::imencode(".jpg", pixels, encoded, jpeg_options)) {
          throw IoError(fmt::format("cannot encode {} as JPEG", path.string()));
        }
        // Images are plain writes: they are many, and the atomically written annotations.json
        // that refers to them comes last.
        write_bytes(path, encoded.data(), encoded.size());
      });
  io::write_text_atomically(out_dir / "truth.json", truth_json(scenes, params, context.seed));
  io::write_text_atomically(out_dir / "annotations.json",
                            annotations_json(scenes, params, context.seed));
  return scenes;
}

}  // namespace coreclean::detect
