#include "web/web_assets.h"

#include <stdexcept>
#include <string>

namespace coreclean::web {
namespace {

std::string_view mime_of(std::string_view name) {
  auto ends_with = [&](std::string_view suffix) {
    return name.size() >= suffix.size() && name.substr(name.size() - suffix.size()) == suffix;
  };
  if (ends_with(".html")) return "text/html; charset=utf-8";
  if (ends_with(".js")) return "text/javascript; charset=utf-8";
  if (ends_with(".css")) return "text/css; charset=utf-8";
  if (ends_with(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

}  // namespace

std::optional<Asset> find_asset(std::string_view name) {
  for (std::size_t i = 0; i < detail::kEmbeddedFileCount; ++i) {
    const detail::EmbeddedFile& f = detail::kEmbeddedFiles[i];
    if (f.name == name) return Asset{f.name, f.content, mime_of(f.name)};
  }
  return std::nullopt;
}

Asset require_asset(std::string_view name) {
  if (auto a = find_asset(name)) return *a;
  throw std::logic_error("web asset not embedded in this build: " + std::string(name));
}

}  // namespace coreclean::web
