#include <coreclean/core/class_names.h>
#include <coreclean/io/feature_set.h>
#include <coreclean/io/text_file.h>

#include <coreclean/core/text.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>

#include "core/check.h"
#include "io/mapped_file.h"

namespace coreclean::io {
namespace {

constexpr std::string_view kXTrain = kFeatureSetFiles[0];
constexpr std::string_view kYTrain = kFeatureSetFiles[1];
constexpr std::string_view kXTest = kFeatureSetFiles[2];
constexpr std::string_view kYTest = kFeatureSetFiles[3];
constexpr std::string_view kIds = kFeatureSetFiles[4];
constexpr std::string_view kClasses = kFeatureSetFiles[5];
std::filesystem::path file_in(const std::filesystem::path& dir, std::string_view file) {
  return dir / std::filesystem::path(file);
}

// True when `path` exists (as anything); an unreadable parent is reported by the later read.
bool present(const std::filesystem::path& path) {
  std::error_code ignored;
  return std::filesystem::exists(path, ignored);
}

// Labels are class ids from 0 to kMaxLabel (docs/formats.md): a negative or absurd value would
// silently become a class of its own (in y_train.npy) or name one that cannot exist (in
// classes.json).
constexpr Label kMaxLabel = std::numeric_limits<std::int32_t>::max();

std::map<Label, std::string> read_classes(const std::filesystem::path& path) {
  const std::string name = path.string();
  const detail::FileBytes file = detail::read_file(path);
  const auto* begin = reinterpret_cast<const char*>(file.bytes.data());
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(begin, begin + file.bytes.size());
  } catch (const nlohmann::json::parse_error& e) {
    throw FormatError(fmt::format("{}: invalid JSON at byte {}: {}", name, e.byte, e.what()));
  } catch (const nlohmann::json::exception& e) {
    // E.g. a number too large for a double (1e400): out_of_range, not parse_error.
    throw FormatError(fmt::format("{}: invalid JSON: {}", name, e.what()));
  }
  if (!json.is_object()) {
    throw FormatError(
        fmt::format("{}: expected a JSON object {{\"<label>\": \"<name>\", ...}}, "
                    "got a JSON {}",
                    name, json.type_name()));
  }
  std::map<Label, std::string> names;
  std::map<Label, std::string> key_of;  // to name both spellings of a duplicated label
  for (const auto& [key, value] : json.items()) {
    const auto label = parse_int(key);
    if (!label.has_value()) {
      throw FormatError(
          fmt::format("{}: key \"{}\" is not an integer label; keys must be labels "
                      "as they occur in y_train.npy, e.g. \"3\"",
                      name, key));
    }
    if (*label < 0 || *label > kMaxLabel) {
      throw FormatError(fmt::format("{}: key \"{}\" is not a class id; labels are integers from 0 "
                                    "to {}, as in y_train.npy",
                                    name, key, kMaxLabel));
    }
    if (!value.is_string()) {
      throw FormatError(
          fmt::format("{}: the name of class \"{}\" is {}, not a string", name, key, value.dump()));
    }
    const auto [it, inserted] = key_of.emplace(*label, key);
    if (!inserted) {
      throw FormatError(fmt::format("{}: keys \"{}\" and \"{}\" both denote label {}", name,
                                    it->second, key, *label));
    }
    names.emplace(*label, value.get<std::string>());
  }
  return names;
}

// -1 gets its own message: it is what `export --labels-out` writes for a deleted box.
void require_class_ids(const Labels& y, const std::string& path) {
  for (std::size_t i = 0; i < y.size(); ++i) {
    if (y[i] == -1) {
      throw FormatError(fmt::format(
          "{}: label -1 at row {}; -1 marks a deleted box in the labels `coreclean export "
          "--labels-out` writes, not a class: drop those rows from X_train.npy, y_train.npy "
          "and ids.npy (in numpy: keep = y != -1; X, y, ids = X[keep], y[keep], ids[keep]) "
          "before using them as features",
          path, i));
    }
    CORECLEAN_THROW_IF_NOT_AS(FormatError, y[i] >= 0 && y[i] <= kMaxLabel,
                              "{}: label {} at row {} is not a class id; labels must be integers "
                              "from 0 to {}",
                              path, y[i], i, kMaxLabel);
  }
}

void require_file(const std::filesystem::path& dir, std::string_view file) {
  const auto path = file_in(dir, file);
  if (!present(path)) {
    throw IoError(fmt::format("features directory {} has no {} (required): {} does not exist",
                              dir.string(), file, path.string()));
  }
}

// Removes a file of an earlier save that the new content does not have, so that loading the
// directory gives back exactly what was saved (a stale ids.npy or test split would otherwise be
// combined with the new training set).
void remove_stale(const std::filesystem::path& path) {
  std::error_code error;
  std::filesystem::remove(path, error);
  if (error) {
    throw IoError(
        fmt::format("cannot remove the stale file {}: {}", path.string(), error.message()));
  }
}

void write_matrix(const std::filesystem::path& path, const SampleMatrix& x) {
  const std::array<std::int64_t, 2> shape = {x.rows(), x.cols()};
  write_npy(path, DType::kFloat32, shape, x.view().data());
}

}  // namespace

