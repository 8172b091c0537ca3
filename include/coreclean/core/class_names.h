#ifndef CORECLEAN_CORE_CLASS_NAMES_H_
#define CORECLEAN_CORE_CLASS_NAMES_H_

/// @file
/// Class names (classes.json: label → name) and lookups by name or number.

#include <coreclean/core/types.h>

#include <map>
#include <span>
#include <string>

namespace coreclean {

/// Human-readable names of labels; may be empty or partial.
using ClassNames = std::map<Label, std::string>;

/// The name of a label, or the number as text when it has none.
std::string class_name(const ClassNames& names, Label label);

/// Finds a class by name (names take precedence) or by its number written as text; the number
/// must be one of `known` or of the named labels. When nothing matches exactly, surrounding
/// spaces and ASCII letter case are ignored, provided exactly one class matches then. Throws
/// InvalidArgument listing the known classes when nothing matches, and naming the candidates
/// when several do.
Label find_class(const ClassNames& names, std::span<const Label> known,
                 const std::string& name_or_id);

}  // namespace coreclean

#endif  // CORECLEAN_CORE_CLASS_NAMES_H_
