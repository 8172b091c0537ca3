// COCO reader with pycocotools semantics (Python's json module, then the fields pycocotools uses).
//
// simdjson On-Demand parses windows of the text (see Scanner) and every value is walked, used or
// not, because a file Python's json module would refuse must be refused here too. Errors are
// located afterwards: when anything fails, a small scalar scanner finds the first offending byte
// of the whole text with Python's rules, so that a message names the line and column that
// `python3 -m json.tool` would, and a syntax error is reported before any content problem.

#include <coreclean/detect/coco.h>
#include <simdjson.h>
#include <sys/mman.h>  // for madvise
#include <unistd.h>    // for sysconf

#if defined(__SSE2__)
#include <emmintrin.h>  // for the window scanner's 16-byte search
#endif

#include <algorithm>
#include <filesystem>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/check.h"
#include "detect/coco_text.h"
#include "io/mapped_file.h"

namespace coreclean::detect {
namespace {

namespace od = simdjson::ondemand;

constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";

// ---------------------------------------------------------------------------------------------
// Locating syntax errors (error path only).

struct SyntaxError {
  std::size_t offset = 0;  // into the text given to find_syntax_error
  std::string reason;
};

bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// Length of the JSON number at the start of `s` by Python's pattern
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?, or 0 when there is none. A longer token such as
// "1." is a number followed by something unexpected, exactly as Python reads it.
std::size_t number_length(std::string_view s) {
  std::size_t j = 0;
  if (j < s.size() && s[j] == '-') ++j;
  if (j < s.size() && s[j] == '0') {
    ++j;
  } else if (j < s.size() && s[j] >= '1' && s[j] <= '9') {
    while (j < s.size() && is_digit(s[j])) ++j;
  } else {
    return 0;
  }
  if (j + 1 < s.size() && s[j] == '.' && is_digit(s[j + 1])) {
    j += 2;
    while (j < s.size() && is_digit(s[j])) ++j;
  }
  if (j < s.size() && (s[j] == 'e' || s[j] == 'E')) {
    std::size_t k = j + 1;
    if (k < s.size() && (s[k] == '+' || s[k] == '-')) ++k;
    if (k < s.size() && is_digit(s[k])) {
      while (k < s.size() && is_digit(s[k])) ++k;
      j = k;
    }
  }
  return j;
}

// Python's json module also reads NaN, Infinity and -Infinity (and writes them for non-finite
// floats), so a COCO file written by Python can hold them.
std::optional<double> nonfinite_literal(std::string_view token) {
  if (token == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (token == "Infinity") return std::numeric_limits<double>::infinity();
  if (token == "-Infinity") return -std::numeric_limits<double>::infinity();
  return std::nullopt;
}

// Length of a valid UTF-8 sequence at the start of `s` (strict: no overlong forms, no encoded
// surrogates, nothing above U+10FFFF), or 0.
std::size_t utf8_length(std::string_view s) {
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const auto cont = [&](std::size_t i) { return i < s.size() && (b(i) & 0xC0) == 0x80; };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;   // overlong
    if (c == 0xED && b(1) >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && b(1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

// Scans the string whose opening quote is at s[q]; returns the offset one past the closing quote,
// or sets `error`.
std::size_t scan_string(std::string_view s, std::size_t q, std::optional<SyntaxError>& error) {
  std::size_t i = q + 1;
  while (true) {
    if (i >= s.size()) {
      error = SyntaxError{q, "unterminated string"};
      return i;
    }
    const char c = s[i];
    if (c == '"') return i + 1;
    if (c == '\\') {
      if (i + 1 >= s.size()) {
        error = SyntaxError{q, "unterminated string"};
        return i;
      }
      const char e = s[i + 1];
      if (e == 'u') {
        if (i + 5 >= s.size() || !is_hex(s[i + 2]) || !is_hex(s[i + 3]) || !is_hex(s[i + 4]) ||
            !is_hex(s[i + 5])) {
          error = SyntaxError{i + 1, "invalid \\uXXXX escape"};  // at the 'u', as Python
          return i;
        }
        i += 6;
      } else if (std::strchr("\"\\/bfnrt", e) != nullptr && e != '\0') {
        i += 2;
      } else {
        const unsigned char u = static_cast<unsigned char>(e);
        error = SyntaxError{i, u >= 0x20 && u < 0x7F
                                   ? fmt::format("invalid escape '\\{}'", e)
                                   : fmt::format("invalid escape: '\\' followed by byte 0x{:02x}",
                                                 static_cast<unsigned>(u))};
        return i;
      }
      continue;
    }
    if (static_cast<unsigned char>(c) < 0x20) {
      error = SyntaxError{i, fmt::format("control character 0x{:02x} inside a string (it must be "
                                         "escaped)",
                                         static_cast<unsigned>(c))};
      return i;
    }
    if (static_cast<unsigned char>(c) >= 0x80) {
      const std::size_t n = utf8_length(s.substr(i));
      if (n == 0) {
        error = SyntaxError{i, fmt::format("invalid UTF-8 byte 0x{:02x}",
                                           static_cast<unsigned>(static_cast<unsigned char>(c)))};
        return i;
      }
      i += n;
      continue;
    }
    ++i;
  }
}

// The first place where `s` stops being a JSON document as Python's json module reads it
// (NaN/Infinity allowed, nothing but whitespace after the value), or nullopt when it is one.
// Iterative, so that deep nesting cannot exhaust the stack.
std::optional<SyntaxError> find_syntax_error(std::string_view s) {
  std::size_t i = 0;
  if (s.starts_with(kByteOrderMark)) i = kByteOrderMark.size();
  const auto skip_space = [&] {
    while (i < s.size() && is_json_space(s[i])) ++i;
  };
  const auto fail = [&](std::string reason) { return SyntaxError{i, std::move(reason)}; };
  const auto found = [&]() -> std::string {
    if (i >= s.size()) return "the end of the file";
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F) return fmt::format("'{}'", static_cast<char>(c));
    return fmt::format("byte 0x{:02x}", static_cast<unsigned>(c));
  };
  std::vector<char> stack;  // '[' or '{' of each open container
  std::optional<SyntaxError> error;
  // Parses an object key and its ':' at i (after whitespace).
  const auto key = [&]() -> bool {
    if (i >= s.size() || s[i] != '"') {
      error = fail("expected a property name in double quotes, found " + found());
      return false;
    }
    i = scan_string(s, i, error);
    if (error) return false;
    skip_space();
    if (i >= s.size() || s[i] != ':') {
      error = fail("expected ':' after a property name, found " + found());
      return false;
    }
    ++i;
    return true;
  };
  skip_space();
  while (true) {
    // A value starts at i.
    skip_space();
    if (i >= s.size()) return fail("expected a value, found the end of the file");
    const char c = s[i];
    bool opened = false;
    if (c == '{' || c == '[') {
      stack.push_back(c);
      ++i;
      skip_space();
      const char close = c == '{' ? '}' : ']';
      if (i < s.size() && s[i] == close) {
        stack.pop_back();
        ++i;
      } else {
        opened = true;
        if (c == '{' && !key()) return error;
      }
    } else if (c == '"') {
      i = scan_string(s, i, error);
      if (error) return error;
    } else {
      const std::string_view rest = s.substr(i);
      std::size_t n = 0;
      for (std::string_view literal : {"null", "true", "false", "NaN", "Infinity", "-Infinity"}) {
        if (rest.starts_with(literal)) n = literal.size();
      }
      if (n == 0) n = number_length(rest);
      if (n == 0) return fail("expected a value, found " + found());
      i += n;
    }
    if (opened) continue;
    // After a complete value: close containers or move to the next element.
    while (true) {
      skip_space();
      if (stack.empty()) {
        if (i < s.size()) return fail("unexpected data after the top-level value: " + found());
        return std::nullopt;
      }
      const char open = stack.back();
      const char close = open == '{' ? '}' : ']';
      if (i < s.size() && s[i] == close) {
        stack.pop_back();
        ++i;
        continue;
      }
      if (i >= s.size() || s[i] != ',') {
        return fail(fmt::format("expected ',' or '{}' after {}, found {}", close,
                                open == '{' ? "an object member" : "an array element", found()));
      }
      ++i;
      if (open == '{') {
        skip_space();
        if (!key()) return error;
      }
      break;
    }
  }
}

// 1-based line and column of a byte offset, as editors (and Python, which reads text files with
// universal newlines, as pycocotools does) count them: a line ends at "\n", "\r\n" or a lone
// "\r"; columns count characters, not bytes.
std::pair<std::size_t, std::size_t> line_column(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  std::size_t line = 1, column = 1;
  for (std::size_t k = 0; k < offset; ++k) {
    const char c = text[k];
    if (c == '\n' || c == '\r') {
      if (c == '\r' && k + 1 < offset && text[k + 1] == '\n') ++k;
      ++line;
      column = 1;
    } else if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
      ++column;
    }
  }
  return {line, column};
}

std::string where(std::string_view text, std::size_t offset) {
  const auto [line, column] = line_column(text, offset);
  return fmt::format("line {}, column {} (byte offset {})", line, column, offset);
}

// ---------------------------------------------------------------------------------------------
// Cutting the text into windows.

// Index of the first of '"', '[', ']', '{', '}' in s[i, limit), or limit.
std::size_t next_structural(std::string_view s, std::size_t i, std::size_t limit) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i lower = _mm_set1_epi8(0x20);
  const __m128i open = _mm_set1_epi8('{');   // '[' | 0x20 == '{'
  const __m128i close = _mm_set1_epi8('}');  // ']' | 0x20 == '}'
  while (i + 16 <= limit) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
    const __m128i folded = _mm_or_si128(v, lower);
    const __m128i hit =
        _mm_or_si128(_mm_cmpeq_epi8(v, quote),
                     _mm_or_si128(_mm_cmpeq_epi8(folded, open), _mm_cmpeq_epi8(folded, close)));
    const int mask = _mm_movemask_epi8(hit);
    if (mask != 0) return i + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
    i += 16;
  }
#endif
  for (; i < limit; ++i) {
    const char c = static_cast<char>(s[i] | 0x20);
    if (s[i] == '"' || c == '{' || c == '}') return i;
  }
  return limit;
}

// Index of the first '"' or '\\' in s[i, end), or s.size().
std::size_t next_quote_or_escape(std::string_view s, std::size_t i) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i escape = _mm_set1_epi8('\\');
  while (i + 16 <= s.size()) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
    const int mask =
        _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, escape)));
    if (mask != 0) return i + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
    i += 16;
  }
