#include <coreclean/detect/box_table.h>

#include "core/check.h"

#include <coreclean/io/npy.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <system_error>

namespace coreclean::detect {
namespace {

constexpr int kColumns = 5;  // image_id, x, y, width, height

// Equal as written by the same COCO file through a round trip of JSON numbers: a relative
// tolerance absorbs a corrected export's printing of the same double.
bool same(double a, double b) { return std::abs(a - b) <= 1e-6 * std::max(1.0, std::abs(a)); }

}  // namespace

void write_box_table(const std::filesystem::path& file, const CocoDataset& coco,
                     std::span<const SampleId> ids) {
  RowMatrixXd table(static_cast<Eigen::Index>(ids.size()), kColumns);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::optional<std::size_t> a = coco.annotation_index(ids[i]);
    CORECLEAN_THROW_IF_NOT(a.has_value(), "box table: annotation {} is not in the COCO file",
                           ids[i]);
    const CocoAnnotation& ann = coco.annotations[*a];
    table.row(static_cast<Eigen::Index>(i)) << static_cast<double>(ann.image_id), ann.bbox.x,
        ann.bbox.y, ann.bbox.w, ann.bbox.h;
  }
  const std::int64_t shape[2] = {table.rows(), kColumns};
  io::write_npy(file, io::DType::kFloat64, shape, table.data());
}

std::optional<RowMatrixXd> read_box_table(const std::filesystem::path& features_dir,
                                          Eigen::Index rows) {
  const std::filesystem::path file = features_dir / kBoxTableFile;
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return std::nullopt;
  const io::NpyArray a = io::read_npy(file);
  CORECLEAN_THROW_IF_NOT_AS(
      FormatError,
      a.dtype() == io::DType::kFloat64 && a.shape().size() == 2 && a.shape()[0] == rows &&
          a.shape()[1] == kColumns,
      "{}: must be a {} × {} float64 array (image_id, x, y, width, height per row of "
      "X_train), got shape [{}] of {}",
      file.string(), rows, kColumns, fmt::join(a.shape(), ", "), io::dtype_descr(a.dtype()));
  return RowMatrixXd(Eigen::Map<const RowMatrixXd>(a.data<double>(), rows, kColumns));
}

CocoMatch match_coco(const CocoDataset& coco, std::span<const SampleId> ids,
                     const std::optional<RowMatrixXd>& box_table, const std::string& features_name,
                     const std::string& coco_name) {
  CocoMatch m;
  m.labels.resize(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::optional<std::size_t> a = coco.annotation_index(ids[i]);
    if (!a) continue;
    const CocoAnnotation& ann = coco.annotations[*a];
    if (box_table) {
      const auto r = box_table->row(static_cast<Eigen::Index>(i));
      const bool match = same(r(0), static_cast<double>(ann.image_id)) && same(r(1), ann.bbox.x) &&
                         same(r(2), ann.bbox.y) && same(r(3), ann.bbox.w) &&
                         same(r(4), ann.bbox.h);
      CORECLEAN_THROW_IF_NOT(
          match,
          "the features {} were made from another dataset than {}: annotation {} is box "
          "[{}, {}, {}, {}] of image {} in the COCO file, but the features were embedded from "
          "box [{}, {}, {}, {}] of image {}. Give the COCO file the features were made from, or "
          "embed this one (coreclean embed)",
          features_name, coco_name, ids[i], ann.bbox.x, ann.bbox.y, ann.bbox.w, ann.bbox.h,
          ann.image_id, r(1), r(2), r(3), r(4), static_cast<std::int64_t>(r(0)));
    }
    m.labels[i] = ann.category_id;
    ++m.present;
  }
  const auto n = static_cast<Eigen::Index>(ids.size());
  CORECLEAN_THROW_IF_NOT(m.present > 0,
                         "the features {} were made from another dataset than {}: none of their "
                         "{} ids is an annotation id of the COCO file",
                         features_name, coco_name, n);
  CORECLEAN_THROW_IF_NOT(box_table.has_value() || 2 * m.present >= n,
                         "the features {} do not match {}: only {} of their {} ids are annotation "
                         "ids of the COCO file (the features have no {} to tell a corrected "
                         "export from another dataset)",
                         features_name, coco_name, m.present, n, kBoxTableFile);
  m.verified = box_table.has_value();
  return m;
}

}  // namespace coreclean::detect
