#include "embed.h"

#include <cmath>
#include <exception>
#include <map>
#include <string>
#include <utility>

#include "cli_common.h"

namespace coreclean::cli {
namespace {

std::string joined(const std::vector<double>& v) { return fmt::format("{}", fmt::join(v, ",")); }

double parse_scale(const std::string& text) {
  auto number = [&](const std::string& part) {
    std::size_t used = 0;
    double value = 0.0;
    try {
      value = std::stod(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    CORECLEAN_CLI_REQUIRE(used == part.size() && !part.empty() && std::isfinite(value),
                          "--scale: '{}' is not a number or a fraction such as 1/255", text);
    return value;
  };
  const auto slash = text.find('/');
  if (slash == std::string::npos) return number(text);
  const double denominator = number(text.substr(slash + 1));
  CORECLEAN_CLI_REQUIRE(denominator != 0.0, "--scale: '{}' divides by zero", text);
  return number(text.substr(0, slash)) / denominator;
}

}  // namespace

embed::EmbedDatasetOptions dataset_embedding_options(const EmbedOptions& o) {
  CORECLEAN_CLI_REQUIRE(o.input_size.size() == 1 || o.input_size.size() == 2,
                        "--input-size takes one side or width,height; got {} values",
                        o.input_size.size());
  CORECLEAN_CLI_REQUIRE(o.mean.size() == 3, "--mean takes three values R,G,B; got '{}'",
                        joined(o.mean));
  CORECLEAN_CLI_REQUIRE(o.stddev.size() == 3, "--std takes three values R,G,B; got '{}'",
                        joined(o.stddev));
  embed::EmbedDatasetOptions d;
  d.coco = o.coco;
  d.images = o.images;
  d.embedder.model = o.model;
  d.embedder.output_layer = o.output_layer;
  d.embedder.input_name = o.input_name;
  d.embedder.input_width = o.input_size.front();
  d.embedder.input_height = o.input_size.back();
  d.embedder.mean = {o.mean[0], o.mean[1], o.mean[2]};
  d.embedder.stddev = {o.stddev[0], o.stddev[1], o.stddev[2]};
  d.embedder.scale = parse_scale(o.scale);
  d.embedder.swap_rb = o.swap_rb;
  d.embedder.batch_size = o.batch;
  d.padding = o.padding;
  d.pca = o.pca;
  d.test_fraction = o.test_fraction;
  d.skip_bad = o.skip_bad;
  d.out = o.out;
  return d;
}

CLI::App* add_embed_command(CLI::App& app, EmbedOptions& options) {
  CLI::App* cmd = app.add_subcommand(
      "embed",
      "Crop every box of a COCO file (iscrowd = 0), embed the crops with an ONNX model (OpenCV "
      "DNN) or, without --model, with built-in colour + shape features, and write a features "
      "directory for pick/build. Resumable: run the same command again after an interruption.");
  cmd->add_option("--coco", options.coco, "COCO annotation file (JSON)")->required();
  cmd->add_option("--images", options.images, "Folder the images' file_name are relative to")
      ->required();
  cmd->add_option("--model", options.model,
                  "ONNX model (any file cv::dnn::readNet loads); omit for built-in features");
  cmd->add_option("--output-layer", options.output_layer,
                  "Layer to read the embedding from (default: 'embedding' if the model has it, "
                  "else its last output); must give N x D");
  cmd->add_option("--input-name", options.input_name,
                  "Network input to feed (default: the first input)");
  cmd->add_option("--input-size", options.input_size, "Model input side, or W,H")
      ->delimiter(',')
      ->expected(1, 2)
      ->capture_default_str();
  cmd->add_option("--mean", options.mean,
                  "Subtracted per channel before scaling, pixel units 0..255, in the network's "
                  "channel order (R,G,B with --swap-rb)")
      ->delimiter(',')
      ->expected(3)
      ->capture_default_str();
  cmd->add_option("--scale", options.scale, "Multiplies (pixel - mean): a number or a/b")
      ->capture_default_str();
  cmd->add_option("--std", options.stddev,
                  "Per-channel divisor applied after --scale (network channel order)")
      ->delimiter(',')
      ->expected(3)
      ->capture_default_str();
  cmd->add_flag("--swap-rb", options.swap_rb, "Feed RGB instead of OpenCV's BGR");
  cmd->add_option("--batch", options.batch, "Crops per forward pass (and per saved shard)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--padding", options.padding,
                  "Context around each box: this fraction of its width (left and right) and "
                  "height (top and bottom), clamped to the image")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--pca", options.pca,
                  "Also write FEATDIR/pca<K>/ with K principal components (fitted on the train "
                  "rows; randomized solver, seeded by --seed, when max(n, d) > 500 and "
                  "K < 0.8 min(n, d), else exact); 0 = no")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--test-fraction", options.test_fraction,
                  "Share of the images whose boxes form a test split (X_test.npy, ...); split "
                  "by image, seeded by --seed")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.95));
  cmd->add_flag("--skip-bad", options.skip_bad,
                "Skip boxes whose image is missing or undecodable (or whose box has no pixels) "
                "and list them, instead of stopping with exit code 2");
  cmd->add_option("--out", options.out,
                  "Features directory to write: a new or empty folder, or one an earlier embed "
                  "wrote (resumed or rewritten; nothing else in it is touched)")
      ->required();
  cmd->footer(
      "Preprocessing: each box [x, y, w, h] is cropped to the pixels [x, x+w) x [y, y+h)\n"
      "(widened by --padding, clamped to the image), resized to --input-size (bilinear, aspect\n"
      "ratio not kept, no centre crop), swapped to RGB with --swap-rb, and every value becomes\n"
      "  (pixel - mean[c]) * scale / std[c]      pixel in 0..255, c in the network's order.\n"
      "OpenCV 4.6's blobFromImage takes a single scale factor, so a per-channel std cannot be\n"
      "expressed through --scale alone; coreclean divides each channel of the blob by --std\n"
      "afterwards. Without --std, one --scale of 1/(mean std) is the nearest single factor.\n"
      "\n"
      "Shared MobileNetV2 (mobilenet_v2_nsfwjs.onnx: input 'input', RGB in [0,1], 224x224;\n"
      "output 'embedding', 1280 features, chosen by default):\n"
      "  --model mobilenet_v2_nsfwjs.onnx --swap-rb --scale 1/255 --input-size 224\n"
      "torchvision ResNet50 exported to ONNX with fc = Identity (output N x 2048):\n"
      "  --model resnet50.onnx --swap-rb --input-size 224 --mean 123.675,116.28,103.53\n"
      "  --scale 1/255 --std 0.229,0.224,0.225     (= ImageNet mean 0.485,0.456,0.406 x 255)\n"
      "  (equivalently --scale 1 --std 58.395,57.12,57.375; a single --scale 1/57.63 without\n"
      "  --std is off by up to 1.3 % per channel). torchvision's evaluation resizes the short\n"
      "  side to 256 and centre-crops 224; here the whole box is resized, so no part is cut.\n"
      "Without --model: built-in features, an HSV colour histogram (128) and HOG of the grey\n"
      "crop at 64x64 (1764), each part L2-normalised: 1892 dimensions, no model file needed.\n"
      "\n"
      "Writes FEATDIR/X_train.npy (float32 n x d), y_train.npy (int64 category ids), ids.npy\n"
      "(int64 annotation ids), classes.json (category id -> name); with --test-fraction also\n"
      "X_test.npy, y_test.npy, ids_test.npy; with --pca K the same files in FEATDIR/pcaK/;\n"
      "embedding.json (the settings); skipped.json when boxes were skipped. Each file is\n"
      "written atomically.\n"
      "Resuming: finished batches are kept in FEATDIR/.partial/ until the end. Running the\n"
      "same command again after an interruption continues where it stopped and writes the\n"
      "same bytes as an uninterrupted run; once a batch is saved, different embedding\n"
      "settings or an edited COCO file are refused (delete FEATDIR/.partial to start over).\n"
      "--pca, --test-fraction and --seed only act on the final files and may change.\n"
      "Exit codes: 0 ok; 2 bad input (unreadable image or box without --skip-bad, model that\n"
      "does not load, bad option), with a message naming the file; 1 other failures.");
  return cmd;
}

