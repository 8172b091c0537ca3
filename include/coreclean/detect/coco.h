#ifndef CORECLEAN_DETECT_COCO_H_
#define CORECLEAN_DETECT_COCO_H_

/// @file
/// COCO object-detection annotations: reading (pycocotools semantics) and writing a corrected
/// copy that is a drop-in replacement for the original.
///
/// Semantics, as pycocotools: `images[]` {id, file_name, width, height}, `categories[]` {id,
/// name[, supercategory]}, `annotations[]` {id, image_id, category_id, bbox = [x, y, w, h] in
/// pixels with (x, y) the top-left corner, iscrowd (0 when absent), area}. Only the fields above
/// are read; every other field is kept verbatim by write_corrected_coco().

#include <coreclean/core/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace coreclean::detect {

/// An axis-aligned box in pixels: top-left corner (x, y), width w and height h (COCO's order).
struct Box {
  double x = 0.0;
  double y = 0.0;
  double w = 0.0;
  double h = 0.0;
};

/// One entry of `images`.
struct CocoImage {
  std::int64_t id = 0;
  std::string file_name;  ///< relative to the images directory
  int width = 0;          ///< pixels; 0 when the file does not say
  int height = 0;
};

/// One entry of `categories`.
struct CocoCategory {
  std::int64_t id = 0;
  std::string name;
  std::string supercategory;  ///< empty when absent
};

/// One entry of `annotations`.
struct CocoAnnotation {
  SampleId id = 0;
  std::int64_t image_id = 0;
  Label category_id = 0;
  Box bbox;
  bool iscrowd = false;
  double area = 0.0;  ///< as written; 0 when absent
};

/// A parsed COCO file, entries in file order, with id lookups.
struct CocoDataset {
  std::vector<CocoImage> images;
  std::vector<CocoCategory> categories;
  std::vector<CocoAnnotation> annotations;

  /// Index into `images` of an image id, or nullopt.
  [[nodiscard]] std::optional<std::size_t> image_index(std::int64_t image_id) const;
  /// Index into `categories` of a category id, or nullopt.
  [[nodiscard]] std::optional<std::size_t> category_index(std::int64_t category_id) const;
  /// Index into `annotations` of an annotation id, or nullopt.
  [[nodiscard]] std::optional<std::size_t> annotation_index(SampleId annotation_id) const;

  /// Rebuilds the id lookups; call after editing the vectors by hand (the readers call it).
  /// Throws InvalidArgument naming the array, the id and both positions when an id repeats.
  void index();

 private:
  std::unordered_map<std::int64_t, std::size_t> image_at_;
  std::unordered_map<std::int64_t, std::size_t> category_at_;
  std::unordered_map<SampleId, std::size_t> annotation_at_;
};

/// Parses COCO JSON text. `source` names the input in error messages (usually the path).
///
/// JSON is read as Python's json module reads it (pycocotools loads files with it): RFC 8259
/// plus NaN, Infinity and -Infinity (which Python writes for non-finite floats); a UTF-8
/// byte-order mark is skipped. Every value is checked, also those of fields that are not read.
/// Required: the top level is an object with the arrays `images`, `annotations` and
/// `categories` (other keys are ignored); images have `id` and `file_name`, categories `id` and
/// `name`, annotations `id`, `image_id`, `category_id` and `bbox` (an array of exactly 4
/// numbers). Optional: image `width`/`height` (null or absent = 0), category `supercategory`
/// (null or absent = empty), annotation `iscrowd` (0, 1, false or true; absent = 0) and `area`.
/// Ids are integers; a number with an integral value such as 7.0 counts as 7. Unknown fields
/// are ignored; a key repeated within an entry counts with its last value (as in Python). An
/// annotation whose image_id or category_id does not exist is not an error here (see
/// box_checks.h).
///
/// Throws FormatError:
///  * for malformed JSON, naming `source`, the line, column (as Python counts them) and byte
///    offset of the first offending byte — also when a content error comes earlier in the file;
///  * for a missing required field or a value of the wrong type, naming the array, the entry's
///    index and id (when it has one), the field and the value found, and the entry's position;
///  * for a repeated id within images, annotations or categories, naming both entries;
///  * for a top-level key among the three arrays that appears twice.
/// Boxes with NaN or negative sizes are returned as they are: judging them is the job of the
/// box checks.
CocoDataset parse_coco(std::string_view json, std::string_view source = "<memory>");

/// Reads and parses a COCO file (memory-mapped; parsed in windows of a few megabytes, with the
/// file's pages released behind the window, so memory stays near the size of the returned
/// dataset: about a third of the file size for a file shaped like COCO train2017). Throws
/// IoError naming the path when it cannot be read, and FormatError as parse_coco with `source` =
/// the path.
CocoDataset read_coco(const std::filesystem::path& path);

/// A decision on one annotation, as applied to the file.
struct AnnotationEdit {
  enum class Kind {
    kRelabel,  ///< set category_id to `category_id`
    kDelete,   ///< remove the annotation
  };
  SampleId annotation_id = 0;
  Kind kind = Kind::kRelabel;
  Label category_id = 0;  ///< the new category (kRelabel only)
};

/// Writes `out` = `in` with the edits applied: relabel sets the annotation's category_id (the
/// value's text is replaced by the new id), delete removes the annotation object together with
/// one separating comma (the one after it, or before it for the last element). Every other byte
/// of the file — unknown fields, key order, number formatting, whitespace — is kept, so the
/// result is a drop-in replacement. `in` is read and checked as by read_coco (FormatError).
/// Throws InvalidArgument for an edit whose annotation or category is not in the file, or two
/// edits of one annotation, before writing anything. The output is written atomically (a
/// temporary file renamed over `out`; nothing is left behind on failure); `out` may be `in`.
void write_corrected_coco(const std::filesystem::path& in, const std::filesystem::path& out,
                          std::span<const AnnotationEdit> edits);

}  // namespace coreclean::detect

#endif  // CORECLEAN_DETECT_COCO_H_
