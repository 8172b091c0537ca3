#include <coreclean/core/class_names.h>
#include <coreclean/core/error.h>
#include <coreclean/core/text.h>

#include <fmt/format.h>
#include <optional>
#include <set>
#include <vector>

namespace coreclean {
namespace {

// Error messages list at most this many known classes, so that they stay readable.
constexpr std::size_t kMaxListedClasses = 100;


}  // namespace

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
  if (const auto label = parse_int(name_or_id); label.has_value() && known.contains(*label))
    return *label;
  // Typed by hand or in a spreadsheet: surrounding spaces and letter case do not matter, as
  // long as exactly one class matches.
  const std::string wanted = fold_case(trim(name_or_id));
  std::vector<Label> matches;
  for (const auto& [label, name] : names)
    if (fold_case(trim(name)) == wanted) matches.push_back(label);
  if (matches.size() == 1) return matches[0];
  if (const auto label = parse_int(trim(name_or_id)); label.has_value() && known.contains(*label))
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
