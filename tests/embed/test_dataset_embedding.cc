// embed_dataset on small synthetic COCO datasets (noise images, built-in features): the files of
// the features directory and their shapes, resuming after a cancel, refusing a resume with other
// settings, the split by image, and skip_bad.
#include <coreclean/core/error.h>
#include <coreclean/detect/render.h>
#include <coreclean/embed/builtin_features.h>
#include <coreclean/embed/dataset_embedding.h>
#include <coreclean/io/feature_set.h>
#include <coreclean/io/npy.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "testing/helpers.h"

namespace coreclean::embed {
namespace {

namespace fs = std::filesystem;
using testing::contains;
using testing::error_of;

// A COCO dataset written by make_dataset: what each embedded box must become.
struct Dataset {
  fs::path coco;
  fs::path images;
  std::vector<SampleId> ids;                  // non-crowd annotation ids, in file order
  std::map<SampleId, std::int64_t> image_of;  // annotation id → image id (non-crowd only)
  std::map<SampleId, Label> label_of;         // annotation id → category id (non-crowd only)
};

// `boxes_per_image[i]` boxes on image i + 1, a 64 × 48 noise image (seeded by i); annotation ids
// count from 100 in file order; box j of image i has category (i + j) % 3 + 1 ("a", "b", "c")
// unless `label` says otherwise. The annotation `crowd` (an id, 0 = none) is a crowd region.
Dataset make_dataset(const fs::path& dir, const std::vector<int>& boxes_per_image,
                     SampleId crowd = 0,
                     const std::map<SampleId, Label>& label = std::map<SampleId, Label>()) {
  Dataset d;
  d.coco = dir / "coco.json";
  d.images = dir / "images";
  fs::create_directories(d.images);
  nlohmann::json images = nlohmann::json::array();
  nlohmann::json annotations = nlohmann::json::array();
  SampleId id = 100;
  for (std::size_t i = 0; i < boxes_per_image.size(); ++i) {
    const auto image_id = static_cast<std::int64_t>(i + 1);
    const std::string name = "image" + std::to_string(image_id) + ".png";
    cv::Mat pixels(48, 64, CV_8UC3);
    cv::RNG rng(static_cast<std::uint64_t>(17 + i));
    rng.fill(pixels, cv::RNG::UNIFORM, 0, 256);
    detect::write_image(d.images / name, pixels);
    images.push_back({{"id", image_id}, {"file_name", name}, {"width", 64}, {"height", 48}});
    for (int j = 0; j < boxes_per_image[i]; ++j, ++id) {
      const Label category = label.count(id)
                                 ? label.at(id)
                                 : static_cast<Label>((i + static_cast<std::size_t>(j)) % 3 + 1);
      annotations.push_back({{"id", id},
                             {"image_id", image_id},
                             {"category_id", category},
                             {"bbox", {2 + 5 * j, 3 + 4 * j, 20 + j, 16 - j}},
                             {"iscrowd", id == crowd ? 1 : 0}});
      if (id == crowd) continue;
      d.ids.push_back(id);
      d.image_of[id] = image_id;
      d.label_of[id] = category;
    }
  }
  const nlohmann::json coco = {
      {"images", images},
      {"categories",
       {{{"id", 1}, {"name", "a"}}, {{"id", 2}, {"name", "b"}}, {{"id", 3}, {"name", "c"}}}},
      {"annotations", annotations}};
  testing::write_text(d.coco, coco.dump());
  return d;
}

EmbedDatasetOptions options_for(const Dataset& d, const fs::path& out) {
  EmbedDatasetOptions o;
  o.coco = d.coco;
  o.images = d.images;
  o.out = out;
  return o;
}

std::vector<SampleId> npy_ids(const fs::path& file) {
  const io::NpyArray a = io::read_npy(file);
  return {a.data<std::int64_t>(), a.data<std::int64_t>() + a.size()};
}

std::set<std::string> shards_in(const fs::path& partial) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(partial)) {
    if (e.path().extension() == ".npy") names.insert(e.path().filename());
  }
  return names;
}

