#include <coreclean/io/npy.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <type_traits>
#include <utility>

#include <sys/mman.h>
#include <unistd.h>

#include "core/check.h"
#include "io/mapped_file.h"

namespace coreclean::io {

// Array bytes are handed out as they lie in the file, so the native order must be the file's.
static_assert(std::endian::native == std::endian::little,
              "coreclean's .npy reader assumes a little-endian machine");

namespace {

constexpr std::string_view kMagic = "\x93NUMPY";
// Magic string plus the two version bytes (numpy's MAGIC_LEN).
constexpr std::size_t kMagicLength = 8;
// numpy aligns the start of the data to this many bytes so that files can be memory-mapped.
constexpr std::size_t kArrayAlign = 64;
// numpy leaves room after the header dictionary for the growing axis to gain digits in place.
constexpr std::size_t kGrowthAxisMaxDigits = 21;
// Deepest nesting accepted in a header literal (real headers nest at most 3 levels).
constexpr int kMaxHeaderDepth = 16;
// Longest header excerpt quoted in an error message.
constexpr std::size_t kMaxQuotedHeader = 200;

struct DTypeInfo {
  DType dtype;
  std::string_view descr;
  std::size_t size;
  std::string_view cpp_name;
};

constexpr std::array<DTypeInfo, 6> kDTypes = {{
    {DType::kFloat32, "<f4", 4, "float"},
    {DType::kFloat64, "<f8", 8, "double"},
    {DType::kInt32, "<i4", 4, "int32_t"},
    {DType::kInt64, "<i8", 8, "int64_t"},
    {DType::kUInt8, "|u1", 1, "uint8_t"},
    {DType::kBool, "|b1", 1, "bool"},
}};

constexpr std::string_view kSupportedDescrs = "<f4, <f8, <i4, <i8, |u1, |b1";

const DTypeInfo& info(DType dtype) {
  for (const auto& entry : kDTypes) {
    if (entry.dtype == dtype) return entry;
  }
  throw InternalError(fmt::format("unknown DType {}", static_cast<int>(dtype)));
}

// The dtype whose elements have C++ type T.
template <typename T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, float>) return DType::kFloat32;
  if constexpr (std::is_same_v<T, double>) return DType::kFloat64;
  if constexpr (std::is_same_v<T, std::int32_t>) return DType::kInt32;
  if constexpr (std::is_same_v<T, std::int64_t>) return DType::kInt64;
  if constexpr (std::is_same_v<T, std::uint8_t>) return DType::kUInt8;
  if constexpr (std::is_same_v<T, bool>) return DType::kBool;
}

// Bytes shown in messages: printable ASCII as is, anything else as \xNN, so that a binary file
// mistaken for a .npy cannot garble the message.
std::string escape(std::string_view text, std::size_t limit = kMaxQuotedHeader) {
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < limit; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\\') {
      out += "\\\\";
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  if (text.size() > limit) out += "...";
  return out;
}

