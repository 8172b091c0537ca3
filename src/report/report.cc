#include <coreclean/report/report.h>

#include <coreclean/core/error.h>
#include <coreclean/coreset/coreset_tree.h>
#include <coreclean/io/csv.h>
#include <coreclean/io/text_file.h>
#include <coreclean/linear/metrics.h>

#include "report/report_data.h"
#include "web/web_assets.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
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
  h.edges.back() = top;  // top · bins / bins may round below the largest value it must hold
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

// The session folder's name: the report never holds a path of the machine it was made on.
std::string folder_name(const fs::path& dir) {
  fs::path p = fs::absolute(dir).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();  // "…/session/" ends in an empty name
  return p.filename().string();
}

/// A stored decision in its final state, with what its revisions changed.
struct DecisionRow {
  const session::DecisionRecord* d = nullptr;
  int revisions = 0;
  /// The decision before the first revision (revisions > 0 only).
  session::DecisionKind original_kind = session::DecisionKind::kKeep;
  Label original_new_label = 0;
};

// revise() rewrites the stored decision and keeps the change as a revision: the decision is
// final already, its revisions tell whether and from what it was changed.
std::vector<DecisionRow> decision_rows(const std::vector<session::DecisionRecord>& decisions,
                                       const std::vector<session::RevisionRecord>& revisions) {
  std::map<std::pair<int, SampleId>, DecisionRow> revised;
  for (const session::RevisionRecord& r : revisions) {  // oldest first
    DecisionRow& row = revised[{r.batch, r.id}];
    if (row.revisions++ == 0) {
      row.original_kind = r.old_kind;
      row.original_new_label = r.old_new_label;
    }
  }
  std::vector<DecisionRow> rows;
  rows.reserve(decisions.size());
  for (const session::DecisionRecord& d : decisions) {
    const auto it = revised.find({d.batch, d.id});
    DecisionRow row = it == revised.end() ? DecisionRow{} : it->second;
    row.d = &d;
    rows.push_back(row);
  }
  return rows;
}

// The class a decision relabels to: its name for a relabel, nothing otherwise.
std::string new_label_name(const session::Session& s, session::DecisionKind kind, Label label) {
  return kind == session::DecisionKind::kRelabel ? s.class_name(label) : std::string();
}
json new_label_json(const session::Session& s, session::DecisionKind kind, Label label) {
  return kind == session::DecisionKind::kRelabel ? json(s.class_name(label)) : json(nullptr);
}

json decisions_json(const session::Session& s, const std::vector<DecisionRow>& rows) {
  json out = json::array();
  for (const DecisionRow& r : rows) {
    const session::DecisionRecord& d = *r.d;
    json x = {{"batch", d.batch},
              {"id", d.id},
              {"decision", session::to_string(d.kind)},
              {"old_label", s.class_name(d.old_label)},
              {"new_label", new_label_json(s, d.kind, d.new_label)},
              {"reviewer", d.reviewer},
              {"decided_at", d.decided_at},
              {"applied", d.applied},
              {"revised", r.revisions > 0}};
    if (r.revisions > 0) {
      x["original_decision"] = session::to_string(r.original_kind);
      x["original_new_label"] = new_label_json(s, r.original_kind, r.original_new_label);
    }
    out.push_back(std::move(x));
  }
  return out;
}

std::string decisions_csv_of(const session::Session& s, const std::vector<DecisionRow>& rows) {
  std::string csv =
      "batch,id,decision,old_label,new_label,reviewer,decided_at,applied,revised,"
      "original_decision,original_new_label\n";
  for (const DecisionRow& r : rows) {
    const session::DecisionRecord& d = *r.d;
    const bool revised = r.revisions > 0;
    const std::string original = revised ? session::to_string(r.original_kind) : "";
    const std::string original_new_label =
        revised ? new_label_name(s, r.original_kind, r.original_new_label) : "";
    csv += fmt::format("{},{},{},{},{},{},{},{},{},{},{}\n", d.batch, d.id,
                       session::to_string(d.kind), io::csv_field(s.class_name(d.old_label)),
                       io::csv_field(new_label_name(s, d.kind, d.new_label)),
                       io::csv_field(d.reviewer), io::csv_field(d.decided_at), d.applied ? 1 : 0,
                       revised ? 1 : 0, original, io::csv_field(original_new_label));
  }
  return csv;
}

