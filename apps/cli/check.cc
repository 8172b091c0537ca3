#include "check.h"

#include <coreclean/coreset/near_duplicates.h>
#include <coreclean/detect/box_checks.h>
#include <coreclean/detect/box_table.h>
#include <coreclean/detect/coco.h>
#include <coreclean/io/feature_set.h>
#include <coreclean/io/npy.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cli_common.h"

namespace coreclean::cli {
namespace fs = std::filesystem;

namespace {

// One finding as printed: a box check's, or a near-duplicate pair's (on its later sample).
struct Finding {
  SampleId annotation_id = 0;
  std::optional<std::int64_t> image_id;
  std::string check;
  std::string detail;
  std::optional<SampleId> other;
  std::optional<double> cosine;
};

// Near-duplicate findings of a features directory: its training rows and, when it has them,
// its test rows (ids from ids_test.npy, else numbers after the training ids). Images come from
// boxes.npy (training rows) and from the COCO file when one is given (every row with an
// annotation id); rows of unknown image count as each in an image of its own — so without
// --coco, two boxes of one test image may be paired.
// `cosine`: set to the threshold used.
std::vector<Finding> near_duplicate_findings(const CheckOptions& options,
                                             const std::optional<detect::CocoDataset>& coco,
                                             const Context& context, double& cosine) {
  const io::FeatureSet features = io::load_feature_set(options.features);
  const Eigen::Index n_train = features.x_train.rows();
  const Eigen::Index n_test = features.x_test ? features.x_test->rows() : 0;
  const Eigen::Index n = n_train + n_test;
  std::vector<SampleId> ids(features.ids.begin(), features.ids.end());
  Labels labels(features.y_train.begin(), features.y_train.end());
  std::vector<std::uint8_t> in_test(static_cast<std::size_t>(n), 0);
  bool test_ids_given = false;
  if (n_test > 0) {
    const fs::path test_ids = options.features / "ids_test.npy";
    std::vector<SampleId> tid;
    test_ids_given = fs::exists(test_ids);
    if (test_ids_given) {
      tid = io::to_labels(io::read_npy(test_ids), test_ids.string());
      CORECLEAN_CLI_REQUIRE(static_cast<Eigen::Index>(tid.size()) == n_test,
                            "{}: {} ids for {} test rows", test_ids.string(), tid.size(), n_test);
    } else {
      const SampleId next = ids.empty() ? 0 : *std::max_element(ids.begin(), ids.end()) + 1;
      for (Eigen::Index i = 0; i < n_test; ++i) tid.push_back(next + i);
    }
    ids.insert(ids.end(), tid.begin(), tid.end());
    labels.insert(labels.end(), features.y_test.begin(), features.y_test.end());
    std::fill(in_test.begin() + n_train, in_test.end(), 1);
  }
  // Images: the box table's for training rows, the COCO file's (when given) for every row whose
  // id is an annotation id — not for test rows numbered here for want of ids_test.npy.
  std::vector<std::optional<std::int64_t>> images(static_cast<std::size_t>(n));
  if (const auto table = detect::read_box_table(options.features, n_train)) {
    for (Eigen::Index i = 0; i < n_train; ++i)
      images[static_cast<std::size_t>(i)] = static_cast<std::int64_t>((*table)(i, 0));
  }
  if (coco) {
    const Eigen::Index with_ids = test_ids_given ? n : n_train;
    for (Eigen::Index i = 0; i < with_ids; ++i)
      if (const auto a = coco->annotation_index(ids[static_cast<std::size_t>(i)]))
        images[static_cast<std::size_t>(i)] = coco->annotations[*a].image_id;
  }
  RowMatrixXf x(n, features.x_train.cols());
  x.topRows(n_train) = features.x_train.view();
  if (n_test > 0) x.bottomRows(n_test) = features.x_test->view();
  const coreset::NearDuplicateSamples samples{ids, labels, images, in_test, &features.class_names};
  coreset::NearDuplicateReport report =
      coreset::near_duplicate_findings(x, samples, options.share, options.min_cosine, context);
  cosine = report.cosine;
  std::vector<Finding> out;
  for (coreset::NearDuplicateFinding& f : report.findings)
    out.push_back({f.id, images[static_cast<std::size_t>(f.row)],
                   std::string(coreset::near_duplicate_kind_name(f.kind)), std::move(f.detail),
                   f.other, f.cosine});
  return out;
}

}  // namespace

CLI::App* add_check_command(CLI::App& app, CheckOptions& options) {
  CLI::App* cmd = app.add_subcommand(
      "check",
      "Check a COCO file without a model: box geometry, near-identical boxes and references to "
      "images or categories that do not exist; and/or a features directory for boxes whose "
      "embeddings are near-identical (--features): with different labels one of them is likely "
      "wrong, with the same label the copy leaks between splits. Prints a count per check, then "
      "one line per finding (or, with --json, one JSON array of {annotation_id, image_id, check, "
      "detail[, other_annotation_id][, cosine]}). Exit code 0 when the input was checked, "
      "findings or not; 2 when it cannot be read (the message names the file, line and column, "
      "or the entry and field).");
  cmd->add_option("--coco", options.coco, "COCO annotation file (JSON): run the box checks");
  cmd->add_option("--features", options.features,
                  "Features directory (embed's output, or X_train.npy + y_train.npy [+ test split, "
                  "ids.npy]): search its boxes for near-identical embeddings");
  cmd->add_option("--share", options.share,
                  "conflicting_labels / leakage: two boxes of different images whose cosine "
                  "distance (1 - cosine of the embeddings) is below this share of the median "
                  "distance of a box to its nearest other box (0 < share <= 1)")
      ->capture_default_str();
  cmd->add_option("--min-cosine", options.min_cosine,
                  "Instead of --share: a fixed cosine from which two boxes are near-duplicates "
                  "(0 < c <= 1)");
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
      "  unknown_category  category_id is not in 'categories'\n"
      "With --features (pairs of boxes of different images: images from the directory's\n"
      "boxes.npy (training rows) and --coco (every box; without it, boxes of one test image may\n"
      "be paired); train and test rows together; near-duplicates: 1 - cosine of the\n"
      "embeddings below --share times the median distance of a box to its nearest other box,\n"
      "or cosine >= --min-cosine):\n"
      "  conflicting_labels  a near-duplicate box of another image carries another label:\n"
      "                      the same object cannot be both; `session next --findings` offers\n"
      "                      both boxes for review\n"
      "  leakage             the same, with the same label: a copy that inflates a test score\n"
      "                      when the two sit in different splits\n"
      "Each pair is reported once, on the later box, naming the earlier one.");
  return cmd;
}