std::string FeatureSet::class_name(Label label) const {
  return coreclean::class_name(class_names, label);
}

Label FeatureSet::find_class(const std::string& name_or_id) const {
  return coreclean::find_class(class_names, y_train, name_or_id);
}

Labels FeatureSet::find_classes(std::span<const std::string> names_or_ids) const {
  Labels out;
  for (const std::string& name : names_or_ids) out.push_back(find_class(name));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

namespace {

// The rows of `x` whose label is in the sorted `classes`, with those labels.
std::pair<SampleMatrix, Labels> rows_of_classes(const SampleMatrix& x, const Labels& y,
                                                const Labels& classes,
                                                std::vector<std::size_t>& kept) {
  kept.clear();
  for (std::size_t i = 0; i < y.size(); ++i)
    if (std::binary_search(classes.begin(), classes.end(), y[i])) kept.push_back(i);
  const auto all = x.view();
  RowMatrixXf out(static_cast<Eigen::Index>(kept.size()), all.cols());
  Labels labels(kept.size());
  for (std::size_t j = 0; j < kept.size(); ++j) {
    out.row(static_cast<Eigen::Index>(j)) = all.row(static_cast<Eigen::Index>(kept[j]));
    labels[j] = y[kept[j]];
  }
  return {SampleMatrix(std::move(out)), std::move(labels)};
}

}  // namespace

FeatureSet keep_classes(const FeatureSet& features, std::span<const Label> classes) {
  Labels keep(classes.begin(), classes.end());
  std::sort(keep.begin(), keep.end());
  keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
  FeatureSet out;
  std::vector<std::size_t> kept;
  std::tie(out.x_train, out.y_train) =
      rows_of_classes(features.x_train, features.y_train, keep, kept);
  CORECLEAN_THROW_IF_NOT(!kept.empty(),
                         "keep_classes: none of the {} training samples has one of the {} "
                         "classes asked for",
                         features.y_train.size(), keep.size());
  out.ids.reserve(kept.size());
  for (const std::size_t i : kept) out.ids.push_back(features.ids[i]);
  if (features.x_test) {
    auto [x_test, y_test] = rows_of_classes(*features.x_test, features.y_test, keep, kept);
    if (!kept.empty()) {
      out.x_test = std::move(x_test);
      out.y_test = std::move(y_test);
    }
  }
  for (const auto& [label, name] : features.class_names)
    if (std::binary_search(keep.begin(), keep.end(), label)) out.class_names[label] = name;
  return out;
}

FeatureSet load_feature_set(const std::filesystem::path& dir) { return load_feature_set(dir, {}); }

FeatureSet load_feature_set(
    const std::filesystem::path& dir,
    const std::function<std::pair<Eigen::Index, Eigen::Index>(Eigen::Index rows)>& checked_rows) {
  std::error_code error;
  const auto status = std::filesystem::status(dir, error);
  if (status.type() == std::filesystem::file_type::not_found)
    throw IoError(fmt::format("features directory {} does not exist", dir.string()));
  if (error) {
    throw IoError(
        fmt::format("cannot access the features directory {}: {}", dir.string(), error.message()));
  }
  if (!std::filesystem::is_directory(status))
    throw IoError(fmt::format("features directory {} is not a directory", dir.string()));
  // Both required files are checked before the (possibly large) X_train.npy is read.
  require_file(dir, kXTrain);
  require_file(dir, kYTrain);
  const auto x_train_path = file_in(dir, kXTrain).string();
  const auto y_train_path = file_in(dir, kYTrain).string();

  FeatureSet features;
  {
    const NpyArray x_train = read_npy(x_train_path);
    std::pair<Eigen::Index, Eigen::Index> rows{0, -1};
    if (checked_rows && !x_train.shape().empty()) rows = checked_rows(x_train.shape()[0]);
    features.x_train = to_sample_matrix(x_train, x_train_path, rows);
  }
  features.y_train = to_labels(read_npy(y_train_path), y_train_path);
  require_class_ids(features.y_train, y_train_path);
  const Eigen::Index n = features.x_train.rows();
  const Eigen::Index d = features.x_train.cols();
  CORECLEAN_THROW_IF_NOT(static_cast<Eigen::Index>(features.y_train.size()) == n,
                         "{} has {} rows but {} has {} labels; they must have one label per "
                         "sample",
                         x_train_path, n, y_train_path, features.y_train.size());
  CORECLEAN_THROW_IF_NOT(n > 0, "{}: the training set is empty (shape ({}, {}))", x_train_path, n,
                         d);
  std::vector<Label> train_classes = features.y_train;
  std::sort(train_classes.begin(), train_classes.end());
  train_classes.erase(std::unique(train_classes.begin(), train_classes.end()), train_classes.end());
  CORECLEAN_THROW_IF_NOT(train_classes.size() >= 2,
                         "{}: need at least two classes, but every label is {}", y_train_path,
                         train_classes.front());

  const auto x_test_path = file_in(dir, kXTest).string();
  const auto y_test_path = file_in(dir, kYTest).string();
  const bool has_x_test = present(x_test_path);
  const bool has_y_test = present(y_test_path);
  CORECLEAN_THROW_IF_NOT(
      has_x_test == has_y_test, "{} is present but {} is missing; a test split needs both",
      has_x_test ? x_test_path : y_test_path, has_x_test ? y_test_path : x_test_path);
  if (has_x_test) {
    SampleMatrix x_test = to_sample_matrix(read_npy(x_test_path), x_test_path);
    features.y_test = to_labels(read_npy(y_test_path), y_test_path);
    require_class_ids(features.y_test, y_test_path);
    CORECLEAN_THROW_IF_NOT(x_test.cols() == d,
                           "{} has {} columns but {} has {}; train and test features must have "
                           "the same width",
                           x_test_path, x_test.cols(), x_train_path, d);
    CORECLEAN_THROW_IF_NOT(static_cast<Eigen::Index>(features.y_test.size()) == x_test.rows(),
                           "{} has {} rows but {} has {} labels; they must have one label per "
                           "sample",
                           x_test_path, x_test.rows(), y_test_path, features.y_test.size());
    features.x_test = std::move(x_test);
  }

  const auto ids_path = file_in(dir, kIds).string();
  if (present(ids_path)) {
    features.ids = detail::to_integers(read_npy(ids_path), ids_path, "id");
    CORECLEAN_THROW_IF_NOT(static_cast<Eigen::Index>(features.ids.size()) == n,
                           "{} has {} ids but {} has {} rows; ids must name every training "
                           "sample",
                           ids_path, features.ids.size(), x_train_path, n);
    std::vector<std::size_t> order(features.ids.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return features.ids[a] < features.ids[b];
    });
    for (std::size_t k = 1; k < order.size(); ++k) {
      const std::size_t first = order[k - 1];
      const std::size_t second = order[k];
      CORECLEAN_THROW_IF_NOT(features.ids[first] != features.ids[second],
                             "{}: id {} occurs more than once (at indices {} and {}); ids must "
                             "be unique",
                             ids_path, features.ids[first], first, second);
    }
  } else {
    features.ids.resize(static_cast<std::size_t>(n));
    std::iota(features.ids.begin(), features.ids.end(), SampleId{0});
  }

  const auto classes_path = file_in(dir, kClasses);
  if (present(classes_path)) features.class_names = read_classes(classes_path);

  // Checked last so that the message can use the class names.
  for (std::size_t i = 0; i < features.y_test.size(); ++i) {
    const Label label = features.y_test[i];
    CORECLEAN_THROW_IF_NOT(
        std::binary_search(train_classes.begin(), train_classes.end(), label),
        "{}: class {} (label {}, at index {}) does not occur in {}; every test class needs "
        "training samples",
        y_test_path, features.class_name(label), label, i, y_train_path);
  }
  return features;
}

