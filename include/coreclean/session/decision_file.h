#ifndef CORECLEAN_SESSION_DECISION_FILE_H_
#define CORECLEAN_SESSION_DECISION_FILE_H_

/// @file
/// The one reader of decision CSVs: a `review.csv` exported by `next` and filled in (by hand,
/// a script or a spreadsheet), a `revise` file, or the decisions file of `update`. Columns
/// `id,decision[,new_label][,reviewer]` in any order, other columns ignored.
///
/// What a spreadsheet writes is accepted: decision words and class names in any letter case
/// (class names when that is unambiguous), spaces around values, a UTF-8 byte-order mark, CRLF
/// line ends and `;` as the separator (see io::read_csv). Every row is checked before the file
/// is used, and every bad row is reported (up to 20), not only the first.

#include <coreclean/core/types.h>
#include <coreclean/coreset/coreset_tree.h>
#include <coreclean/session/session.h>

#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace coreclean::session {

/// What the reader checks against the caller's data.
struct DecisionFileRules {
  /// Why an id may not be decided here (e.g. "is not in the open batch 3"), or nullopt when it
  /// may. Empty = every id is accepted.
  std::function<std::optional<std::string>(SampleId)> reject_id;
  /// The label of a class given by name or id; throws InvalidArgument (whose message is kept)
  /// for an unknown class.
  std::function<Label(const std::string&)> find_class;
};

/// The rows of a decision file.
struct DecisionFile {
  std::vector<Decision> decisions;  ///< rows with a decision, in file order
  std::vector<int> lines;           ///< the file line of each decision
  std::vector<SampleId> undecided;  ///< ids of rows whose decision cell is empty
};

/// Reads and checks a decision file. Throws IoError when unreadable, FormatError for broken CSV,
/// and InvalidArgument listing every bad row (file:line: column: value and why, at most 20
/// shown, with the total) when any row is wrong: an id that is not an integer, appears twice
/// or is rejected by the rules; a decision that is not keep, relabel or delete; relabel without
/// a known new_label; a new_label on a row that is not a relabel.
DecisionFile read_decision_file(const std::filesystem::path& csv, const DecisionFileRules& rules);

/// True when the file exists and at least one row has a decision (a filled-in review.csv).
bool has_decisions(const std::filesystem::path& csv);

/// What applying a decision file to a tree did.
struct TreeDecisions {
  std::size_t relabelled = 0, deleted = 0, kept = 0;  ///< rows of each decision
  Eigen::Index nodes_touched = 0;                       ///< tree nodes recomputed
};

/// Applies a decision file straight to a coreset tree (no session): reads it with the tree's
/// rules — ids must be samples of the tree, new labels names or labels of its classes — so
/// that a bad row changes nothing, then relabels and removes incrementally (only the affected
/// leaf-to-root paths). Throws as read_decision_file().
TreeDecisions apply_decision_file(const std::filesystem::path& csv, coreset::CoresetTree& tree);

}  // namespace coreclean::session

#endif  // CORECLEAN_SESSION_DECISION_FILE_H_