#endif
  for (; i < s.size(); ++i)
    if (s[i] == '"' || s[i] == '\\') return i;
  return s.size();
}

// simdjson reported an error, or the text ended early: it is not valid JSON (or exceeds a simdjson
// limit). The offset is only a hint: the error is located afterwards on the whole text.
struct JsonProblem {
  simdjson::error_code code = simdjson::TAPE_ERROR;
  std::optional<std::size_t> offset;
};

// The text is valid JSON so far but not a COCO file: a message with its context, and the offset
// it refers to.
struct SchemaProblem {
  std::string message;
  std::size_t offset = 0;
};

// The deepest nesting of arrays and objects a COCO file may have (the root object is level 1).
// Python's json module stops near 1000 levels (RecursionError); COCO itself needs 4
// (segmentation polygons). See docs/coco.md.
constexpr int kMaxDepth = 512;

// One past the closing quote of the string that opens at s[q]; only escapes are honoured
// (everything else inside is checked by simdjson or scan_string later).
std::size_t skip_string(std::string_view s, std::size_t q) {
  std::size_t i = q + 1;
  while (true) {
    i = next_quote_or_escape(s, i);
    if (i >= s.size()) throw JsonProblem{simdjson::UNCLOSED_STRING, q};
    if (s[i] == '"') return i + 1;
    i += 2;
  }
}

