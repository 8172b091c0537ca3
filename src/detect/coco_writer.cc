// COCO writer: the corrected file is the original text with a few byte ranges replaced, found by
// the reader's pass (each annotation object's range and its category_id value's range). Nothing
// is re-serialised, so unknown fields, key order, number formats and whitespace stay as they were.

#include <coreclean/detect/coco.h>

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "core/check.h"
#include "detect/coco_text.h"
#include "io/mapped_file.h"

namespace coreclean::detect {
namespace {

// Replace text[begin, end) by `with`.
struct Splice {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::string with;
};

std::span<const std::byte> bytes_of(std::string_view s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

}  // namespace

void write_corrected_coco(const std::filesystem::path& in, const std::filesystem::path& out,
                          std::span<const AnnotationEdit> edits) {
  const detail::CocoText text = detail::load_coco_text(in);
  std::vector<detail::AnnotationSpan> spans;
  const CocoDataset dataset = detail::parse_coco_text(text, in.string(), &spans);
  const std::size_t n = dataset.annotations.size();
  CORECLEAN_ASSERT(spans.size() == n);

  // Check every edit before writing anything.
  std::vector<const AnnotationEdit*> edit_of(n, nullptr);
  for (std::size_t k = 0; k < edits.size(); ++k) {
    const AnnotationEdit& e = edits[k];
    const auto at = dataset.annotation_index(e.annotation_id);
    CORECLEAN_THROW_IF_NOT(at.has_value(), "{}: edit {}: no annotation has id {}", in.string(), k,
                           e.annotation_id);
    CORECLEAN_THROW_IF_NOT(edit_of[*at] == nullptr,
                           "{}: edit {}: annotation {} is edited twice (a relabel or delete each "
                           "at most once)",
                           in.string(), k, e.annotation_id);
    CORECLEAN_THROW_IF_NOT(
        e.kind == AnnotationEdit::Kind::kRelabel || e.kind == AnnotationEdit::Kind::kDelete,
        "{}: edit {} of annotation {}: unknown kind {}", in.string(), k, e.annotation_id,
        static_cast<int>(e.kind));
    if (e.kind == AnnotationEdit::Kind::kRelabel) {
      CORECLEAN_THROW_IF_NOT(dataset.category_index(e.category_id).has_value(),
                             "{}: edit {}: cannot relabel annotation {} to category {}: no such "
                             "category in the file",
                             in.string(), k, e.annotation_id, e.category_id);
    }
    edit_of[*at] = &e;
  }

  // The splices, in file order. A run of deleted elements i..j of the annotations array takes
  // the separators after it ("," and whitespace up to the next element) when an element follows,
  // else the separator before it, so the array stays valid JSON with the original layout.
  std::vector<Splice> splices;
  const auto deleted = [&](std::size_t i) {
    return edit_of[i] != nullptr && edit_of[i]->kind == AnnotationEdit::Kind::kDelete;
  };
  for (std::size_t i = 0; i < n;) {
    if (edit_of[i] == nullptr) {
      ++i;
      continue;
    }
    if (!deleted(i)) {
      splices.push_back({spans[i].category_begin, spans[i].category_end,
                         fmt::format("{}", edit_of[i]->category_id)});
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j + 1 < n && deleted(j + 1)) ++j;
    if (j + 1 < n) {
      splices.push_back({spans[i].begin, spans[j + 1].begin, {}});
    } else if (i > 0) {
      splices.push_back({spans[i - 1].end, spans[j].end, {}});
    } else {
      splices.push_back({spans[i].begin, spans[j].end, {}});
    }
    i = j + 1;
  }

  const std::string_view s = text.text;
  if (splices.empty()) {
    io::detail::write_file_atomically(out, {bytes_of(s)});
    return;
  }
  // Unchanged head and tail are written straight from the input; only the stretch between the
  // first and the last splice is assembled in memory.
  const std::size_t first = splices.front().begin;
  const std::size_t last = splices.back().end;
  std::string middle;
  middle.reserve(last - first + 64);
  std::size_t at = first;
  for (const Splice& splice : splices) {
    CORECLEAN_ASSERT(splice.begin >= at && splice.end >= splice.begin);
    middle.append(s.substr(at, splice.begin - at));
    middle.append(splice.with);
    at = splice.end;
  }
  io::detail::write_file_atomically(
      out, {bytes_of(s.substr(0, first)), bytes_of(middle), bytes_of(s.substr(last))});
}

}  // namespace coreclean::detect