Context seeded(std::uint64_t seed) {
  Context c;
  c.seed = seed;
  return c;
}

// The library's single default of swap_rb: crops are fed in OpenCV's BGR order unless asked
// (what `coreclean embed` without --swap-rb has always done).
TEST(EmbedDataset, SwapRbIsOffByDefault) {
  EXPECT_FALSE(EmbedDatasetOptions{}.embedder.swap_rb);
  EXPECT_FALSE(EmbedderParams{}.swap_rb);
}

// Six images, 17 non-crowd boxes, a test share of 0.34 and PCA to 5: every file is there with
// the shapes and values the result reports, rows are the built-in features of the crops, and no
// work folder is left.
TEST(EmbedDataset, WritesTheFeaturesDirectoryWithItsShapes) {
  testing::TempDir dir;
  const Dataset d = make_dataset(dir.path(), {3, 3, 3, 3, 3, 3}, /*crowd=*/104);
  EmbedDatasetOptions o = options_for(d, dir / "features");
  o.embedder.batch_size = 4;
  o.test_fraction = 0.34;
  o.pca = 5;
  const EmbedDatasetResult r = embed_dataset(o, seeded(1));

  EXPECT_EQ(r.boxes, 17u);
  EXPECT_EQ(r.resumed_boxes, 0u);
  EXPECT_EQ(r.boxes_this_run, 17u);
  EXPECT_EQ(r.dim, kBuiltinFeatureDim);
  EXPECT_TRUE(contains(r.embedder, "1892"));
  EXPECT_EQ(r.images, 6u);
  EXPECT_EQ(r.classes, 3u);
  EXPECT_TRUE(r.skipped.empty());
  EXPECT_TRUE(r.skipped_file.empty());
  EXPECT_EQ(r.features_dir, o.out);
  EXPECT_EQ(r.pca_dir, o.out / "pca5");
  EXPECT_GT(r.pca_explained_variance, 0.0);
  EXPECT_LE(r.pca_explained_variance, 1.0);

  const io::FeatureSet f = io::load_feature_set(o.out);
  const std::vector<SampleId> test_ids = npy_ids(o.out / "ids_test.npy");
  ASSERT_TRUE(f.x_test.has_value());
  // round(0.34 · 6) = 2 test images of 3 boxes each, except image 2, which lost its crowd box.
  std::set<std::int64_t> test_images;
  for (SampleId id : test_ids) test_images.insert(d.image_of.at(id));
  EXPECT_EQ(test_images.size(), 2u);
  EXPECT_EQ(r.test_rows, static_cast<std::int64_t>(test_ids.size()));
  EXPECT_EQ(r.train_rows + r.test_rows, 17);
  EXPECT_EQ(f.x_train.rows(), r.train_rows);
  EXPECT_EQ(f.x_test->rows(), r.test_rows);
  EXPECT_EQ(f.x_train.cols(), kBuiltinFeatureDim);
  EXPECT_EQ(f.x_test->cols(), kBuiltinFeatureDim);
  ASSERT_EQ(f.ids.size(), static_cast<std::size_t>(r.train_rows));
  // Each split keeps the annotation order, and together they hold every non-crowd box once.
  EXPECT_TRUE(std::is_sorted(f.ids.begin(), f.ids.end()));
  EXPECT_TRUE(std::is_sorted(test_ids.begin(), test_ids.end()));
  std::vector<SampleId> all = f.ids;
  all.insert(all.end(), test_ids.begin(), test_ids.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, d.ids);
  for (std::size_t i = 0; i < f.ids.size(); ++i) EXPECT_EQ(f.y_train[i], d.label_of.at(f.ids[i]));
  for (std::size_t i = 0; i < test_ids.size(); ++i)
    EXPECT_EQ(f.y_test[i], d.label_of.at(test_ids[i]));
  EXPECT_EQ(f.class_names, (ClassNames{{1, "a"}, {2, "b"}, {3, "c"}}));

  // Row 0 is the built-in features of its box's crop, bit for bit.
  const detect::CocoDataset coco = detect::read_coco(d.coco);
  const detect::CocoAnnotation& first = coco.annotations[*coco.annotation_index(f.ids[0])];
  const cv::Mat image =
      detect::read_image(d.images / coco.images[*coco.image_index(first.image_id)].file_name);
  const std::vector<cv::Mat> crop = {detect::crop_annotation(image, first)};
  EXPECT_EQ(RowMatrixXf(f.x_train.view().row(0)), builtin_features(crop));

  // boxes.npy: one (image_id, x, y, w, h) row per train row.
  const io::NpyArray boxes = io::read_npy(o.out / "boxes.npy");
  ASSERT_EQ(boxes.shape(), (std::vector<std::int64_t>{r.train_rows, 5}));
  const double* b0 = boxes.data<double>();
  EXPECT_EQ(b0[0], static_cast<double>(first.image_id));
  EXPECT_EQ(b0[1], first.bbox.x);
  EXPECT_EQ(b0[3], first.bbox.w);

  const io::FeatureSet reduced = io::load_feature_set(o.out / "pca5");
  EXPECT_EQ(reduced.x_train.rows(), r.train_rows);
  EXPECT_EQ(reduced.x_train.cols(), 5);
  ASSERT_TRUE(reduced.x_test.has_value());
  EXPECT_EQ(reduced.x_test->cols(), 5);
  EXPECT_EQ(reduced.ids, f.ids);
  EXPECT_EQ(npy_ids(o.out / "pca5" / "ids_test.npy"), test_ids);
  EXPECT_TRUE(fs::exists(o.out / "pca5" / "boxes.npy"));

  const nlohmann::json record = nlohmann::json::parse(testing::read_text(o.out / "embedding.json"));
  EXPECT_EQ(record["dim"], kBuiltinFeatureDim);
  EXPECT_EQ(record["boxes"], 17);
  EXPECT_EQ(record["train_rows"], r.train_rows);
  EXPECT_EQ(record["test_rows"], r.test_rows);
  EXPECT_EQ(record["pca"], 5);
  EXPECT_EQ(record["seed"], 1);
  EXPECT_EQ(record["skipped"], 0);
  EXPECT_TRUE(record["model"].is_null());
  EXPECT_FALSE(record.contains("batch"));  // a setting of the work, not of the result
  EXPECT_FALSE(fs::exists(o.out / ".partial"));
  EXPECT_FALSE(fs::exists(o.out / "skipped.json"));
}