int run_check(const CheckOptions& options, const Context& context, std::ostream& out) {
  CORECLEAN_CLI_REQUIRE(!options.coco.empty() || !options.features.empty(),
                        "give --coco (box checks), --features (near-duplicate embeddings) or both");
  CORECLEAN_CLI_REQUIRE(std::isfinite(options.min_side) && options.min_side >= 0,
                        "--min-side must be a number of pixels >= 0, got {}", options.min_side);
  CORECLEAN_CLI_REQUIRE(std::isfinite(options.max_aspect) && options.max_aspect >= 1,
                        "--max-aspect must be a ratio >= 1, got {}", options.max_aspect);
  CORECLEAN_CLI_REQUIRE(options.iou > 0 && options.iou <= 1, "--iou must be in (0, 1], got {}",
                        options.iou);
  CORECLEAN_CLI_REQUIRE(options.min_cosine >= 0 && options.min_cosine <= 1,
                        "--min-cosine must be in (0, 1], got {}", options.min_cosine);
  CORECLEAN_CLI_REQUIRE(options.share > 0 && options.share <= 1, "--share must be in (0, 1], got {}",
                        options.share);
  CORECLEAN_CLI_REQUIRE(options.images.empty() || std::filesystem::is_directory(options.images),
                        "--images: {} is not a directory", options.images.string());
  CORECLEAN_CLI_REQUIRE(options.features.empty() || std::filesystem::is_directory(options.features),
                        "--features: {} is not a directory", options.features.string());
  detect::BoxCheckParams params;
  params.min_side = options.min_side;
  params.max_aspect = options.max_aspect;
  params.duplicate_iou = options.iou;
  if (!options.images.empty()) params.images_dir = options.images;
  params.validate();  // before the (possibly long) read
  std::optional<detect::CocoDataset> dataset;
  std::vector<Finding> findings;
  std::vector<std::string> checks;  // the checks run, in the order of the summary
  double cosine = 0.0;              // the near-duplicates' threshold
  if (!options.coco.empty()) {
    dataset = detect::read_coco(options.coco);
    for (detect::BoxFinding& f : detect::check_boxes(*dataset, params))
      findings.push_back({f.annotation_id, f.image_id, std::string(detect::box_check_name(f.check)),
                          std::move(f.detail), f.other_annotation_id, std::nullopt});
    for (const detect::BoxCheck check : detect::kAllBoxChecks)
      checks.emplace_back(detect::box_check_name(check));
  }
  if (!options.features.empty()) {
    for (Finding& f : near_duplicate_findings(options, dataset, context, cosine))
      findings.push_back(std::move(f));
    for (const auto kind : {coreset::NearDuplicateKind::kConflictingLabels, coreset::NearDuplicateKind::kLeakage})
      checks.emplace_back(coreset::near_duplicate_kind_name(kind));
  }

  if (options.json) {
    nlohmann::json array = nlohmann::json::array();
    for (const auto& f : findings) {
      nlohmann::json j = {{"annotation_id", f.annotation_id},
                          {"image_id", f.image_id ? nlohmann::json(*f.image_id) : nlohmann::json()},
                          {"check", f.check},
                          {"detail", f.detail}};
      if (f.other) j["other_annotation_id"] = *f.other;
      if (f.cosine) j["cosine"] = *f.cosine;
      array.push_back(std::move(j));
    }
    // Details may quote bytes of the file; never fail on them.
    out << array.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    return kExitOk;
  }

  std::map<std::string, std::size_t> counts;
  std::set<SampleId> flagged;
  for (const auto& f : findings) {
    ++counts[f.check];
    flagged.insert(f.annotation_id);
  }
  if (dataset)
    out << fmt::format("{}: {} annotations on {} images, {} categories\n", options.coco.string(),
                       dataset->annotations.size(), dataset->images.size(),
                       dataset->categories.size());
  if (!options.features.empty())
    out << fmt::format("{}: near-identical embeddings from cosine {:.4f}{}\n",
                       options.features.string(), cosine,
                       options.min_cosine > 0
                           ? std::string()
                           : fmt::format(" ({} of the median distance to the nearest box)", options.share));
  out << fmt::format("{} findings on {} annotations\n\n", findings.size(), flagged.size())
      << fmt::format("{:<18}{:>9}\n", "check", "findings");
  for (const std::string& check : checks) out << fmt::format("{:<18}{:>9}\n", check, counts[check]);
  if (findings.empty()) return kExitOk;
  out << fmt::format("\n{:>12}  {:>10}  {:<17} {}\n", "annotation", "image", "check", "detail");
  for (const auto& f : findings) {
    out << fmt::format("{:>12}  {:>10}  {:<17} {}\n", f.annotation_id,
                       f.image_id ? std::to_string(*f.image_id) : std::string("-"), f.check,
                       f.detail);
  }
  return kExitOk;
}

}  // namespace coreclean::cli
