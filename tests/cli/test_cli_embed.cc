// `coreclean embed`: features directory contents, resume identity, bad inputs (in-process, and as
// a process for exit codes).
#include <coreclean/core/error.h>
#include <coreclean/detect/render.h>
#include <coreclean/embed/embedder.h>
#include <coreclean/io/feature_set.h>
#include <coreclean/io/npy.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "embed.h"
#include "testing/helpers.h"

namespace coreclean::cli {
namespace {

namespace fs = std::filesystem;
using testing::contains;

// A COCO file with the first `n_images` images of BCCD and their boxes; the second box is made a
// crowd region, so it must not be embedded. Returns the ids that must be embedded, in order.
std::vector<SampleId> write_bccd_subset(const fs::path& path, std::size_t n_images) {
  const fs::path bccd = testing::shared_data_dir() / "bccd";
  nlohmann::json coco = nlohmann::json::parse(std::ifstream(bccd / "instances.json"));
  nlohmann::json images = nlohmann::json::array();
  std::set<std::int64_t> kept;
  for (std::size_t i = 0; i < n_images; ++i) {
    images.push_back(coco["images"][i]);
    kept.insert(coco["images"][i]["id"].get<std::int64_t>());
  }
  nlohmann::json annotations = nlohmann::json::array();
  std::vector<SampleId> expected;
  for (const auto& a : coco["annotations"]) {
    if (!kept.count(a["image_id"].get<std::int64_t>())) continue;
    annotations.push_back(a);
    if (annotations.size() == 2) {
      annotations.back()["iscrowd"] = 1;
    } else {
      expected.push_back(a["id"].get<SampleId>());
    }
  }
  coco["images"] = images;
  coco["annotations"] = annotations;
  testing::write_text(path, coco.dump());
  return expected;
}

EmbedOptions bccd_options(const fs::path& coco, const fs::path& out) {
  EmbedOptions o;
  o.coco = coco;
  o.images = testing::shared_data_dir() / "bccd" / "images";
  o.out = out;
  return o;
}

// With the shared MobileNetV2 on two BCCD images: one row per non-crowd box, ids in file order,
// labels = category ids, classes.json = category names, rows equal to the Embedder's on the same
// crops, and no work folder left behind.
TEST(CliEmbed, ModelEndToEndOnBccdSubset) {
  CORECLEAN_REQUIRE_SHARED_DATA();
  testing::TempDir dir;
  const std::vector<SampleId> expected = write_bccd_subset(dir / "coco.json", 2);
  EmbedOptions o = bccd_options(dir / "coco.json", dir / "features");
  o.model = testing::shared_data_dir() / "models" / "mobilenet_v2_nsfwjs.onnx";
  o.swap_rb = true;
  o.batch = 8;
  std::ostringstream log;
  ASSERT_EQ(run_embed(o, Context(), log), 0);
  EXPECT_TRUE(contains(log.str(), "'embedding', 1280 dimensions")) << log.str();

  const io::FeatureSet f = io::load_feature_set(o.out);
  ASSERT_EQ(f.x_train.rows(), static_cast<Eigen::Index>(expected.size()));
  EXPECT_EQ(f.x_train.cols(), 1280);
  EXPECT_EQ(f.ids, expected);
  EXPECT_FALSE(f.x_test.has_value());
  EXPECT_EQ(f.class_names, (ClassNames{{1, "RBC"}, {2, "WBC"}, {3, "Platelets"}}));
  EXPECT_FALSE(fs::exists(o.out / ".partial"));
  EXPECT_FALSE(fs::exists(o.out / "skipped.json"));

  const detect::CocoDataset coco = detect::read_coco(o.coco);
  std::vector<cv::Mat> crops;
  for (std::size_t i : {std::size_t{0}, expected.size() - 1}) {
    const auto& a = coco.annotations[*coco.annotation_index(expected[i])];
    EXPECT_EQ(f.y_train[i], a.category_id);
    const auto& image = coco.images[*coco.image_index(a.image_id)];
    crops.push_back(detect::crop_annotation(detect::read_image(o.images / image.file_name), a));
  }
  embed::EmbedderParams p;
  p.model = o.model;
  p.swap_rb = true;
  embed::Embedder embedder(p);
  const RowMatrixXf direct = embedder.embed(crops);
  EXPECT_EQ(RowMatrixXf(f.x_train.view().row(0)), RowMatrixXf(direct.row(0)));
  EXPECT_EQ(RowMatrixXf(f.x_train.view().bottomRows(1)), RowMatrixXf(direct.row(1)));
}

// A run cancelled when the third batch is reported on disk keeps four batches in .partial (the
// fourth was already being written and is completed, never left half-written); running the
// same command again embeds only the rest and ends with byte-identical files (features, split,
// PCA) to an uninterrupted run. A resume with other settings is refused, naming the setting.
TEST(CliEmbed, ResumeAfterCancelIsByteIdentical) {
  CORECLEAN_REQUIRE_SHARED_DATA();
  testing::TempDir dir;
  const std::vector<SampleId> expected = write_bccd_subset(dir / "coco.json", 10);
  auto options = [&](const fs::path& out) {
    EmbedOptions o = bccd_options(dir / "coco.json", out);
    o.batch = 16;
    o.pca = 8;
    o.test_fraction = 0.3;
    return o;
  };
  Context seeded;
  seeded.seed = 7;
  std::ostringstream log;
  ASSERT_EQ(run_embed(options(dir / "whole"), seeded, log), 0);

  Context interrupted;
  interrupted.seed = 7;
  int batches = 0;
  interrupted.progress = [&](std::int64_t, std::int64_t, std::string_view) {
    if (++batches == 3) interrupted.cancel = true;
  };
  EXPECT_TRUE(contains(
      testing::error_of<Error>([&] { run_embed(options(dir / "resumed"), interrupted, log); }),
      "cancelled"));
  std::set<std::string> partial;  // finished batches (the rows; ids sit beside them in .json)
  for (const auto& e : fs::directory_iterator(dir / "resumed" / ".partial")) {
    if (e.path().extension() == ".npy") partial.insert(e.path().filename());
  }
  EXPECT_EQ(partial, (std::set<std::string>{"batch-000000.npy", "batch-000001.npy",
                                            "batch-000002.npy", "batch-000003.npy"}));
  EXPECT_TRUE(fs::exists(dir / "resumed" / ".partial" / "manifest.json"));
  EXPECT_FALSE(fs::exists(dir / "resumed" / "X_train.npy"));

  EmbedOptions changed = options(dir / "resumed");
  changed.padding = 0.1;
  const std::string refused =
      testing::error_of<InvalidArgument>([&] { run_embed(changed, seeded, log); });
  EXPECT_TRUE(contains(refused, "padding: 0.0 → 0.1")) << refused;
  EXPECT_TRUE(contains(refused, ".partial")) << refused;

  std::ostringstream resumed_log;
  ASSERT_EQ(run_embed(options(dir / "resumed"), seeded, resumed_log), 0);
  EXPECT_TRUE(contains(resumed_log.str(), fmt::format("resuming: 64 of {} boxes", expected.size())))
      << resumed_log.str();
  const auto whole = testing::files_under(dir / "whole");
  const auto resumed = testing::files_under(dir / "resumed");
  EXPECT_EQ(whole.size(), resumed.size());
  for (const auto& [name, bytes] : whole) {
    ASSERT_TRUE(resumed.count(name)) << name;
    EXPECT_TRUE(resumed.at(name) == bytes) << name << " differs";
  }
  for (const char* name : {"X_train.npy", "X_test.npy", "ids_test.npy", "pca8/X_train.npy",
                           "pca8/ids_test.npy", "embedding.json"}) {
    EXPECT_TRUE(whole.count(name)) << name;
  }

  // The split is by image: no image on both sides, and all non-crowd boxes are present.
  const io::FeatureSet f = io::load_feature_set(dir / "whole");
  const io::NpyArray test_ids = io::read_npy(dir / "whole" / "ids_test.npy");
  const detect::CocoDataset coco = detect::read_coco(dir / "coco.json");
  std::set<std::int64_t> train_images, test_images;
  std::set<SampleId> all(f.ids.begin(), f.ids.end());
  for (SampleId id : f.ids)
    train_images.insert(coco.annotations[*coco.annotation_index(id)].image_id);
  for (std::int64_t k = 0; k < test_ids.size(); ++k) {
    const SampleId id = test_ids.data<std::int64_t>()[k];
    all.insert(id);
    test_images.insert(coco.annotations[*coco.annotation_index(id)].image_id);
  }
  for (std::int64_t image : test_images)
    EXPECT_FALSE(train_images.count(image)) << "image " << image;
  EXPECT_EQ(all, std::set<SampleId>(expected.begin(), expected.end()));
  EXPECT_EQ(train_images.size() + test_images.size(), 10u);
  EXPECT_EQ(io::load_feature_set(dir / "whole" / "pca8").x_train.cols(), 8);
}

// Three synthetic 64 × 48 images (one missing, one undecodable) with two boxes each, plus one
// empty box on the good image; categories 1 "a" and 2 "b".
void write_synthetic(const fs::path& dir) {
  fs::create_directories(dir / "images");
  cv::Mat image(48, 64, CV_8UC3);
  cv::RNG rng(5);
  rng.fill(image, cv::RNG::UNIFORM, 0, 256);
  detect::write_image(dir / "images" / "good.png", image);
  detect::write_image(dir / "images" / "good2.png", image(cv::Rect(0, 0, 32, 32)));
  testing::write_text(dir / "images" / "broken.png", "not a PNG");
  const nlohmann::json coco = {
      {"images",
       {{{"id", 1}, {"file_name", "good.png"}, {"width", 64}, {"height", 48}},
        {{"id", 2}, {"file_name", "absent.png"}, {"width", 64}, {"height", 48}},
        {{"id", 3}, {"file_name", "broken.png"}, {"width", 64}, {"height", 48}},
        {{"id", 4}, {"file_name", "good2.png"}, {"width", 32}, {"height", 32}}}},
      {"categories", {{{"id", 1}, {"name", "a"}}, {{"id", 2}, {"name", "b"}}}},
      {"annotations",
       {{{"id", 10}, {"image_id", 1}, {"category_id", 1}, {"bbox", {1, 2, 20, 10}}},
        {{"id", 11}, {"image_id", 2}, {"category_id", 2}, {"bbox", {3, 4, 10, 10}}},
        {{"id", 12}, {"image_id", 2}, {"category_id", 1}, {"bbox", {5, 5, 10, 10}}},
        {{"id", 13}, {"image_id", 3}, {"category_id", 2}, {"bbox", {0, 0, 8, 8}}},
        {{"id", 14}, {"image_id", 1}, {"category_id", 2}, {"bbox", {30, 20, 15, 12}}},
        {{"id", 15}, {"image_id", 1}, {"category_id", 1}, {"bbox", {10, 10, 0, 5}}},
        {{"id", 16}, {"image_id", 4}, {"category_id", 2}, {"bbox", {4, 4, 12, 12}}},
        {{"id", 17}, {"image_id", 4}, {"category_id", 1}, {"bbox", {2, 2, 9, 9}}}}}};
  testing::write_text(dir / "coco.json", coco.dump());
}

std::string embed_command(const fs::path& dir, const std::string& extra) {
  return testing::shell_quote(CORECLEAN_CLI_PATH) + " embed --coco " +
         testing::shell_quote((dir / "coco.json").string()) + " --images " +
         testing::shell_quote((dir / "images").string()) + " --out " +
         testing::shell_quote((dir / "features").string()) + " " + extra;
}

// Without --skip-bad, a missing image, an undecodable one, and a model file OpenCV cannot load
// each stop the command with exit code 2 and a message naming the file.
TEST(CliEmbed, BadInputsExitTwoNamingTheFile) {
  testing::TempDir dir;
  write_synthetic(dir.path());
  auto r = testing::run_command(embed_command(dir.path(), ""));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "absent.png"));
  EXPECT_TRUE(contains(r.output, "--skip-bad"));