// Options for the resume tests: 17 boxes in nine batches of two, a split and PCA.
EmbedDatasetOptions resumable_options(const Dataset& d, const fs::path& out) {
  EmbedDatasetOptions o = options_for(d, out);
  o.embedder.batch_size = 2;
  o.test_fraction = 0.34;
  o.pca = 3;
  return o;
}

// Runs `o` and cancels it from the progress report of its first saved shard: Cancelled is
// thrown and the shards 0 and 1 (the second was being written and is completed) stay.
void run_and_cancel_after_first_shard(const EmbedDatasetOptions& o) {
  Context interrupted = seeded(7);
  std::vector<std::int64_t> reported;
  interrupted.progress = [&](std::int64_t done, std::int64_t total, std::string_view what) {
    reported.push_back(done);
    EXPECT_EQ(total, 17);
    EXPECT_EQ(what, "embedding boxes");
    interrupted.cancel = true;
  };
  EXPECT_TRUE(contains(error_of<Cancelled>([&] { embed_dataset(o, interrupted); }), "cancel"));
  EXPECT_EQ(reported, std::vector<std::int64_t>{2});
  EXPECT_EQ(shards_in(o.out / ".partial"),
            (std::set<std::string>{"batch-000000.npy", "batch-000001.npy"}));
  EXPECT_TRUE(fs::exists(o.out / ".partial" / "manifest.json"));
  EXPECT_FALSE(fs::exists(o.out / "X_train.npy"));
}

