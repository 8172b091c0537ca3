// coreclean_bench_coco: reads one COCO file, times it and prints one JSON line. Used by
// bench/coco_parse.py, which runs it as a child process so that its peak memory is its own.
//
//   coreclean_bench_coco FILE [--check] [--write OUT --edits N]
//
// Prints {seconds (read_coco: map + parse + index), peak_rss_mb (VmHWM right after the read, MiB),
// file_mb, images, annotations, categories, crowd, bbox_sum}. With --check also runs the box
// checks with default thresholds ({check_seconds, findings: {check: count}}); with --write,
// writes a corrected copy to OUT that relabels every 3rd of N evenly spread annotations and
// deletes the others ({write_seconds}). Peak memory of the later steps is not part of
// peak_rss_mb.

#include <coreclean/detect/box_checks.h>
#include <coreclean/detect/coco.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// VmHWM of /proc/self/status in MiB: the peak resident size of this process since exec
// (including the pages of the memory-mapped file it touched).
double peak_rss_mb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // "… kB"
  }
  return -1.0;
}

}  // namespace

int main(int argc, char** argv) {
  namespace detect = coreclean::detect;
  try {
    if (argc < 2) {
      std::cerr << "usage: coreclean_bench_coco FILE [--check] [--write OUT --edits N]\n";
      return 2;
    }
    const std::filesystem::path file = argv[1];
    bool check = false;
    std::filesystem::path write_to;
    std::size_t edit_count = 1000;
    for (int i = 2; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "--check") {
        check = true;
      } else if (arg == "--write" && i + 1 < argc) {
        write_to = argv[++i];
      } else if (arg == "--edits" && i + 1 < argc) {
        edit_count = std::stoull(argv[++i]);
      } else {
        std::cerr << "unknown argument " << arg << '\n';
        return 2;
      }
    }

    const auto start = Clock::now();
    const detect::CocoDataset dataset = detect::read_coco(file);
    const double seconds = seconds_since(start);
    const double peak = peak_rss_mb();

    std::int64_t crowd = 0;
    double bbox_sum = 0.0;
    for (const auto& a : dataset.annotations) {
      crowd += a.iscrowd ? 1 : 0;
      bbox_sum += a.bbox.x + a.bbox.y + a.bbox.w + a.bbox.h;
    }
    nlohmann::json out = {
        {"seconds", seconds},
        {"peak_rss_mb", peak},
        {"file_mb", static_cast<double>(std::filesystem::file_size(file)) / (1024.0 * 1024.0)},
        {"images", dataset.images.size()},
        {"annotations", dataset.annotations.size()},
        {"categories", dataset.categories.size()},
        {"crowd", crowd},
        {"bbox_sum", bbox_sum},
    };

    if (check) {
      const auto t = Clock::now();
      const auto findings = detect::check_boxes(dataset);
      out["check_seconds"] = seconds_since(t);
      std::map<std::string, std::size_t> counts;
      for (const auto& f : findings) ++counts[std::string(detect::box_check_name(f.check))];
      out["findings"] = counts;
    }
    if (!write_to.empty()) {
      std::vector<detect::AnnotationEdit> edits;
      const std::size_t n = dataset.annotations.size();
      const std::size_t count = std::min(edit_count, n);
      const coreclean::Label relabel_to =
          dataset.categories.empty() ? 0 : dataset.categories.front().id;
      for (std::size_t k = 0; k < count; ++k) {
        detect::AnnotationEdit e;
        e.annotation_id = dataset.annotations[k * n / count].id;
        e.kind = k % 3 == 0 ? detect::AnnotationEdit::Kind::kRelabel
                            : detect::AnnotationEdit::Kind::kDelete;
        e.category_id = relabel_to;
        edits.push_back(e);
      }
      const auto t = Clock::now();
      detect::write_corrected_coco(file, write_to, edits);
      out["write_seconds"] = seconds_since(t);
      out["edits"] = count;
    }
    std::cout << out.dump() << '\n';
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "coreclean_bench_coco: " << e.what() << '\n';
    return 1;
  }
}
