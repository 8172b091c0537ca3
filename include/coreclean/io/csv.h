#ifndef CORECLEAN_IO_CSV_H_
#define CORECLEAN_IO_CSV_H_

/// @file
/// Small CSV reader and writer (RFC 4180: commas, double-quoted fields with "" escapes, CRLF or
/// LF line ends) for review and decision files.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace coreclean::io {

/// A parsed CSV file: the header and the data rows, each with its 1-based line number.
struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<int> line;  ///< line number of each row in the file (for error messages)

  /// Index of a header column, or −1.
  [[nodiscard]] int column(const std::string& name) const;
};

/// The largest CSV file read_csv accepts (256 MiB: decisions for millions of boxes).
inline constexpr std::uintmax_t kMaxCsvBytes = std::uintmax_t{256} << 20;

/// Reads a CSV file (at most kMaxCsvBytes; a larger one is a FormatError before anything is
/// allocated); blank lines, and rows whose every field is empty or spaces, are skipped. Accepts what spreadsheets write: a UTF-8 byte-order
/// mark, CRLF line ends, and `;` as the separator (chosen when the header line has `;` and no
/// `,` outside quotes). Throws IoError when unreadable and FormatError (naming the file and
/// line) for an unterminated quote, text after a closing quote, or a row whose field count
/// differs from the header's.
CsvTable read_csv(const std::filesystem::path& path);

/// Quotes a field when it contains a comma, quote or line break.
std::string csv_field(const std::string& value);

}  // namespace coreclean::io

#endif  // CORECLEAN_IO_CSV_H_
