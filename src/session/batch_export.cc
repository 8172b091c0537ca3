#include <coreclean/session/batch_export.h>

#include <coreclean/detect/coco.h>
#include <coreclean/detect/render.h>
#include <coreclean/io/csv.h>
#include <coreclean/io/text_file.h>

#include <fmt/format.h>

#include <map>
#include <vector>

namespace coreclean::session {

std::filesystem::path export_batch(const Session& session, const Batch& batch,
                                   const Context& context) {
  namespace fs = std::filesystem;
  const fs::path folder = session.batch_dir(batch.number);
  fs::create_directories(folder);
  std::map<SampleId, std::string> image_of;
  if (!session.coco_path().empty()) {
    const detect::CocoDataset coco = detect::read_coco(session.coco_path());
    // Group the batch by image so that each image is decoded once.
    std::map<std::size_t, std::vector<std::size_t>> by_image;
    for (const BatchItem& it : batch.items) {
      const auto a = coco.annotation_index(it.id);
      if (!a) continue;
      const auto im = coco.image_index(coco.annotations[*a].image_id);
      if (!im) continue;
      image_of[it.id] = coco.images[*im].file_name;
      by_image[*im].push_back(*a);
    }
    if (!session.images_dir().empty()) {
      std::int64_t done = 0;
      for (const auto& [im, annotations] : by_image) {
        context.throw_if_cancelled();
        std::vector<std::size_t> missing;
        for (std::size_t a : annotations)
          if (!fs::exists(folder / fmt::format("{}_overlay.jpg", coco.annotations[a].id)))
            missing.push_back(a);
        const cv::Mat image = missing.empty() ? cv::Mat()
            : detect::read_image(session.images_dir() / coco.images[im].file_name);
        for (std::size_t a : missing) {
          const detect::CocoAnnotation& ann = coco.annotations[a];
          const detect::BoxViews views =
              detect::render_views(image, ann, session.class_name(ann.category_id));
          // The overlay is written last: when it exists, the box's views are complete.
          detect::write_image(folder / fmt::format("{}_crop.jpg", ann.id), views.crop);
          detect::write_image(folder / fmt::format("{}_attention.jpg", ann.id), views.attention);
          detect::write_image(folder / fmt::format("{}_overlay.jpg", ann.id), views.overlay);
        }
        done += static_cast<std::int64_t>(annotations.size());
        context.report_progress(done, static_cast<std::int64_t>(batch.items.size()), "rendering");
      }
    }
  }
  std::string csv = "id,image,label,importance,decision,new_label,suggested,findings\n";
  for (const BatchItem& it : batch.items) {
    const Suggestion suggestion = session.suggestion(it.id);
    std::string suggested = to_string(suggestion.kind);
    if (suggestion.kind == DecisionKind::kRelabel)
      suggested += " " + session.class_name(suggestion.new_label);
    std::string findings;
    for (const BoxIssue& f : session.findings(it.id))
      findings += (findings.empty() ? "" : "; ") + f.check + ": " + f.detail;
    csv += fmt::format("{},{},{},{:.6g},,,{},{}\n", it.id, io::csv_field(image_of[it.id]),
                       io::csv_field(session.class_name(it.label)), it.importance,
                       io::csv_field(suggested), io::csv_field(findings));
  }
  // An existing review.csv is the reviewer's work in progress (or our own, unchanged): keep it.
  if (!fs::exists(folder / "review.csv")) io::write_text_atomically(folder / "review.csv", csv);
  if (!session.guidelines().empty() && !fs::exists(folder / "guidelines.md"))
    io::write_text_atomically(folder / "guidelines.md", session.guidelines());
  return folder;
}

}  // namespace coreclean::session
