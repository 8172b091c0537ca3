#include <coreclean/io/text_file.h>

#include <span>

#include "io/mapped_file.h"  // for write_file_atomically

namespace coreclean::io {

void write_text_atomically(const std::filesystem::path& path, std::string_view text) {
  detail::write_file_atomically(path, {std::as_bytes(std::span(text.data(), text.size()))});
}

}  // namespace coreclean::io
