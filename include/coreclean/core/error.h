#ifndef CORECLEAN_CORE_ERROR_H_
#define CORECLEAN_CORE_ERROR_H_

/// @file
/// The one exception hierarchy of the library. Every message names the file or parameter, the
/// field and the offending value, so that a user can act on it without reading code.

#include <stdexcept>
#include <string>

namespace coreclean {

/// Base class of every error the library throws.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

/// A caller passed a value the function cannot accept (bad parameter, wrong shape, NaN, ...).
/// The command-line tool maps it, like FormatError, to exit code 2 ("bad input").
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

/// A file's content is not what its format requires (bad magic, truncated, unparsable JSON).
class FormatError : public Error {
 public:
  using Error::Error;
};

/// The operating system refused an operation (file missing, permission denied, disk full).
class IoError : public Error {
 public:
  using Error::Error;
};

/// The caller asked a running call to stop (Context::cancel). What the call had committed
/// before the check stays committed; the CLI turns it into exit code 130.
class Cancelled : public Error {
 public:
  using Error::Error;
};

/// An internal invariant was violated: a bug in coreclean, never the user's fault.
class InternalError : public Error {
 public:
  using Error::Error;
};

}  // namespace coreclean

#endif  // CORECLEAN_CORE_ERROR_H_