// Where a window of a container's children ends.
struct Cut {
  std::size_t pos = 0;  // of the ',' after the window's last child, or of the closing bracket
  bool closes = false;  // the container ends at pos
};

// From `i` (the start of a child of a container, outside any string), finds the first ',' between
// two children at or after `want`, or the container's closing bracket, whichever comes first.
// For valid JSON the result is exact; for invalid JSON it is some cut, and parsing the windows
// finds the error.
// Nesting is checked here, before any window is parsed: `depth` counts the levels within the
// current child, below the root object and the top-level container (2 levels).
Cut find_cut(std::string_view s, std::size_t i, std::size_t want, char close) {
  constexpr int kOuterLevels = 2;
  int depth = 0;  // within the current child
  while (true) {
    if (depth == 0 && i >= want) {
      // Between or within scalar children: the next ',' at this level ends the window.
      for (; i < s.size(); ++i) {
        const char c = s[i];
        if (c == ',') return {i, false};
        if (c == '"' || c == '[' || c == '{' || c == ']' || c == '}') break;
      }
    }
    const std::size_t limit = depth == 0 && i < want ? std::min(want, s.size()) : s.size();
    i = next_structural(s, i, limit);
    if (i == limit && limit < s.size()) continue;  // nothing but scalars before `want`
    if (i >= s.size()) throw JsonProblem{simdjson::INCOMPLETE_ARRAY_OR_OBJECT, s.size()};
    const char c = s[i];
    if (c == '"') {
      i = skip_string(s, i);
    } else if (c == '[' || c == '{') {
      if (kOuterLevels + depth >= kMaxDepth) {
        throw SchemaProblem{fmt::format("arrays and objects are nested deeper than {} levels (the "
                                        "limit for COCO files)",
                                        kMaxDepth),
                            i};
      }
      ++depth;
      ++i;
    } else if (depth > 0) {
      --depth;
      ++i;
    } else {
      if (c != close) throw JsonProblem{simdjson::TAPE_ERROR, i};
      return {i, true};
    }
  }
}

// The characters of a JSON string's content (between its quotes, escapes already checked),
// unescaped; lone surrogates (which Python reads, but which are not characters) become U+FFFD and
// set *lone_surrogate. Only for strings with escapes, so no speed matters.
std::string unescape(std::string_view inner, bool* lone_surrogate = nullptr) {
  std::string out;
  const auto put = [&](std::uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  };
  const auto hex4 = [&](std::size_t at) {
    return static_cast<std::uint32_t>(
        std::strtoul(std::string(inner.substr(at, 4)).c_str(), nullptr, 16));
  };
  for (std::size_t i = 0; i < inner.size(); ++i) {
    if (inner[i] != '\\' || i + 1 >= inner.size()) {
      out += inner[i];
      continue;
    }
    const char e = inner[++i];
    switch (e) {
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        std::uint32_t cp = hex4(i + 1);
        i += 4;
        if (cp >= 0xD800 && cp < 0xDC00 && i + 6 < inner.size() && inner[i + 1] == '\\' &&
            inner[i + 2] == 'u') {
          const std::uint32_t low = hex4(i + 3);
          if (low >= 0xDC00 && low < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            i += 6;
          }
        }
        const bool lone = cp >= 0xD800 && cp < 0xE000;
        if (lone && lone_surrogate != nullptr) *lone_surrogate = true;
        put(lone ? 0xFFFD : cp);
        break;
      }
      default:
        out += e;  // '"', '\\', '/'
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The parse.

template <typename T>
T take(simdjson::simdjson_result<T>&& result) {
  T value;
  if (const auto error = std::move(result).get(value)) throw JsonProblem{error, std::nullopt};
  return value;
}

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && is_json_space(s.back())) s.remove_suffix(1);
  return s;
}

// Where an entry of a top-level array is, for messages.
struct Entry {
  const char* array = "";
  std::size_t index = 0;
  std::size_t offset = 0;
  std::optional<std::int64_t> id;
};

// What the children of a top-level container are.
enum class Content { kImages = 0, kAnnotations = 1, kCategories = 2, kOther = 3 };

constexpr const char* kArrayNames[] = {"images", "annotations", "categories"};

// Reads COCO text. The top level (the root object and its keys) is read here byte by byte; the
// children of each top-level array or object are cut into windows of about `window` bytes that
// end between two children, and each window, wrapped in brackets, is one simdjson document. So
// simdjson's index of structural characters (4 bytes per token, about the size of the file
// itself for polygon-heavy COCO files) only ever covers one window, and the pages of a mapped
// file can be dropped behind the window: memory stays near the size of the parsed dataset.
class Scanner {
 public:
  // `release` allows dropping parsed pages of `text` (a private read-only file mapping).
  Scanner(std::string_view text, std::vector<detail::AnnotationSpan>* spans, bool release,
          std::size_t window)
      : text_(text), spans_(spans), release_(release), window_(std::max<std::size_t>(window, 1)) {}