// A run cancelled after its first shard and run again embeds only the other 13 boxes and ends
// with byte-identical files (features, split, PCA, records, marker) to an uninterrupted run.
TEST(EmbedDataset, ResumeAfterCancelIsByteIdentical) {
  testing::TempDir dir;
  const Dataset d = make_dataset(dir.path(), {3, 3, 3, 3, 3, 3}, /*crowd=*/104);
  const EmbedDatasetResult whole = embed_dataset(resumable_options(d, dir / "whole"), seeded(7));
  EXPECT_EQ(whole.resumed_boxes, 0u);

  const EmbedDatasetOptions o = resumable_options(d, dir / "resumed");
  run_and_cancel_after_first_shard(o);
  std::int64_t last_total = 0;
  Context again = seeded(7);
  again.progress = [&](std::int64_t, std::int64_t total, std::string_view) { last_total = total; };
  const EmbedDatasetResult resumed = embed_dataset(o, again);
  EXPECT_EQ(resumed.resumed_boxes, 4u);
  EXPECT_EQ(resumed.boxes_this_run, 13u);
  EXPECT_EQ(last_total, 13);
  EXPECT_EQ(resumed.train_rows, whole.train_rows);
  EXPECT_EQ(resumed.test_rows, whole.test_rows);

  const auto a = testing::files_under(dir / "whole");
  const auto b = testing::files_under(dir / "resumed");
  EXPECT_EQ(a.size(), b.size());
  for (const auto& [name, bytes] : a) {
    ASSERT_TRUE(b.count(name)) << name;
    EXPECT_TRUE(b.at(name) == bytes) << name << " differs";
  }
  for (const char* name : {"X_train.npy", "X_test.npy", "ids_test.npy", "boxes.npy",
                           "embedding.json", "pca3/X_train.npy", "pca3/X_test.npy"}) {
    EXPECT_TRUE(a.count(name)) << name;
  }
  EXPECT_FALSE(fs::exists(dir / "resumed" / ".partial"));
}

// Once a shard is saved, a resume with another padding, batch size or skip_bad, or against an
// edited COCO file, is refused with InvalidArgument naming each change, and the shards are left
// as they were; pca, test_fraction and the seed may change.
TEST(EmbedDataset, ResumeWithOtherSettingsIsRefused) {
  testing::TempDir dir;
  const Dataset d = make_dataset(dir.path(), {3, 3, 3, 3, 3, 3}, /*crowd=*/104);
  const EmbedDatasetOptions o = resumable_options(d, dir / "features");
  run_and_cancel_after_first_shard(o);
  const auto shards = testing::files_under(o.out / ".partial");

  EmbedDatasetOptions changed = o;
  changed.padding = 0.1;
  changed.embedder.batch_size = 3;
  changed.skip_bad = true;
  const std::string refused = error_of<InvalidArgument>([&] { embed_dataset(changed, seeded(7)); });
  EXPECT_TRUE(contains(refused, "padding: 0.0 → 0.1")) << refused;
  EXPECT_TRUE(contains(refused, "batch: 2 → 3")) << refused;
  EXPECT_TRUE(contains(refused, "skip_bad: false → true")) << refused;
  EXPECT_TRUE(contains(refused, ".partial")) << refused;

  const std::string coco_text = testing::read_text(d.coco);
  testing::write_text(d.coco, coco_text + "\n");
  const std::string edited = error_of<InvalidArgument>([&] { embed_dataset(o, seeded(7)); });
  EXPECT_TRUE(contains(edited, "coco: ")) << edited;
  EXPECT_FALSE(contains(edited, "padding"));
  testing::write_text(d.coco, coco_text);
  EXPECT_EQ(testing::files_under(o.out / ".partial"), shards);

  EmbedDatasetOptions final_only = o;
  final_only.pca = 0;
  final_only.test_fraction = 0.0;
  const EmbedDatasetResult r = embed_dataset(final_only, seeded(8));
  EXPECT_EQ(r.resumed_boxes, 4u);
  EXPECT_EQ(r.train_rows, 17);
  EXPECT_EQ(r.test_rows, 0);
}

