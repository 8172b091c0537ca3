#include <coreclean/detect/box_checks.h>
#include <fmt/ranges.h>  // for fmt::join

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <tuple>
#include <utility>

#include "core/check.h"

namespace coreclean::detect {
namespace {

bool finite(const Box& b) {
  return std::isfinite(b.x) && std::isfinite(b.y) && std::isfinite(b.w) && std::isfinite(b.h);
}

// "[x, y, w, h]" with the values as short as they print.
std::string show(const Box& b) {
  return fmt::format("[{:g}, {:g}, {:g}, {:g}]", b.x, b.y, b.w, b.h);
}

std::string class_name(const CocoDataset& dataset, Label id) {
  const auto at = dataset.category_index(id);
  if (!at) return fmt::format("{}", id);
  return fmt::format("{} '{}'", id, dataset.categories[*at].name);
}

// Why a box is degenerate, or empty when it is not.
std::string degenerate_reason(const Box& b) {
  if (!finite(b)) return fmt::format("bbox {} has a non-finite value", show(b));
  std::string reason;
  for (const auto& [side, name] : {std::pair{b.w, "width"}, std::pair{b.h, "height"}}) {
    if (side > 1.0) continue;
    if (!reason.empty()) reason += ", ";
    reason += fmt::format("{} {:g} px", name, side);
    if (side < 0) reason += " (negative)";
  }
  if (reason.empty()) return {};
  return fmt::format("{}: a side of at most 1 px (bbox {})", reason, show(b));
}

// Why a finite box is not within its image (of the given size, 0 = unknown), or empty.
std::string outside_reason(const Box& b, int width, int height) {
  const double right = b.x + b.w, bottom = b.y + b.h;
  if (b.x >= 0 && b.y >= 0 && (width <= 0 || right <= width) && (height <= 0 || bottom <= height))
    return {};
  const bool disjoint =
      right <= 0 || bottom <= 0 || (width > 0 && b.x >= width) || (height > 0 && b.y >= height);
  const std::string size = width > 0 && height > 0
                               ? fmt::format("{}x{}", width, height)
                               : fmt::format("{}x{}", width > 0 ? fmt::format("{}", width) : "?",
                                             height > 0 ? fmt::format("{}", height) : "?");
  if (disjoint && b.w > 0 && b.h > 0)
    return fmt::format("bbox {} lies entirely outside the {} image", show(b), size);
  std::vector<std::string> parts;
  if (b.x < 0) parts.push_back(fmt::format("{:g} px beyond the left edge", -b.x));
  if (b.y < 0) parts.push_back(fmt::format("{:g} px beyond the top edge", -b.y));
  if (width > 0 && right > width)
    parts.push_back(fmt::format("{:g} px beyond the right edge", right - width));
  if (height > 0 && bottom > height)
    parts.push_back(fmt::format("{:g} px beyond the bottom edge", bottom - height));
  if (parts.empty()) return {};
  return fmt::format("bbox {} extends {} of the {} image", show(b), fmt::join(parts, ", "), size);
}

// A finding before sorting, with the indices of its annotation and of the other annotation of a
// duplicate pair (its own index otherwise).
struct Keyed {
  std::size_t index;
  std::size_t other;
  BoxFinding finding;
};

// Duplicate pairs among the boxes of one image; `members` are annotation indices with finite,
// non-empty boxes, sorted by left edge.
void find_duplicates(const CocoDataset& dataset, const std::vector<std::size_t>& members,
                     double threshold, std::vector<Keyed>& out) {
  const auto& anns = dataset.annotations;
  for (std::size_t p = 0; p < members.size(); ++p) {
    const Box& a = anns[members[p]].bbox;
    // IoU ≤ IoU of the x-projections ≤ (a.x + a.w − b.x) / a.w for b.x ≥ a.x, so once b's left
    // edge is more than (1 − t)·a.w to the right of a's, no later box can reach t. The slack
    // keeps pairs exactly at the threshold despite rounding.
    const double reach = a.x + (1.0 - threshold) * a.w + 1e-9 * (std::abs(a.x) + a.w + 1.0);
    for (std::size_t q = p + 1; q < members.size(); ++q) {
      const Box& b = anns[members[q]].bbox;
      if (b.x > reach) break;
      const double overlap = iou(a, b);
      if (overlap < threshold) continue;
      std::size_t first = members[p], second = members[q];
      if (first > second) std::swap(first, second);
      const CocoAnnotation& later = anns[second];
      const CocoAnnotation& earlier = anns[first];
      const std::string classes =
          later.category_id == earlier.category_id
              ? fmt::format("same class {}", class_name(dataset, later.category_id))
              : fmt::format("classes {} and {}", class_name(dataset, later.category_id),
                            class_name(dataset, earlier.category_id));
      out.push_back(Keyed{second, first,
                          BoxFinding{later.id, later.image_id, BoxCheck::kDuplicate,
                                     fmt::format("IoU {:.3f} with annotation {} ({}; bbox {} and "
                                                 "{})",
                                                 overlap, earlier.id, classes, show(later.bbox),
                                                 show(earlier.bbox)),
                                     earlier.id}});
    }
  }
}

}  // namespace

std::string_view box_check_name(BoxCheck check) {
  switch (check) {
    case BoxCheck::kDegenerate:
      return "degenerate";
    case BoxCheck::kTiny:
      return "tiny";
    case BoxCheck::kOutside:
      return "outside";
    case BoxCheck::kAspect:
      return "aspect";
    case BoxCheck::kDuplicate:
      return "duplicate";
    case BoxCheck::kMissingImage:
      return "missing_image";
    case BoxCheck::kUnknownCategory:
      return "unknown_category";
  }
  throw InvalidArgument(fmt::format("unknown box check {}", static_cast<int>(check)));
}

void BoxCheckParams::validate() const {
  CORECLEAN_THROW_IF_NOT(std::isfinite(min_side) && min_side >= 0,
                         "box checks: min_side must be a finite number ≥ 0 (pixels), got {}",
                         min_side);
  CORECLEAN_THROW_IF_NOT(std::isfinite(max_aspect) && max_aspect >= 1,
                         "box checks: max_aspect must be a finite number ≥ 1, got {}", max_aspect);
  CORECLEAN_THROW_IF_NOT(duplicate_iou > 0 && duplicate_iou <= 1,
                         "box checks: duplicate_iou must be in (0, 1], got {}", duplicate_iou);
  if (images_dir) {
    std::error_code ec;
    CORECLEAN_THROW_IF_NOT(std::filesystem::is_directory(*images_dir, ec),
                           "box checks: the images directory {} does not exist or is not a "
                           "directory",
                           images_dir->string());
  }
}

double iou(const Box& a, const Box& b) {
  if (!finite(a) || !finite(b)) return 0.0;
  const double aw = std::max(a.w, 0.0), ah = std::max(a.h, 0.0);
  const double bw = std::max(b.w, 0.0), bh = std::max(b.h, 0.0);
  const double iw = std::min(a.x + aw, b.x + bw) - std::max(a.x, b.x);
  const double ih = std::min(a.y + ah, b.y + bh) - std::max(a.y, b.y);
  if (iw <= 0 || ih <= 0) return 0.0;
  const double intersection = iw * ih;
  const double union_area = aw * ah + bw * bh - intersection;
  return union_area > 0 ? intersection / union_area : 0.0;
}

std::vector<BoxFinding> check_boxes(const CocoDataset& dataset, const BoxCheckParams& params) {
  params.validate();
  const auto& anns = dataset.annotations;
  std::vector<Keyed> found;
  // Whether each image's file exists: 0 not looked up yet, 1 present, 2 absent.
  std::vector<char> file_state(params.images_dir ? dataset.images.size() : 0, 0);
  std::vector<std::size_t> eligible;  // finite, non-empty boxes, for the duplicate search
  eligible.reserve(anns.size());
  for (std::size_t i = 0; i < anns.size(); ++i) {
    const CocoAnnotation& a = anns[i];
    const Box& b = a.bbox;
    const auto add = [&](BoxCheck check, std::string detail) {
      found.push_back(
          Keyed{i, i, BoxFinding{a.id, a.image_id, check, std::move(detail), std::nullopt}});
    };
    const std::optional<std::size_t> image = dataset.image_index(a.image_id);
    const std::string degenerate = degenerate_reason(b);
    if (!degenerate.empty()) add(BoxCheck::kDegenerate, degenerate);
    if (degenerate.empty() && params.min_side > 0 && std::min(b.w, b.h) < params.min_side) {
      add(BoxCheck::kTiny, fmt::format("shorter side {:g} px is below {:g} px (bbox {})",
                                       std::min(b.w, b.h), params.min_side, show(b)));
    }
    if (degenerate.empty()) {
      const int width = image ? dataset.images[*image].width : 0;
      const int height = image ? dataset.images[*image].height : 0;
      const std::string outside = outside_reason(b, width, height);
      if (!outside.empty()) add(BoxCheck::kOutside, outside);
    }
    if (degenerate.empty()) {
      const double ratio = std::max(b.w / b.h, b.h / b.w);
      if (ratio > params.max_aspect) {
        add(BoxCheck::kAspect, fmt::format("aspect ratio {:.3g} is above {:g} ({:g} x {:g} px)",
                                           ratio, params.max_aspect, b.w, b.h));
      }
    }
    if (finite(b) && b.w > 0 && b.h > 0) eligible.push_back(i);
    if (!image) {
      add(BoxCheck::kMissingImage, fmt::format("image_id {} is not in 'images'", a.image_id));
    } else if (params.images_dir) {
      char& state = file_state[*image];
      const std::filesystem::path file = *params.images_dir / dataset.images[*image].file_name;
      if (state == 0) {
        std::error_code ec;
        state = std::filesystem::is_regular_file(file, ec) ? 1 : 2;
      }
      if (state == 2)
        add(BoxCheck::kMissingImage, fmt::format("image file {} does not exist", file.string()));
    }
    if (!dataset.category_index(a.category_id)) {
      add(BoxCheck::kUnknownCategory,
          fmt::format("category_id {} is not in 'categories'", a.category_id));
    }
  }

  // Duplicates: group by image, then sweep each image's boxes by left edge.
  std::sort(eligible.begin(), eligible.end(), [&](std::size_t p, std::size_t q) {
    if (anns[p].image_id != anns[q].image_id) return anns[p].image_id < anns[q].image_id;
    if (anns[p].bbox.x != anns[q].bbox.x) return anns[p].bbox.x < anns[q].bbox.x;
    return p < q;
  });
  std::vector<std::size_t> members;
  for (std::size_t begin = 0; begin < eligible.size();) {
    std::size_t end = begin;
    while (end < eligible.size() && anns[eligible[end]].image_id == anns[eligible[begin]].image_id)
      ++end;
    if (end - begin > 1) {
      members.assign(eligible.begin() + static_cast<std::ptrdiff_t>(begin),
                     eligible.begin() + static_cast<std::ptrdiff_t>(end));
      find_duplicates(dataset, members, params.duplicate_iou, found);
    }
    begin = end;
  }

  // Several duplicates of one box are listed in the file order of the other box.
  std::sort(found.begin(), found.end(), [](const Keyed& a, const Keyed& b) {
    return std::tie(a.index, a.finding.check, a.other) <
           std::tie(b.index, b.finding.check, b.other);
  });
  std::vector<BoxFinding> findings;
  findings.reserve(found.size());
  for (Keyed& k : found) findings.push_back(std::move(k.finding));
  return findings;
}

}  // namespace coreclean::detect