  // Parses; throws JsonProblem or SchemaProblem.
  CocoDataset run() {
    const std::string_view s = text_;
    std::size_t i = skip_space(s.starts_with(kByteOrderMark) ? kByteOrderMark.size() : 0);
    if (i >= s.size()) throw JsonProblem{simdjson::EMPTY, i};
    if (s[i] != '{') {
      throw SchemaProblem{
          fmt::format("the top-level value must be an object with 'images', 'annotations' and "
                      "'categories', found {}",
                      kind_at(i)),
          i};
    }
    bool seen[3] = {false, false, false};
    i = skip_space(i + 1);
    if (i < s.size() && s[i] == '}') {
      i = skip_space(i + 1);
    } else {
      while (true) {
        if (i >= s.size() || s[i] != '"') throw JsonProblem{simdjson::TAPE_ERROR, i};
        const std::size_t key_begin = i;
        std::optional<SyntaxError> bad_key;
        i = scan_string(s, i, bad_key);
        if (bad_key) throw JsonProblem{simdjson::STRING_ERROR, bad_key->offset};
        std::string_view key = s.substr(key_begin + 1, i - key_begin - 2);
        std::string unescaped;
        if (key.find('\\') != std::string_view::npos) key = unescaped = unescape(key);
        i = skip_space(i);
        if (i >= s.size() || s[i] != ':') throw JsonProblem{simdjson::TAPE_ERROR, i};
        i = skip_space(i + 1);
        if (i >= s.size()) throw JsonProblem{simdjson::TAPE_ERROR, i};
        Content content = Content::kOther;
        for (int k = 0; k < 3; ++k)
          if (key == kArrayNames[k]) content = static_cast<Content>(k);
        if (content != Content::kOther) {
          const int k = static_cast<int>(content);
          if (seen[k])
            throw SchemaProblem{fmt::format("the top-level key '{}' appears twice", key), i};
          seen[k] = true;
          if (s[i] != '[')
            throw SchemaProblem{fmt::format("'{}' must be an array, found {}", key, kind_at(i)), i};
        }
        i = skip_space(skip_value_at(i, content));
        if (i < s.size() && s[i] == ',') {
          i = skip_space(i + 1);
          continue;
        }
        if (i < s.size() && s[i] == '}') {
          i = skip_space(i + 1);
          break;
        }
        throw JsonProblem{simdjson::TAPE_ERROR, i};
      }
    }
    if (i != s.size()) throw JsonProblem{simdjson::TRAILING_CONTENT, i};
    for (int k = 0; k < 3; ++k) {
      if (!seen[k])
        throw SchemaProblem{fmt::format("no '{}' array at the top level", kArrayNames[k]), 0};
    }
    return std::move(dataset_);
  }

  // Offsets of the entries of each array, for messages about duplicate ids.
  const std::vector<std::size_t>& entry_offsets(Content a) const {
    return offsets_[static_cast<int>(a)];
  }

 private:
  std::size_t skip_space(std::size_t i) const {
    while (i < text_.size() && is_json_space(text_[i])) ++i;
    return i;
  }

  // The type of the value starting at text_[i], for messages.
  std::string kind_at(std::size_t i) const {
    switch (text_[i]) {
      case '[':
        return "an array";
      case '{':
        return "an object";
      case '"':
        return "a string";
      case 't':
      case 'f':
        return "a boolean";
      case 'n':
        return "null";
      default: {
        const std::string_view rest = text_.substr(i, 40);
        return fmt::format("a number ({})",
                           rest.substr(0, std::min(rest.find_first_of(",}] \n\r\t"), rest.size())));
      }
    }
  }

  // Skips (and checks) the top-level value at text_[i]; returns the offset after it.
  std::size_t skip_value_at(std::size_t i, Content content) {
    const std::string_view s = text_;
    if (s[i] == '[' || s[i] == '{') return walk_container(i, content);
    if (s[i] == '"') {
      std::optional<SyntaxError> error;
      const std::size_t end = scan_string(s, i, error);
      if (error) throw JsonProblem{simdjson::STRING_ERROR, error->offset};
      return end;
    }
    const std::string_view rest = s.substr(i);
    for (std::string_view literal : {"null", "true", "false", "NaN", "Infinity", "-Infinity"})
      if (rest.starts_with(literal)) return i + literal.size();
    const std::size_t n = number_length(rest);
    if (n == 0) throw JsonProblem{simdjson::TAPE_ERROR, i};
    return i + n;
  }

  // Parses the children of the container whose bracket is at text_[open] window by window;
  // returns the offset after its closing bracket.
  std::size_t walk_container(std::size_t open, Content content) {
    const std::string_view s = text_;
    const char close = s[open] == '[' ? ']' : '}';
    std::size_t i = skip_space(open + 1);
    if (i < s.size() && s[i] == close) return i + 1;
    while (true) {
      const Cut cut = find_cut(s, i, i + window_, close);
      parse_window(s[open], i, cut.pos, content);
      release_before(cut.pos);
      if (cut.closes) return cut.pos + 1;
      i = skip_space(cut.pos + 1);
      // "[1, ]": a trailing comma (Python refuses it, and an empty window would hide it).
      if (i >= s.size() || s[i] == close) throw JsonProblem{simdjson::TAPE_ERROR, i};
    }
  }

  // Parses children text_[begin, end) of a container opened by `open` as one document.
  void parse_window(char open, std::size_t begin, std::size_t end, Content content) {
    const std::size_t length = end - begin + 2;
    if (buffer_.size() < length + simdjson::SIMDJSON_PADDING)
      buffer_.resize(length + simdjson::SIMDJSON_PADDING);
    buffer_[0] = open;
    std::memcpy(buffer_.data() + 1, text_.data() + begin, end - begin);
    buffer_[length - 1] = open == '[' ? ']' : '}';
    std::memset(buffer_.data() + length, 0, simdjson::SIMDJSON_PADDING);
    window_base_ = buffer_.data() + 1;
    window_offset_ = begin;
    try {
      od::document doc = take(parser_.iterate(buffer_.data(), length, buffer_.size()));
      if (open == '[') {
        od::array array = take(doc.get_array());
        for (auto element : array) {
          od::value v = take(std::move(element));
          if (content == Content::kOther) {
            skip_value(v);
          } else {
            read_entry(v, content);
          }
        }
      } else {
        od::object object = take(doc.get_object());
        for (auto field_result : object) {
          od::field field = take(std::move(field_result));
          key_of(field);
          skip_value(field.value());
        }
      }
      const char* rest = nullptr;
      if (doc.current_location().get(rest) == simdjson::SUCCESS) throw JsonProblem{};
    } catch (JsonProblem& p) {
      if (!p.offset) p.offset = begin;
      throw;
    }
  }

