#ifndef CORECLEAN_DETECT_DEMO_SCENES_H_
#define CORECLEAN_DETECT_DEMO_SCENES_H_

/// @file
/// Object-detection scenes composed from Fashion-MNIST items, with annotation errors injected
/// at a known rate, so that the whole cleaning loop can be run and scored on real images.
///
/// Each scene is a light, textured canvas holding a few items: a 28 × 28 Fashion-MNIST image
/// scaled to a random size, tinted with a random dark colour and placed at a random position
/// (items may overlap a little; later items are drawn over earlier ones). The correct box of an
/// item is the tight bounding box of the pixels it paints, not its whole scaled square. Then a
/// share of the annotations is corrupted the way human annotators err:
///   - flip: the label is changed to a confusable class (T-shirt/top, Pullover, Coat, Shirt);
///     fixed by relabelling to `true_category_id`;
///   - miss: the box is moved off its object; fixed by deleting the annotation;
///   - span: the box covers its object and a neighbour; fixed by deleting;
///   - duplicate: a second box on an already annotated object (IoU ≥ 0.9 with the first);
///     fixed by deleting the second one.
/// Category ids are Fashion-MNIST's labels 0–9. Everything is determined by Context::seed.

#include <coreclean/core/context.h>
#include <coreclean/detect/coco.h>
#include <coreclean/io/idx.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <opencv2/core.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace coreclean::detect {

/// Fashion-MNIST's class names, indexed by label (= category id of the demo scenes).
inline constexpr std::array<std::string_view, 10> kFashionMnistClasses = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

/// The labels annotators (and classifiers) confuse with each other: T-shirt/top, Pullover, Coat
/// and Shirt. Label flips stay inside this group.
inline constexpr std::array<Label, 4> kFashionMnistConfusable = {0, 2, 4, 6};

/// Where Debian's `dataset-fashion-mnist` package installs the dataset.
inline constexpr std::string_view kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

/// Reads one split of Fashion-MNIST from `dir`: `<split>-images-idx3-ubyte.gz` and
/// `<split>-labels-idx1-ubyte.gz`, with split "t10k" (10,000 images) or "train" (60,000).
/// Throws IoError naming the missing path (and how to install the package) when a file is
/// absent, InvalidArgument for another split name, FormatError for a file that is not a 28 × 28
/// image set with labels 0–9.
io::LabelledImages load_fashion_mnist(const std::filesystem::path& dir = kFashionMnistDir,
                                      std::string_view split = "t10k");

/// Parameters of the scene generator. Defaults give 400 images with about 2,000 boxes, a size
/// at which embedding, tree building and ranking take seconds.
struct DemoSceneParams {
  int images = 400;         ///< number of scenes (≥ 1)
  int canvas_width = 320;   ///< scene width in pixels
  int canvas_height = 320;  ///< scene height in pixels
  /// Items per scene, drawn uniformly from [min_items, max_items]; 1 ≤ min_items ≤ max_items.
  int min_items = 3;
  int max_items = 7;  ///< see min_items
  /// Side in pixels of a scaled 28 × 28 item, drawn uniformly from [min_item_size,
  /// max_item_size]; max_item_size ≤ the canvas's shorter side. The box is usually smaller:
  /// it holds only the item's ink.
  int min_item_size = 40;
  int max_item_size = 110;  ///< see min_item_size
  /// Largest overlap between two items' boxes, as a share of the smaller box's area. An item
  /// that finds no such place within a few tries is made smaller, then left out.
  double max_overlap = 0.25;
  /// Share of the annotations (after duplicates are added) that carry an injected error, in
  /// [0, 0.5]. The number of errors is round(error_rate × annotations) (fewer only when the
  /// scenes hold too few candidates, e.g. tiny scene sets of one item each).
  double error_rate = 0.10;
  /// Relative weights of the error kinds (≥ 0, not all zero); the counts are split by them
  /// with largest remainders. Flips dominate because they are what label cleaning finds.
  double flip_weight = 0.60;
  double miss_weight = 0.15;        ///< weight of boxes moved off their object
  double span_weight = 0.125;       ///< weight of boxes spanning two objects
  double duplicate_weight = 0.125;  ///< weight of second boxes on an annotated object
  /// Amplitude in grey levels of the background's smooth blotches (0 = none).
  double background_texture = 14.0;
  /// Amplitude in grey levels of the background's per-pixel grain (0 = none). With both at 0 the
  /// background is one flat colour per scene.
  double background_noise = 6.0;
  int jpeg_quality = 90;  ///< JPEG quality of the written images, 1–100

