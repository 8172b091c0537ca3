#include "embed.h"

#include <coreclean/detect/box_table.h>
#include <coreclean/detect/coco.h>
#include <coreclean/detect/render.h>
#include <coreclean/embed/builtin_features.h>
#include <coreclean/embed/embedder.h>
#include <coreclean/io/feature_set.h>
#include <coreclean/io/npy.h>
#include <coreclean/io/output_folder.h>
#include <coreclean/linear/pca.h>
#include <fcntl.h>   // for open
#include <unistd.h>  // for write, fsync, close

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <future>
#include <list>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <utility>

#include "cli_common.h"

namespace coreclean::cli {
namespace {

using nlohmann::ordered_json;

constexpr const char* kPartialDir = ".partial";
constexpr const char* kManifest = "manifest.json";
constexpr const char* kPartialFormat = "coreclean embed partial 2";
// Random stream of the train/test split (Context::rng), fixed so the split depends on the seed
// only.
constexpr std::uint64_t kSplitStream = 0x5eed'0001;
// Decoded images kept while cropping; annotations are usually grouped by image, so a few
// suffice to decode each image once.
constexpr std::size_t kImageCacheSize = 4;

// Paths and OpenCV messages may hold bytes that are not UTF-8; they must never stop the output.
std::string dump(const ordered_json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

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

embed::EmbedderParams embedder_params(const EmbedOptions& o) {
  CORECLEAN_CLI_REQUIRE(o.input_size.size() == 1 || o.input_size.size() == 2,
                        "--input-size takes one side or width,height; got {} values",
                        o.input_size.size());
  CORECLEAN_CLI_REQUIRE(o.mean.size() == 3, "--mean takes three values R,G,B; got '{}'",
                        joined(o.mean));
  CORECLEAN_CLI_REQUIRE(o.stddev.size() == 3, "--std takes three values R,G,B; got '{}'",
                        joined(o.stddev));
  embed::EmbedderParams p;
  p.model = o.model;
  p.output_layer = o.output_layer;
  p.input_name = o.input_name;
  p.input_width = o.input_size.front();
  p.input_height = o.input_size.back();
  p.mean = {o.mean[0], o.mean[1], o.mean[2]};
  p.stddev = {o.stddev[0], o.stddev[1], o.stddev[2]};
  p.scale = parse_scale(o.scale);
  p.swap_rb = o.swap_rb;
  p.batch_size = o.batch;
  return p;
}

// 64-bit FNV-1a of a file: identifies the COCO file and the model in the manifest, so that a
// resume against edited inputs is refused. Not a security hash; collisions need intent.
std::string fingerprint(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(fmt::format("cannot read {}: {}", path.string(), std::strerror(errno)));
  std::uint64_t h = 0xcbf29ce484222325ULL;
  std::vector<char> buffer(1 << 16);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    for (std::streamsize i = 0; i < in.gcount(); ++i) {
      h ^= static_cast<unsigned char>(buffer[static_cast<std::size_t>(i)]);
      h *= 0x100000001b3ULL;
    }
  }
  return fmt::format("{:016x}", h);
}

std::string absolute_path(const std::filesystem::path& p) {
  return std::filesystem::weakly_canonical(std::filesystem::absolute(p)).string();
}

// Text files of the output go through a temporary file, fsync and rename, like the .npy files,
// so that readers never see half a file.
void write_text_atomically(const std::filesystem::path& path, const std::string& text) {
  const std::filesystem::path tmp =
      path.parent_path() / fmt::format(".{}.tmp-{}", path.filename().string(), ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw IoError(fmt::format("cannot write {}: {}", tmp.string(), std::strerror(errno)));
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = errno;
      ::close(fd);
      std::filesystem::remove(tmp);
      throw IoError(fmt::format("cannot write {}: {}", tmp.string(), std::strerror(error)));
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    throw IoError(fmt::format("cannot write {}: {}", tmp.string(), std::strerror(errno)));
  }
  std::error_code error;
  std::filesystem::rename(tmp, path, error);
  if (error) throw IoError(fmt::format("cannot write {}: {}", path.string(), error.message()));
}

void remove_stale(const std::filesystem::path& path) {
  std::error_code error;
  std::filesystem::remove(path, error);
  if (error) throw IoError(fmt::format("cannot remove {}: {}", path.string(), error.message()));
}

// A box that was not embedded, and why.
struct Skip {
  SampleId id = 0;
  std::string image;  // file_name, or empty when the annotation's image is unknown
  std::string reason;
};

// Crops of candidates [begin, end) for one batch; unreadable images and impossible boxes are
// skipped (skip_bad) or raised with the annotation and a hint.
class CropMaker {
 public:
  CropMaker(const detect::CocoDataset& dataset, const std::vector<std::size_t>& candidates,
            const EmbedOptions& options, const Context& context)
      : dataset_(dataset), candidates_(candidates), options_(options), context_(context) {}

