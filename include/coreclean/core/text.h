#ifndef CORECLEAN_CORE_TEXT_H_
#define CORECLEAN_CORE_TEXT_H_

/// @file
/// Small text helpers shared by the readers of user-written text (CSV cells, class names, JSON
/// keys).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace coreclean {

/// The whole of `text` as a decimal integer ("-3", "17"); nullopt for anything else (empty,
/// spaces, '+', trailing characters, out of the int64 range).
std::optional<std::int64_t> parse_int(std::string_view text);

/// `text` without leading and trailing spaces, tabs and line breaks.
std::string trim(std::string_view text);

/// `text` with ASCII letters in lower case (other bytes, e.g. UTF-8, unchanged).
std::string fold_case(std::string_view text);

}  // namespace coreclean

#endif  // CORECLEAN_CORE_TEXT_H_