std::string_view as_chars(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// The shape as Python writes a tuple: "()", "(5,)", "(3, 4)".
std::string shape_repr(std::span<const std::int64_t> shape) {
  std::string out = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  if (shape.size() == 1) out += ",";
  return out + ")";
}

// Number of elements, or nullopt on a negative dimension or int64 overflow.
std::optional<std::int64_t> element_count(std::span<const std::int64_t> shape) {
  if (std::any_of(shape.begin(), shape.end(), [](std::int64_t dim) { return dim < 0; }))
    return std::nullopt;
  // Any zero dimension makes the array empty, however large the other dimensions are.
  if (std::any_of(shape.begin(), shape.end(), [](std::int64_t dim) { return dim == 0; })) return 0;
  std::int64_t count = 1;
  for (const std::int64_t dim : shape) {
    if (count > std::numeric_limits<std::int64_t>::max() / dim) return std::nullopt;
    count *= dim;
  }
  return count;
}

// ---- header literal parser -----------------------------------------------------------------

// A value of the Python literal subset that .npy headers use.
struct PyValue {
  enum class Kind { kString, kInt, kBool, kNone, kTuple, kList, kDict };
  Kind kind = Kind::kNone;
  std::string text;               // kString: the decoded characters
  std::int64_t integer = 0;       // kInt
  bool boolean = false;           // kBool
  std::vector<PyValue> items;     // kTuple, kList: elements; kDict: values
  std::vector<std::string> keys;  // kDict: keys (string keys only)
  std::string_view source;        // the literal as written, for messages
};

// Recursive-descent parser for the header dictionary, e.g.
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// numpy evaluates the header with ast.literal_eval; this accepts the same forms that can occur
// (strings, ints with Python 2's optional L suffix, True/False/None, tuples, lists, dicts).
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& name) : text_(text), name_(name) {}

  PyValue parse() {
    PyValue value = parse_value(0);
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after the dictionary");
    return value;
  }

 private:
  [[noreturn]] void fail(std::string_view what) const {
    throw FormatError(fmt::format("{}: cannot parse the .npy header \"{}\": {} at offset {}", name_,
                                  escape(text_), what, pos_));
  }

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool consume(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  PyValue parse_value(int depth) {
    if (depth > kMaxHeaderDepth) fail("nesting too deep");
    skip_space();
    if (pos_ >= text_.size()) fail("unexpected end");
    const std::size_t start = pos_;
    PyValue value;
    const char c = text_[pos_];
    if (c == '{') {
      parse_dict(value, depth);
    } else if (c == '(' || c == '[') {
      parse_sequence(value, depth);
    } else if (c == '\'' || c == '"') {
      parse_string(value);
    } else if (c == '-' || c == '+' || (c >= '0' && c <= '9')) {
      parse_int(value);
    } else {
      parse_word(value);
    }
    value.source = text_.substr(start, pos_ - start);
    return value;
  }

  void parse_dict(PyValue& value, int depth) {
    value.kind = PyValue::Kind::kDict;
    ++pos_;  // '{'
    while (!consume('}')) {
      PyValue key = parse_value(depth + 1);
      if (key.kind != PyValue::Kind::kString) fail("a dictionary key is not a string");
      if (!consume(':')) fail("expected ':' after a dictionary key");
      value.keys.push_back(std::move(key.text));
      value.items.push_back(parse_value(depth + 1));
      if (!consume(',')) {
        if (!consume('}')) fail("expected ',' or '}' in the dictionary");
        break;
      }
    }
  }

  // A parenthesised single element without a comma is not a tuple in Python: "(3)" is 3.
  void parse_sequence(PyValue& value, int depth) {
    const char open = text_[pos_];
    const char close = open == '(' ? ')' : ']';
    ++pos_;
    bool saw_comma = false;
    std::vector<PyValue> items;
    while (!consume(close)) {
      items.push_back(parse_value(depth + 1));
      if (consume(',')) {
        saw_comma = true;
        continue;
      }
      if (!consume(close)) fail(fmt::format("expected ',' or '{}'", close));
      break;
    }
    if (open == '(' && items.size() == 1 && !saw_comma) {
      value = std::move(items.front());
      return;
    }
    value.kind = open == '(' ? PyValue::Kind::kTuple : PyValue::Kind::kList;
    value.items = std::move(items);
  }

  void parse_string(PyValue& value) {
    value.kind = PyValue::Kind::kString;
    const char quote = text_[pos_++];
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) ++pos_;
      value.text += text_[pos_++];
    }
    if (pos_ >= text_.size()) fail("unterminated string");
    ++pos_;  // closing quote
  }

  void parse_int(PyValue& value) {
    value.kind = PyValue::Kind::kInt;
    bool negative = false;
    if (text_[pos_] == '-' || text_[pos_] == '+') negative = text_[pos_++] == '-';
    const std::size_t digits_start = pos_;
    // Accumulate as a negative number so that INT64_MIN parses too.
    std::int64_t accumulated = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      const int digit = text_[pos_] - '0';
      if (accumulated < (std::numeric_limits<std::int64_t>::min() + digit) / 10)
        fail("integer too large");
      accumulated = accumulated * 10 - digit;
      ++pos_;
    }
    if (pos_ == digits_start) fail("expected a digit");
    if (pos_ < text_.size() && (text_[pos_] == 'L' || text_[pos_] == 'l')) ++pos_;  // Python 2
    if (!negative && accumulated == std::numeric_limits<std::int64_t>::min())
      fail("integer too large");
    value.integer = negative ? accumulated : -accumulated;
  }

  void parse_word(PyValue& value) {
    const std::size_t start = pos_;
    while (pos_ < text_.size() && std::isalnum(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    const std::string_view word = text_.substr(start, pos_ - start);
    if (word == "True" || word == "False") {
      value.kind = PyValue::Kind::kBool;
      value.boolean = word == "True";
    } else if (word == "None") {
      value.kind = PyValue::Kind::kNone;
    } else {
      pos_ = start;
      fail(word.empty() ? std::string("unexpected character")
                        : fmt::format("unexpected word '{}'", escape(word)));
    }
  }

  std::string_view text_;
  const std::string& name_;
  std::size_t pos_ = 0;
};

struct NpyHeader {
  DType dtype = DType::kFloat32;
  std::vector<std::int64_t> shape;
  std::size_t data_offset = 0;
};

// Maps a descr string to a supported dtype, or throws naming it.
DType parse_descr(const PyValue& descr, const std::string& name) {
  if (descr.kind != PyValue::Kind::kString) {
    throw FormatError(fmt::format(
        "{}: unsupported dtype {}: structured and other compound dtypes are not supported "
        "(supported: {})",
        name, escape(descr.source), kSupportedDescrs));
  }
  std::string text = descr.text;
  if (!text.empty() && text[0] == '>') {
    std::string little = text;
    little[0] = '<';
    throw FormatError(
        fmt::format("{}: big-endian dtype '{}' is not supported; convert the array with "
                    "arr.astype('{}') before saving",
                    name, escape(text), escape(little)));
  }
  // '=' means native order, which static_assert above pins to little-endian.
  if (!text.empty() && text[0] == '=') text[0] = text.size() == 3 && text[2] == '1' ? '|' : '<';
  for (const auto& entry : kDTypes) {
    if (entry.descr == text) return entry.dtype;
  }
  throw FormatError(fmt::format("{}: unsupported dtype '{}' (supported: {})", name,
                                escape(descr.text), kSupportedDescrs));
}

const PyValue* find_key(const PyValue& dict, std::string_view key) {
  const PyValue* found = nullptr;
  // Python keeps the last of duplicated keys; so does this.
  for (std::size_t i = 0; i < dict.keys.size(); ++i) {
    if (dict.keys[i] == key) found = &dict.items[i];
  }
  return found;
}

NpyHeader parse_header(std::span<const std::byte> bytes, const std::string& name) {
  const std::string_view chars = as_chars(bytes);
  // A short file that starts like the magic string is truncated; anything else is not a .npy.
  const std::size_t compared = std::min(chars.size(), kMagic.size());
  if (chars.substr(0, compared) != kMagic.substr(0, compared)) {
    throw FormatError(fmt::format(
        "{}: not a .npy file: it starts with \"{}\" instead of the magic string \"\\x93NUMPY\"",
        name, escape(chars.substr(0, kMagic.size()))));
  }
  if (chars.size() < kMagicLength + 2) {
    throw FormatError(
        fmt::format("{}: truncated .npy file: only {} bytes, the header prefix alone needs {}",
                    name, chars.size(), kMagicLength + 2));
  }
  const auto major = static_cast<unsigned char>(chars[6]);
  const auto minor = static_cast<unsigned char>(chars[7]);
  if (major < 1 || major > 3 || minor != 0) {
    throw FormatError(
        fmt::format("{}: unsupported .npy format version {}.{} (supported: 1.0, 2.0, 3.0)", name,
                    static_cast<int>(major), static_cast<int>(minor)));
  }
  // Version 1.0 stores the header length as a little-endian uint16, later versions as uint32.
  const std::size_t length_size = major == 1 ? 2 : 4;
  const std::size_t prefix = kMagicLength + length_size;
  if (chars.size() < prefix) {
    throw FormatError(
        fmt::format("{}: truncated .npy file: only {} bytes, the version {}.0 "
                    "header prefix needs {}",
                    name, chars.size(), static_cast<int>(major), prefix));
  }
  std::size_t header_length = 0;
  for (std::size_t i = 0; i < length_size; ++i) {
    header_length |= static_cast<std::size_t>(static_cast<unsigned char>(chars[8 + i])) << (8 * i);
  }
  if (chars.size() - prefix < header_length) {
    throw FormatError(
        fmt::format("{}: truncated .npy header: the header length field says {} "
                    "bytes, but only {} follow it",
                    name, header_length, chars.size() - prefix));
  }
  // Versions 1.0/2.0 are latin-1 and 3.0 is UTF-8; the keys and supported values are ASCII in
  // both, so the bytes are parsed as they are.
  const std::string_view text = chars.substr(prefix, header_length);
  const PyValue dict = HeaderParser(text, name).parse();
  if (dict.kind != PyValue::Kind::kDict) {
    throw FormatError(
        fmt::format("{}: the .npy header \"{}\" is not a dictionary", name, escape(text)));
  }
  for (const auto& key : dict.keys) {
    if (key != "descr" && key != "fortran_order" && key != "shape") {
      throw FormatError(fmt::format("{}: unexpected key '{}' in the .npy header \"{}\"", name,
                                    escape(key), escape(text)));
    }
  }
  const PyValue* descr = find_key(dict, "descr");
  const PyValue* fortran_order = find_key(dict, "fortran_order");
  const PyValue* shape = find_key(dict, "shape");
  for (const auto& [key, value] :
       {std::pair{"descr", descr}, std::pair{"fortran_order", fortran_order},
        std::pair{"shape", shape}}) {
    if (value == nullptr) {
      throw FormatError(
          fmt::format("{}: the .npy header \"{}\" has no '{}' key", name, escape(text), key));
    }
  }

  NpyHeader header;
  header.dtype = parse_descr(*descr, name);
  if (fortran_order->kind != PyValue::Kind::kBool) {
    throw FormatError(fmt::format("{}: fortran_order is {}, not True or False", name,
                                  escape(fortran_order->source)));
  }
  if (fortran_order->boolean) {
    throw FormatError(
        fmt::format("{}: fortran_order is True: Fortran-order arrays are not supported; save with "
                    "np.ascontiguousarray",
                    name));
  }
  if (shape->kind != PyValue::Kind::kTuple) {
    throw FormatError(
        fmt::format("{}: shape {} is not a tuple of integers", name, escape(shape->source)));
  }
  for (const auto& dim : shape->items) {
    if (dim.kind != PyValue::Kind::kInt || dim.integer < 0) {
      throw FormatError(fmt::format("{}: shape {} has an invalid dimension {}", name,
                                    escape(shape->source), escape(dim.source)));
    }
    header.shape.push_back(dim.integer);
  }
  header.data_offset = prefix + header_length;
  return header;
}

// Encodes the header exactly as numpy 1.24's format.write_array does, so files are
// byte-identical to np.save's: sorted keys, room for the growing axis, padding to kArrayAlign.
std::string encode_header(DType dtype, std::span<const std::int64_t> shape) {
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
                                 dtype_descr(dtype), shape_repr(shape));
  if (!shape.empty()) {
    const std::size_t digits = std::to_string(shape[0]).size();
    dict.append(kGrowthAxisMaxDigits - std::min(digits, kGrowthAxisMaxDigits), ' ');
  }
  const std::size_t text_length = dict.size() + 1;  // + the final '\n'
  for (const int major : {1, 2}) {
    const std::size_t prefix = kMagicLength + (major == 1 ? 2 : 4);
    const std::size_t padding = kArrayAlign - (prefix + text_length) % kArrayAlign;
    const std::size_t header_length = text_length + padding;
    const std::size_t max_length = major == 1 ? 0xffff : 0xffffffff;
    if (header_length > max_length) continue;
    std::string out(kMagic);
    out += static_cast<char>(major);
    out += '\0';
    for (std::size_t i = 0; i < prefix - kMagicLength; ++i) {
      out += static_cast<char>((header_length >> (8 * i)) & 0xff);
    }
    out += dict;
    out.append(padding, ' ');
    out += '\n';
    return out;
  }
  throw InvalidArgument(
      fmt::format("cannot encode a .npy header for shape {}: the header would "
                  "need {} bytes, more than format 2.0 allows",
                  shape_repr(shape), text_length));
}