  std::vector<cv::Mat> crops(std::size_t begin, std::size_t end, std::vector<SampleId>& ids,
                             std::vector<Skip>& skips) {
    std::vector<cv::Mat> out;
    for (std::size_t k = begin; k < end; ++k) {
      const detect::CocoAnnotation& a = dataset_.annotations[candidates_[k]];
      const auto image_at = dataset_.image_index(a.image_id);
      if (!image_at) {
        const std::string reason =
            fmt::format("{}: annotation {} refers to image id {}, which is not in 'images'",
                        options_.coco.string(), a.id, a.image_id);
        if (!options_.skip_bad) throw InvalidArgument(reason + "; --skip-bad skips such boxes");
        skips.push_back({a.id, "", reason});
        continue;
      }
      const detect::CocoImage& info = dataset_.images[*image_at];
      const Decoded& image = decoded(*image_at);
      if (!image.error.empty()) {
        skips.push_back({a.id, info.file_name, image.error});
        continue;
      }
      try {
        out.push_back(detect::crop_annotation(image.pixels, a, options_.padding));
        ids.push_back(a.id);
      } catch (const InvalidArgument& e) {
        if (!options_.skip_bad) {
          throw InvalidArgument(fmt::format(
              "{} ({} in {}); `coreclean check` lists such boxes, --skip-bad skips them", e.what(),
              info.file_name, options_.coco.string()));
        }
        skips.push_back({a.id, info.file_name, e.what()});
      }
    }
    return out;
  }

 private:
  struct Decoded {
    cv::Mat pixels;
    std::string error;  // set when the image could not be read (skip_bad only)
  };

  const Decoded& decoded(std::size_t image_at) {
    for (auto it = cache_.begin(); it != cache_.end(); ++it) {
      if (it->first == image_at) {
        cache_.splice(cache_.begin(), cache_, it);
        return cache_.front().second;
      }
    }
    const detect::CocoImage& info = dataset_.images[image_at];
    const std::filesystem::path path = options_.images / info.file_name;
    Decoded d;
    try {
      d.pixels = detect::read_image(path);
    } catch (const IoError& e) {
      if (!options_.skip_bad)
        throw IoError(fmt::format("{}; --skip-bad skips its boxes", e.what()));
      d.error = e.what();
    } catch (const FormatError& e) {
      if (!options_.skip_bad) {
        throw FormatError(fmt::format("{}; --skip-bad skips its boxes", e.what()));
      }
      d.error = e.what();
    }
    if (d.error.empty() && info.width > 0 && info.height > 0 &&
        (d.pixels.cols != info.width || d.pixels.rows != info.height)) {
      context_.log(
          LogLevel::kWarning,
          fmt::format("{} is {}×{} pixels but the COCO file says {}×{}; boxes are cropped "
                      "from the pixels as decoded",
                      path.string(), d.pixels.cols, d.pixels.rows, info.width, info.height));
    }
    cache_.emplace_front(image_at, std::move(d));
    if (cache_.size() > kImageCacheSize) cache_.pop_back();
    return cache_.front().second;
  }

