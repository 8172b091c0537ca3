#include <coreclean/io/csv.h>

#include "core/check.h"

#include <fstream>
#include <sstream>

namespace coreclean::io {

int CsvTable::column(const std::string& name) const {
  for (std::size_t j = 0; j < header.size(); ++j)
    if (header[j] == name) return static_cast<int>(j);
  return -1;
}

CsvTable read_csv(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  CORECLEAN_THROW_IF_NOT_AS(IoError, in.good(), "{}: cannot open the CSV file", path.string());
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  CsvTable table;
  std::vector<std::string> record;
  std::string field;
  bool quoted = false, field_started = false;
  int line = 1, record_line = 1;
  auto end_record = [&] {
    record.push_back(field);
    field.clear();
    const bool blank = record.size() == 1 && record[0].empty();
    if (!blank) {
      if (table.header.empty()) {
        table.header = record;
      } else {
        CORECLEAN_THROW_IF_NOT_AS(FormatError, record.size() <= table.header.size(),
                                  "{}:{}: {} fields but the header has {}", path.string(),
                                  record_line, record.size(), table.header.size());
        record.resize(table.header.size());
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
        }
      } else {
        if (ch == '\n') ++line;
        field += ch;
      }
      continue;
    }
    if (ch == '"' && !field_started) {
      quoted = true;
      field_started = true;
    } else if (ch == ',') {
      record.push_back(field);
      field.clear();
      field_started = false;
    } else if (ch == '\n' || ch == '\r') {
      if (ch == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      end_record();
      field_started = false;
      ++line;
      record_line = line;
    } else {
      field += ch;
      field_started = true;
    }
  }
  CORECLEAN_THROW_IF_NOT_AS(FormatError, !quoted, "{}:{}: unterminated quoted field",
                            path.string(), record_line);
  if (!field.empty() || !record.empty()) end_record();
  // Strip a UTF-8 byte-order mark from the first header field (spreadsheets add one).
  if (!table.header.empty() && table.header[0].rfind("\xEF\xBB\xBF", 0) == 0)
    table.header[0].erase(0, 3);
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