// The split is by image: for every seed, round(0.3 · 10) = 3 whole images form the test split,
// no image has boxes on both sides, and each row's side is its image's. The same seed gives the
// same split; the seeds do not all give the same one.
TEST(EmbedDataset, SplitByImageKeepsAllBoxesOfAnImageOnOneSide) {
  testing::TempDir dir;
  const Dataset d = make_dataset(dir.path(), {1, 2, 3, 4, 1, 2, 3, 4, 2, 3});
  std::set<std::set<std::int64_t>> splits;
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    EmbedDatasetOptions o = options_for(d, dir / ("seed" + std::to_string(seed)));
    o.embedder.batch_size = 8;
    o.test_fraction = 0.3;
    const EmbedDatasetResult r = embed_dataset(o, seeded(seed));
    const io::FeatureSet f = io::load_feature_set(o.out);
    const std::vector<SampleId> test_ids = npy_ids(o.out / "ids_test.npy");
    std::set<std::int64_t> train_images, test_images;
    for (SampleId id : f.ids) train_images.insert(d.image_of.at(id));
    for (SampleId id : test_ids) test_images.insert(d.image_of.at(id));
    EXPECT_EQ(test_images.size(), 3u) << "seed " << seed;
    EXPECT_EQ(train_images.size(), 7u) << "seed " << seed;
    for (std::int64_t image : test_images) EXPECT_FALSE(train_images.count(image)) << image;
    // Every box of a test image is in the test split.
    std::size_t boxes_of_test_images = 0;
    for (SampleId id : d.ids) boxes_of_test_images += test_images.count(d.image_of.at(id));
    EXPECT_EQ(test_ids.size(), boxes_of_test_images);
    EXPECT_EQ(r.test_rows + r.train_rows, 25);
    splits.insert(test_images);
    if (seed == 1) {
      EmbedDatasetOptions again = o;
      again.out = dir / "seed1-again";
      embed_dataset(again, seeded(1));
      EXPECT_EQ(npy_ids(again.out / "ids_test.npy"), test_ids);
    }
  }
  EXPECT_GT(splits.size(), 1u);
}

// A class found on one image only keeps that image in train whatever the seed: every test class
// needs training rows. One image cannot be split.
TEST(EmbedDataset, SplitKeepsTheOnlyImageOfAClassInTrain) {
  testing::TempDir dir;
  // Annotation 100 (the single box of image 1) is the only one of class 3 ("c").
  std::map<SampleId, Label> labels;
  const std::vector<int> counts = {1, 2, 2, 2, 2, 2};
  SampleId id = 100;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    for (int j = 0; j < counts[i]; ++j, ++id) labels[id] = i == 0 ? 3 : 1 + (j % 2);
  }
  const Dataset d = make_dataset(dir.path(), counts, 0, labels);
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    EmbedDatasetOptions o = options_for(d, dir / ("seed" + std::to_string(seed)));
    o.test_fraction = 0.5;
    embed_dataset(o, seeded(seed));
    const io::FeatureSet f = io::load_feature_set(o.out);
    EXPECT_NE(std::find(f.ids.begin(), f.ids.end(), SampleId{100}), f.ids.end()) << "seed " << seed;
    std::set<Label> train_classes(f.y_train.begin(), f.y_train.end());
    for (Label y : f.y_test) EXPECT_TRUE(train_classes.count(y)) << "seed " << seed;
  }

  testing::TempDir one;
  const Dataset single = make_dataset(one.path(), {3});
  EmbedDatasetOptions o = options_for(single, one / "features");
  o.test_fraction = 0.5;
  EXPECT_TRUE(
      contains(error_of<InvalidArgument>([&] { embed_dataset(o); }), "at least two images"));
}

