#ifndef CORECLEAN_SRC_DETECT_COCO_TEXT_H_
#define CORECLEAN_SRC_DETECT_COCO_TEXT_H_

// Internals shared by the COCO reader and writer: the text of a COCO file, and the parse that can
// also record where each annotation object lies in that text, so that the writer can splice
// edits into the original bytes.

#include <coreclean/detect/coco.h>

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string_view>
#include <vector>

namespace coreclean::detect::detail {

/// Byte ranges (offsets into the file) of one annotation object.
struct AnnotationSpan {
  std::size_t begin = 0;           ///< the object's '{'
  std::size_t end = 0;             ///< one past its '}'
  std::size_t category_begin = 0;  ///< first byte of the category_id value
  std::size_t category_end = 0;    ///< one past its last byte
};

/// The text of a COCO file and whatever keeps it alive.
struct CocoText {
  std::shared_ptr<const void> storage;
  std::string_view text;
  /// True when `text` is a read-only private mapping of the file: pages already parsed can then
  /// be dropped from memory (the kernel reads them back from the file if touched again).
  bool mapped = false;
};

/// Memory-maps `path`. Throws IoError naming the path.
CocoText load_coco_text(const std::filesystem::path& path);

/// Bytes per simdjson document: the children of a top-level array or object are parsed in
/// windows of about this size.
inline constexpr std::size_t kDefaultWindowBytes = std::size_t{4} << 20;

/// Parses COCO text (see parse_coco for the rules and errors). When `spans` is given, it
/// receives one span per annotation, in file order (parallel to the returned annotations).
/// `window_bytes` changes only memory use and speed, never the result (tests use tiny windows).
CocoDataset parse_coco_text(const CocoText& text, std::string_view source,
                            std::vector<AnnotationSpan>* spans,
                            std::size_t window_bytes = kDefaultWindowBytes);

}  // namespace coreclean::detect::detail

#endif  // CORECLEAN_SRC_DETECT_COCO_TEXT_H_
