#ifndef CORECLEAN_SRC_CORE_CHECK_H_
#define CORECLEAN_SRC_CORE_CHECK_H_

// Internal checking macros. Messages are fmt format strings whose arguments are the actual
// values, so an error always says what was found, not only what was expected.

#include <coreclean/core/error.h>
#include <fmt/format.h>

/// Throws ExceptionType(fmt::format(...)) unless cond holds.
#define CORECLEAN_THROW_IF_NOT_AS(ExceptionType, cond, ...) \
  do {                                                      \
    if (!(cond)) throw ExceptionType(fmt::format(__VA_ARGS__)); \
  } while (false)

/// Throws coreclean::InvalidArgument unless cond holds.
#define CORECLEAN_THROW_IF_NOT(cond, ...) \
  CORECLEAN_THROW_IF_NOT_AS(::coreclean::InvalidArgument, cond, __VA_ARGS__)

/// Internal invariant; checked in every build type because a wrong answer is worse than a stop.
#define CORECLEAN_ASSERT(cond)                                                               \
  do {                                                                                      \
    if (!(cond))                                                                            \
      throw ::coreclean::InternalError(                                                     \
          fmt::format("internal invariant failed: {} at {}:{}", #cond, __FILE__, __LINE__)); \
  } while (false)

#endif  // CORECLEAN_SRC_CORE_CHECK_H_