// The pick's confusion matrix with class names, whether each class is one of the session's
// (the session knows the names of its own classes only: others are named by their id), the
// class of interest's index and the largest off-diagonal cell (the pair of classes the
// classifier mixes up most); null without a matrix.
json confusion_json(const session::Session& s, Label interest) {
  const std::optional<session::ClassConfusion> c = s.class_confusion();
  if (!c) return nullptr;
  const std::size_t k = c->classes.size();
  if (k == 0 || c->normalized.size() != k * k) return nullptr;
  json classes = json::array(), in_session = json::array(), rows = json::array();
  json interest_index = nullptr, largest = nullptr;
  double top = -1.0;
  const Labels& own = s.classes();
  for (std::size_t i = 0; i < k; ++i) {
    classes.push_back(s.class_name(c->classes[i]));
    in_session.push_back(std::find(own.begin(), own.end(), c->classes[i]) != own.end());
    if (c->classes[i] == interest) interest_index = i;
    json row = json::array();
    for (std::size_t j = 0; j < k; ++j) {
      const double v = c->normalized[i * k + j];
      row.push_back(v);
      if (i != j && v > top) {
        top = v;
        largest = {{"row", i}, {"column", j}, {"value", v}};
      }
    }
    rows.push_back(std::move(row));
  }
  return {{"classes", classes},
          {"in_session", in_session},
          {"normalized", rows},
          {"used_test_split", c->used_test_split},
          {"class_of_interest", interest_index},
          {"largest_off_diagonal", largest}};
}