int run_embed(const EmbedOptions& options, const Context& context, std::ostream& out) {
  const embed::EmbedDatasetResult r =
      embed::embed_dataset(dataset_embedding_options(options), context);
  if (r.resumed_boxes > 0) {
    out << fmt::format("resuming: {} of {} boxes were embedded by an earlier run\n",
                       r.resumed_boxes, r.boxes);
  }
  out << fmt::format("embedded {} boxes of {} images with {}\n", r.train_rows + r.test_rows,
                     r.images, r.embedder);
  if (r.boxes_this_run > 0) {
    out << fmt::format("this run: {} boxes in {:.1f} s ({:.1f} crops/s)\n", r.boxes_this_run,
                       r.seconds,
                       r.seconds > 0 ? static_cast<double>(r.boxes_this_run) / r.seconds : 0.0);
  }
  out << fmt::format(
      "wrote {}: {} train rows{}, {} classes\n", r.features_dir.string(), r.train_rows,
      r.test_rows > 0 ? fmt::format(", {} test rows (split by image)", r.test_rows) : std::string(),
      r.classes);
  if (!r.pca_dir.empty()) {
    out << fmt::format("wrote {}: {} components ({:.1f}% of the variance)\n", r.pca_dir.string(),
                       options.pca, 100.0 * r.pca_explained_variance);
  }
  if (!r.skipped.empty()) {
    std::map<std::string, std::pair<std::string, int>> by_image;
    for (const embed::SkippedBox& s : r.skipped) {
      auto& entry =
          by_image[s.image.empty() ? fmt::format("annotation {}", s.annotation_id) : s.image];
      if (entry.first.empty()) entry.first = s.reason;
      ++entry.second;
    }
    out << fmt::format("skipped {} boxes (listed in {}):\n", r.skipped.size(),
                       r.skipped_file.string());
    for (const auto& [image, entry] : by_image) {
      out << fmt::format("  {} ({} box{}): {}\n", image, entry.second,
                         entry.second == 1 ? "" : "es", entry.first);
    }
  }
  return kExitOk;
}

}  // namespace coreclean::cli
