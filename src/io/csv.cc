#include <coreclean/io/csv.h>

#include "core/check.h"

#include <coreclean/core/text.h>

#include <algorithm>

#include <fstream>
#include <sstream>

namespace coreclean::io {

int CsvTable::column(const std::string& name) const {
  for (std::size_t j = 0; j < header.size(); ++j)
    if (header[j] == name) return static_cast<int>(j);
  return -1;
}

namespace {

// The field separator: ',' unless the header line holds ';' and no ',' outside quotes (the
// CSV of spreadsheets set to a language that writes decimal commas).
char detect_separator(std::string_view text) {
  bool quoted = false;
  int commas = 0, semicolons = 0;
  for (const char ch : text) {
    if (ch == '"') quoted = !quoted;
    if (quoted) continue;
    if (ch == '\n' || ch == '\r') break;
    commas += ch == ',';
    semicolons += ch == ';';
  }
  return commas == 0 && semicolons > 0 ? ';' : ',';
}

}  // namespace

CsvTable read_csv(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  CORECLEAN_THROW_IF_NOT_AS(IoError, in.good(), "{}: cannot open the CSV file", path.string());
  // The file is read whole: a size no decisions file reaches fails here, before the allocation.
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  CORECLEAN_THROW_IF_NOT_AS(FormatError, ec || size <= kMaxCsvBytes,
                            "{}: {} MiB; a decisions or review CSV is at most {} MiB (split it)",
                            path.string(), size >> 20, kMaxCsvBytes >> 20);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  // A UTF-8 byte-order mark (spreadsheets write one) is not part of the first field.
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);
  const char separator = detect_separator(text);
  CsvTable table;
  std::vector<std::string> record;
  std::string field;
  // State of the current field: not started, inside quotes, or after its closing quote.
  bool quoted = false, field_started = false, closed = false;
  int line = 1, record_line = 1;
  auto end_field = [&] {
    record.push_back(field);
    field.clear();
    field_started = false;
    closed = false;
  };
  auto end_record = [&] {
    end_field();
    // A row of empty cells (spreadsheets write `;;;;;` below the data) is a blank line too.
    const bool blank = std::all_of(record.begin(), record.end(),
                                   [](const std::string& f) { return trim(f).empty(); });
    if (!blank) {
      if (table.header.empty()) {
        table.header = record;
      } else {
        CORECLEAN_THROW_IF_NOT_AS(FormatError, record.size() == table.header.size(),
                                  "{}:{}: {} fields but the header has {}{}", path.string(),
                                  record_line, record.size(), table.header.size(),
                                  record.size() < table.header.size()
                                      ? " (write every column, empty ones too)"
                                      : "");
        table.rows.push_back(record);
        table.line.push_back(record_line);
      }
    }
    record.clear();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (quoted) {
      if (ch == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
          closed = true;
        }
      } else {
        if (ch == '\n') ++line;
        field += ch;
      }
      continue;
    }
    if (ch == separator) {
      end_field();
    } else if (ch == '\n' || ch == '\r') {
      if (ch == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      end_record();
      ++line;
      record_line = line;
    } else if (closed) {
      // `"del"ete` is not a field: silently gluing the text on would change a decision.
      CORECLEAN_THROW_IF_NOT_AS(FormatError, ch == ' ' || ch == '\t',
                                "{}:{}: field {}: text after the closing quote ('{}')",
                                path.string(), line, record.size() + 1, ch);
    } else if (ch == '"' && !field_started) {
      quoted = true;
      field_started = true;
    } else {
      field += ch;
      field_started = true;
    }
  }
  CORECLEAN_THROW_IF_NOT_AS(FormatError, !quoted, "{}:{}: unterminated quoted field",
                            path.string(), record_line);
  if (field_started || !field.empty() || !record.empty()) end_record();
  return table;
}

std::string csv_field(const std::string& value) {
  if (value.find_first_of(",\"\n\r") == std::string::npos) return value;
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace coreclean::io