  nlohmann::json coco = nlohmann::json::parse(testing::read_text(dir / "coco.json"));
  nlohmann::json kept = nlohmann::json::array();
  for (const auto& a : coco["annotations"]) {
    if (a["image_id"] != 2) kept.push_back(a);  // the missing image's boxes go
  }
  coco["annotations"] = kept;
  testing::write_text(dir / "coco.json", coco.dump());
  r = testing::run_command(embed_command(dir.path(), ""));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "broken.png")) << r.output;
  EXPECT_TRUE(contains(r.output, "not a decodable image")) << r.output;

  testing::write_text(dir / "bad.onnx", "definitely not ONNX");
  r = testing::run_command(
      embed_command(dir.path(), "--model " + testing::shell_quote((dir / "bad.onnx").string())));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "bad.onnx")) << r.output;
  EXPECT_TRUE(contains(r.output, "cannot load the model")) << r.output;
}

// --skip-bad embeds the rest and lists what it skipped (in the output and in skipped.json):
// the boxes of the missing and of the undecodable image, and the empty box. Batches of two put
// whole batches on the skipped boxes.
TEST(CliEmbed, SkipBadListsSkippedImages) {
  testing::TempDir dir;
  write_synthetic(dir.path());
  EmbedOptions o;
  o.coco = dir / "coco.json";
  o.images = dir / "images";
  o.out = dir / "features";
  o.skip_bad = true;
  o.batch = 2;
  std::ostringstream log;
  ASSERT_EQ(run_embed(o, Context(), log), 0);
  EXPECT_TRUE(contains(log.str(), "skipped 4 boxes")) << log.str();
  EXPECT_TRUE(contains(log.str(), "absent.png (2 boxes)")) << log.str();
  EXPECT_TRUE(contains(log.str(), "broken.png (1 box)")) << log.str();
  const io::FeatureSet f = io::load_feature_set(o.out);
  EXPECT_EQ(f.ids, (std::vector<SampleId>{10, 14, 16, 17}));
  EXPECT_EQ(f.y_train, (Labels{1, 2, 2, 1}));
  EXPECT_EQ(f.x_train.cols(), 1892);
  const nlohmann::json skipped = nlohmann::json::parse(testing::read_text(o.out / "skipped.json"));
  std::map<SampleId, std::string> reasons;
  for (const auto& s : skipped)
    reasons[s["annotation_id"].get<SampleId>()] =
        s["image"].get<std::string>() + ": " + s["reason"].get<std::string>();
  ASSERT_EQ(reasons.size(), 4u);
  EXPECT_TRUE(contains(reasons[11], "absent.png"));
  EXPECT_TRUE(contains(reasons[12], "absent.png"));
  EXPECT_TRUE(contains(reasons[13], "broken.png"));
  EXPECT_TRUE(contains(reasons[15], "is empty"));

  // A clean re-run into the same folder removes the stale skipped.json.
  nlohmann::json coco = nlohmann::json::parse(testing::read_text(dir / "coco.json"));
  coco["annotations"] = nlohmann::json::array({coco["annotations"][0], coco["annotations"][4]});
  testing::write_text(dir / "coco.json", coco.dump());
  ASSERT_EQ(run_embed(o, Context(), log), 0);
  EXPECT_FALSE(fs::exists(o.out / "skipped.json"));
  EXPECT_EQ(io::load_feature_set(o.out).ids, (std::vector<SampleId>{10, 14}));
}

// --help explains the preprocessing and gives the settings of the shared MobileNetV2 and of a
// torchvision ResNet50, including the per-channel std handling.
TEST(CliEmbed, HelpExplainsPreprocessing) {
  const auto r = testing::run_command(testing::shell_quote(CORECLEAN_CLI_PATH) + " embed --help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const char* part : {"mobilenet_v2_nsfwjs.onnx --swap-rb --scale 1/255", "ResNet50",
                           "--mean 123.675,116.28,103.53", "--std 0.229,0.224,0.225",
                           "blobFromImage", ".partial", "--skip-bad"}) {
    EXPECT_TRUE(contains(r.output, part)) << part;
  }
}

}  // namespace
}  // namespace coreclean::cli