  // File offset of a pointer into the current window.
  std::size_t offset_of(const char* p) const {
    return window_offset_ + static_cast<std::size_t>(p - window_base_);
  }
  std::size_t offset_of(od::value& v) const { return offset_of(v.raw_json_token().data()); }

  static const char* type_name(od::json_type t) {
    switch (t) {
      case od::json_type::array:
        return "an array";
      case od::json_type::object:
        return "an object";
      case od::json_type::number:
        return "a number";
      case od::json_type::string:
        return "a string";
      case od::json_type::boolean:
        return "a boolean";
      case od::json_type::null:
        return "null";
    }
    return "a value";
  }

  // What a value is, for messages: its type and, for scalars, its text.
  std::string describe(od::value& v) {
    const std::string_view token = trim_right(v.raw_json_token());
    od::json_type t;
    if (v.type().get(t) != simdjson::SUCCESS) {
      if (nonfinite_literal(token)) return std::string(token);
      throw JsonProblem{};
    }
    if (t == od::json_type::array || t == od::json_type::object) return type_name(t);
    const std::string_view shown = token.size() > 40 ? token.substr(0, 40) : token;
    return fmt::format("{} ({}{})", type_name(t), shown, token.size() > 40 ? "..." : "");
  }

  // A key, unescaped only when it holds an escape (practically never). The view is valid until
  // the next key_of. Escapes are read as Python reads them: a lone surrogate escape makes a key
  // that matches no field coreclean uses (simdjson would refuse the whole window).
  std::string_view key_of(od::field& field) {
    const char* raw = field.key().raw();  // after the opening quote
    const char* p = raw;
    while (*p != '"' && *p != '\\') ++p;
    if (*p == '"') return {raw, static_cast<std::size_t>(p - raw)};
    // The first pass has found the closing quote: the end is within the window.
    while (*p != '"') p += *p == '\\' ? 2 : 1;
    return key_buffer_ =
               unescaped(std::string_view(raw - 1, static_cast<std::size_t>(p - raw) + 2));
  }

  // The content of a JSON string token (with its quotes) holding escapes; throws JsonProblem for
  // an invalid escape (find_syntax_error then locates it).
  static std::string unescaped(std::string_view token, bool* lone_surrogate = nullptr) {
    std::optional<SyntaxError> error;
    if (scan_string(token, 0, error) != token.size() || error) throw JsonProblem{};
    return unescape(token.substr(1, token.size() - 2), lone_surrogate);
  }

  // Walks a value the COCO reader does not use, so that all of it is checked. Iterative, with
  // the open containers on an explicit stack: however deep a file nests, the walk cannot
  // exhaust the call stack (find_cut also refuses nesting beyond kMaxDepth).
  void skip_value(od::value v) {
    // One open container: its iterators (the array's or the object's, as `is_array` says) and
    // whether a child has been visited (then the iterator must step past it first).
    struct Open {
      bool is_array = true;
      bool visited = false;
      od::array_iterator element, elements_end;
      od::object_iterator field, fields_end;
    };
    std::vector<Open> stack;
    // Checks a scalar, or opens a container on the stack.
    const auto visit = [&](od::value& value) {
      od::json_type t;
      if (value.type().get(t) != simdjson::SUCCESS) {
        if (nonfinite_literal(trim_right(value.raw_json_token()))) return;
        throw JsonProblem{};
      }
      if (t == od::json_type::array) {
        od::array a = take(value.get_array());
        stack.push_back(Open{true, false, take(a.begin()), take(a.end()), {}, {}});
      } else if (t == od::json_type::object) {
        od::object o = take(value.get_object());
        stack.push_back(Open{false, false, {}, {}, take(o.begin()), take(o.end())});
      } else {
        check_scalar(value, t);
      }
    };
    // Steps an iterator to the next child; false when there is none left.
    const auto next = [](auto& it, const auto& end, bool& visited) {
      if (visited) ++it;
      visited = true;
      return it != end;
    };
    visit(v);
    while (!stack.empty()) {
      Open& top = stack.back();
      if (!(top.is_array ? next(top.element, top.elements_end, top.visited)
                         : next(top.field, top.fields_end, top.visited))) {
        stack.pop_back();
        continue;
      }
      // visit() may push: `top` is not used after it.
      if (top.is_array) {
        od::value child = take(*top.element);
        visit(child);
      } else {
        od::field field = take(*top.field);
        key_of(field);
        visit(field.value());
      }
    }
  }

  // Checks a scalar value the reader does not use.
  void check_scalar(od::value& v, od::json_type t) {
    switch (t) {
      case od::json_type::number: {
        // Checking the grammar is enough (and cheaper than converting): the value is not used,
        // and out-of-range numbers (1e400, huge integers) are valid JSON that simdjson refuses.
        // The value stays unconsumed; the enclosing iteration steps over it.
        const std::string_view token = trim_right(v.raw_json_token());
        if (number_length(token) != token.size() && !nonfinite_literal(token)) throw JsonProblem{};
        return;
      }
      case od::json_type::string: {
        // simdjson's first pass has checked UTF-8 and control characters; escapes remain.
        // Checking them in place avoids unescaping into the parser's string buffer.
        const std::string_view token = trim_right(v.raw_json_token());
        if (token.find('\\') != std::string_view::npos) {
          std::optional<SyntaxError> error;
          const std::size_t end = scan_string(token, 0, error);
          if (error || end != token.size()) throw JsonProblem{};
        }
        return;
      }
      case od::json_type::boolean:
        take(v.get_bool());
        return;
      case od::json_type::null:
        if (!take(v.is_null())) throw JsonProblem{};
        return;
      case od::json_type::array:
      case od::json_type::object:
        break;
    }
    CORECLEAN_ASSERT(false);
  }

  // Records the first problem of the current entry; the entry is read to its end first so that
  // the message can name its id.
  void problem(od::value& v, std::string what) {
    if (!pending_) pending_ = SchemaProblem{std::move(what), offset_of(v)};
  }