// Number of data bytes of an array to be written; validates the caller's shape and pointer.
std::size_t data_size(DType dtype, std::span<const std::int64_t> shape, const void* data) {
  const auto count = element_count(shape);
  CORECLEAN_THROW_IF_NOT(count.has_value(),
                         "cannot encode a .npy array: shape {} has a negative dimension or too "
                         "many elements",
                         shape_repr(shape));
  const auto size = static_cast<std::size_t>(*count);
  CORECLEAN_THROW_IF_NOT(size <= std::numeric_limits<std::size_t>::max() / dtype_size(dtype),
                         "cannot encode a .npy array: shape {} of {} is too large",
                         shape_repr(shape), dtype_descr(dtype));
  CORECLEAN_THROW_IF_NOT(data != nullptr || size == 0,
                         "cannot encode a .npy array of shape {}: data is null", shape_repr(shape));
  return size * dtype_size(dtype);
}

// Non-finite floats have all exponent bits set; testing bits keeps the scan branch-free, so the
// compiler vectorises it, and it cannot be optimised away by -ffinite-math-only.
bool is_non_finite_bits(float v) {
  return (std::bit_cast<std::uint32_t>(v) & 0x7f800000u) == 0x7f800000u;
}

// Index of the first non-finite value in v[0, n), or n when all are finite.
std::int64_t first_non_finite(const float* v, std::int64_t n) {
  // Blocks keep the common (all finite) case a pure reduction while bounding the rescan.
  constexpr std::int64_t kBlock = 4096;
  for (std::int64_t start = 0; start < n; start += kBlock) {
    const std::int64_t end = std::min(n, start + kBlock);
    std::uint32_t bad = 0;
    for (std::int64_t i = start; i < end; ++i) bad |= is_non_finite_bits(v[i]) ? 1u : 0u;
    if (bad != 0) {
      for (std::int64_t i = start; i < end; ++i) {
        if (is_non_finite_bits(v[i])) return i;
      }
    }
  }
  return n;
}