// make_dataset's images 1 (annotations 100–103), 2 (104, 105) and 3 (106), then spoiled: image2.png
// is deleted, image3.png is not an image, box 102 has no pixels, and annotation 107 names image
// id 99, which does not exist.
Dataset make_bad_dataset(const fs::path& dir) {
  Dataset d = make_dataset(dir, {4, 2, 1});
  fs::remove(d.images / "image2.png");
  testing::write_text(d.images / "image3.png", "not a PNG");
  nlohmann::json coco = nlohmann::json::parse(testing::read_text(d.coco));
  coco["annotations"][2]["bbox"][2] = 0;
  coco["annotations"].push_back(
      {{"id", 107}, {"image_id", 99}, {"category_id", 1}, {"bbox", {2, 2, 9, 9}}});
  testing::write_text(d.coco, coco.dump());
  return d;
}

// Keeps only the annotations `ids` of the COCO file.
void keep_annotations(const fs::path& coco_path, const std::set<SampleId>& ids) {
  nlohmann::json coco = nlohmann::json::parse(testing::read_text(coco_path));
  nlohmann::json kept = nlohmann::json::array();
  for (const auto& a : coco["annotations"]) {
    if (ids.count(a["id"].get<SampleId>())) kept.push_back(a);
  }
  coco["annotations"] = kept;
  testing::write_text(coco_path, coco.dump());
}

// With skip_bad the good boxes are embedded and the five bad ones are listed, in annotation
// order, in the result and in skipped.json (the last two batches of two hold only bad boxes and
// are empty shards); a clean run into the same folder removes the stale skipped.json.
TEST(EmbedDataset, SkipBadEmbedsTheRestAndListsTheSkippedBoxes) {
  testing::TempDir dir;
  const Dataset d = make_bad_dataset(dir.path());
  EmbedDatasetOptions o = options_for(d, dir / "features");
  o.embedder.batch_size = 2;
  o.skip_bad = true;
  const EmbedDatasetResult r = embed_dataset(o);
  EXPECT_EQ(r.boxes, 8u);
  EXPECT_EQ(r.train_rows, 3);
  ASSERT_EQ(r.skipped.size(), 5u);
  const std::vector<std::pair<SampleId, std::string>> expected = {{102, "image1.png"},
                                                                  {104, "image2.png"},
                                                                  {105, "image2.png"},
                                                                  {106, "image3.png"},
                                                                  {107, ""}};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(r.skipped[i].annotation_id, expected[i].first) << i;
    EXPECT_EQ(r.skipped[i].image, expected[i].second) << i;
  }
  EXPECT_TRUE(contains(r.skipped[0].reason, "is empty"));
  EXPECT_TRUE(contains(r.skipped[1].reason, "image2.png"));
  EXPECT_TRUE(contains(r.skipped[3].reason, "not a decodable image"));
  EXPECT_TRUE(contains(r.skipped[4].reason, "image id 99"));
  EXPECT_EQ(r.skipped_file, o.out / "skipped.json");
  const io::FeatureSet f = io::load_feature_set(o.out);
  EXPECT_EQ(f.ids, (std::vector<SampleId>{100, 101, 103}));
  EXPECT_EQ(f.y_train, (Labels{1, 2, 1}));
  const nlohmann::json listed = nlohmann::json::parse(testing::read_text(r.skipped_file));
  ASSERT_EQ(listed.size(), 5u);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(listed[i]["annotation_id"], expected[i].first);
    EXPECT_EQ(listed[i]["image"], expected[i].second);
    EXPECT_EQ(listed[i]["reason"], r.skipped[i].reason);
  }
  EXPECT_EQ(nlohmann::json::parse(testing::read_text(o.out / "embedding.json"))["skipped"], 5);

  keep_annotations(d.coco, {100, 101});
  const EmbedDatasetResult clean = embed_dataset(o);
  EXPECT_TRUE(clean.skipped.empty());
  EXPECT_TRUE(clean.skipped_file.empty());
  EXPECT_FALSE(fs::exists(o.out / "skipped.json"));
  EXPECT_EQ(io::load_feature_set(o.out).ids, (std::vector<SampleId>{100, 101}));
}

