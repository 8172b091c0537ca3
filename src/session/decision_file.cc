#include <coreclean/session/decision_file.h>

#include "core/check.h"

#include <coreclean/core/class_names.h>
#include <coreclean/core/error.h>
#include <coreclean/core/text.h>
#include <coreclean/io/csv.h>

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace coreclean::session {
namespace {

// Bad rows listed in one error message; the rest are counted.
constexpr std::size_t kMaxListedErrors = 20;


}  // namespace

DecisionFile read_decision_file(const std::filesystem::path& csv, const DecisionFileRules& rules) {
  const io::CsvTable table = io::read_csv(csv);
  const std::string file = csv.string();
  auto column = [&](const char* name) {
    for (std::size_t j = 0; j < table.header.size(); ++j)
      if (fold_case(trim(table.header[j])) == name) return static_cast<int>(j);
    return -1;
  };
  const int c_id = column("id"), c_decision = column("decision"), c_label = column("new_label"),
            c_reviewer = column("reviewer");
  CORECLEAN_THROW_IF_NOT(c_id >= 0 && c_decision >= 0,
                         "{}: the header must have the columns id and decision (and new_label "
                         "for relabels); found '{}'",
                         file, fmt::join(table.header, ","));
  DecisionFile out;
  std::vector<std::string> errors;
  std::size_t bad_rows = 0;
  std::set<SampleId> ids;
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const auto& row = table.rows[r];
    const int line = table.line[r];
    auto field = [&](int c) { return c >= 0 ? trim(row[c]) : std::string(); };
    std::vector<std::string> row_errors;
    auto bad = [&](const std::string& message) {
      row_errors.push_back(fmt::format("{}:{}: {}", file, line, message));
    };
    const std::string id_text = field(c_id), word = fold_case(field(c_decision)),
                      label_text = field(c_label);
    const std::optional<SampleId> id = parse_int(id_text);
    if (!id) {
      bad(fmt::format("column id: '{}' is not an integer id", id_text));
    } else if (!ids.insert(*id).second) {
      bad(fmt::format("column id: {} appears twice", *id));
    } else if (rules.reject_id) {
      if (const std::optional<std::string> why = rules.reject_id(*id))
        bad(fmt::format("column id: {} {}", *id, *why));
    }
    Decision d;
    d.id = id.value_or(0);
    d.reviewer = field(c_reviewer);
    bool decided = true;
    if (word.empty()) {
      decided = false;
      if (!label_text.empty())
        bad(fmt::format("column decision: empty, but new_label is '{}' (write relabel to "
                        "relabel the box)",
                        label_text));
    } else if (const std::optional<DecisionKind> kind = parse_decision_kind(word)) {
      d.kind = *kind;
      if (*kind == DecisionKind::kRelabel) {
        if (label_text.empty()) {
          bad("column new_label: empty (relabel needs the new class)");
        } else if (rules.find_class) {
          try {
            d.new_label = rules.find_class(label_text);
          } catch (const InvalidArgument& e) {
            bad(fmt::format("column new_label: {}", e.what()));
          }
        }
      } else if (!label_text.empty()) {
        bad(fmt::format("column new_label: '{}' on a {} row (only relabel takes a new label)",
                        label_text, word));
      }
    } else {
      bad(fmt::format("column decision: '{}' (must be keep, relabel or delete)",
                      field(c_decision)));
    }
    if (!row_errors.empty()) {
      ++bad_rows;
      for (std::string& e : row_errors)
        if (errors.size() < kMaxListedErrors) errors.push_back(std::move(e));
      continue;
    }
    if (decided) {
      out.decisions.push_back(d);
      out.lines.push_back(line);
    } else {
      out.undecided.push_back(d.id);
    }
  }
  if (bad_rows > 0) {
    std::string message = fmt::format("{}: {} bad row{} (nothing was applied):", file, bad_rows,
                                      bad_rows == 1 ? "" : "s");
    for (const std::string& e : errors) message += "\n  " + e;
    if (bad_rows > errors.size()) message += "\n  ... (only the first 20 problems are shown)";
    throw InvalidArgument(message);
  }
  return out;
}

bool has_decisions(const std::filesystem::path& csv) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(csv, ec)) return false;
  const io::CsvTable table = io::read_csv(csv);
  int c_decision = -1;
  for (std::size_t j = 0; j < table.header.size(); ++j)
    if (fold_case(trim(table.header[j])) == "decision") c_decision = static_cast<int>(j);
  if (c_decision < 0) return false;
  for (const auto& row : table.rows)
    if (!trim(row[c_decision]).empty()) return true;
  return false;
}

TreeDecisions apply_decision_file(const std::filesystem::path& csv, coreset::CoresetTree& tree) {
  DecisionFileRules rules;
  rules.reject_id = [&](SampleId id) -> std::optional<std::string> {
    if (tree.contains(id)) return std::nullopt;
    return "is not a sample of the tree";
  };
  rules.find_class = [&](const std::string& name) {
    const Label label = find_class(tree.class_names(), tree.classes(), name);
    CORECLEAN_THROW_IF_NOT(std::binary_search(tree.classes().begin(), tree.classes().end(), label),
                           "class '{}' is not in the tree", name);
    return label;
  };
  const DecisionFile file = read_decision_file(csv, rules);
  std::vector<SampleId> relabel_ids, delete_ids;
  Labels relabel_to;
  for (const Decision& d : file.decisions) {
    if (d.kind == DecisionKind::kDelete) {
      delete_ids.push_back(d.id);
    } else if (d.kind == DecisionKind::kRelabel) {
      relabel_ids.push_back(d.id);
      relabel_to.push_back(d.new_label);
    }
  }
  TreeDecisions done;
  done.relabelled = relabel_ids.size();
  done.deleted = delete_ids.size();
  done.kept = file.decisions.size() - relabel_ids.size() - delete_ids.size();
  done.nodes_touched = tree.apply_review(relabel_ids, relabel_to, delete_ids).nodes_touched;
  return done;
}

}  // namespace coreclean::session
