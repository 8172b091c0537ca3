#ifndef CORECLEAN_IO_FEATURE_SET_H_
#define CORECLEAN_IO_FEATURE_SET_H_

/// @file
/// A *features directory*: the layout of precomputed embeddings that every command reads.
///
///   X_train.npy   n × d numeric (float32 preferred), required
///   y_train.npy   n integer labels, required
///   X_test.npy    m × d, optional (together with y_test.npy)
///   y_test.npy    m integer labels, optional
///   ids.npy       n integer sample ids (e.g. COCO annotation ids), optional; default 0..n-1
///   classes.json  {"<label>": "<name>", ...}, optional

#include <coreclean/core/class_names.h>
#include <coreclean/core/types.h>
#include <coreclean/io/npy.h>

#include <array>
#include <filesystem>
#include <utility>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace coreclean::io {

/// The content of a features directory, validated.
struct FeatureSet {
  SampleMatrix x_train;  ///< n × d (memory-mapped when the file is large)
  Labels y_train;       ///< n
  std::optional<SampleMatrix> x_test;  ///< m × d, when the directory has a test split
  Labels y_test;                      ///< m (empty without a test split)
  std::vector<SampleId> ids;          ///< n unique ids; 0..n-1 when ids.npy is absent
  ClassNames class_names;  ///< from classes.json; may be empty

  /// Human-readable name of a label: its classes.json name, or the number.
  std::string class_name(Label label) const;
  /// Finds a label by name (from classes.json) or by its number written as text.
  /// Throws InvalidArgument listing the known classes when nothing matches.
  Label find_class(const std::string& name_or_id) const;
  /// The labels of several classes named as find_class() accepts them, sorted and distinct
  /// (empty for no names). Throws as find_class() for the first name that matches nothing.
  Labels find_classes(std::span<const std::string> names_or_ids) const;
};

/// A copy of `features` with only the samples whose label is in `classes` (any order; labels
/// that occur nowhere select nothing): the training rows with their labels and ids, the test
/// rows of those classes (no test split when none is left), and the names of those classes. Rows keep
/// their order. The matrices are copied into memory. Throws InvalidArgument when no training
/// sample is left.
FeatureSet keep_classes(const FeatureSet& features, std::span<const Label> classes);

/// Loads and validates a features directory. Throws (naming the file, field and value) when a
/// required file is missing, X and y disagree in length, train and test disagree in width,
/// features contain NaN or Inf, labels are not integers, a class of y_test is absent from
/// y_train, ids are not unique, or classes.json does not parse.
FeatureSet load_feature_set(const std::filesystem::path& dir);

/// load_feature_set() that checks only some training rows for NaN/Inf: those `checked_rows`
/// returns for the training set's row count ([begin, end)). For a process that reads only its
/// share of a large X_train.npy (an MPI job): the other processes check theirs.
FeatureSet load_feature_set(
    const std::filesystem::path& dir,
    const std::function<std::pair<Eigen::Index, Eigen::Index>(Eigen::Index rows)>& checked_rows);

/// The files of a features directory that save_feature_set writes or removes, and nothing else.
inline constexpr std::array<std::string_view, 6> kFeatureSetFiles = {
    "X_train.npy", "y_train.npy", "X_test.npy", "y_test.npy", "ids.npy", "classes.json"};

/// Writes a features directory (creating it); x_test/y_test, ids and classes.json only when
/// present (classes.json without names of ids outside the label range, 0 to 2³¹ − 1, which no
/// sample can carry) — and removes those files left from an earlier save when absent, so that loading
/// gives back exactly what was saved. Only the files of kFeatureSetFiles are overwritten or
/// removed; a command that writes into a folder the user named claims it first as an
/// io::OutputFolder with these names as entries, so that no file of the user's is replaced.
void save_feature_set(const std::filesystem::path& dir, const FeatureSet& features);

}  // namespace coreclean::io

#endif  // CORECLEAN_IO_FEATURE_SET_H_