  void finish_entry(Entry& entry) {
    if (!pending_) return;
    SchemaProblem p = std::move(*pending_);
    pending_.reset();
    const std::string id = entry.id ? fmt::format(" (id {})", *entry.id) : std::string();
    p.message = fmt::format("{}[{}]{}: {}", entry.array, entry.index, id, p.message);
    throw p;
  }

  void missing(Entry& entry, bool present, const char* field) {
    if (present || pending_) return;
    pending_ =
        SchemaProblem{fmt::format("the required field '{}' is missing", field), entry.offset};
  }

  std::optional<std::int64_t> integer(od::value& v, std::string_view field) {
    od::json_type t;
    if (v.type().get(t) != simdjson::SUCCESS || t != od::json_type::number) {
      problem(v, fmt::format("field '{}' must be an integer, found {}", field, describe(v)));
      return std::nullopt;
    }
    od::number n;
    if (v.get_number().get(n) != simdjson::SUCCESS) {
      const std::string_view token = trim_right(v.raw_json_token());
      if (!nonfinite_literal(token) && number_length(token) != token.size()) throw JsonProblem{};
      problem(v,
              fmt::format("field '{}' must be an integer within 64 bits, found {}", field, token));
      return std::nullopt;
    }
    if (n.is_int64()) return n.get_int64();
    if (n.is_double()) {
      // 7.0 is accepted as 7, as Python's dict lookups treat it.
      const double d = n.get_double();
      if (d == std::floor(d) && std::abs(d) < 9.2e18) return static_cast<std::int64_t>(d);
    }
    problem(v, fmt::format("field '{}' must be an integer, found {}", field,
                           trim_right(v.raw_json_token())));
    return std::nullopt;
  }

  std::optional<double> number(od::value& v, std::string_view field) {
    double d;
    if (v.get_double().get(d) == simdjson::SUCCESS) return d;
    const std::string_view token = trim_right(v.raw_json_token());
    if (const auto special = nonfinite_literal(token)) return special;
    od::json_type t;
    if (v.type().get(t) == simdjson::SUCCESS && t != od::json_type::number) {
      problem(v, fmt::format("field '{}' must be a number, found {}", field, describe(v)));
      return std::nullopt;
    }
    if (token.empty() || number_length(token) != token.size()) throw JsonProblem{};
    // Valid JSON beyond double's range: Python reads it as ±inf (or 0 for tiny exponents).
    return std::strtod(std::string(token).c_str(), nullptr);
  }

  std::optional<std::string> string(od::value& v, std::string_view field, bool null_is_empty) {
    od::json_type t;
    if (v.type().get(t) == simdjson::SUCCESS) {
      if (t == od::json_type::string) {
        const std::string_view token = trim_right(v.raw_json_token());
        if (token.find('\\') == std::string_view::npos) return std::string(take(v.get_string()));
        // Escapes: read here, so that a lone surrogate escape (valid for Python, refused by
        // simdjson) is a problem of this field, at this place.
        bool lone_surrogate = false;
        std::string text = unescaped(token, &lone_surrogate);
        if (lone_surrogate) {
          problem(v, fmt::format("field '{}' holds a lone UTF-16 surrogate escape (\\ud800 to "
                                 "\\udfff without its pair), which is not a character: {}{}",
                                 field, token.substr(0, 80), token.size() > 80 ? "..." : ""));
          return std::nullopt;
        }
        return text;
      }
      if (t == od::json_type::null && null_is_empty) {
        take(v.is_null());
        return std::string();
      }
    }
    problem(v, fmt::format("field '{}' must be a string, found {}", field, describe(v)));
    return std::nullopt;
  }

  // width / height: a whole number of pixels, null when unknown.
  int pixels(od::value& v, std::string_view field) {
    od::json_type t;
    if (v.type().get(t) == simdjson::SUCCESS && t == od::json_type::null) {
      take(v.is_null());
      return 0;
    }
    const auto n = integer(v, field);
    if (!n) return 0;
    if (*n < 0 || *n > std::numeric_limits<int>::max()) {
      problem(v, fmt::format("field '{}' must be a size in pixels, found {}", field, *n));
      return 0;
    }
    return static_cast<int>(*n);
  }

  void read_entry(od::value& element, Content content) {
    const int k = static_cast<int>(content);
    Entry entry{kArrayNames[k], next_index_[k]++, offset_of(element), std::nullopt};
    od::json_type t;
    if (element.type().get(t) != simdjson::SUCCESS || t != od::json_type::object) {
      throw SchemaProblem{fmt::format("{}[{}]: each entry must be an object, found {}", entry.array,
                                      entry.index, describe(element)),
                          entry.offset};
    }
    offsets_[k].push_back(entry.offset);
    switch (content) {
      case Content::kImages:
        read_image(element, entry);
        break;
      case Content::kAnnotations:
        read_annotation(element, entry);
        break;
      case Content::kCategories:
        read_category(element, entry);
        break;
      case Content::kOther:
        break;
    }
  }

