#include <coreclean/detect/box_table.h>
#include <coreclean/detect/coco.h>
#include <coreclean/detect/render.h>
#include <coreclean/embed/builtin_features.h>
#include <coreclean/embed/dataset_embedding.h>
#include <coreclean/io/feature_set.h>
#include <coreclean/io/npy.h>
#include <coreclean/io/output_folder.h>
#include <coreclean/io/text_file.h>
#include <coreclean/linear/pca.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

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

#include "core/check.h"

namespace coreclean::embed {
namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

constexpr const char* kPartialDir = ".partial";
constexpr const char* kManifest = "manifest.json";
constexpr const char* kPartialFormat = "coreclean embed partial 2";
constexpr const char* kSkippedFile = "skipped.json";
constexpr const char* kRecordFile = "embedding.json";
constexpr const char* kTestIdsFile = "ids_test.npy";
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

// 64-bit FNV-1a of a file: identifies the COCO file and the model in the manifest, so that a
// resume against edited inputs is refused. Not a security hash; collisions need intent.
std::string fingerprint(const fs::path& path) {
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

std::string absolute_path(const fs::path& p) {
  return fs::weakly_canonical(fs::absolute(p)).string();
}

void remove_stale(const fs::path& path) {
  std::error_code error;
  fs::remove(path, error);
  if (error) throw IoError(fmt::format("cannot remove {}: {}", path.string(), error.message()));
}

// Crops of candidates [begin, end) for one batch; unreadable images and impossible boxes are
// skipped (skip_bad) or raised with the annotation and a hint.
class CropMaker {
 public:
  CropMaker(const detect::CocoDataset& dataset, const std::vector<std::size_t>& candidates,
            const EmbedDatasetOptions& options, const Context& context)
      : dataset_(dataset), candidates_(candidates), options_(options), context_(context) {}

  std::vector<cv::Mat> crops(std::size_t begin, std::size_t end, std::vector<SampleId>& ids,
                             std::vector<SkippedBox>& skips) {
    std::vector<cv::Mat> out;
    for (std::size_t k = begin; k < end; ++k) {
      const detect::CocoAnnotation& a = dataset_.annotations[candidates_[k]];
      const auto image_at = dataset_.image_index(a.image_id);
      if (!image_at) {
        const std::string reason =
            fmt::format("{}: annotation {} refers to image id {}, which is not in 'images'",
                        options_.coco.string(), a.id, a.image_id);
        if (!options_.skip_bad) {
          throw InvalidArgument(reason + "; skip_bad (--skip-bad) skips such boxes");
        }
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
              "{} ({} in {}); `coreclean check` lists such boxes, skip_bad (--skip-bad) skips "
              "them",
              e.what(), info.file_name, options_.coco.string()));
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
    const fs::path path = options_.images / info.file_name;
    Decoded d;
    try {
      d.pixels = detect::read_image(path);
    } catch (const IoError& e) {
      if (!options_.skip_bad) {
        throw IoError(fmt::format("{}; skip_bad (--skip-bad) skips its boxes", e.what()));
      }
      d.error = e.what();
    } catch (const FormatError& e) {
      if (!options_.skip_bad) {
        throw FormatError(fmt::format("{}; skip_bad (--skip-bad) skips its boxes", e.what()));
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
  const EmbedDatasetOptions& options_;
  const Context& context_;
  std::list<std::pair<std::size_t, Decoded>> cache_;
};

// A shard is two files: batch-NNNNNN.json (the ids of its rows and the boxes it skipped),
// written first, then batch-NNNNNN.npy (the rows, float32, uncompressed: compressing cost 5 % of
// the CPU time of a run). Each is written atomically, so the .npy existing means the shard is
// complete.
fs::path shard_rows(const fs::path& partial, std::int64_t batch) {
  return partial / fmt::format("batch-{:06d}.npy", batch);
}

fs::path shard_meta(const fs::path& partial, std::int64_t batch) {
  return partial / fmt::format("batch-{:06d}.json", batch);
}

void write_shard(const fs::path& partial, std::int64_t batch, const RowMatrixXf& x,
                 const std::vector<SampleId>& ids, const std::vector<SkippedBox>& skips) {
  ordered_json meta = {{"ids", ids}, {"skipped", ordered_json::array()}};
  for (const SkippedBox& s : skips) {
    meta["skipped"].push_back({{"id", s.annotation_id}, {"image", s.image}, {"reason", s.reason}});
  }
  io::write_text_atomically(shard_meta(partial, batch), dump(meta, -1));
  io::write_npy(shard_rows(partial, batch), x);
}

struct Shard {
  RowMatrixXf x;
  std::vector<SampleId> ids;
  std::vector<SkippedBox> skips;
};

Shard read_shard(const fs::path& partial, std::int64_t batch, int dim) {
  const fs::path rows_path = shard_rows(partial, batch);
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

// Everything the rows of the shards depend on; a resume must match it exactly.
ordered_json make_manifest(const EmbedDatasetOptions& o, const Embedder& embedder,
                           std::size_t boxes) {
  const EmbedderParams& p = embedder.params();
  ordered_json j;
  j["format"] = kPartialFormat;
  j["coco"] = {{"path", absolute_path(o.coco)},
               {"bytes", fs::file_size(o.coco)},
               {"fnv1a64", fingerprint(o.coco)}};
  j["images"] = absolute_path(o.images);
  if (embedder.uses_model()) {
    j["model"] = {{"path", absolute_path(p.model)},
                  {"bytes", fs::file_size(p.model)},
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
    j["builtin_features"] =
        fmt::format("hsv {}x{}x{} + hog {} (v1)", kHueBins, kSaturationBins, kValueBins, kHogSide);
  }
  j["dim"] = embedder.dim();
  j["padding"] = o.padding;
  j["batch"] = p.batch_size;
  j["skip_bad"] = o.skip_bad;
  j["boxes"] = boxes;
  return j;
}

// Refuses to continue a run made with other settings: its shards would mix two embeddings.
void check_resumable(const fs::path& manifest_path, const ordered_json& manifest) {
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

// Which embedded rows go to the test split (file comment of dataset_embedding.h).
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
  CORECLEAN_THROW_IF_NOT(images.size() >= 2,
                         "test_fraction {}: a split by image needs at least two images with "
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
void save_with_test_ids(const fs::path& dir, const io::FeatureSet& features,
                        const std::vector<SampleId>& test_ids, const detect::CocoDataset& coco) {
  io::save_feature_set(dir, features);
  // Which box each row came from: a session checks its COCO file against it.
  detect::write_box_table(dir / detect::kBoxTableFile, coco, features.ids);
  if (features.x_test) {
    io::write_npy(dir / kTestIdsFile, std::span<const std::int64_t>(test_ids));
  } else {
    remove_stale(dir / kTestIdsFile);
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

// The features directory is an output folder (io/output_folder.h). Every top-level name
// embed_dataset writes or removes is listed here, before any work, so that a folder of an
// earlier run resumes and a user's file of one of these names stops the run before anything is
// written.
io::OutputFolder claim_features_dir(const EmbedDatasetOptions& o) {
  std::vector<fs::path> inputs = {o.coco, o.images};
  if (!o.embedder.model.empty()) inputs.push_back(o.embedder.model);
  io::OutputFolder folder = io::OutputFolder::claim(o.out, "embed", inputs);
  folder.entry(kPartialDir);
  for (const std::string_view name : io::kFeatureSetFiles) folder.entry(name);
  for (const char* name : {kTestIdsFile, kRecordFile, kSkippedFile, detect::kBoxTableFile})
    folder.entry(name);
  if (o.pca > 0) folder.entry(fmt::format("pca{}", o.pca));
  return folder;
}

// Boxes covered by batch b (the last batch may be short).
std::size_t batch_boxes(std::int64_t b, std::size_t batch, std::size_t boxes) {
  return std::min(boxes, static_cast<std::size_t>(b + 1) * batch) -
         static_cast<std::size_t>(b) * batch;
}

// Embeds the batches `pending` into shards of `partial`. Returns the boxes the saved shards
// cover.
std::size_t embed_pending(Embedder& embedder, const detect::CocoDataset& dataset,
                          const std::vector<std::size_t>& candidates,
                          const std::vector<std::int64_t>& pending, const fs::path& partial,
                          const EmbedDatasetOptions& options, const Context& context) {
  const auto batch = static_cast<std::size_t>(options.embedder.batch_size);
  std::size_t remaining_boxes = 0;
  for (std::int64_t b : pending) remaining_boxes += batch_boxes(b, batch, candidates.size());
  // The loader of batch i + 1 runs on a worker while the sink handles batch i; each slot is
  // written by the loader before its future is read, which orders the accesses.
  CropMaker maker(dataset, candidates, options, context);
  std::vector<std::vector<SampleId>> slot_ids(pending.size());
  std::vector<std::vector<SkippedBox>> slot_skips(pending.size());
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
        const std::size_t covered = batch_boxes(b, batch, candidates.size());
        writing = std::async(std::launch::async,
                             [partial, b, x = std::move(x), ids = std::move(slot_ids[slot]),
                              skips = slot_skips[slot], covered] {
                               write_shard(partial, b, x, ids, skips);
                               return covered;
                             });
      },
      context);
  finish_write();
  return done_boxes;
}

}  // namespace

void EmbedDatasetOptions::validate() const {
  embedder.validate();
  CORECLEAN_THROW_IF_NOT(!coco.empty(), "EmbedDatasetOptions: coco (the COCO file) is empty");
  CORECLEAN_THROW_IF_NOT(!images.empty(),
                         "EmbedDatasetOptions: images (the images folder) is empty");
  CORECLEAN_THROW_IF_NOT(!out.empty(),
                         "EmbedDatasetOptions: out (the features directory) is empty");
  CORECLEAN_THROW_IF_NOT(std::isfinite(padding) && padding >= 0.0,
                         "EmbedDatasetOptions: padding must be ≥ 0, got {}", padding);
  CORECLEAN_THROW_IF_NOT(pca >= 0, "EmbedDatasetOptions: pca must be ≥ 0, got {}", pca);
  CORECLEAN_THROW_IF_NOT(test_fraction >= 0.0 && test_fraction < 1.0,
                         "EmbedDatasetOptions: test_fraction must be in [0, 1), got {}",
                         test_fraction);
}

EmbedDatasetResult embed_dataset(const EmbedDatasetOptions& options, const Context& context) {
  options.validate();
  std::error_code error;
  if (!fs::is_directory(options.images, error)) {
    throw IoError(fmt::format("images folder {} is not a directory", options.images.string()));
  }
  // The model loads (and is test-run) before the long COCO read, so a wrong model fails fast.
  Embedder embedder(options.embedder);
  CORECLEAN_THROW_IF_NOT(options.pca <= embedder.dim(),
                         "pca {} asks for more components than the {} dimensions of the features",
                         options.pca, embedder.dim());
  const detect::CocoDataset dataset = detect::read_coco(options.coco);

  std::vector<std::size_t> candidates;
  for (std::size_t i = 0; i < dataset.annotations.size(); ++i) {
    if (!dataset.annotations[i].iscrowd) candidates.push_back(i);
  }
  CORECLEAN_THROW_IF_NOT(!candidates.empty(), "{}: no annotation with iscrowd = 0 (of {}) to embed",
                         options.coco.string(), dataset.annotations.size());
  const auto batch = static_cast<std::size_t>(options.embedder.batch_size);
  const auto n_batches = static_cast<std::int64_t>((candidates.size() + batch - 1) / batch);

  const fs::path partial = claim_features_dir(options).entry(kPartialDir);
  fs::create_directories(partial, error);
  if (error) throw IoError(fmt::format("cannot create {}: {}", partial.string(), error.message()));
  const ordered_json manifest = make_manifest(options, embedder, candidates.size());
  const fs::path manifest_path = partial / kManifest;
  // A work folder without shards holds nothing worth keeping (e.g. a run that stopped at its
  // first bad image), so its settings may change freely.
  bool has_shards = false;
  for (const auto& entry : fs::directory_iterator(partial)) {
    has_shards = has_shards || entry.path().extension() == ".npy";
  }
  if (has_shards && fs::exists(manifest_path)) {
    check_resumable(manifest_path, manifest);
  } else {
    io::write_text_atomically(manifest_path, dump(manifest, 2) + "\n");
  }

  // Shards are written atomically, so a shard that exists is complete.
  std::vector<std::int64_t> pending;
  for (std::int64_t b = 0; b < n_batches; ++b) {
    if (!fs::exists(shard_rows(partial, b))) pending.push_back(b);
  }
  EmbedDatasetResult result;
  result.boxes = candidates.size();
  result.resumed_boxes = candidates.size();
  for (std::int64_t b : pending) result.resumed_boxes -= batch_boxes(b, batch, candidates.size());
  result.embedder = embedder.description();
  result.dim = embedder.dim();
  result.features_dir = options.out;

  const auto start = std::chrono::steady_clock::now();
  result.boxes_this_run =
      embed_pending(embedder, dataset, candidates, pending, partial, options, context);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  // Assemble from the shards alone, so that a resumed run ends exactly like an uninterrupted one.
  std::vector<Shard> shards;
  shards.reserve(static_cast<std::size_t>(n_batches));
  std::vector<SampleId> ids;
  for (std::int64_t b = 0; b < n_batches; ++b) {
    Shard s = read_shard(partial, b, embedder.dim());
    ids.insert(ids.end(), s.ids.begin(), s.ids.end());
    result.skipped.insert(result.skipped.end(), s.skips.begin(), s.skips.end());
    shards.push_back(std::move(s));
  }
  CORECLEAN_THROW_IF_NOT(!ids.empty(), "no box of {} could be embedded ({} skipped)",
                         options.coco.string(), result.skipped.size());
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
  result.train_rows = features.x_train.rows();
  result.test_rows = has_test ? features.x_test->rows() : 0;
  result.images = std::set<std::int64_t>(row_image.begin(), row_image.end()).size();
  result.classes = features.class_names.size();

  if (options.pca > 0) {
    linear::PcaParams params;
    params.n_components = options.pca;
    params.solver = linear::PcaSolver::kAuto;
    linear::Pca pca(params);
    pca.fit(features.x_train.view(), context);
    io::FeatureSet reduced;
    reduced.x_train = io::SampleMatrix(pca.transform(features.x_train.view()));
    if (has_test) reduced.x_test = io::SampleMatrix(pca.transform(features.x_test->view()));
    reduced.y_train = features.y_train;
    reduced.y_test = features.y_test;
    reduced.ids = features.ids;
    reduced.class_names = features.class_names;
    result.pca_dir = options.out / fmt::format("pca{}", options.pca);
    save_with_test_ids(result.pca_dir, reduced, test_ids, dataset);
    result.pca_explained_variance = pca.explained_variance_ratio().sum();
  }

  const fs::path skipped_path = options.out / kSkippedFile;
  if (result.skipped.empty()) {
    remove_stale(skipped_path);
  } else {
    ordered_json j = ordered_json::array();
    for (const SkippedBox& s : result.skipped) {
      j.push_back({{"annotation_id", s.annotation_id}, {"image", s.image}, {"reason", s.reason}});
    }
    io::write_text_atomically(skipped_path, dump(j, 2) + "\n");
    result.skipped_file = skipped_path;
  }
  ordered_json record = manifest;
  record.erase("format");
  record.erase("batch");
  record["train_rows"] = result.train_rows;
  record["test_rows"] = result.test_rows;
  record["test_fraction"] = options.test_fraction;
  record["seed"] = context.seed;
  record["skipped"] = result.skipped.size();
  record["pca"] = options.pca;
  io::write_text_atomically(options.out / kRecordFile, dump(record, 2) + "\n");
  fs::remove_all(partial, error);
  if (error) throw IoError(fmt::format("cannot remove {}: {}", partial.string(), error.message()));
  return result;
}

}  // namespace coreclean::embed
