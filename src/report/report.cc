#include <coreclean/report/report.h>

#include <coreclean/core/error.h>

#include "io/mapped_file.h"
#include "report/report_data.h"
#include "web/web_assets.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <sstream>

namespace coreclean::report {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

/// Counts of `first` and `last` over `bins` equal bins on [0, max of both] (importances are
/// non-negative); the last bin is closed.
struct Histogram {
  std::vector<double> edges;
  std::vector<std::int64_t> first, last;
};

Histogram histogram(const std::vector<double>& first, const std::vector<double>& last, int bins) {
  bins = std::max(bins, 1);
  double top = 0.0;
  for (double v : first) top = std::max(top, v);
  for (double v : last) top = std::max(top, v);
  if (!(top > 0.0)) top = 1.0;
  Histogram h;
  h.edges.resize(static_cast<std::size_t>(bins) + 1);
  for (int i = 0; i <= bins; ++i) h.edges[static_cast<std::size_t>(i)] = top * i / bins;
  auto count = [&](const std::vector<double>& values) {
    std::vector<std::int64_t> c(static_cast<std::size_t>(bins), 0);
    for (double v : values) {
      const auto b = std::clamp(static_cast<int>(v / top * bins), 0, bins - 1);
      ++c[static_cast<std::size_t>(b)];
    }
    return c;
  };
  h.first = count(first);
  h.last = count(last);
  return h;
}

Histogram session_histogram(const session::SessionStatus& st, int bins) {
  if (st.iterations.empty()) return histogram({}, {}, bins);
  return histogram(st.iterations.front().importance, st.iterations.back().importance, bins);
}

std::string base64(std::string_view bytes) {
  static constexpr char kDigits[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const auto v = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                   static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8 |
                   static_cast<unsigned char>(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kDigits[(v >> s) & 63];
  }
  if (i < bytes.size()) {
    auto v = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out += kDigits[(v >> 18) & 63];
    out += kDigits[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kDigits[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// One row of the iteration series.
struct IterationRow {
  const session::IterationMetrics* m = nullptr;
  std::int64_t fixed = 0, cumulative_reviewed = 0, cumulative_fixed = 0;
  std::optional<double> fixed_share;
};

std::vector<IterationRow> iteration_rows(const session::SessionStatus& st) {
  std::vector<IterationRow> rows;
  std::int64_t reviewed = 0, fixed = 0;
  for (const session::IterationMetrics& m : st.iterations) {
    IterationRow r;
    r.m = &m;
    r.fixed = m.relabelled + m.deleted;
    reviewed += m.reviewed;
    fixed += r.fixed;
    r.cumulative_reviewed = reviewed;
    r.cumulative_fixed = fixed;
    if (m.reviewed > 0) r.fixed_share = static_cast<double>(r.fixed) / static_cast<double>(m.reviewed);
    rows.push_back(r);
  }
  return rows;
}

void check_baselines(const std::vector<Baseline>& baselines, std::size_t iterations) {
  for (const Baseline& b : baselines) {
    if (b.cumulative_found.size() != iterations)
      throw InvalidArgument(fmt::format(
          "baseline '{}' has {} values; the session has {} iterations (one value each)", b.name,
          b.cumulative_found.size(), iterations));
    if (!b.auc.empty() && b.auc.size() != iterations)
      throw InvalidArgument(fmt::format(
          "baseline '{}' has {} AUC values; the session has {} iterations (one value each)",
          b.name, b.auc.size(), iterations));
  }
}

json examples_json(const session::Session& s, const ReportOptions& o) {
  // Fixed boxes (relabelled or deleted, applied), highest importance first.
  struct Example {
    session::DecisionRecord d;
    session::BatchItem item;
  };
  std::map<int, std::map<SampleId, session::BatchItem>> items_of_batch;
  std::vector<Example> fixed;
  for (const session::DecisionRecord& d : s.decisions()) {
    if (!d.applied || d.kind == session::DecisionKind::kKeep) continue;
    auto it = items_of_batch.find(d.batch);
    if (it == items_of_batch.end()) {
      std::map<SampleId, session::BatchItem> items;
      for (const session::BatchItem& item : s.batch(d.batch).items) items[item.id] = item;
      it = items_of_batch.emplace(d.batch, std::move(items)).first;
    }
    const auto item = it->second.find(d.id);
    if (item != it->second.end()) fixed.push_back({d, item->second});
  }
  std::stable_sort(fixed.begin(), fixed.end(), [](const Example& a, const Example& b) {
    return a.item.importance > b.item.importance;
  });
  if (fixed.size() > static_cast<std::size_t>(std::max(o.max_examples, 0)))
    fixed.resize(static_cast<std::size_t>(std::max(o.max_examples, 0)));
  json out = json::array();
  for (const Example& e : fixed) {
    json x = {{"id", e.d.id},
              {"batch", e.d.batch},
              {"decision", session::to_string(e.d.kind)},
              {"old_label", s.class_name(e.d.old_label)},
              {"new_label", e.d.kind == session::DecisionKind::kRelabel
                                ? json(s.class_name(e.d.new_label)) : json(nullptr)},
              {"importance", e.item.importance},
              {"misfit", e.item.misfit},
              {"atypical", e.item.atypical},
              {"suggested_label", s.class_name(e.item.suggested_label)},
              {"reviewer", e.d.reviewer}};
    if (o.embed_images) {
      json images = json::object();
      const fs::path folder = s.batch_dir(e.d.batch);
      for (const char* view : {"crop", "attention", "overlay"}) {
        const fs::path file = folder / fmt::format("{}_{}.jpg", e.d.id, view);
        if (fs::is_regular_file(file))
          images[view] = "data:image/jpeg;base64," + base64(read_file(file));
      }
      if (!images.empty()) x["images"] = std::move(images);
    }
    out.push_back(std::move(x));
  }
  return out;
}

void write_atomically(const fs::path& path, const std::string& text) {
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  io::detail::write_file_atomically(
      path, {std::as_bytes(std::span<const char>(text.data(), text.size()))});
}

json report_data_of(const session::Session& s, const session::SessionStatus& st,
                    const ReportOptions& o) {
  check_baselines(o.baselines, st.iterations.size());
  json iterations = json::array();
  for (const IterationRow& r : iteration_rows(st))
    iterations.push_back({{"iteration", r.m->iteration},
                          {"auc", r.m->auc},
                          {"reviewed", r.m->reviewed},
                          {"relabelled", r.m->relabelled},
                          {"deleted", r.m->deleted},
                          {"kept", r.m->kept},
                          {"fixed", r.fixed},
                          {"fixed_share", r.fixed_share ? json(*r.fixed_share) : json(nullptr)},
                          {"cumulative_reviewed", r.cumulative_reviewed},
                          {"cumulative_fixed", r.cumulative_fixed},
                          {"seconds", r.m->seconds}});
  json baselines = json::array();
  for (const Baseline& b : o.baselines) {
    json x = {{"name", b.name}, {"cumulative_found", b.cumulative_found}};
    if (!b.auc.empty()) x["auc"] = b.auc;
    baselines.push_back(std::move(x));
  }
  const Histogram h = session_histogram(st, o.histogram_bins);
  json classes = json::array();
  for (Label c : s.classes()) classes.push_back(s.class_name(c));
  const bool any = !st.iterations.empty();
  const json summary = {
      {"samples", st.samples},
      {"class_size", st.class_size},
      {"reviewed", st.reviewed},
      {"relabelled", st.relabelled},
      {"deleted", st.deleted},
      {"iterations", any ? st.iterations.back().iteration : 0},
      {"auc_start", any ? json(st.iterations.front().auc) : json(nullptr)},
      {"auc_end", any ? json(st.iterations.back().auc) : json(nullptr)},
      {"plateaued", st.plateaued},
      {"plateau_rule", fmt::format("AUC gained less than {} over the last {} iterations",
                                   session::SessionStatus::plateau_gain,
                                   session::SessionStatus::plateau_window)}};
  json data = {
      {"title", "coreclean cleaning report"},
      {"generated_at", fmt::format("{:%Y-%m-%dT%H:%M:%SZ}",
                                   std::chrono::floor<std::chrono::seconds>(
                                       std::chrono::system_clock::now()))},
      {"session", fs::absolute(s.dir()).lexically_normal().string()},
      {"class_of_interest", s.class_name(st.class_of_interest)},
      {"confused_with", s.class_name(st.confused_with)},
      {"classes", classes},
      {"summary", summary},
      {"iterations", iterations},
      {"baselines", baselines},
      {"importance", {{"edges", h.edges}, {"first", h.first}, {"last", h.last}}},
      {"examples", examples_json(s, o)}};
  return data;
}

std::string iterations_csv_of(const session::SessionStatus& st,
                              const std::vector<Baseline>& baselines) {
  check_baselines(baselines, st.iterations.size());
  std::string csv =
      "iteration,auc,reviewed,relabelled,deleted,kept,fixed,fixed_share,cumulative_reviewed,"
      "cumulative_fixed";
  for (const Baseline& b : baselines) {
    std::string name = b.name;
    std::replace(name.begin(), name.end(), ' ', '_');
    std::erase_if(name, [](char c) { return c == ',' || c == '"' || c == '\n' || c == '\r'; });
    csv += "," + name + "_found";
    if (!b.auc.empty()) csv += "," + name + "_auc";
  }
  csv += "\n";
  std::size_t i = 0;
  for (const IterationRow& r : iteration_rows(st)) {
    csv += fmt::format("{},{:.6f},{},{},{},{},{},{},{},{}", r.m->iteration, r.m->auc, r.m->reviewed,
                       r.m->relabelled, r.m->deleted, r.m->kept, r.fixed,
                       r.fixed_share ? fmt::format("{:.6f}", *r.fixed_share) : std::string(),
                       r.cumulative_reviewed, r.cumulative_fixed);
    for (const Baseline& b : baselines) {
      csv += fmt::format(",{:.4f}", b.cumulative_found[i]);
      if (!b.auc.empty()) csv += fmt::format(",{:.6f}", b.auc[i]);
    }
    csv += "\n";
    ++i;
  }
  return csv;
}

std::string importance_csv_of(const session::SessionStatus& st, int bins) {
  const Histogram h = session_histogram(st, bins);
  std::string csv = "bin_start,bin_end,first,last\n";
  for (std::size_t i = 0; i + 1 < h.edges.size(); ++i)
    csv += fmt::format("{:.6g},{:.6g},{},{}\n", h.edges[i], h.edges[i + 1], h.first[i], h.last[i]);
  return csv;
}

// "<", ">" and "&" written with the given replacements (the three characters that HTML
// parsing treats specially).
std::string replace_specials(std::string_view text, std::string_view lt, std::string_view gt,
                             std::string_view amp) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '<': out += lt; break;
      case '>': out += gt; break;
      case '&': out += amp; break;
      default: out += c;
    }
  }
  return out;
}

// The self-contained page rendering `data`. The data sits in a JSON script element: "</"
// would end it and "<!--" with "<script" would make the parser swallow the rest of the page;
// JSON's "\u003c" for every "<" (and the same for ">" and "&") rules both out. Text that is
// not UTF-8 is replaced, never an error.
std::string html_page(const json& data) {
  const std::string embedded =
      replace_specials(data.dump(-1, ' ', false, json::error_handler_t::replace), "\\u003c",
                       "\\u003e", "\\u0026");
  const std::string title =
      replace_specials(data.value("class_of_interest", std::string()), "&lt;", "&gt;", "&amp;");
  using web::require_asset;
  std::string html;
  html += "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>"
          "coreclean report — " + title + "</title>\n<style>";
  html += require_asset("uPlot.min.css").content;
  html += "</style>\n<style>";
  html += require_asset("report.css").content;
  html += "</style></head>\n<body>\n<script type=\"application/json\" id=\"report-data\">";
  html += embedded;
  html += "</script>\n<main id=\"report\"></main>\n<script>";
  html += require_asset("uPlot.iife.min.js").content;
  html += "</script>\n<script>";
  html += require_asset("charts.js").content;
  html += "</script>\n<script>";
  html += require_asset("report.js").content;
  html += "</script>\n</body></html>\n";
  return html;
}

}  // namespace

namespace detail {

json report_data(const session::Session& s, const ReportOptions& o) {
  return report_data_of(s, s.status(), o);
}

}  // namespace detail

std::string report_data_json(const session::Session& s, const ReportOptions& o) {
  // Text from files (CSV reviewer names, class names) may not be UTF-8: replace, never fail.
  return detail::report_data(s, o).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string report_html(const std::string& data_json) {
  return html_page(json::parse(data_json));
}

std::string iterations_csv(const session::Session& s, const std::vector<Baseline>& baselines) {
  return iterations_csv_of(s.status(), baselines);
}

std::string importance_csv(const session::Session& s, int bins) {
  return importance_csv_of(s.status(), bins);
}

ReportFiles write_report(session::Session& s, const fs::path& html, const ReportOptions& o) {
  ReportFiles files;
  files.html = html;
  const fs::path stem = html.parent_path() / html.stem();
  files.iterations_csv = stem.string() + "-iterations.csv";
  files.importance_csv = stem.string() + "-importance.csv";
  // Nothing is written unless all three files may be.
  for (const fs::path& f : {files.html, files.iterations_csv, files.importance_csv})
    s.check_output_file(f);
  // One read of the session's state for the page and both series.
  const session::SessionStatus st = s.status();
  write_atomically(files.html, html_page(report_data_of(s, st, o)));
  write_atomically(files.iterations_csv, iterations_csv_of(st, o.baselines));
  write_atomically(files.importance_csv, importance_csv_of(st, o.histogram_bins));
  for (const fs::path& f : {files.html, files.iterations_csv, files.importance_csv})
    s.record_output_file(f);
  return files;
}

}  // namespace coreclean::report
