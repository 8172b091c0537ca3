#ifndef CORECLEAN_SESSION_SQLITE_H_
#define CORECLEAN_SESSION_SQLITE_H_

// A thin RAII layer over SQLite's C API: a connection, prepared statements with typed binds and
// column reads, and a transaction guard that rolls back unless committed. Errors become
// coreclean::IoError naming the database file and SQLite's message.

#include <coreclean/core/error.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace coreclean::session::detail {

class Statement;

/// An open database connection (WAL journal, foreign keys on, a busy timeout so a second
/// process — e.g. the review page next to `apply` — waits instead of failing).
class Database {
 public:
  /// Opens (creating when `create`) the database file. Throws IoError.
  Database(const std::filesystem::path& path, bool create);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  /// Runs one or more statements without results.
  void exec(std::string_view sql);
  /// Prepares one statement.
  Statement prepare(std::string_view sql);
  /// rowid of the last insert.
  [[nodiscard]] std::int64_t last_insert_rowid() const;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

  /// Throws IoError with the database's last message when `code` is an error.
  void check(int code, std::string_view what) const;

 private:
  friend class Statement;
  sqlite3* db_ = nullptr;
  std::filesystem::path path_;
};

/// A prepared statement. bind() indices are 1-based, column() indices 0-based.
class Statement {
 public:
  Statement(Database& db, sqlite3_stmt* stmt) : db_(&db), stmt_(stmt) {}
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& operator=(Statement&&) = delete;

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, std::span<const std::byte> blob);
  Statement& bind_null(int index);

  /// Advances; true while a row is available.
  bool step();
  /// Runs a statement that returns no rows, then resets it for reuse.
  void run();
  /// Resets for re-execution with new binds.
  void reset();

  [[nodiscard]] bool is_null(int column) const;
  [[nodiscard]] std::int64_t int64(int column) const;
  [[nodiscard]] double real(int column) const;
  [[nodiscard]] std::string text(int column) const;
  [[nodiscard]] std::vector<std::byte> blob(int column) const;

 private:
  Database* db_;
  sqlite3_stmt* stmt_;
};

/// BEGIN IMMEDIATE on construction; ROLLBACK on destruction unless commit() ran.
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Database& db_;
  bool done_ = false;
};

}  // namespace coreclean::session::detail

#endif  // CORECLEAN_SESSION_SQLITE_H_
