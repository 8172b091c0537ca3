#include "check.h"

#include <coreclean/detect/box_checks.h>
#include <coreclean/detect/coco.h>
#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "cli_common.h"

namespace coreclean::cli {

CLI::App* add_check_command(CLI::App& app, CheckOptions& options) {
  CLI::App* cmd = app.add_subcommand(
      "check",
      "Check a COCO file without a model: box geometry, near-identical boxes and references to "
      "images or categories that do not exist. Prints a count per check, then one line per "
      "finding (or, with --json, one JSON array of {annotation_id, image_id, check, detail"
      "[, other_annotation_id]}). Exit code 0 when the file was checked, findings or not; 2 when "
      "it cannot be read (the message names the file, line and column, or the entry and field).");
  cmd->add_option("--coco", options.coco, "COCO annotation file (JSON)")->required();
  cmd->add_option("--images", options.images,
                  "Images directory: also report annotations whose image file is absent");
  cmd->add_flag("--json", options.json, "Print one JSON array of findings");
  cmd->add_option("--min-side", options.min_side,
                  "tiny: shorter side below this many pixels (0 = off)")
      ->capture_default_str();
  cmd->add_option("--max-aspect", options.max_aspect,
                  "aspect: longer side more than this many times the shorter one (>= 1)")
      ->capture_default_str();
  cmd->add_option("--iou", options.iou,
                  "duplicate: two boxes of one image with at least this IoU (0 < IoU <= 1)")
      ->capture_default_str();
  cmd->footer(
      "Checks (each finding names one annotation; bbox = [x, y, w, h] covers [x, x+w) x [y, "
      "y+h)):\n"
      "  degenerate        a bbox value is NaN or infinite, or a side is <= 1 px (zero, negative\n"
      "                    or a single pixel); such a box gets no tiny, outside or aspect finding\n"
      "  tiny              shorter side below --min-side px\n"
      "  outside           the box crosses or lies outside its image: x < 0 or y < 0, or (when\n"
      "                    the image's width/height are known) x+w > width or y+h > height\n"
      "  aspect            longer side more than --max-aspect times the shorter one\n"
      "  duplicate         another box of the same image (any class) has IoU >= --iou; reported\n"
      "                    once per pair, on the later annotation, naming the earlier one\n"
      "  missing_image     image_id is not in 'images', or (with --images) its file is absent\n"
      "  unknown_category  category_id is not in 'categories'");
  return cmd;
}

int run_check(const CheckOptions& options, const Context& /*context*/, std::ostream& out) {
  CORECLEAN_CLI_REQUIRE(std::isfinite(options.min_side) && options.min_side >= 0,
                        "--min-side must be a number of pixels >= 0, got {}", options.min_side);
  CORECLEAN_CLI_REQUIRE(std::isfinite(options.max_aspect) && options.max_aspect >= 1,
                        "--max-aspect must be a ratio >= 1, got {}", options.max_aspect);
  CORECLEAN_CLI_REQUIRE(options.iou > 0 && options.iou <= 1, "--iou must be in (0, 1], got {}",
                        options.iou);
  CORECLEAN_CLI_REQUIRE(options.images.empty() || std::filesystem::is_directory(options.images),
                        "--images: {} is not a directory", options.images.string());
  detect::BoxCheckParams params;
  params.min_side = options.min_side;
  params.max_aspect = options.max_aspect;
  params.duplicate_iou = options.iou;
  if (!options.images.empty()) params.images_dir = options.images;
  params.validate();  // before the (possibly long) read
  const detect::CocoDataset dataset = detect::read_coco(options.coco);
  const std::vector<detect::BoxFinding> findings = detect::check_boxes(dataset, params);

  if (options.json) {
    nlohmann::json array = nlohmann::json::array();
    for (const auto& f : findings) {
      nlohmann::json j = {{"annotation_id", f.annotation_id},
                          {"image_id", f.image_id},
                          {"check", std::string(detect::box_check_name(f.check))},
                          {"detail", f.detail}};
      if (f.other_annotation_id) j["other_annotation_id"] = *f.other_annotation_id;
      array.push_back(std::move(j));
    }
    // Details may quote bytes of the file; never fail on them.
    out << array.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    return kExitOk;
  }

  std::map<detect::BoxCheck, std::size_t> counts;
  std::set<SampleId> flagged;
  for (const auto& f : findings) {
    ++counts[f.check];
    flagged.insert(f.annotation_id);
  }
  out << fmt::format("{}: {} annotations on {} images, {} categories\n", options.coco.string(),
                     dataset.annotations.size(), dataset.images.size(), dataset.categories.size())
      << fmt::format("{} findings on {} annotations\n\n", findings.size(), flagged.size())
      << fmt::format("{:<18}{:>9}\n", "check", "findings");
  for (const detect::BoxCheck check : detect::kAllBoxChecks)
    out << fmt::format("{:<18}{:>9}\n", detect::box_check_name(check), counts[check]);
  if (findings.empty()) return kExitOk;
  out << fmt::format("\n{:>12}  {:>10}  {:<17} {}\n", "annotation", "image", "check", "detail");
  for (const auto& f : findings) {
    out << fmt::format("{:>12}  {:>10}  {:<17} {}\n", f.annotation_id, f.image_id,
                       detect::box_check_name(f.check), f.detail);
  }
  return kExitOk;
}

}  // namespace coreclean::cli