  /// Throws InvalidArgument naming the first field out of range and its value.
  void validate() const;
};

/// Kind of an injected annotation error.
enum class DemoErrorKind { kFlip, kMiss, kSpan, kDuplicate };

/// "flip", "miss", "span" or "duplicate".
std::string_view to_string(DemoErrorKind kind);

/// The correct decision for an error: relabel for a flip, delete for the others.
AnnotationEdit::Kind demo_error_fix(DemoErrorKind kind);

/// An item as painted: the ground truth of one object.
struct DemoObject {
  std::int64_t image_id = 0;      ///< the scene it is on
  Label category_id = 0;          ///< its Fashion-MNIST label
  Box box;                        ///< tight box of its painted pixels (integer pixel edges)
  std::int64_t source_index = 0;  ///< index of the item in the Fashion-MNIST split
  SampleId annotation_id = 0;     ///< its annotation (the one whose box was meant for it)
};

/// One injected error.
struct DemoError {
  SampleId annotation_id = 0;  ///< the faulty annotation
  DemoErrorKind kind = DemoErrorKind::kFlip;
  /// The category the annotation should have: the true label of its object (flip: the label
  /// before the flip; span: the label of the object the box was meant for).
  Label true_category_id = 0;
  /// Indices into DemoScenes::objects of the object(s) the box was meant for: one, or two for a
  /// span (the first one's label is the annotation's).
  std::vector<std::size_t> objects;
  /// duplicate only: the correct annotation on the same object.
  SampleId duplicate_of = 0;
};

/// A generated scene set.
struct DemoScenes {
  /// The annotations as written to annotations.json (errors included), ids from 1, file names
  /// "000001.jpg", … relative to the images folder.
  CocoDataset coco;
  /// Every painted item, in image order.
  std::vector<DemoObject> objects;
  /// Every injected error, in ascending annotation id.
  std::vector<DemoError> errors;

  /// Number of errors of one kind.
  [[nodiscard]] std::int64_t error_count(DemoErrorKind kind) const;
};

/// Receives each rendered scene: its COCO entry and its pixels (height × width, CV_8UC3, BGR).
/// The matrix is only valid during the call.
using DemoImageSink = std::function<void(const CocoImage& image, const cv::Mat& pixels)>;

/// Generates the scenes from `items` (e.g. load_fashion_mnist(); labels must be 0–9, images any
/// size), passing each rendered scene to `sink` (may be empty) in image order. Items are drawn
/// without replacement until the split is used up. Randomness comes from context.rng() only, so
/// the result is a function of (items, params, context.seed). Reports progress per scene and
/// honours cancellation. Throws InvalidArgument for bad params or items.
DemoScenes generate_demo_scenes(const io::LabelledImages& items, const DemoSceneParams& params,
                                const Context& context, const DemoImageSink& sink = {});

/// Generates the scenes and writes them to `out_dir` (created when missing; files of a previous
/// run are overwritten, other files are left alone):
///   - `images/000001.jpg`, … (JPEG);
///   - `annotations.json`: COCO (info, licenses, images, categories with the ten Fashion-MNIST
///     names, annotations with bbox, area = w × h and iscrowd 0);
///   - `truth.json`: {"info", "summary" (counts of images, objects, annotations and errors by
///     kind and by fix), "errors": {"<annotation id>": {"kind", "fix", "category_id",
///     "true_category_id", "image_id", "object_bboxes", ["duplicate_of"]}}}.
/// The JSON files are written last and atomically, so a folder with annotations.json always has
/// all its images. Same items, params and seed give byte-identical files. Throws IoError when a
/// file cannot be written.
DemoScenes write_demo_scenes(const std::filesystem::path& out_dir, const io::LabelledImages& items,
                             const DemoSceneParams& params, const Context& context);

}  // namespace coreclean::detect

#endif  // CORECLEAN_DETECT_DEMO_SCENES_H_