[[noreturn]] void throw_non_finite(const std::string& name, std::int64_t index, std::int64_t cols,
                                   double value) {
  throw InvalidArgument(
      fmt::format("{}: non-finite value {} at row {}, column {}; features must "
                  "be finite",
                  name, value, index / cols, index % cols));
}

template <typename T>
RowMatrixXf convert_to_float(const NpyArray& a, const std::string& name) {
  const Eigen::Index rows = a.shape()[0];
  const Eigen::Index cols = a.shape()[1];
  RowMatrixXf out(rows, cols);
  const T* in = a.data<T>();
  float* dst = out.data();
  const std::int64_t n = a.size();
  for (std::int64_t i = 0; i < n; ++i) {
    if constexpr (std::is_same_v<T, double>) {
      const double v = in[i];
      if (!std::isfinite(v)) throw_non_finite(name, i, cols, v);
      if (std::abs(v) > static_cast<double>(std::numeric_limits<float>::max())) {
        throw InvalidArgument(
            fmt::format("{}: value {} at row {}, column {} does not fit in "
                        "float32",
                        name, v, i / cols, i % cols));
      }
    }
    dst[i] = static_cast<float>(in[i]);
  }
  return out;
}

}  // namespace

std::size_t dtype_size(DType dtype) { return info(dtype).size; }