  const detect::CocoDataset& dataset_;
  const std::vector<std::size_t>& candidates_;
  const EmbedOptions& options_;
  const Context& context_;
  std::list<std::pair<std::size_t, Decoded>> cache_;
};

// A shard is two files: batch-NNNNNN.json (the ids of its rows and the boxes it skipped),
// written first, then batch-NNNNNN.npy (the rows, float32, uncompressed: compressing cost 5 % of
// the CPU time of a run). Each is written atomically, so the .npy existing means the shard is
// complete.
std::filesystem::path shard_rows(const std::filesystem::path& partial, std::int64_t batch) {
  return partial / fmt::format("batch-{:06d}.npy", batch);
}

std::filesystem::path shard_meta(const std::filesystem::path& partial, std::int64_t batch) {
  return partial / fmt::format("batch-{:06d}.json", batch);
}

void write_shard(const std::filesystem::path& partial, std::int64_t batch, const RowMatrixXf& x,
                 const std::vector<SampleId>& ids, const std::vector<Skip>& skips) {
  ordered_json meta = {{"ids", ids}, {"skipped", ordered_json::array()}};
  for (const Skip& s : skips)
    meta["skipped"].push_back({{"id", s.id}, {"image", s.image}, {"reason", s.reason}});
  write_text_atomically(shard_meta(partial, batch), dump(meta, -1));
  io::write_npy(shard_rows(partial, batch), x);
}

struct Shard {
  RowMatrixXf x;
  std::vector<SampleId> ids;
  std::vector<Skip> skips;
};

Shard read_shard(const std::filesystem::path& partial, std::int64_t batch, int dim) {
  const std::filesystem::path rows_path = shard_rows(partial, batch);
  const auto bad = [&](const std::string& what) {
    return FormatError(fmt::format("{}: {}; delete the folder {} and run again", rows_path.string(),
                                   what, partial.string()));
  };
  const io::NpyArray x = io::read_npy(rows_path);
  if (x.dtype() != io::DType::kFloat32 || x.shape().size() != 2 || x.shape()[1] != dim)
    throw bad(fmt::format("expected float32 rows of {} values", dim));
  Shard s;
  const Eigen::Index rows = x.shape()[0];
  s.x = RowMatrixXf(rows, dim);
  if (rows > 0) s.x = Eigen::Map<const RowMatrixXf>(x.data<float>(), rows, dim);
  try {
    std::ifstream in(shard_meta(partial, batch));
    const nlohmann::json meta = nlohmann::json::parse(in);
    s.ids = meta.at("ids").get<std::vector<SampleId>>();
    for (const auto& j : meta.at("skipped")) {
      s.skips.push_back({j.at("id").get<SampleId>(), j.at("image").get<std::string>(),
                         j.at("reason").get<std::string>()});
    }
  } catch (const nlohmann::json::exception& e) {
    throw bad(fmt::format("its list of ids {} is unreadable ({})",
                          shard_meta(partial, batch).string(), e.what()));
  }
  if (static_cast<Eigen::Index>(s.ids.size()) != rows)
    throw bad(fmt::format("{} rows but {} ids", rows, s.ids.size()));
  return s;
}

ordered_json make_manifest(const EmbedOptions& o, const embed::Embedder& embedder,
                           std::size_t boxes) {
  const embed::EmbedderParams& p = embedder.params();
  ordered_json j;
  j["format"] = kPartialFormat;
  j["coco"] = {{"path", absolute_path(o.coco)},
               {"bytes", std::filesystem::file_size(o.coco)},
               {"fnv1a64", fingerprint(o.coco)}};
  j["images"] = absolute_path(o.images);
  if (embedder.uses_model()) {
    j["model"] = {{"path", absolute_path(p.model)},
                  {"bytes", std::filesystem::file_size(p.model)},
                  {"fnv1a64", fingerprint(p.model)}};
    j["output_layer"] = embedder.output_layer();
    j["input_name"] = p.input_name;
    j["input_size"] = {p.input_width, p.input_height};
    j["mean"] = p.mean;
    j["std"] = p.stddev;
    j["scale"] = p.scale;
    j["swap_rb"] = p.swap_rb;
  } else {
    j["model"] = nullptr;
    j["builtin_features"] = fmt::format("hsv {}x{}x{} + hog {} (v1)", embed::kHueBins,
                                        embed::kSaturationBins, embed::kValueBins, embed::kHogSide);
  }
  j["dim"] = embedder.dim();
  j["padding"] = o.padding;
  j["batch"] = o.batch;
  j["skip_bad"] = o.skip_bad;
  j["boxes"] = boxes;
  return j;
}

// Refuses to continue a run made with other settings: its shards would mix two embeddings.
void check_resumable(const std::filesystem::path& manifest_path, const ordered_json& manifest) {
  ordered_json old;
  try {
    std::ifstream in(manifest_path);
    old = ordered_json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(fmt::format("{} does not parse ({}); delete the folder {} to start over",
                                  manifest_path.string(), e.what(),
                                  manifest_path.parent_path().string()));
  }
  if (old == manifest) return;
  std::vector<std::string> changes;
  for (const auto& [key, value] : manifest.items()) {
    if (!old.contains(key)) {
      changes.push_back(fmt::format("{}: (absent) → {}", key, value.dump()));
    } else if (old[key] != value) {
      changes.push_back(fmt::format("{}: {} → {}", key, old[key].dump(), value.dump()));
    }
  }
  for (const auto& [key, value] : old.items()) {
    if (!manifest.contains(key))
      changes.push_back(fmt::format("{}: {} → (absent)", key, value.dump()));
  }
  throw InvalidArgument(fmt::format(
      "{} holds an interrupted run with other settings ({}); run again with the same settings "
      "to resume it, or delete {} to start over",
      manifest_path.parent_path().string(), fmt::join(changes, "; "),
      manifest_path.parent_path().string()));
}

// Which embedded rows go to the test split: whole images, a seeded random share of them, so that
// boxes of one image never sit on both sides. Images are moved back to train while a class would
// otherwise occur only in test (every test class needs training samples).
std::vector<bool> split_by_image(const std::vector<std::int64_t>& row_image,
                                 const std::vector<Label>& row_label, double fraction,
                                 const Context& context) {
  std::vector<bool> is_test(row_image.size(), false);
  if (fraction <= 0.0) return is_test;
  std::vector<std::int64_t> images;
  std::set<std::int64_t> seen;
  for (std::int64_t image : row_image) {
    if (seen.insert(image).second) images.push_back(image);
  }
  CORECLEAN_CLI_REQUIRE(images.size() >= 2,
                        "--test-fraction {}: a split by image needs at least two images with "
                        "embedded boxes, found {}",
                        fraction, images.size());
  // Fisher–Yates with the engine's raw output: the same permutation with every standard library
  // (std::shuffle's algorithm is unspecified).
  std::mt19937_64 rng = context.rng(kSplitStream);
  for (std::size_t i = images.size() - 1; i > 0; --i) {
    std::swap(images[i], images[static_cast<std::size_t>(rng() % (i + 1))]);
  }
  const auto wanted =
      static_cast<std::size_t>(std::llround(fraction * static_cast<double>(images.size())));
  std::size_t n_test = std::clamp<std::size_t>(wanted, 1, images.size() - 1);
  std::set<std::int64_t> test(images.begin(), images.begin() + static_cast<std::ptrdiff_t>(n_test));
  for (bool moved = true; moved;) {
    moved = false;
    std::map<Label, int> train_count;
    for (std::size_t i = 0; i < row_image.size(); ++i) {
      if (!test.count(row_image[i])) ++train_count[row_label[i]];
    }
    // The last test image (in shuffled order) that holds a class missing from train goes back.
    for (std::size_t k = n_test; k-- > 0 && !moved;) {
      const std::int64_t image = images[k];
      if (!test.count(image)) continue;
      for (std::size_t i = 0; i < row_image.size() && !moved; ++i) {
        if (row_image[i] == image && train_count[row_label[i]] == 0) {
          test.erase(image);
          moved = true;
        }
      }
    }
  }
  for (std::size_t i = 0; i < row_image.size(); ++i) is_test[i] = test.count(row_image[i]) > 0;
  return is_test;
}

// Writes one features directory plus ids_test.npy (which FeatureSet does not carry).
void save_with_test_ids(const std::filesystem::path& dir, const io::FeatureSet& features,
                        const std::vector<SampleId>& test_ids, const detect::CocoDataset& coco) {
  io::save_feature_set(dir, features);
  // Which box each row came from: a session checks its COCO file against it.
  detect::write_box_table(dir / detect::kBoxTableFile, coco, features.ids);
  if (features.x_test) {
    io::write_npy(dir / "ids_test.npy", std::span<const std::int64_t>(test_ids));
  } else {
    remove_stale(dir / "ids_test.npy");
  }
}

RowMatrixXf take_rows(const std::vector<Shard>& shards, const std::vector<bool>& is_test, bool test,
                      int dim) {
  Eigen::Index n = 0;
  for (bool t : is_test) n += t == test;
  RowMatrixXf x(n, dim);
  Eigen::Index row = 0;
  std::size_t i = 0;
  for (const Shard& s : shards) {
    for (Eigen::Index r = 0; r < s.x.rows(); ++r, ++i) {
      if (is_test[i] == test) x.row(row++) = s.x.row(r);
    }
  }
  return x;
}

// The features directory is an output folder (io/output_folder.h). Every top-level name this
// command writes or removes is listed here, before any work, so that a folder of an earlier run
// resumes and a user's file of one of these names stops the run before anything is written.
io::OutputFolder claim_features_dir(const EmbedOptions& o) {
  std::vector<std::filesystem::path> inputs = {o.coco, o.images};
  if (!o.model.empty()) inputs.push_back(o.model);
  io::OutputFolder folder = io::OutputFolder::claim(o.out, "embed", inputs);
  folder.entry(kPartialDir);
  for (const std::string_view name : io::kFeatureSetFiles) folder.entry(name);
  for (const char* name : {"ids_test.npy", "embedding.json", "skipped.json", detect::kBoxTableFile})
    folder.entry(name);
  if (o.pca > 0) folder.entry(fmt::format("pca{}", o.pca));
  return folder;
}

}  // namespace

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
                  "rows; randomized solver, seeded by --seed, when K < 0.8 min(n, d), else "
                  "exact); 0 = no")
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
  CORECLEAN_CLI_REQUIRE(options.batch >= 1, "--batch must be ≥ 1, got {}", options.batch);
  CORECLEAN_CLI_REQUIRE(std::isfinite(options.padding) && options.padding >= 0.0,
                        "--padding must be ≥ 0, got {}", options.padding);
  CORECLEAN_CLI_REQUIRE(options.pca >= 0, "--pca must be ≥ 0, got {}", options.pca);
  CORECLEAN_CLI_REQUIRE(options.test_fraction >= 0.0 && options.test_fraction < 1.0,
                        "--test-fraction must be in [0, 1), got {}", options.test_fraction);
  CORECLEAN_CLI_REQUIRE(!options.out.empty(), "--out is required");
  std::error_code error;
  if (!std::filesystem::is_directory(options.images, error)) {
    throw IoError(fmt::format("--images {} is not a directory", options.images.string()));
  }
  // The model loads (and is test-run) before the long COCO read, so a wrong model fails fast.
  embed::Embedder embedder(embedder_params(options));
  CORECLEAN_CLI_REQUIRE(options.pca <= embedder.dim(),
                        "--pca {} asks for more components than the {} dimensions of the features",
                        options.pca, embedder.dim());
  const detect::CocoDataset dataset = detect::read_coco(options.coco);

  std::vector<std::size_t> candidates;
  for (std::size_t i = 0; i < dataset.annotations.size(); ++i) {
    if (!dataset.annotations[i].iscrowd) candidates.push_back(i);
  }
  CORECLEAN_CLI_REQUIRE(!candidates.empty(), "{}: no annotation with iscrowd = 0 (of {}) to embed",
                        options.coco.string(), dataset.annotations.size());
  const auto batch = static_cast<std::size_t>(options.batch);
  const auto n_batches = static_cast<std::int64_t>((candidates.size() + batch - 1) / batch);

  const std::filesystem::path partial = claim_features_dir(options).entry(kPartialDir);
  std::filesystem::create_directories(partial, error);
  if (error) throw IoError(fmt::format("cannot create {}: {}", partial.string(), error.message()));
  const ordered_json manifest = make_manifest(options, embedder, candidates.size());
  const std::filesystem::path manifest_path = partial / kManifest;
  // A work folder without shards holds nothing worth keeping (e.g. a run that stopped at its
  // first bad image), so its settings may change freely.
  bool has_shards = false;
  for (const auto& entry : std::filesystem::directory_iterator(partial)) {
    has_shards = has_shards || entry.path().extension() == ".npy";
  }
  if (has_shards && std::filesystem::exists(manifest_path)) {
    check_resumable(manifest_path, manifest);
  } else {
    write_text_atomically(manifest_path, dump(manifest, 2) + "\n");
  }

  // Shards are written atomically, so a shard that exists is complete.
  std::vector<std::int64_t> pending;
  for (std::int64_t b = 0; b < n_batches; ++b) {
    if (!std::filesystem::exists(shard_rows(partial, b))) pending.push_back(b);
  }
  std::size_t remaining_boxes = 0;
  for (std::int64_t b : pending) {
    remaining_boxes += std::min(candidates.size(), static_cast<std::size_t>(b + 1) * batch) -
                       static_cast<std::size_t>(b) * batch;
  }
  if (remaining_boxes < candidates.size()) {
    out << fmt::format("resuming: {} of {} boxes were embedded by an earlier run\n",
                       candidates.size() - remaining_boxes, candidates.size());
  }

  // The loader of batch i + 1 runs on a worker while the sink handles batch i; each slot is
  // written by the loader before its future is read, which orders the accesses.
  CropMaker maker(dataset, candidates, options, context);
  std::vector<std::vector<SampleId>> slot_ids(pending.size());
  std::vector<std::vector<Skip>> slot_skips(pending.size());
  // Shards are written and fsync'ed on a writer thread, so that inference never waits for the
  // disk. At most one write is in flight; its error surfaces at the next batch. Progress counts
  // boxes whose shard is on disk.
  std::size_t done_boxes = 0;
  std::future<std::size_t> writing;  // yields the number of boxes the shard covers
  const auto finish_write = [&] {
    if (!writing.valid()) return;
    done_boxes += writing.get();
    context.report_progress(static_cast<std::int64_t>(done_boxes),
                            static_cast<std::int64_t>(remaining_boxes), "embedding boxes");
  };
  const auto start = std::chrono::steady_clock::now();
  embedder.embed_batches(
      static_cast<std::int64_t>(pending.size()),
      [&](std::int64_t i) {
        const auto b = static_cast<std::size_t>(pending[static_cast<std::size_t>(i)]);
        return maker.crops(b * batch, std::min(candidates.size(), (b + 1) * batch),
                           slot_ids[static_cast<std::size_t>(i)],
                           slot_skips[static_cast<std::size_t>(i)]);
      },
      [&](std::int64_t i, RowMatrixXf x) {
        finish_write();
        const auto slot = static_cast<std::size_t>(i);
        const std::int64_t b = pending[slot];
        const std::size_t covered =
            std::min(candidates.size(), static_cast<std::size_t>(b + 1) * batch) -
            static_cast<std::size_t>(b) * batch;
        writing = std::async(std::launch::async,
                             [partial, b, x = std::move(x), ids = std::move(slot_ids[slot]),
                              skips = slot_skips[slot], covered] {
                               write_shard(partial, b, x, ids, skips);
                               return covered;
                             });
      },
      context);
  finish_write();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  // Assemble from the shards alone, so that a resumed run ends exactly like an uninterrupted one.
  std::vector<Shard> shards;
  shards.reserve(static_cast<std::size_t>(n_batches));
  std::vector<SampleId> ids;
  std::vector<Skip> skips;
  for (std::int64_t b = 0; b < n_batches; ++b) {
    Shard s = read_shard(partial, b, embedder.dim());
    ids.insert(ids.end(), s.ids.begin(), s.ids.end());
    skips.insert(skips.end(), s.skips.begin(), s.skips.end());
    shards.push_back(std::move(s));
  }
  CORECLEAN_CLI_REQUIRE(!ids.empty(), "no box of {} could be embedded ({} skipped)",
                        options.coco.string(), skips.size());
  std::vector<std::int64_t> row_image(ids.size());
  std::vector<Label> row_label(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const auto at = dataset.annotation_index(ids[i]);
    if (!at) {
      throw FormatError(fmt::format("{}: annotation {} is not in {}; delete {} and run again",
                                    partial.string(), ids[i], options.coco.string(),
                                    partial.string()));
    }
    row_image[i] = dataset.annotations[*at].image_id;
    row_label[i] = dataset.annotations[*at].category_id;
  }
  const std::vector<bool> is_test =
      split_by_image(row_image, row_label, options.test_fraction, context);
  const bool has_test = std::find(is_test.begin(), is_test.end(), true) != is_test.end();

  io::FeatureSet features;
  std::vector<SampleId> test_ids;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (is_test[i]) {
      features.y_test.push_back(row_label[i]);
      test_ids.push_back(ids[i]);
    } else {
      features.y_train.push_back(row_label[i]);
      features.ids.push_back(ids[i]);
    }
  }
  features.x_train = io::SampleMatrix(take_rows(shards, is_test, false, embedder.dim()));
  if (has_test)
    features.x_test = io::SampleMatrix(take_rows(shards, is_test, true, embedder.dim()));
  shards.clear();
  for (const auto& c : dataset.categories) features.class_names[c.id] = c.name;
  save_with_test_ids(options.out, features, test_ids, dataset);

  std::string pca_line;
  if (options.pca > 0) {
    linear::PcaParams params;
    params.n_components = options.pca;
    // scikit-learn's rule: the randomized solver when few components of a large matrix are
    // wanted (an exact d × d eigendecomposition costs O(d³) however few rows there are).
    const Eigen::Index n = features.x_train.rows();
    const Eigen::Index d = features.x_train.cols();
    params.solver = std::max(n, d) > 500 && options.pca < 0.8 * static_cast<double>(std::min(n, d))
                        ? linear::PcaSolver::kRandomized
                        : linear::PcaSolver::kFull;
    linear::Pca pca(params);
    pca.fit(features.x_train.view(), context);
    io::FeatureSet reduced;
    reduced.x_train = io::SampleMatrix(pca.transform(features.x_train.view()));
    if (has_test) reduced.x_test = io::SampleMatrix(pca.transform(features.x_test->view()));
    reduced.y_train = features.y_train;
    reduced.y_test = features.y_test;
    reduced.ids = features.ids;
    reduced.class_names = features.class_names;
    const std::filesystem::path dir = options.out / fmt::format("pca{}", options.pca);
    save_with_test_ids(dir, reduced, test_ids, dataset);
    pca_line = fmt::format("wrote {}: {} components ({:.1f}% of the variance)\n", dir.string(),
                           options.pca, 100.0 * pca.explained_variance_ratio().sum());
  }

  const std::filesystem::path skipped_path = options.out / "skipped.json";
  if (skips.empty()) {
    remove_stale(skipped_path);
  } else {
    ordered_json j = ordered_json::array();
    for (const Skip& s : skips) {
      j.push_back({{"annotation_id", s.id}, {"image", s.image}, {"reason", s.reason}});
    }
    write_text_atomically(skipped_path, dump(j, 2) + "\n");
  }
  ordered_json record = manifest;
  record.erase("format");
  record.erase("batch");
  record["train_rows"] = features.x_train.rows();
  record["test_rows"] = has_test ? features.x_test->rows() : 0;
  record["test_fraction"] = options.test_fraction;
  record["seed"] = context.seed;
  record["skipped"] = skips.size();
  record["pca"] = options.pca;
  write_text_atomically(options.out / "embedding.json", dump(record, 2) + "\n");
  std::filesystem::remove_all(partial, error);
  if (error) throw IoError(fmt::format("cannot remove {}: {}", partial.string(), error.message()));

  std::set<std::int64_t> images(row_image.begin(), row_image.end());
  const std::size_t embedded_now = done_boxes;
  out << fmt::format("embedded {} boxes of {} images with {}\n", ids.size(), images.size(),
                     embedder.description());
  if (embedded_now > 0) {
    out << fmt::format("this run: {} boxes in {:.1f} s ({:.1f} crops/s)\n", embedded_now, seconds,
                       seconds > 0 ? static_cast<double>(embedded_now) / seconds : 0.0);
  }
  out << fmt::format("wrote {}: {} train rows{}, {} classes\n", options.out.string(),
                     features.x_train.rows(),
                     has_test
                         ? fmt::format(", {} test rows (split by image)", features.x_test->rows())
                         : std::string(),
                     features.class_names.size())
      << pca_line;
  if (!skips.empty()) {
    std::map<std::string, std::pair<std::string, int>> by_image;
    for (const Skip& s : skips) {
      auto& entry = by_image[s.image.empty() ? fmt::format("annotation {}", s.id) : s.image];
      if (entry.first.empty()) entry.first = s.reason;
      ++entry.second;
    }
    out << fmt::format("skipped {} boxes (listed in {}):\n", skips.size(), skipped_path.string());
    for (const auto& [image, entry] : by_image) {
      out << fmt::format("  {} ({} box{}): {}\n", image, entry.second,
                         entry.second == 1 ? "" : "es", entry.first);
    }
  }
  return kExitOk;
}

}  // namespace coreclean::cli