// `word` as one word of a POSIX shell command line (quoted when it holds anything else than
// letters, digits and ._-+/=:,@%).
std::string shell_word(const std::string& word) {
  const bool plain = !word.empty() && std::all_of(word.begin(), word.end(), [](unsigned char c) {
    return std::isalnum(c) || std::string_view("._-+/=:,@%").find(static_cast<char>(c)) !=
                                  std::string_view::npos;
  });
  if (plain) return word;
  std::string quoted = "'";
  for (char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// Counts of the findings per check (the box checks' and the near-duplicate search's; a pair is one
// finding), and how many flagged boxes were reviewed and fixed.
json findings_json(const session::Session& s, const session::SessionStatus& st) {
  std::map<std::string, std::int64_t> per_check;
  for (const session::BoxIssue& f : s.findings()) ++per_check[f.check];
  std::vector<std::pair<std::string, std::int64_t>> sorted(per_check.begin(), per_check.end());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  json checks = json::array();
  for (const auto& [check, n] : sorted) checks.push_back({{"check", check}, {"findings", n}});
  // Checked: the box checks ran (the session has a COCO file), or the near-duplicate search
  // found something (it runs on every session's features).
  return {{"checked", !s.coco_path().empty() || !per_check.empty()},
          {"flagged", st.flagged},
          {"reviewed", st.flagged_reviewed},
          {"fixed", st.flagged_fixed},
          {"checks", checks},
          {"command", st.flagged_reviewed < st.flagged
                          ? json(fmt::format("coreclean next {} --findings",
                                            shell_word(folder_name(s.dir()))))
                          : json(nullptr)}};
}

// The random audits' estimate of the wrong labels left among the unseen boxes of the class:
// the share fixed with its 95 % Wilson interval, times the unseen boxes. Null without an audit.
json audit_json(const session::SessionStatus& st) {
  if (st.audited <= 0) return nullptr;
  const double share = static_cast<double>(st.audit_fixed) / static_cast<double>(st.audited);
  const linear::Interval ci = linear::wilson_interval(st.audit_fixed, st.audited);
  const auto unseen = static_cast<double>(st.unseen);
  return {{"audited", st.audited},  {"fixed", st.audit_fixed},
          {"share", share},         {"low", ci.low},
          {"high", ci.high},        {"unseen", st.unseen},
          {"wrong_unseen", share * unseen}, {"wrong_unseen_low", ci.low * unseen},
          {"wrong_unseen_high", ci.high * unseen}};
}

json examples_json(const session::Session& s, const std::vector<DecisionRow>& decisions,
                   const ReportOptions& o) {
  // Fixed boxes (relabelled or deleted, applied), highest importance first.
  struct Example {
    session::DecisionRecord d;
    session::BatchItem item;
  };
  std::map<int, std::map<SampleId, session::BatchItem>> items_of_batch;
  std::vector<Example> fixed;
  for (const DecisionRow& row : decisions) {
    const session::DecisionRecord& d = *row.d;
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
              {"new_label", new_label_json(s, e.d.kind, e.d.new_label)},
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
  io::write_text_atomically(path, text);
}

json report_data_of(const session::Session& s, const session::SessionStatus& st,
                    const std::vector<DecisionRow>& decisions, const ReportOptions& o) {
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
                          {"seconds", r.m->seconds},
                          {"fusion", r.m->fusion ? json{{"ridge", r.m->fusion->ridge},
                                                        {"held_out", r.m->fusion->held_out},
                                                        {"neighbour", r.m->fusion->neighbour}}
                                                 : json(nullptr)}});
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
      {"session", folder_name(s.dir())},
      {"class_of_interest", s.class_name(st.class_of_interest)},
      {"confused_with", s.class_name(st.confused_with)},
      {"classes", classes},
      {"summary", summary},
      {"audit", audit_json(st)},
      {"scores", {{"atypical_weight", st.atypical_weight}}},
      {"iterations", iterations},
      {"baselines", baselines},
      {"importance", {{"edges", h.edges}, {"first", h.first}, {"last", h.last}}},
      {"confusion", confusion_json(s, st.class_of_interest)},
      {"findings", findings_json(s, st)},
      {"decisions", decisions_json(s, decisions)},
      {"examples", examples_json(s, decisions, o)}};
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
  const std::vector<session::DecisionRecord> decisions = s.decisions();
  return report_data_of(s, s.status(), decision_rows(decisions, s.revisions()), o);
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

std::string decisions_csv(const session::Session& s) {
  const std::vector<session::DecisionRecord> decisions = s.decisions();
  return decisions_csv_of(s, decision_rows(decisions, s.revisions()));
}

ReportFiles write_report(session::Session& s, const fs::path& html, const ReportOptions& o) {
  ReportFiles files;
  files.html = html;
  const fs::path stem = html.parent_path() / html.stem();
  files.iterations_csv = stem.string() + "-iterations.csv";
  files.importance_csv = stem.string() + "-importance.csv";
  files.decisions_csv = stem.string() + "-decisions.csv";
  const std::array<fs::path, 4> all = {files.html, files.iterations_csv, files.importance_csv,
                                       files.decisions_csv};
  // Nothing is written unless all four files may be.
  for (const fs::path& f : all) s.check_output_file(f);
  // One read of the session's state for the page and the series.
  const session::SessionStatus st = s.status();
  const std::vector<session::DecisionRecord> decisions = s.decisions();
  const std::vector<DecisionRow> rows = decision_rows(decisions, s.revisions());
  json data = report_data_of(s, st, rows, o);
  // The page links the files beside it by name (relative links: the folder may move).
  data["files"] = {{"iterations_csv", files.iterations_csv.filename().string()},
                   {"importance_csv", files.importance_csv.filename().string()},
                   {"decisions_csv", files.decisions_csv.filename().string()}};
  write_atomically(files.html, html_page(data));
  write_atomically(files.iterations_csv, iterations_csv_of(st, o.baselines));
  write_atomically(files.importance_csv, importance_csv_of(st, o.histogram_bins));
  write_atomically(files.decisions_csv, decisions_csv_of(s, rows));
  for (const fs::path& f : all) s.record_output_file(f);
  return files;
}

}  // namespace coreclean::report