// Without skip_bad each bad box stops the run with the error of its kind, naming the file or the
// box and saying how to skip it: a missing image (IoError), an undecodable one (FormatError), a
// box without pixels and an unknown image id (InvalidArgument). When every box is bad, skip_bad
// still fails, saying how many were skipped.
TEST(EmbedDataset, BadBoxesWithoutSkipBadAndNothingToEmbed) {
  testing::TempDir dir;
  const Dataset d = make_bad_dataset(dir.path());
  const EmbedDatasetOptions o = options_for(d, dir / "features");
  const std::string coco_text = testing::read_text(d.coco);
  const auto only = [&](SampleId id) {
    testing::write_text(d.coco, coco_text);
    keep_annotations(d.coco, {id});
  };
  only(104);
  const std::string missing = error_of<IoError>([&] { embed_dataset(o); });
  EXPECT_TRUE(contains(missing, "image2.png")) << missing;
  EXPECT_TRUE(contains(missing, "skip_bad")) << missing;
  only(106);
  const std::string broken = error_of<FormatError>([&] { embed_dataset(o); });
  EXPECT_TRUE(contains(broken, "image3.png")) << broken;
  EXPECT_TRUE(contains(broken, "not a decodable image")) << broken;
  only(102);
  const std::string empty = error_of<InvalidArgument>([&] { embed_dataset(o); });
  EXPECT_TRUE(contains(empty, "image1.png")) << empty;
  EXPECT_TRUE(contains(empty, "coreclean check")) << empty;
  only(107);
  const std::string unknown = error_of<InvalidArgument>([&] { embed_dataset(o); });
  EXPECT_TRUE(contains(unknown, "annotation 107 refers to image id 99")) << unknown;
  EXPECT_FALSE(fs::exists(o.out / "X_train.npy"));

  EmbedDatasetOptions skipping = o;
  skipping.skip_bad = true;
  const std::string nothing = error_of<InvalidArgument>([&] { embed_dataset(skipping); });
  EXPECT_TRUE(contains(nothing, "no box of")) << nothing;
  EXPECT_TRUE(contains(nothing, "1 skipped")) << nothing;
}

// Bad options are refused before anything is written, naming the field and the value; so are
// more PCA components than the embedding has and an output folder that holds the inputs.
TEST(EmbedDataset, BadOptionsAreRefused) {
  testing::TempDir dir;
  const Dataset d = make_dataset(dir.path(), {2, 2});
  const auto refused = [&](const std::function<void(EmbedDatasetOptions&)>& change) {
    EmbedDatasetOptions o = options_for(d, dir / "features");
    change(o);
    return error_of<InvalidArgument>([&] { embed_dataset(o); });
  };
  EXPECT_TRUE(
      contains(refused([](auto& o) { o.padding = -0.5; }), "padding must be ≥ 0, got -0.5"));
  EXPECT_TRUE(contains(refused([](auto& o) { o.pca = -1; }), "pca must be ≥ 0, got -1"));
  EXPECT_TRUE(contains(refused([](auto& o) { o.test_fraction = 1.0; }), "test_fraction"));
  EXPECT_TRUE(contains(refused([](auto& o) { o.embedder.batch_size = 0; }), "batch_size"));
  EXPECT_TRUE(contains(refused([](auto& o) { o.out.clear(); }), "out"));
  EXPECT_TRUE(contains(refused([](auto& o) { o.pca = 2000; }), "1892 dimensions"));
  EXPECT_TRUE(contains(refused([&](auto& o) { o.out = dir.path(); }), "holds the input"));
  EXPECT_FALSE(fs::exists(dir / "features"));
}

}  // namespace
}  // namespace coreclean::embed
