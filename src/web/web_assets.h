#ifndef CORECLEAN_WEB_WEB_ASSETS_H_
#define CORECLEAN_WEB_WEB_ASSETS_H_

// The web front end (review page, HTML report) compiled into the binary: the files of web/src
// and the chart library from web/node_modules, embedded at build time, so that nothing is
// fetched from a network at run time.

#include <cstddef>
#include <optional>
#include <string_view>

namespace coreclean::web {

/// One embedded file.
struct Asset {
  std::string_view name;     ///< file name, e.g. "review.js", "uPlot.iife.min.js"
  std::string_view content;  ///< its bytes
  std::string_view mime;     ///< Content-Type for serving it (from the name's extension)
};

/// The embedded file with this exact name; nullopt for any other name (including any name
/// with a path separator).
std::optional<Asset> find_asset(std::string_view name);

/// The embedded file with this name; throws std::logic_error when it is missing (a build
/// that forgot to embed it).
Asset require_asset(std::string_view name);

namespace detail {
struct EmbeddedFile {
  std::string_view name;
  std::string_view content;
};
extern const EmbeddedFile kEmbeddedFiles[];
extern const std::size_t kEmbeddedFileCount;
}  // namespace detail

}  // namespace coreclean::web

#endif  // CORECLEAN_WEB_WEB_ASSETS_H_