  void read_image(od::value& element, Entry& entry) {
    od::object object = take(element.get_object());
    CocoImage image;
    bool has_id = false, has_file_name = false;
    for (auto field_result : object) {
      od::field field = take(std::move(field_result));
      const std::string_view key = key_of(field);
      od::value v = field.value();
      if (key == "id") {
        if (const auto id = integer(v, key)) {
          image.id = *id;
          entry.id = *id;
        }
        has_id = true;
      } else if (key == "file_name") {
        if (auto name = string(v, key, false)) {
          // "a.jpg\u0000.txt" decodes to a name that every file API cuts at the NUL: it would
          // open another file than the one named.
          if (const auto nul = name->find('\0'); nul != std::string::npos) {
            const std::string_view raw = trim_right(v.raw_json_token());
            problem(v, fmt::format("field 'file_name' holds a NUL character (\\u0000) at "
                                   "character {}: {}{}; file names cannot contain one",
                                   nul, raw.substr(0, 80), raw.size() > 80 ? "..." : ""));
          }
          // The name is joined onto the images folder: an absolute path or a `..` step would
          // read (and render into a review) a file outside it.
          const std::filesystem::path as_path(*name);
          const bool escapes =
              as_path.is_absolute() ||
              std::any_of(as_path.begin(), as_path.end(), [](const auto& p) { return p == ".."; });
          if (escapes) {
            const std::string_view raw = trim_right(v.raw_json_token());
            problem(v, fmt::format("field 'file_name' is {}{}: it must be a path inside the "
                                   "images folder (relative, without '..')",
                                   raw.substr(0, 80), raw.size() > 80 ? "..." : ""));
          }
          image.file_name = std::move(*name);
        }
        has_file_name = true;
      } else if (key == "width") {
        image.width = pixels(v, key);
      } else if (key == "height") {
        image.height = pixels(v, key);
      } else {
        skip_value(v);
      }
    }
    missing(entry, has_id, "id");
    missing(entry, has_file_name, "file_name");
    finish_entry(entry);
    dataset_.images.push_back(std::move(image));
  }

  void read_category(od::value& element, Entry& entry) {
    od::object object = take(element.get_object());
    CocoCategory category;
    bool has_id = false, has_name = false;
    for (auto field_result : object) {
      od::field field = take(std::move(field_result));
      const std::string_view key = key_of(field);
      od::value v = field.value();
      if (key == "id") {
        if (const auto id = integer(v, key)) {
          category.id = *id;
          entry.id = *id;
        }
        has_id = true;
      } else if (key == "name") {
        if (auto name = string(v, key, false)) category.name = std::move(*name);
        has_name = true;
      } else if (key == "supercategory") {
        if (auto name = string(v, key, true)) category.supercategory = std::move(*name);
      } else {
        skip_value(v);
      }
    }
    missing(entry, has_id, "id");
    missing(entry, has_name, "name");
    finish_entry(entry);
    dataset_.categories.push_back(std::move(category));
  }

  void read_bbox(od::value& v, Box& box) {
    od::json_type t;
    if (v.type().get(t) != simdjson::SUCCESS || t != od::json_type::array) {
      problem(v, fmt::format("field 'bbox' must be an array of 4 numbers [x, y, width, height], "
                             "found {}",
                             describe(v)));
      return;
    }
    od::array array = take(v.get_array());
    double values[4] = {0, 0, 0, 0};
    std::size_t count = 0;
    for (auto element_result : array) {
      od::value element = take(std::move(element_result));
      if (count < 4) {
        if (const auto x = number(element, "bbox")) values[count] = *x;
      } else {
        skip_value(element);
      }
      ++count;
    }
    if (count != 4) {
      problem(v, fmt::format("field 'bbox' must hold 4 numbers [x, y, width, height], found {}",
                             count));
      return;
    }
    box = Box{values[0], values[1], values[2], values[3]};
  }

  void read_annotation(od::value& element, Entry& entry) {
    od::object object = take(element.get_object());
    CocoAnnotation annotation;
    bool has_id = false, has_image_id = false, has_category_id = false, has_bbox = false;
    detail::AnnotationSpan span;
    span.begin = entry.offset;
    for (auto field_result : object) {
      od::field field = take(std::move(field_result));
      const std::string_view key = key_of(field);
      od::value v = field.value();
      if (key == "bbox") {
        read_bbox(v, annotation.bbox);
        has_bbox = true;
      } else if (key == "category_id") {
        const std::string_view token = trim_right(v.raw_json_token());
        span.category_begin = offset_of(token.data());
        span.category_end = span.category_begin + token.size();
        if (const auto id = integer(v, key)) annotation.category_id = *id;
        has_category_id = true;
      } else if (key == "image_id") {
        if (const auto id = integer(v, key)) annotation.image_id = *id;
        has_image_id = true;
      } else if (key == "id") {
        if (const auto id = integer(v, key)) {
          annotation.id = *id;
          entry.id = *id;
        }
        has_id = true;
      } else if (key == "iscrowd") {
        od::json_type t = od::json_type::null;
        if (v.type().get(t) == simdjson::SUCCESS && t == od::json_type::boolean) {
          annotation.iscrowd = take(v.get_bool());
        } else {
          std::int64_t flag = -1;
          if (t == od::json_type::number) {
            std::int64_t n;
            if (v.get_int64().get(n) == simdjson::SUCCESS) flag = n;
          }
          if (flag == 0 || flag == 1) {
            annotation.iscrowd = flag == 1;
          } else {
            problem(v, fmt::format("field 'iscrowd' must be 0 or 1, found {}", describe(v)));
          }
        }
      } else if (key == "area") {
        if (const auto area = number(v, key)) annotation.area = *area;
      } else {
        skip_value(v);
      }
    }
    missing(entry, has_id, "id");
    missing(entry, has_image_id, "image_id");
    missing(entry, has_category_id, "category_id");
    missing(entry, has_bbox, "bbox");
    finish_entry(entry);
    if (spans_ != nullptr) {
      // The iterator now stands on the token after the object (',' or the window's closing
      // bracket, which stands where the file has ',' or ']'); the object's '}' is the last
      // non-space byte before it.
      std::size_t end = offset_of(take(element.current_location()));
      while (end > span.begin && is_json_space(text_[end - 1])) --end;
      CORECLEAN_ASSERT(end > span.begin && text_[end - 1] == '}');
      span.end = end;
      spans_->push_back(span);
    }
    dataset_.annotations.push_back(annotation);
  }

  // Drops the whole pages of the text before `offset` from memory, every few megabytes, so that
  // a mapped file is resident only around the current window.
  void release_before(std::size_t offset) {
    constexpr std::size_t kStep = std::size_t{8} << 20;
    if (!release_ || offset < released_ + kStep) return;
    const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    const auto base = reinterpret_cast<std::uintptr_t>(text_.data());
    const std::uintptr_t from = (base + released_ + page - 1) / page * page;
    const std::uintptr_t to = (base + offset) / page * page;
    // Advice only: when refused, the pages simply stay.
    if (to > from) ::madvise(reinterpret_cast<void*>(from), to - from, MADV_DONTNEED);
    released_ = offset;
  }