std::string_view dtype_descr(DType dtype) { return info(dtype).descr; }

// ---- NpyArray --------------------------------------------------------------------------------

NpyArray::NpyArray(DType dtype, std::vector<std::int64_t> shape,
                   std::shared_ptr<const void> storage, const std::byte* bytes)
    : dtype_(dtype), shape_(std::move(shape)), storage_(std::move(storage)), bytes_(bytes) {
  const auto count = element_count(shape_);
  CORECLEAN_THROW_IF_NOT(count.has_value(),
                         "NpyArray: shape {} has a negative dimension or too many elements",
                         shape_repr(shape_));
  CORECLEAN_THROW_IF_NOT(bytes_ != nullptr || *count == 0, "NpyArray: bytes are null for shape {}",
                         shape_repr(shape_));
  (void)info(dtype_);  // rejects an out-of-range enum value
}

void NpyArray::release(std::size_t offset, std::size_t length) const {
  if (!mapped_ || length == 0) return;
  // Only whole pages inside the range: a page shared with rows still in use stays.
  static const std::uintptr_t page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<std::uintptr_t>(bytes_ + offset);
  const std::uintptr_t first = (begin + page - 1) / page * page;
  const std::uintptr_t last = (begin + length) / page * page;
  // MADV_DONTNEED on a read-only file mapping only unmaps the pages from this process; the
  // file's content is untouched. A failure leaves them resident, which is harmless.
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

std::int64_t NpyArray::size() const {
  std::int64_t count = 1;
  for (const std::int64_t dim : shape_) count *= dim;
  return count;
}

template <typename T>
const T* NpyArray::data() const {
  CORECLEAN_THROW_IF_NOT(dtype_ == dtype_of<T>(),
                         "NpyArray::data<{}>() called on an array of dtype {}",
                         info(dtype_of<T>()).cpp_name, dtype_descr(dtype_));
  CORECLEAN_THROW_IF_NOT(reinterpret_cast<std::uintptr_t>(bytes_) % alignof(T) == 0,
                         "NpyArray::data<{}>(): the bytes at {} are not aligned to {}",
                         info(dtype_of<T>()).cpp_name, static_cast<const void*>(bytes_),
                         alignof(T));
  return reinterpret_cast<const T*>(bytes_);
}

template const float* NpyArray::data<float>() const;
template const double* NpyArray::data<double>() const;
template const std::int32_t* NpyArray::data<std::int32_t>() const;
template const std::int64_t* NpyArray::data<std::int64_t>() const;
template const std::uint8_t* NpyArray::data<std::uint8_t>() const;
template const bool* NpyArray::data<bool>() const;

// ---- reading ---------------------------------------------------------------------------------

NpyArray parse_npy(std::span<const std::byte> bytes, std::shared_ptr<const void> storage,
                   const std::string& name) {
  const NpyHeader header = parse_header(bytes, name);
  const auto count = element_count(header.shape);
  const std::size_t item = dtype_size(header.dtype);
  if (!count.has_value() ||
      static_cast<std::uint64_t>(*count) > std::numeric_limits<std::size_t>::max() / item) {
    throw FormatError(
        fmt::format("{}: shape {} has too many elements", name, shape_repr(header.shape)));
  }
  const std::size_t needed = static_cast<std::size_t>(*count) * item;
  const std::size_t available = bytes.size() - header.data_offset;
  if (available < needed) {
    throw FormatError(fmt::format(
        "{}: truncated data: shape {} of dtype {} needs {} bytes after the header, but the file "
        "has only {}",
        name, shape_repr(header.shape), dtype_descr(header.dtype), needed, available));
  }
  // Trailing bytes after the data are ignored, as numpy.load does.
  const std::byte* data = bytes.data() + header.data_offset;

  if (header.dtype == DType::kBool) {
    // Any byte other than 0 or 1 read as a C++ bool is undefined behaviour; numpy would accept it
    // (as true), but a corrupt bool array is better refused than silently misread.
    for (std::size_t i = 0; i < needed; ++i) {
      const auto v = static_cast<unsigned>(data[i]);
      if (v > 1) {
        throw FormatError(
            fmt::format("{}: bool element {} has byte value {}, not 0 or 1", name, i, v));
      }
    }
  }

  // numpy aligns data to 64 bytes, but hand-written files or old writers (16-byte alignment)
  // may not match the element size; typed access needs aligned pointers, so copy such data.
  if (reinterpret_cast<std::uintptr_t>(data) % item != 0) {
    std::shared_ptr<std::byte[]> copy(new std::byte[needed]);
    std::memcpy(copy.get(), data, needed);
    data = copy.get();
    storage = std::move(copy);
  }
  return NpyArray(header.dtype, header.shape, std::move(storage), data);
}

NpyArray read_npy(const std::filesystem::path& path, const NpyReadOptions& options) {
  const std::int64_t size = detail::regular_file_size(path);
  // Mapping avoids a copy and lets the OS page large feature matrices in on demand; small files
  // are cheaper to read than to map (a mapping costs a syscall pair and page faults).
  const detail::FileBytes file =
      size >= options.mmap_threshold ? detail::map_file(path) : detail::read_file(path);
  NpyArray array = parse_npy(file.bytes, file.storage, path.string());
  array.mapped_ = size >= options.mmap_threshold;
  return array;
}

// ---- writing ---------------------------------------------------------------------------------

std::vector<std::byte> encode_npy(DType dtype, std::span<const std::int64_t> shape,
                                  const void* data) {
  const std::size_t size = data_size(dtype, shape, data);
  const std::string header = encode_header(dtype, shape);
  std::vector<std::byte> out(header.size() + size);
  std::memcpy(out.data(), header.data(), header.size());
  if (size > 0) std::memcpy(out.data() + header.size(), data, size);
  return out;
}

void write_npy(const std::filesystem::path& path, DType dtype, std::span<const std::int64_t> shape,
               const void* data) {
  const std::size_t size = data_size(dtype, shape, data);
  const std::string header = encode_header(dtype, shape);
  // Header and data are written from where they are, without first joining them in memory.
  detail::write_file_atomically(path, {std::as_bytes(std::span(header)),
                                       std::span(static_cast<const std::byte*>(data), size)});
}

void write_npy(const std::filesystem::path& path, const RowMatrixXf& x) {
  const std::array<std::int64_t, 2> shape = {x.rows(), x.cols()};
  write_npy(path, DType::kFloat32, shape, x.data());
}

void write_npy(const std::filesystem::path& path, std::span<const std::int64_t> v) {
  const std::array<std::int64_t, 1> shape = {static_cast<std::int64_t>(v.size())};
  write_npy(path, DType::kInt64, shape, v.data());
}

// ---- SampleMatrix ----------------------------------------------------------------------------

SampleMatrix::SampleMatrix(RowMatrixXf owned) {
  auto matrix = std::make_shared<const RowMatrixXf>(std::move(owned));
  data_ = matrix->data();
  rows_ = matrix->rows();
  cols_ = matrix->cols();
  storage_ = std::move(matrix);
}

SampleMatrix::SampleMatrix(std::shared_ptr<const void> storage, const float* data,
                           Eigen::Index rows, Eigen::Index cols)
    : storage_(std::move(storage)), data_(data), rows_(rows), cols_(cols) {
  CORECLEAN_THROW_IF_NOT(rows >= 0 && cols >= 0, "SampleMatrix: invalid shape {} x {}", rows, cols);
  CORECLEAN_THROW_IF_NOT(data != nullptr || rows * cols == 0,
                         "SampleMatrix: data is null for a {} x {} view", rows, cols);
}

StreamedSamples SampleMatrix::streamed() const {
  StreamedSamples out{view(), {}};
  if (mapped_array_ != nullptr) {
    // Copies of the storage handle keep the mapping alive as long as the callback lives.
    const std::shared_ptr<const void> keep = storage_;
    const NpyArray* array = mapped_array_;
    const auto offset = static_cast<std::size_t>(reinterpret_cast<const std::byte*>(data_) -
                                                 array->bytes());
    const auto row_bytes = static_cast<std::size_t>(cols_) * sizeof(float);
    out.release = [keep, array, offset, row_bytes](Eigen::Index begin, Eigen::Index end) {
      if (end > begin)
        array->release(offset + static_cast<std::size_t>(begin) * row_bytes,
                       static_cast<std::size_t>(end - begin) * row_bytes);
    };
  }
  return out;
}

SampleMatrix to_sample_matrix(const NpyArray& a, const std::string& name,
                              std::pair<Eigen::Index, Eigen::Index> checked_rows) {
  CORECLEAN_THROW_IF_NOT(a.shape().size() == 2,
                         "{}: expected a 2-d array (samples x features), got shape {}", name,
                         shape_repr(a.shape()));
  CORECLEAN_THROW_IF_NOT(a.dtype() != DType::kBool,
                         "{}: dtype {} (bool) cannot be used as features; save them as float32",
                         name, dtype_descr(a.dtype()));
  const Eigen::Index rows = a.shape()[0];
  const Eigen::Index cols = a.shape()[1];
  switch (a.dtype()) {
    case DType::kFloat32: {
      const float* data = a.data<float>();
      // Checked in pieces that leave the resident set once read (for a mapped file), so the
      // check does not hold the whole file in memory.
      constexpr std::int64_t kPiece = std::int64_t{1} << 24;  // floats: 64 MB
      const Eigen::Index first_row = std::clamp<Eigen::Index>(checked_rows.first, 0, rows);
      const Eigen::Index end_row =
          checked_rows.second < 0 ? rows : std::clamp<Eigen::Index>(checked_rows.second, first_row, rows);
      const std::int64_t checked_end = end_row * cols;
      for (std::int64_t at = first_row * cols; at < checked_end; at += kPiece) {
        const std::int64_t count = std::min(kPiece, checked_end - at);
        const std::int64_t bad = first_non_finite(data + at, count);
        if (bad < count) throw_non_finite(name, at + bad, cols, data[at + bad]);
        a.release(static_cast<std::size_t>(at) * sizeof(float),
                  static_cast<std::size_t>(count) * sizeof(float));
      }
      // The view shares the array's storage (e.g. its mapping): a copy of the NpyArray is the
      // handle that keeps it alive.
      auto array = std::make_shared<const NpyArray>(a);
      const NpyArray* viewed = array.get();
      SampleMatrix m(std::move(array), data, rows, cols);
      if (viewed->mapped()) m.mapped_array_ = viewed;
      return m;
    }
    case DType::kFloat64:
      return SampleMatrix(convert_to_float<double>(a, name));
    case DType::kInt32:
      return SampleMatrix(convert_to_float<std::int32_t>(a, name));
    case DType::kInt64:
      return SampleMatrix(convert_to_float<std::int64_t>(a, name));
    case DType::kUInt8:
      return SampleMatrix(convert_to_float<std::uint8_t>(a, name));
    case DType::kBool:
      break;
  }
  throw InternalError(fmt::format("to_sample_matrix: unhandled dtype {}", dtype_descr(a.dtype())));
}

Labels to_labels(const NpyArray& a, const std::string& name) {
  return detail::to_integers(a, name, "label");
}

namespace detail {

std::vector<std::int64_t> to_integers(const NpyArray& a, const std::string& name,
                                      std::string_view what) {
  CORECLEAN_THROW_IF_NOT(a.shape().size() == 1, "{}: expected a 1-d array of {}s, got shape {}",
                         name, what, shape_repr(a.shape()));
  CORECLEAN_THROW_IF_NOT(a.dtype() != DType::kBool,
                         "{}: dtype {} (bool) cannot be used as {}s; save them as integers", name,
                         dtype_descr(a.dtype()), what);
  const auto n = static_cast<std::size_t>(a.size());
  std::vector<std::int64_t> out(n);
  const auto copy = [&](const auto* in) { std::copy(in, in + n, out.begin()); };
  const auto convert = [&](const auto* in) {
    // 2^63 is exact in double and float; values in [-2^63, 2^63) fit in int64.
    constexpr double kLimit = 9223372036854775808.0;
    for (std::size_t i = 0; i < n; ++i) {
      const double v = in[i];
      if (!std::isfinite(v) || v != std::trunc(v) || v < -kLimit || v >= kLimit) {
        throw InvalidArgument(
            fmt::format("{}: {} at index {} is {}, not an integer; {}s must be "
                        "integers",
                        name, what, i, v, what));
      }
      out[i] = static_cast<std::int64_t>(v);
    }
  };
  switch (a.dtype()) {
    case DType::kInt32:
      copy(a.data<std::int32_t>());
      break;
    case DType::kInt64:
      copy(a.data<std::int64_t>());
      break;
    case DType::kUInt8:
      copy(a.data<std::uint8_t>());
      break;
    case DType::kFloat32:
      convert(a.data<float>());
      break;
    case DType::kFloat64:
      convert(a.data<double>());
      break;
    case DType::kBool:
      throw InternalError("to_integers: bool reached the conversion");
  }
  return out;
}

}  // namespace detail

}  // namespace coreclean::io
