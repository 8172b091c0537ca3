#include <coreclean/core/class_names.h>
#include <coreclean/core/error.h>

#include <charconv>
#include <fmt/format.h>
#include <optional>
#include <set>
#include <vector>

namespace coreclean {
namespace {

// Error messages list at most this many known classes, so that they stay readable.
constexpr std::size_t kMaxListedClasses = 100;

std::optional<Label> parse_label(const std::string& text) {
  Label value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, error] = std::from_chars(text.data(), end, value);
  if (error != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

}  // namespace

std::string trim(std::string_view text) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  std::size_t b = 0, e = text.size();
  while (b < e && is_space(text[b])) ++b;
  while (e > b && is_space(text[e - 1])) --e;
  return std::string(text.substr(b, e - b));
}

std::string fold_case(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string class_name(const ClassNames& names, Label label) {
  const auto it = names.find(label);
  return it != names.end() ? it->second : std::to_string(label);
}

Label find_class(const ClassNames& names, std::span<const Label> known_labels,
                 const std::string& name_or_id) {
  // Names take precedence: a class may be named like another class's number, and a user who
  // typed a name from classes.json means that class.
  for (const auto& [label, name] : names)
    if (name == name_or_id) return label;
  std::set<Label> known(known_labels.begin(), known_labels.end());
  for (const auto& entry : names) known.insert(entry.first);
  if (const auto label = parse_label(name_or_id); label.has_value() && known.contains(*label))
    return *label;
  // Typed by hand or in a spreadsheet: surrounding spaces and letter case do not matter, as
  // long as exactly one class matches.
  const std::string wanted = fold_case(trim(name_or_id));
  std::vector<Label> matches;
  for (const auto& [label, name] : names)
    if (fold_case(trim(name)) == wanted) matches.push_back(label);
  if (matches.size() == 1) return matches[0];
  if (const auto label = parse_label(trim(name_or_id)); label.has_value() && known.contains(*label))
    return *label;
  if (matches.size() > 1) {
    std::string listed;
    for (const Label l : matches) listed += fmt::format("{}'{}' ({})", listed.empty() ? "" : ", ", names.at(l), l);
    throw InvalidArgument(fmt::format("class '{}' is ambiguous: it matches {} when letter case is "
                                      "ignored; write the name exactly",
                                      name_or_id, listed));
  }
  std::string listed;
  std::size_t count = 0;
  for (const Label label : known) {
    if (count == kMaxListedClasses) {
      listed += fmt::format(", ... ({} more)", known.size() - count);
      break;
    }
    if (count++ > 0) listed += ", ";
    const auto it = names.find(label);
    listed += it != names.end() ? fmt::format("{} ({})", label, it->second) : std::to_string(label);
  }
  throw InvalidArgument(fmt::format("unknown class '{}'; known classes: {}", name_or_id,
                                    known.empty() ? std::string("none") : listed));
}

}  // namespace coreclean
