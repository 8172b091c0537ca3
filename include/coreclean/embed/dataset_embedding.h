#ifndef CORECLEAN_EMBED_DATASET_EMBEDDING_H_
#define CORECLEAN_EMBED_DATASET_EMBEDDING_H_

/// @file
/// A COCO dataset turned into a features directory: every box with iscrowd = 0 is cropped from
/// its image, embedded (embedder.h: an ONNX model or the built-in features) and written as one
/// row of X_train.npy (or X_test.npy), with its category id as label and its annotation id as id.
///
/// Files of the features directory `out` (formats in docs/formats.md):
///   X_train.npy (float32 n × d), y_train.npy (int64 category ids), ids.npy (int64 annotation
///   ids), classes.json (category id → name), boxes.npy (detect/box_table.h);
///   with test_fraction > 0 also X_test.npy, y_test.npy, ids_test.npy;
///   with pca = K > 0 the same files in out/pcaK/, projected on K principal components fitted on
///   the train rows;
///   embedding.json (the settings and row counts); skipped.json (the boxes not embedded, and
///   why) when any were skipped.
/// Every file is written atomically (temporary file, fsync, rename).
///
/// Resuming. The boxes are embedded in batches of embedder.batch_size, in annotation order; each
/// finished batch is saved as a shard in out/.partial/ (rows .npy + ids and skipped boxes .json,
/// the .npy last, so a shard whose .npy exists is complete), beside manifest.json, which records
/// everything the rows depend on: the COCO file (path, size, FNV-1a hash), the images folder,
/// the model (path, size, hash) and the preprocessing, the padding, the batch size, skip_bad and
/// the number of boxes. The final files are assembled from the shards alone, so a run stopped by
/// an error or by a cancel and then run again with the same options embeds only the missing
/// batches and ends with the same bytes as an uninterrupted run. A resume whose manifest differs
/// is refused (its shards would mix two embeddings); pca, test_fraction and the context's seed
/// only act on the final files and may change between runs. .partial/ is removed at the end.
///
/// Split by image. With test_fraction = f, round(f · m) of the m images with embedded boxes
/// (at least one, at most m − 1) are drawn by a seeded Fisher–Yates shuffle (Context::seed), and
/// all boxes of a drawn image go to the test split, so that no image sits on both sides. A drawn
/// image goes back to train while it holds a class that would otherwise have no train row.

#include <coreclean/core/context.h>
#include <coreclean/core/types.h>
#include <coreclean/embed/embedder.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace coreclean::embed {

/// What embed_dataset() reads, how it embeds, and where it writes. Plain data; embed_dataset()
/// calls validate().
struct EmbedDatasetOptions {
  /// COCO annotation file (JSON).
  std::filesystem::path coco;
  /// Folder the images' file_name are relative to.
  std::filesystem::path images;
  /// Model and preprocessing; embedder.batch_size crops make one forward pass and one shard.
  EmbedderParams embedder;
  /// Context around each box, as a fraction of its width (left and right) and height (top and
  /// bottom), clamped to the image; ≥ 0.
  double padding = 0.0;
  /// K > 0 also writes out/pca<K>/ with K principal components (linear::PcaSolver::kAuto,
  /// seeded by the context); 0 = no. At most the dimension of the embedding.
  int pca = 0;
  /// Share of the images whose boxes form the test split, in [0, 1); 0 = no split.
  double test_fraction = 0.0;
  /// Skip (and list in the result and in skipped.json) the boxes whose image is missing or
  /// undecodable, whose annotation names an unknown image, or whose box has no pixels, instead
  /// of throwing.
  bool skip_bad = false;
  /// Features directory to write: claimed as an io::OutputFolder for "embed" (new, empty, or
  /// written by an earlier embed; never a folder that is or holds the COCO file, the images or
  /// the model). Only the files listed in the file comment are written or removed in it.
  std::filesystem::path out;

  /// Throws InvalidArgument naming the first bad field and its value (the embedder's fields
  /// through EmbedderParams::validate()).
  void validate() const;
};

/// A box that was not embedded, and why (skip_bad).
struct SkippedBox {
  SampleId annotation_id = 0;
  /// The image's file_name; empty when the annotation's image id is not in the COCO file.
  std::string image;
  /// The error that stopped it (names the file and, for a bad box, the box).
  std::string reason;
};

/// What embed_dataset() wrote and how the run went.
struct EmbedDatasetResult {
  /// Boxes with iscrowd = 0 in the COCO file: the boxes to embed (embedded or skipped).
  std::size_t boxes = 0;
  /// Of them, the boxes whose shards an earlier, interrupted run had saved; 0 for a fresh run.
  std::size_t resumed_boxes = 0;
  /// Of them, the boxes whose shards this run saved (boxes − resumed_boxes).
  std::size_t boxes_this_run = 0;
  /// Wall time of this run's embedding (decoding, cropping, inference, shard writes), seconds.
  double seconds = 0.0;
  /// Embedder::description(): the model, its output and dimension, or the built-in features.
  std::string embedder;
  /// Dimension d of the embeddings (columns of X_train.npy).
  int dim = 0;
  /// Rows of X_train.npy and X_test.npy (0 without a split); their sum is the embedded boxes.
  std::int64_t train_rows = 0;
  std::int64_t test_rows = 0;
  /// Images with at least one embedded box.
  std::size_t images = 0;
  /// Categories of the COCO file (entries of classes.json).
  std::size_t classes = 0;
  /// The boxes skipped, in annotation order (empty without skip_bad or when none failed).
  std::vector<SkippedBox> skipped;
  /// The features directory (options.out).
  std::filesystem::path features_dir;
  /// out/skipped.json when boxes were skipped, else empty (a stale one was removed).
  std::filesystem::path skipped_file;
  /// out/pca<K>/ when options.pca > 0, else empty.
  std::filesystem::path pca_dir;
  /// Share of the train rows' total variance the K components keep, in [0, 1]; 0 without PCA.
  double pca_explained_variance = 0.0;
};

/// Embeds the boxes of `options.coco` and writes the features directory `options.out`, as
/// described in the file comment; resumes an interrupted run of the same options.
///
/// `context`: seed of the split and of the randomized PCA; progress as (boxes saved by this run,
/// boxes this run has to embed, "embedding boxes") after each shard; warnings through the logger
/// (an image whose decoded size differs from the COCO file's); cancellation checked before each
/// batch, so a cancelled run keeps every shard saved so far (the shard being written when the
/// cancel came is completed) and throws Cancelled.
///
/// Throws InvalidArgument for bad options, an output folder that may not be written, a model
/// OpenCV cannot load or whose dimension is below `pca`, a COCO file without a box to embed or
/// with none left after skipping, a box without pixels or an unknown image id (without
/// skip_bad), a resume with other settings (naming each changed setting), or a split that is
/// impossible (fewer than two images); IoError for a missing model, a missing or unreadable
/// image (without skip_bad) and failed writes; FormatError for an undecodable image (without
/// skip_bad), an unparsable COCO file and damaged shards; Cancelled when cancelled. Every
/// message names the file and the value.
EmbedDatasetResult embed_dataset(const EmbedDatasetOptions& options,
                                 const Context& context = Context());

}  // namespace coreclean::embed

#endif  // CORECLEAN_EMBED_DATASET_EMBEDDING_H_