  std::string_view text_;
  std::vector<detail::AnnotationSpan>* spans_;
  bool release_ = false;
  std::size_t window_;
  std::size_t released_ = 0;
  od::parser parser_;
  std::vector<char> buffer_;           // the current window, bracketed and padded
  const char* window_base_ = nullptr;  // buffer_ position of file offset window_offset_
  std::size_t window_offset_ = 0;
  CocoDataset dataset_;
  std::optional<SchemaProblem> pending_;
  std::string key_buffer_;  // the last key key_of unescaped
  std::size_t next_index_[3] = {0, 0, 0};
  std::vector<std::size_t> offsets_[3];
};

// The first repeated id of an array: (first index, second index).
template <typename T>
std::optional<std::pair<std::size_t, std::size_t>> fill_index(
    const std::vector<T>& items, std::unordered_map<std::int64_t, std::size_t>& at) {
  at.clear();
  at.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto [it, inserted] = at.emplace(items[i].id, i);
    if (!inserted) return std::pair{it->second, i};
  }
  return std::nullopt;
}

// Throws the FormatError for a problem: the first syntax error of the whole text when there is
// one (Python would report it before any content check), the problem itself otherwise.
[[noreturn]] void throw_format_error(std::string_view text, std::string_view source,
                                     const SchemaProblem* schema, const JsonProblem* json) {
  if (const auto syntax = find_syntax_error(text)) {
    throw FormatError(fmt::format("{}: invalid JSON at {}: {}", source, where(text, syntax->offset),
                                  syntax->reason));
  }
  if (schema != nullptr) {
    throw FormatError(
        fmt::format("{}: {} (at {})", source, schema->message, where(text, schema->offset)));
  }
  // Valid for Python but beyond simdjson (nesting is refused earlier, at 512 levels, and lone
  // surrogate escapes are read by the reader itself; none is known to remain).
  const std::size_t offset = json != nullptr && json->offset ? *json->offset : 0;
  throw FormatError(
      fmt::format("{}: cannot parse the JSON near {}: {}", source, where(text, offset),
                  simdjson::error_message(json != nullptr ? json->code : simdjson::TAPE_ERROR)));
}

}  // namespace

// ---------------------------------------------------------------------------------------------

namespace detail {

CocoText load_coco_text(const std::filesystem::path& path) {
  io::detail::FileBytes file = io::detail::map_file(path);
  const std::string_view text(reinterpret_cast<const char*>(file.bytes.data()), file.bytes.size());
  return {std::move(file.storage), text, !text.empty()};
}

CocoDataset parse_coco_text(const CocoText& text, std::string_view source,
                            std::vector<AnnotationSpan>* spans, std::size_t window_bytes) {
  const std::string_view s = text.text;
  Scanner scanner(s, spans, text.mapped, window_bytes);
  CocoDataset dataset;
  try {
    dataset = scanner.run();
  } catch (const JsonProblem& p) {
    throw_format_error(s, source, nullptr, &p);
  } catch (const SchemaProblem& p) {
    throw_format_error(s, source, &p, nullptr);
  }
  try {
    dataset.index();
  } catch (const InvalidArgument&) {
    // Name both entries and where the second one is.
    std::unordered_map<std::int64_t, std::size_t> at;
    std::optional<std::pair<std::size_t, std::size_t>> duplicate;
    Content array = Content::kImages;
    std::int64_t id = 0;
    if ((duplicate = fill_index(dataset.images, at))) {
      id = dataset.images[duplicate->second].id;
    } else if ((duplicate = fill_index(dataset.annotations, at))) {
      array = Content::kAnnotations;
      id = dataset.annotations[duplicate->second].id;
    } else if ((duplicate = fill_index(dataset.categories, at))) {
      array = Content::kCategories;
      id = dataset.categories[duplicate->second].id;
    }
    if (!duplicate) throw;
    const char* name = kArrayNames[static_cast<int>(array)];
    const SchemaProblem p{fmt::format("{}[{}] (id {}): duplicate id, {}[{}] has the same id", name,
                                      duplicate->second, id, name, duplicate->first),
                          scanner.entry_offsets(array)[duplicate->second]};
    throw_format_error(s, source, &p, nullptr);
  }
  return dataset;
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------

std::optional<std::size_t> CocoDataset::image_index(std::int64_t image_id) const {
  const auto it = image_at_.find(image_id);
  if (it == image_at_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::size_t> CocoDataset::category_index(std::int64_t category_id) const {
  const auto it = category_at_.find(category_id);
  if (it == category_at_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::size_t> CocoDataset::annotation_index(SampleId annotation_id) const {
  const auto it = annotation_at_.find(annotation_id);
  if (it == annotation_at_.end()) return std::nullopt;
  return it->second;
}

void CocoDataset::index() {
  const auto check = [](const char* name, const auto& items, const auto& duplicate) {
    if (!duplicate) return;
    throw InvalidArgument(fmt::format("duplicate id {} in {}: entries {} and {}",
                                      items[duplicate->second].id, name, duplicate->first,
                                      duplicate->second));
  };
  check("images", images, fill_index(images, image_at_));
  check("categories", categories, fill_index(categories, category_at_));
  check("annotations", annotations, fill_index(annotations, annotation_at_));
}

CocoDataset parse_coco(std::string_view json, std::string_view source) {
  return detail::parse_coco_text(detail::CocoText{nullptr, json, false}, source, nullptr);
}

CocoDataset read_coco(const std::filesystem::path& path) {
  return detail::parse_coco_text(detail::load_coco_text(path), path.string(), nullptr);
}

}  // namespace coreclean::detect