void save_feature_set(const std::filesystem::path& dir, const FeatureSet& features) {
  const Eigen::Index n = features.x_train.rows();
  CORECLEAN_THROW_IF_NOT(static_cast<Eigen::Index>(features.y_train.size()) == n,
                         "save_feature_set({}): x_train has {} rows but y_train has {} labels",
                         dir.string(), n, features.y_train.size());
  CORECLEAN_THROW_IF_NOT(
      features.ids.empty() || static_cast<Eigen::Index>(features.ids.size()) == n,
      "save_feature_set({}): x_train has {} rows but ids has {} entries", dir.string(), n,
      features.ids.size());
  if (features.x_test.has_value()) {
    CORECLEAN_THROW_IF_NOT(
        static_cast<Eigen::Index>(features.y_test.size()) == features.x_test->rows(),
        "save_feature_set({}): x_test has {} rows but y_test has {} labels", dir.string(),
        features.x_test->rows(), features.y_test.size());
    CORECLEAN_THROW_IF_NOT(features.x_test->cols() == features.x_train.cols(),
                           "save_feature_set({}): x_test has {} columns but x_train has {}",
                           dir.string(), features.x_test->cols(), features.x_train.cols());
  } else {
    CORECLEAN_THROW_IF_NOT(features.y_test.empty(),
                           "save_feature_set({}): y_test has {} labels but there is no x_test",
                           dir.string(), features.y_test.size());
  }

  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    throw IoError(
        fmt::format("cannot create the features directory {}: {}", dir.string(), error.message()));
  }
  write_matrix(file_in(dir, kXTrain), features.x_train);
  write_npy(file_in(dir, kYTrain), std::span<const std::int64_t>(features.y_train));
  if (features.x_test.has_value()) {
    write_matrix(file_in(dir, kXTest), *features.x_test);
    write_npy(file_in(dir, kYTest), std::span<const std::int64_t>(features.y_test));
  } else {
    remove_stale(file_in(dir, kXTest));
    remove_stale(file_in(dir, kYTest));
  }
  if (!features.ids.empty()) {
    write_npy(file_in(dir, kIds), std::span<const std::int64_t>(features.ids));
  } else {
    remove_stale(file_in(dir, kIds));
  }

  const auto classes_path = file_in(dir, kClasses);
  if (features.class_names.empty()) {
    remove_stale(classes_path);
    return;
  }
  nlohmann::ordered_json json = nlohmann::ordered_json::object();
  for (const auto& [label, name] : features.class_names) {
    // A name for an id no label can carry (a COCO category numbered -1, say) would make the
    // file unreadable; no sample can be of that class, so the name is left out.
    if (label < 0 || label > kMaxLabel) continue;
    try {
      // dump refuses text that is not valid UTF-8; checking each name lets the message say which.
      (void)nlohmann::json(name).dump();
    } catch (const nlohmann::json::type_error& e) {
      throw InvalidArgument(
          fmt::format("cannot write {}: the name of class {} is not valid "
                      "UTF-8: {}",
                      classes_path.string(), label, e.what()));
    }
    json[std::to_string(label)] = name;
  }
  const std::string text = json.dump(2) + "\n";
  write_text_atomically(classes_path, text);
}

}  // namespace coreclean::io
