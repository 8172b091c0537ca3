#include <coreclean/core/class_names.h>
#include <coreclean/core/error.h>

#include <charconv>
#include <fmt/format.h>
#include <optional>
#include <set>

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
