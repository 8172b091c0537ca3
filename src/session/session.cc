#include <coreclean/session/session.h>

#include "core/check.h"
#include "session/sqlite.h"

#include <coreclean/core/error.h>
#include <coreclean/coreset/coreset_tree.h>
#include <coreclean/coreset/near_duplicates.h>
#include <coreclean/detect/box_checks.h>
#include <coreclean/detect/box_table.h>
#include <coreclean/detect/coco.h>
#include <coreclean/io/csv.h>
#include <coreclean/session/decision_file.h>
#include <coreclean/io/feature_set.h>
#include <coreclean/io/npy.h>
#include <coreclean/io/output_folder.h>
#include <coreclean/linear/class_selection.h>
#include <coreclean/linear/logistic_regression.h>
#include <coreclean/linear/metrics.h>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <unordered_map>

namespace coreclean::session {

const char* to_string(DecisionKind kind) {
  switch (kind) {
    case DecisionKind::kKeep:
      return "keep";
    case DecisionKind::kRelabel:
      return "relabel";
    case DecisionKind::kDelete:
      return "delete";
  }
  return "keep";
}

std::optional<DecisionKind> parse_decision_kind(std::string_view text) {
  if (text == "keep") return DecisionKind::kKeep;
  if (text == "relabel") return DecisionKind::kRelabel;
  if (text == "delete") return DecisionKind::kDelete;
  return std::nullopt;
}

std::optional<UndecidedPolicy> parse_undecided_policy(std::string_view text) {
  if (text == "keep") return UndecidedPolicy::kKeep;
  if (text == "return") return UndecidedPolicy::kReturn;
  return std::nullopt;
}

namespace {

std::string undecided_message(int batch, std::int64_t batch_size, const std::vector<SampleId>& ids) {
  constexpr std::size_t kListed = 20;
  std::string listed;
  for (std::size_t k = 0; k < std::min(ids.size(), kListed); ++k)
    listed += fmt::format("{}{}", k ? ", " : "", ids[k]);
  if (ids.size() > kListed) listed += fmt::format(", ... ({} more)", ids.size() - kListed);
  return fmt::format(
      "batch {}: {} of {} boxes have no decision (ids {}); nothing was applied. Decide them (in "
      "review.csv or on the review page), or say what undecided means: undecided = keep (their "
      "labels are right) or undecided = return (they go back to the unseen boxes)",
      batch, ids.size(), batch_size, listed);
}

}  // namespace

UndecidedBoxes::UndecidedBoxes(int batch, std::int64_t batch_size, std::vector<SampleId> ids)
    : InvalidArgument(undecided_message(batch, batch_size, ids)), batch_(batch), ids_(std::move(ids)) {}

namespace {

using detail::Database;
using detail::Statement;
using detail::Transaction;

constexpr const char* kSchema = R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE classes(label INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE samples(
  id INTEGER PRIMARY KEY,          -- the sample id (e.g. COCO annotation id)
  row INTEGER NOT NULL,            -- row in the features' X_train
  fold INTEGER NOT NULL,           -- fold of the cross-validated AUC (fixed at creation)
  original_label INTEGER NOT NULL,
  label INTEGER NOT NULL,          -- current label
  weight REAL NOT NULL DEFAULT 1,  -- 0 = deleted
  seen INTEGER NOT NULL DEFAULT 0);
CREATE TABLE batches(
  number INTEGER PRIMARY KEY,
  created_at TEXT NOT NULL,
  applied_at TEXT,                 -- NULL while the batch is open
  selection TEXT NOT NULL DEFAULT 'importance');  -- 'importance' or 'random' (schema 2)
CREATE TABLE batch_items(
  batch INTEGER NOT NULL REFERENCES batches(number),
  position INTEGER NOT NULL,
  sample_id INTEGER NOT NULL REFERENCES samples(id),
  label INTEGER NOT NULL, importance REAL NOT NULL, misfit REAL NOT NULL,
  atypical REAL NOT NULL, suggested_label INTEGER NOT NULL,
  PRIMARY KEY(batch, position), UNIQUE(batch, sample_id));
CREATE TABLE decisions(
  batch INTEGER NOT NULL REFERENCES batches(number),
  sample_id INTEGER NOT NULL REFERENCES samples(id),
  decision TEXT NOT NULL CHECK(decision IN ('keep', 'relabel', 'delete')),
  old_label INTEGER NOT NULL,
  new_label INTEGER,
  reviewer TEXT NOT NULL DEFAULT '',
  decided_at TEXT NOT NULL,
  applied INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(batch, sample_id));
CREATE TABLE iterations(
  iteration INTEGER PRIMARY KEY,   -- 0 = at creation; n = after batch n
  auc REAL NOT NULL,
  reviewed INTEGER NOT NULL, relabelled INTEGER NOT NULL, deleted INTEGER NOT NULL,
  kept INTEGER NOT NULL, seconds REAL NOT NULL,
  importance BLOB NOT NULL,        -- float64 importances of the class of interest
  created_at TEXT NOT NULL,
  fusion TEXT);                    -- {"ridge", "held_out", "neighbour"} weights after it (schema 4)
)sql";

// Tables added by schema 3 (created by create(), added to older sessions by migrate()).
constexpr const char* kSchema3 = R"sql(
CREATE TABLE IF NOT EXISTS revisions(
  sample_id INTEGER NOT NULL,
  batch INTEGER NOT NULL,          -- the batch of the revised decision
  old_decision TEXT NOT NULL, old_new_label INTEGER, old_reviewer TEXT NOT NULL DEFAULT '',
  decision TEXT NOT NULL, new_label INTEGER,
  reviewer TEXT NOT NULL DEFAULT '',
  revised_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outputs(
  path TEXT PRIMARY KEY,           -- absolute path of a file the session wrote (export, report)
  size INTEGER NOT NULL, mtime INTEGER NOT NULL,  -- as written: a changed file is the user's
  written_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outside(
  row INTEGER PRIMARY KEY,         -- a row of X_train outside the session whose label in the
  label INTEGER);                  -- session's COCO file differs from y_train (NULL: deleted)
CREATE TABLE IF NOT EXISTS findings(
  sample_id INTEGER NOT NULL,      -- a box flagged by the model-free checks
  check_name TEXT NOT NULL, detail TEXT NOT NULL,
  other_id INTEGER);               -- the other box of a duplicate pair
)sql";

const char* selection_name(BatchSelection selection) {
  switch (selection) {
    case BatchSelection::kRandom:
      return "random";
    case BatchSelection::kFindings:
      return "findings";
    case BatchSelection::kImportance:
      break;
  }
  return "importance";
}

BatchSelection selection_of(const std::string& name) {
  if (name == "random") return BatchSelection::kRandom;
  if (name == "findings") return BatchSelection::kFindings;
  return BatchSelection::kImportance;
}

// Findings come first in a findings batch in this order: boxes that cannot be right at all,
// then pairs (duplicate boxes, near-identical boxes with conflicting labels), then the rest.
int finding_rank(const std::string& check) {
  if (check == "degenerate") return 0;
  if (check == "duplicate" || check == "conflicting_labels") return 1;
  return 2;
}

// The confusion matrix as stored in meta: {"classes": [...], "normalized": [...], "test": b}.
std::string confusion_json(const ClassConfusion& c) {
  return nlohmann::json{{"classes", c.classes}, {"normalized", c.normalized},
                        {"test", c.used_test_split}}
      .dump();
}

// Size and a 64-bit FNV-1a hash of a file's bytes, as text: tells a rewritten file from the
// same bytes copied or touched (a modification time would not).
std::string file_stamp(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  CORECLEAN_THROW_IF_NOT_AS(IoError, in.good(), "{}: cannot read", file.string());
  std::uint64_t hash = 0xcbf29ce484222325ULL, size = 0;
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto got = static_cast<std::size_t>(in.gcount());
    for (std::size_t k = 0; k < got; ++k)
      hash = (hash ^ static_cast<unsigned char>(buffer[k])) * 0x100000001b3ULL;
    size += got;
  }
  return fmt::format("{} {:016x}", size, hash);
}

std::string now_utc() {
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}",
                     std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
}

std::span<const std::byte> as_bytes(const std::vector<double>& v) {
  return std::as_bytes(std::span<const double>(v));
}

std::vector<double> to_doubles(const std::vector<std::byte>& b) {
  std::vector<double> out(b.size() / sizeof(double));
  if (!out.empty()) std::memcpy(out.data(), b.data(), out.size() * sizeof(double));
  return out;
}


}  // namespace

struct Session::State {
  std::filesystem::path dir;
  std::unique_ptr<Database> db;
  // Settings from the meta table.
  std::filesystem::path features, coco, images;
  Label class_of_interest = 0, confused_with = 0;
  std::string guidelines;
  std::uint64_t seed = 0;
  int folds = 5;
  double auc_c = 1.0;
  ClassNames names;
  Labels classes;
  // Samples in row order of the session (the tree's build order).
  std::vector<SampleId> ids;
  std::vector<Eigen::Index> rows;
  std::vector<int> fold;
  Labels original, label;
  std::vector<double> weight;
  std::vector<std::uint8_t> seen;
  std::unordered_map<SampleId, std::size_t> index_of;
  // Rows outside the session whose label in the session's COCO file differs from y_train
  // (nullopt: the file deleted the box): what export writes for them.
  std::vector<std::pair<Eigen::Index, std::optional<Label>>> outside;
  coreset::CoresetTree tree;

  std::filesystem::path tree_path() const { return dir / "tree.bin"; }

  /// SQLite's data_version: changes when another connection commits.
  std::int64_t data_version() const {
    Statement st = db->prepare("PRAGMA data_version");
    st.step();
    return st.int64(0);
  }
  std::int64_t opened_data_version = 0;

  std::string meta(const std::string& key) const {
    Statement st = db->prepare("SELECT value FROM meta WHERE key = ?");
    st.bind(1, std::string_view(key));
    if (!st.step()) throw FormatError(fmt::format("{}: meta '{}' missing", db->path().string(), key));
    return st.text(0);
  }

  std::size_t require_index(SampleId id) const {
    const auto it = index_of.find(id);
    CORECLEAN_THROW_IF_NOT(it != index_of.end(), "sample {} is not in the session {}", id,
                           dir.string());
    return it->second;
  }

  void load_samples() {
    ids.clear(); rows.clear(); fold.clear(); original.clear(); label.clear(); weight.clear();
    seen.clear(); index_of.clear();
    Statement st = db->prepare(
        "SELECT id, row, fold, original_label, label, weight, seen FROM samples ORDER BY row");
    while (st.step()) {
      index_of[st.int64(0)] = ids.size();
      ids.push_back(st.int64(0));
      rows.push_back(st.int64(1));
      fold.push_back(static_cast<int>(st.int64(2)));
      original.push_back(st.int64(3));
      label.push_back(st.int64(4));
      weight.push_back(st.real(5));
      seen.push_back(static_cast<std::uint8_t>(st.int64(6)));
    }
  }

  // The session's rows of X (a copy: the tree and the AUC need them contiguous).
  RowMatrixXf session_features() const {
    const io::FeatureSet fs = io::load_feature_set(features);
    const auto x = fs.x_train.view();
    RowMatrixXf out(static_cast<Eigen::Index>(rows.size()), x.cols());
    for (std::size_t j = 0; j < rows.size(); ++j) {
      CORECLEAN_THROW_IF_NOT(rows[j] < x.rows() && fs.ids[rows[j]] == ids[j],
                             "{}: the features directory {} changed since the session was "
                             "created (row {} is no longer sample {})",
                             dir.string(), features.string(), rows[j], ids[j]);
      out.row(static_cast<Eigen::Index>(j)) = x.row(rows[j]);
    }
    return out;
  }

  // k-fold cross-validated AUC on the given labels (weight-0 samples left out), on the tree's
  // feature map: binary between the two classes when the session has two, one-vs-rest macro
  // otherwise. Folds were fixed at creation, so iterations differ only by the labels.
  double cross_validated_auc(const RowMatrixXf& phi, const Labels& y, const std::vector<double>& w,
                             const Context& context) const {
    std::vector<Eigen::Index> keep;
    for (std::size_t i = 0; i < y.size(); ++i)
      if (w[i] > 0.0) keep.push_back(static_cast<Eigen::Index>(i));
    RowMatrixXf xk(static_cast<Eigen::Index>(keep.size()), phi.cols());
    Labels yk(keep.size());
    std::vector<int> fk(keep.size());
    for (std::size_t j = 0; j < keep.size(); ++j) {
      xk.row(static_cast<Eigen::Index>(j)) = phi.row(keep[j]);
      yk[j] = y[keep[j]];
      fk[j] = fold[keep[j]];
    }
    Labels present = yk;
    std::sort(present.begin(), present.end());
    present.erase(std::unique(present.begin(), present.end()), present.end());
    if (present.size() < 2) return 0.5;
    linear::LogisticRegressionParams p;
    // Features of unit scale: C is relative to the mean squared norm, as the tree's cross-fit.
    const double msq = xk.rows() > 0 ? xk.cast<double>().rowwise().squaredNorm().mean() : 1.0;
    p.c = auc_c * static_cast<double>(xk.cols()) / std::max(msq, 1e-300);
    p.max_iter = 200;
    const RowMatrixXd proba = linear::cross_val_predict_proba(p, xk, yk, fk, {}, context);
    return linear::roc_auc_ovr(proba, yk, present);
  }

  std::vector<double> interest_importances() const {
    std::vector<double> out;
    for (const coreset::SampleScore& s : tree.scores())
      if (s.weight > 0.0 && s.label == class_of_interest) out.push_back(s.importance);
    return out;
  }

  // Builds the tree afresh from the database's labels, weights and seen flags.
  void rebuild_tree(const Context& context) {
    tree = coreset::CoresetTree();
    tree.build(session_features(), label, weight, ids, context);
    tree.set_class_names(names);
    std::vector<SampleId> seen_ids;
    for (std::size_t i = 0; i < ids.size(); ++i)
      if (seen[i]) seen_ids.push_back(ids[i]);
    tree.set_seen(seen_ids, true);
    record_verdicts(context);
    coreset::save_tree(tree, tree_path());
  }

  // The reviewers' verdicts of every applied batch (a box's last decision counts), which the
  // fusion learns from.
  std::map<SampleId, coreset::Verdict> applied_verdicts() const {
    std::map<SampleId, coreset::Verdict> verdict;
    Statement st = db->prepare(
        "SELECT sample_id, decision FROM decisions WHERE applied = 1 ORDER BY batch, sample_id");
    while (st.step())
      verdict[st.int64(0)] = parse_decision_kind(st.text(1)) == DecisionKind::kDelete
                                 ? coreset::Verdict::kNoClass
                                 : coreset::Verdict::kLabelRight;
    return verdict;
  }

  // Gives the tree every applied verdict when it lacks one (a tree built afresh, or saved
  // before a batch was applied); returns whether it did.
  bool record_verdicts(const Context& context) {
    const std::map<SampleId, coreset::Verdict> verdict = applied_verdicts();
    bool missing = false;
    std::vector<SampleId> verdict_ids;
    std::vector<coreset::Verdict> verdicts;
    for (const auto& [id, v] : verdict) {
      verdict_ids.push_back(id);
      verdicts.push_back(v);
      missing = missing || tree.verdict(id) != v;
    }
    if (missing) tree.record_verdicts(verdict_ids, verdicts, context);
    return missing;
  }

  // Brings the tree cache in line with the database (labels, deletions, seen flags). A sample
  // that the database has and the tree removed (a revised deletion whose rebuild was cut
  // short) cannot come back by an update: then the tree is rebuilt.
  void reconcile_tree(const Context& context) {
    for (std::size_t i = 0; i < ids.size(); ++i)
      if (weight[i] > 0.0 && tree.score(ids[i]).weight <= 0.0) return rebuild_tree(context);
    std::vector<SampleId> relabel_ids, remove_ids, seen_ids, unseen_ids;
    Labels relabel_to;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const coreset::SampleScore s = tree.score(ids[i]);
      if (weight[i] <= 0.0 && s.weight > 0.0) remove_ids.push_back(ids[i]);
      if (weight[i] > 0.0 && s.label != label[i]) {
        relabel_ids.push_back(ids[i]);
        relabel_to.push_back(label[i]);
      }
      if (seen[i] && !s.seen) seen_ids.push_back(ids[i]);
      if (!seen[i] && s.seen) unseen_ids.push_back(ids[i]);
    }
    bool changed = !seen_ids.empty() || !unseen_ids.empty();
    if (!relabel_ids.empty() || !remove_ids.empty()) tree.apply_review(relabel_ids, relabel_to, remove_ids);
    if (tree.stale_updates() > 0) {
      tree.refresh(context);
      changed = true;
    }
    // A tree older than the decisions also lacks their verdicts (a batch of keeps changes no
    // label, but its verdicts teach the fusion).
    if (record_verdicts(context)) changed = true;
    tree.set_seen(seen_ids, true);
    tree.set_seen(unseen_ids, false);
    if (changed) coreset::save_tree(tree, tree_path());
  }

  void insert_iteration(const IterationMetrics& m) {
    Statement st = db->prepare(
        "INSERT OR REPLACE INTO iterations(iteration, auc, reviewed, relabelled, deleted, kept, "
        "seconds, importance, created_at, fusion) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    st.bind(1, m.iteration).bind(2, m.auc).bind(3, m.reviewed).bind(4, m.relabelled);
    st.bind(5, m.deleted).bind(6, m.kept).bind(7, m.seconds).bind(8, as_bytes(m.importance));
    st.bind(9, std::string_view(now_utc()));
    if (m.fusion) {
      const std::string fusion = nlohmann::json{{"ridge", m.fusion->ridge},
                                                {"held_out", m.fusion->held_out},
                                                {"neighbour", m.fusion->neighbour}}
                                     .dump();
      st.bind(10, std::string_view(fusion));
    } else {
      st.bind_null(10);
    }
    st.run();
  }

  Label find_class(const std::string& name_or_id) const {
    return coreclean::find_class(names, classes, name_or_id);
  }
};

Session::Session(std::unique_ptr<State> state) : state_(std::move(state)) {}
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() = default;

namespace {

// Every image that holds one of the boxes `ids` must be in the images folder: renderings and
// the review page need them. Reports how many are missing, with a few names.
void check_images(const detect::CocoDataset& coco, const std::vector<SampleId>& ids,
                  const std::filesystem::path& images, const std::filesystem::path& coco_path) {
  std::set<std::size_t> needed;
  for (const SampleId id : ids)
    if (const auto a = coco.annotation_index(id))
      if (const auto im = coco.image_index(coco.annotations[*a].image_id)) needed.insert(*im);
  std::vector<std::string> missing;
  for (const std::size_t im : needed) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(images / coco.images[im].file_name, ec))
      missing.push_back(coco.images[im].file_name);
  }
  if (missing.empty()) return;
  std::string names;
  for (std::size_t k = 0; k < std::min<std::size_t>(missing.size(), 5); ++k)
    names += fmt::format("{}{}", k ? ", " : "", missing[k]);
  throw InvalidArgument(fmt::format(
      "images folder {}: {} of the {} images that hold the boxes of the features are missing (e.g. "
      "{}); give the folder that holds the images of {}",
      images.string(), missing.size(), needed.size(), names, coco_path.string()));
}

}  // namespace

namespace {

// A session is created in a new folder or an empty one.
void check_new_session_folder(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  CORECLEAN_THROW_IF_NOT(!fs::exists(dir) || (fs::is_directory(dir) && fs::is_empty(dir)),
                         "{}: already exists and is not an empty folder (open the session, or "
                         "choose a new folder)",
                         dir.string());
}

// The session's own copy of in-memory features: dir/features, stored by this relative path.
constexpr std::string_view kOwnFeatures = "features";

}  // namespace

Session Session::create(const std::filesystem::path& dir, const SessionOptions& options,
                        const Context& context) {
  check_new_session_folder(dir);
  return create_in(dir, options, false, context);
}

Session Session::create(const std::filesystem::path& dir, const io::FeatureSet& features,
                        const SessionOptions& options, const Context& context) {
  namespace fs = std::filesystem;
  CORECLEAN_THROW_IF_NOT(options.features.empty(),
                         "session: features are given in memory; leave options.features empty "
                         "(it is {})",
                         options.features.string());
  check_new_session_folder(dir);
  const bool made_dir = !fs::exists(dir);
  const fs::path own = dir / kOwnFeatures;
  try {
    io::save_feature_set(own, features);
    SessionOptions with_features = options;
    with_features.features = own;
    return create_in(dir, with_features, true, context);
  } catch (...) {
    // Leave the folder as it was: new or empty.
    std::error_code ec;
    fs::remove_all(made_dir ? dir : own, ec);
    throw;
  }
}

Session Session::create_in(const std::filesystem::path& dir, const SessionOptions& options,
                           bool own_features, const Context& context) {
  namespace fs = std::filesystem;
  CORECLEAN_THROW_IF_NOT(options.folds >= 2, "session: folds = {} (must be >= 2)", options.folds);
  CORECLEAN_THROW_IF_NOT(options.images.empty() || !options.coco.empty(),
                         "session: an images folder needs its COCO file");
  // The inputs are checked before the long work (the pick, the tree), so a wrong path fails at
  // once: the COCO file parses, the images folder is a folder.
  std::optional<detect::CocoDataset> coco;
  if (!options.coco.empty()) coco = detect::read_coco(options.coco);
  if (!options.images.empty()) {
    std::error_code ec;
    CORECLEAN_THROW_IF_NOT(fs::is_directory(options.images, ec),
                           "images folder {} does not exist or is not a folder",
                           options.images.string());
  }
  io::FeatureSet features = io::load_feature_set(options.features);

  // With a COCO file, labels and class names come from it (a corrected export of the same
  // dataset starts the session from its corrections); annotations it no longer has were
  // deleted and stay out of the session.
  std::vector<bool> absent(features.ids.size(), false);
  std::size_t absent_count = 0;
  const Labels file_labels = features.y_train;
  if (coco) {
    const detect::CocoMatch match = detect::match_coco(
        *coco, features.ids, detect::read_box_table(options.features, features.x_train.rows()),
        options.features.string(), options.coco.string());
    for (std::size_t i = 0; i < features.ids.size(); ++i) {
      if (match.labels[i]) {
        features.y_train[i] = *match.labels[i];
      } else {
        absent[i] = true;
        ++absent_count;
      }
    }
    for (const detect::CocoCategory& c : coco->categories) features.class_names[c.id] = c.name;
    // Before the long work: every image of the embedded boxes must be there.
    if (!options.images.empty()) {
      std::vector<SampleId> present;
      for (std::size_t i = 0; i < features.ids.size(); ++i)
        if (!absent[i]) present.push_back(features.ids[i]);
      check_images(*coco, present, options.images, options.coco);
    }
    if (!match.verified)
      context.log(LogLevel::kWarning,
                  fmt::format("{} has no {}: cannot verify that its features were made from {} "
                              "(their ids match {} of {} annotations)",
                              options.features.string(), detect::kBoxTableFile,
                              options.coco.string(), match.present, features.ids.size()));
  }

  // The class of interest: given, or the pick logic (largest off-diagonal confusion).
  Label interest = 0, confused = 0;
  std::optional<ClassConfusion> confusion = options.confusion;
  if (options.class_of_interest == "auto") {
    linear::ClassSelectionParams params;
    std::optional<MatrixRef> x_test;
    if (features.x_test) x_test.emplace(features.x_test->view());
    RowMatrixXf present_x;
    Labels present_y;
    if (absent_count > 0) {
      const auto x = features.x_train.view();
      present_x.resize(x.rows() - static_cast<Eigen::Index>(absent_count), x.cols());
      Eigen::Index r = 0;
      for (Eigen::Index i = 0; i < x.rows(); ++i) {
        if (absent[i]) continue;
        present_x.row(r++) = x.row(i);
        present_y.push_back(features.y_train[i]);
      }
    }
    const linear::ClassSelection s = linear::select_class_to_clean(
        absent_count > 0 ? MatrixRef(present_x) : features.x_train.view(),
        absent_count > 0 ? present_y : features.y_train, x_test, features.y_test, params, context);
    interest = s.class_of_interest;
    confused = s.confused_with;
    confusion = to_class_confusion(s);
  } else {
    interest = features.find_class(options.class_of_interest);
  }
  const Labels keep = features.find_classes(options.classes);
  const auto kept = [&](Label l) { return std::binary_search(keep.begin(), keep.end(), l); };
  CORECLEAN_THROW_IF_NOT(keep.empty() || kept(interest),
                         "session: --classes must include the class of interest '{}'",
                         features.class_name(interest));

  auto s = std::make_unique<State>();
  s->dir = dir;
  s->features = fs::absolute(options.features);
  s->coco = options.coco.empty() ? fs::path() : fs::absolute(options.coco);
  s->images = options.images.empty() ? fs::path() : fs::absolute(options.images);
  s->class_of_interest = interest;
  s->guidelines = options.guidelines;
  s->seed = context.seed;
  s->folds = options.folds;
  s->auc_c = options.auc_c;
  for (std::size_t i = 0; i < features.y_train.size(); ++i) {
    const auto row = static_cast<Eigen::Index>(i);
    if (absent[i]) {
      s->outside.emplace_back(row, std::nullopt);
      continue;
    }
    if (!keep.empty() && !kept(features.y_train[i])) {
      if (features.y_train[i] != file_labels[i]) s->outside.emplace_back(row, features.y_train[i]);
      continue;
    }
    s->index_of[features.ids[i]] = s->ids.size();
    s->ids.push_back(features.ids[i]);
    s->rows.push_back(static_cast<Eigen::Index>(i));
    s->original.push_back(features.y_train[i]);
  }
  s->label = s->original;
  s->weight.assign(s->ids.size(), 1.0);
  s->seen.assign(s->ids.size(), 0);
  s->classes = s->label;
  std::sort(s->classes.begin(), s->classes.end());
  s->classes.erase(std::unique(s->classes.begin(), s->classes.end()), s->classes.end());
  CORECLEAN_THROW_IF_NOT(s->classes.size() >= 2, "session: need at least two classes, got {}",
                         s->classes.size());
  if (options.class_of_interest != "auto" || !keep.empty()) {
    // The class it is most confused with, among the kept ones: the pick logic's partner when
    // kept, else the other class of a two-class session.
    if (!std::binary_search(s->classes.begin(), s->classes.end(), confused) || confused == interest)
      confused = s->classes[0] == interest ? s->classes[1] : s->classes[0];
  }
  s->confused_with = confused;
  for (Label l : s->classes) s->names[l] = features.class_name(l);
  s->fold = linear::stratified_kfold(s->original, options.folds, context.seed);
  // The model-free findings on the session's boxes join the review (next --findings).
  std::vector<detect::BoxFinding> box_findings;
  if (coco)
    for (detect::BoxFinding& f : detect::check_boxes(*coco))
      if (s->index_of.contains(f.annotation_id)) box_findings.push_back(std::move(f));

  const RowMatrixXf x = s->session_features();
  // Boxes of different images with near-identical embeddings and different labels: one of the
  // two labels is very likely wrong (coreset/near_duplicates.h). Images from the COCO file,
  // else from the features' box table; a box of unknown image is in an image of its own.
  std::vector<coreset::NearDuplicateFinding> conflicts;
  {
    std::vector<std::optional<std::int64_t>> images(s->ids.size());
    const std::optional<RowMatrixXd> table =
        coco ? std::nullopt : detect::read_box_table(options.features, features.x_train.rows());
    for (std::size_t i = 0; i < s->ids.size(); ++i) {
      if (coco) {
        if (const auto a = coco->annotation_index(s->ids[i])) images[i] = coco->annotations[*a].image_id;
      } else if (table) {
        images[i] = static_cast<std::int64_t>((*table)(s->rows[i], 0));
      }
    }
    const coreset::NearDuplicateSamples samples{s->ids, s->label, images, {}, &s->names};
    for (coreset::NearDuplicateFinding& f :
         coreset::near_duplicate_findings(x, samples, coreset::kNearDuplicateShare, 0.0, context).findings)
      if (f.kind == coreset::NearDuplicateKind::kConflictingLabels) conflicts.push_back(std::move(f));
  }
  s->tree.build(x, s->label, {}, s->ids, context);
  s->tree.set_class_names(s->names);

  IterationMetrics first;
  first.iteration = 0;
  first.auc = s->cross_validated_auc(s->tree.map_features(x), s->label, s->weight, context);
  first.importance = s->interest_importances();
  first.fusion = s->tree.fusion_weights();

  fs::create_directories(dir);
  const fs::path db_path = dir / "session.db";
  // A half-created session (killed here) leaves a folder that create() refuses; the database is
  // written in one transaction, so it is either complete or absent of tables.
  s->db = std::make_unique<Database>(db_path, true);
  Transaction t(*s->db);
  s->db->exec(kSchema);
  s->db->exec(kSchema3);
  {
    Statement st = s->db->prepare("INSERT INTO meta(key, value) VALUES(?, ?)");
    const std::vector<std::pair<std::string, std::string>> meta = {
        {"schema_version", std::to_string(kSchemaVersion)},
        {"features", own_features ? std::string(kOwnFeatures) : s->features.string()},
        {"coco", s->coco.string()},
        {"images", s->images.string()},
        {"class_of_interest", std::to_string(interest)},
        {"confused_with", std::to_string(s->confused_with)},
        {"guidelines", s->guidelines},
        {"seed", std::to_string(s->seed)},
        {"folds", std::to_string(s->folds)},
        {"auc_c", fmt::format("{}", s->auc_c)},
        {"created_at", now_utc()},
        {"confusion", confusion ? confusion_json(*confusion) : std::string()},
        // The COCO file as it was: export refuses to correct a file that changed since.
        {"coco_stamp", coco ? file_stamp(options.coco) : std::string()}};
    for (const auto& [k, v] : meta) {
      st.bind(1, std::string_view(k)).bind(2, std::string_view(v));
      st.run();
    }
  }
  {
    Statement st = s->db->prepare("INSERT INTO classes(label, name) VALUES(?, ?)");
    for (const auto& [l, name] : s->names) {
      st.bind(1, l).bind(2, std::string_view(name));
      st.run();
    }
  }
  {
    Statement st = s->db->prepare(
        "INSERT INTO samples(id, row, fold, original_label, label) VALUES(?, ?, ?, ?, ?)");
    for (std::size_t i = 0; i < s->ids.size(); ++i) {
      st.bind(1, s->ids[i]).bind(2, static_cast<std::int64_t>(s->rows[i])).bind(3, s->fold[i]);
      st.bind(4, s->original[i]).bind(5, s->label[i]);
      st.run();
    }
  }
  {
    Statement st = s->db->prepare(
        "INSERT INTO findings(sample_id, check_name, detail, other_id) VALUES(?, ?, ?, ?)");
    for (const detect::BoxFinding& f : box_findings) {
      st.bind(1, f.annotation_id).bind(2, detect::box_check_name(f.check));
      st.bind(3, std::string_view(f.detail));
      if (f.other_annotation_id) st.bind(4, *f.other_annotation_id); else st.bind_null(4);
      st.run();
    }
  }
  {
    Statement st = s->db->prepare(
        "INSERT INTO findings(sample_id, check_name, detail, other_id) VALUES(?, ?, ?, ?)");
    for (const coreset::NearDuplicateFinding& f : conflicts) {
      st.bind(1, f.id).bind(2, coreset::near_duplicate_kind_name(f.kind));
      st.bind(3, std::string_view(f.detail)).bind(4, f.other);
      st.run();
    }
  }
  {
    Statement st = s->db->prepare("INSERT INTO outside(row, label) VALUES(?, ?)");
    for (const auto& [row, label] : s->outside) {
      st.bind(1, static_cast<std::int64_t>(row));
      if (label) st.bind(2, *label); else st.bind_null(2);
      st.run();
    }
  }
  s->insert_iteration(first);
  coreset::save_tree(s->tree, s->tree_path());
  t.commit();
  s->opened_data_version = s->data_version();
  return Session(std::move(s));
}

namespace {

// Brings a database of an older schema to kSchemaVersion, in one transaction (so opening an
// older session writes to it once).
void migrate(Database& db) {
  Transaction t(db);
  // Read again under the write lock: another process may have migrated in the meantime.
  int from = kSchemaVersion;
  {
    Statement st = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'");
    if (st.step()) from = std::stoi(st.text(0));
  }
  if (from >= kSchemaVersion) return;
  if (from < 2) db.exec("ALTER TABLE batches ADD COLUMN selection TEXT NOT NULL DEFAULT 'importance'");
  if (from < 3) db.exec(kSchema3);
  if (from < 4) db.exec("ALTER TABLE iterations ADD COLUMN fusion TEXT");
  Statement st = db.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'");
  st.bind(1, std::string_view(std::to_string(kSchemaVersion)));
  st.run();
  t.commit();
}

}  // namespace

Session Session::open(const std::filesystem::path& dir, const Context& context) {
  const std::filesystem::path db_path = dir / "session.db";
  CORECLEAN_THROW_IF_NOT(std::filesystem::is_regular_file(db_path),
                         "{}: not a session (no session.db; create one with `coreclean init`)",
                         dir.string());
  auto s = std::make_unique<State>();
  s->dir = dir;
  s->db = std::make_unique<Database>(db_path, false);
  // Read before the state: a commit by another process from here on counts as a change.
  s->opened_data_version = s->data_version();
  {
    Statement st = s->db->prepare(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'");
    st.step();
    if (st.int64(0) == 0)
      throw FormatError(fmt::format("{}: the session was never completely created; delete the "
                                    "folder and run `coreclean init` again",
                                    dir.string()));
  }
  const int version = std::stoi(s->meta("schema_version"));
  if (version > kSchemaVersion)
    throw FormatError(fmt::format("{}: session schema version {} is newer than this coreclean "
                                  "supports ({}); upgrade coreclean",
                                  db_path.string(), version, kSchemaVersion));
  if (version < kSchemaVersion) migrate(*s->db);
  s->features = s->meta("features");
  // A session's own features (created from features in memory) lie in its folder.
  if (s->features.is_relative()) s->features = dir / s->features;
  s->coco = s->meta("coco");
  s->images = s->meta("images");
  s->class_of_interest = std::stoll(s->meta("class_of_interest"));
  s->confused_with = std::stoll(s->meta("confused_with"));
  s->guidelines = s->meta("guidelines");
  s->seed = std::stoull(s->meta("seed"));
  s->folds = std::stoi(s->meta("folds"));
  s->auc_c = std::stod(s->meta("auc_c"));
  {
    Statement st = s->db->prepare("SELECT label, name FROM classes ORDER BY label");
    while (st.step()) {
      s->names[st.int64(0)] = st.text(1);
      s->classes.push_back(st.int64(0));
    }
  }
  s->load_samples();
  {
    Statement st = s->db->prepare("SELECT row, label FROM outside ORDER BY row");
    while (st.step())
      s->outside.emplace_back(st.int64(0), st.is_null(1) ? std::nullopt
                                                          : std::optional<Label>(st.int64(1)));
  }
  // The tree is a cache: rebuild it from the database when it is missing or unreadable.
  Context seeded(context);
  seeded.seed = s->seed;
  bool loaded = false;
  if (std::filesystem::exists(s->tree_path())) {
    try {
      s->tree = coreset::load_tree(s->tree_path());
      loaded = s->tree.size() == static_cast<Eigen::Index>(s->ids.size());
    } catch (const FormatError&) {
      loaded = false;
    }
  }
  if (!loaded) {
    const RowMatrixXf x = s->session_features();
    s->tree = coreset::CoresetTree();
    s->tree.build(x, s->original, {}, s->ids, seeded);
    s->tree.set_class_names(s->names);
  }
  s->reconcile_tree(seeded);
  if (!loaded) coreset::save_tree(s->tree, s->tree_path());
  return Session(std::move(s));
}

Batch Session::batch(int number) const {
  State& s = *state_;
  Batch b;
  b.number = number;
  {
    Statement st = s.db->prepare("SELECT applied_at, selection FROM batches WHERE number = ?");
    st.bind(1, number);
    CORECLEAN_THROW_IF_NOT(st.step(), "session {}: there is no batch {}", s.dir.string(), number);
    b.applied = !st.is_null(0);
    b.selection = selection_of(st.text(1));
  }
  Statement st = s.db->prepare(
      "SELECT sample_id, label, importance, misfit, atypical, suggested_label FROM batch_items "
      "WHERE batch = ? ORDER BY position");
  st.bind(1, number);
  while (st.step())
    b.items.push_back({st.int64(0), st.int64(1), st.real(2), st.real(3), st.real(4), st.int64(5)});
  return b;
}

std::optional<Batch> Session::open_batch() const {
  Statement st = state_->db->prepare(
      "SELECT number FROM batches WHERE applied_at IS NULL ORDER BY number DESC LIMIT 1");
  if (!st.step()) return std::nullopt;
  return batch(static_cast<int>(st.int64(0)));
}

Batch Session::next_batch(std::int64_t n, const Context&, BatchSelection selection) {
  CORECLEAN_THROW_IF_NOT(n >= 1, "next: batch size {} (must be at least 1)", n);
  State& s = *state_;
  // Checked under the write lock: two processes asking at once get one batch, not two.
  Transaction t(*s.db);
  if (std::optional<Batch> open = open_batch()) {
    // A plain `next` shows whatever batch is open; asking for another kind is refused rather
    // than silently answered with the open batch.
    CORECLEAN_THROW_IF_NOT(
        selection == BatchSelection::kImportance || open->selection == selection,
        "session {}: batch {} ({}) is open; decide and apply it before {}",
        state_->dir.string(), open->number,
        open->selection == BatchSelection::kImportance ? "the most important boxes"
        : open->selection == BatchSelection::kRandom   ? "a random audit batch"
                                                       : "boxes flagged by the box checks",
        selection == BatchSelection::kRandom ? "drawing a random audit batch"
                                             : "a batch of the flagged boxes");
    return *open;
  }
  int number = 1;
  {
    Statement st = s.db->prepare("SELECT coalesce(max(number), 0) + 1 FROM batches");
    st.step();
    number = static_cast<int>(st.int64(0));
  }
  coreset::ImportantSamples chosen;
  if (selection == BatchSelection::kImportance) {
    coreset::ImportantSamplesQuery q;
    q.class_size[s.class_of_interest] = {coreset::ClassQuota::Kind::kCount, n};
    q.ignore_seen = true;
    q.mark_seen = false;
    chosen = s.tree.important_samples(q);
  } else if (selection == BatchSelection::kRandom) {
    // A uniform sample of the unseen boxes of the class (seeded by the session and the batch
    // number, so a re-run draws the same), shown highest importance first like any batch.
    std::vector<SampleId> candidates;
    for (std::size_t i = 0; i < s.ids.size(); ++i)
      if (s.weight[i] > 0.0 && s.label[i] == s.class_of_interest && !s.seen[i])
        candidates.push_back(s.ids[i]);
    std::mt19937_64 rng(s.seed ^ (0x9e3779b97f4a7c15ULL * static_cast<std::uint64_t>(number)));
    const std::size_t take = std::min(candidates.size(), static_cast<std::size_t>(n));
    for (std::size_t k = 0; k < take; ++k) {
      std::uniform_int_distribution<std::size_t> pick(k, candidates.size() - 1);
      std::swap(candidates[k], candidates[pick(rng)]);
    }
    candidates.resize(take);
    std::stable_sort(candidates.begin(), candidates.end(), [&](SampleId a, SampleId b) {
      return s.tree.score(a).importance > s.tree.score(b).importance;
    });
    chosen.ids = std::move(candidates);
  }
  if (selection == BatchSelection::kFindings) {
    // Flagged boxes, unseen and not deleted, in any class of the session; both boxes of a
    // duplicate pair come together, so the reviewer can delete either.
    std::map<SampleId, int> rank;
    std::map<SampleId, SampleId> partner;
    for (const BoxIssue& f : findings()) {
      const auto it = rank.find(f.id);
      const int r = finding_rank(f.check);
      rank[f.id] = it == rank.end() ? r : std::min(it->second, r);
      if (f.other && s.index_of.contains(*f.other)) {
        partner.emplace(f.id, *f.other);
        partner.emplace(*f.other, f.id);
        if (!rank.contains(*f.other)) rank[*f.other] = r;
      }
    }
    auto open_box = [&](SampleId id) {
      const std::size_t i = s.require_index(id);
      return s.weight[i] > 0.0 && !s.seen[i];
    };
    std::vector<SampleId> candidates;
    for (const auto& [id, r] : rank)
      if (open_box(id)) candidates.push_back(id);
    std::stable_sort(candidates.begin(), candidates.end(), [&](SampleId a, SampleId b) {
      if (rank[a] != rank[b]) return rank[a] < rank[b];
      return s.tree.score(a).importance > s.tree.score(b).importance;
    });
    std::set<SampleId> taken;
    for (const SampleId id : candidates) {
      if (static_cast<std::int64_t>(chosen.ids.size()) >= n) break;
      if (!taken.insert(id).second) continue;
      chosen.ids.push_back(id);
      if (const auto p = partner.find(id); p != partner.end() && open_box(p->second) &&
                                           taken.insert(p->second).second)
        chosen.ids.push_back(p->second);
    }
  }
  // Nothing left to review: no batch is stored (an empty one would record an empty iteration
  // at apply, which the plateau rule would read as a review without gain).
  if (chosen.ids.empty()) return Batch{};
  {
    Statement st =
        s.db->prepare("INSERT INTO batches(number, created_at, selection) VALUES(?, ?, ?)");
    st.bind(1, number).bind(2, std::string_view(now_utc()));
    st.bind(3, std::string_view(selection_name(selection)));
    st.run();
  }
  Statement item = s.db->prepare(
      "INSERT INTO batch_items(batch, position, sample_id, label, importance, misfit, atypical, "
      "suggested_label) VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
  Statement mark = s.db->prepare("UPDATE samples SET seen = 1 WHERE id = ?");
  Batch b;
  b.number = number;
  b.selection = selection;
  for (std::size_t k = 0; k < chosen.ids.size(); ++k) {
    const coreset::SampleScore sc = s.tree.score(chosen.ids[k]);
    item.bind(1, number).bind(2, static_cast<std::int64_t>(k)).bind(3, sc.id).bind(4, sc.label);
    item.bind(5, sc.importance).bind(6, sc.misfit).bind(7, sc.atypical).bind(8, sc.suggested_label);
    item.run();
    mark.bind(1, sc.id);
    mark.run();
    b.items.push_back({sc.id, sc.label, sc.importance, sc.misfit, sc.atypical, sc.suggested_label});
  }
  t.commit();
  for (const BatchItem& it : b.items) s.seen[s.require_index(it.id)] = 1;
  s.tree.set_seen(chosen.ids, true);
  coreset::save_tree(s.tree, s.tree_path());
  return b;
}

namespace {

// Checks a decision against the open batch and the session's classes.
void validate_decision(const Batch& open, const Session& session, const Decision& d) {
  const bool in_batch = std::any_of(open.items.begin(), open.items.end(),
                                    [&](const BatchItem& it) { return it.id == d.id; });
  CORECLEAN_THROW_IF_NOT(in_batch, "sample {} is not in the open batch {}", d.id, open.number);
  if (d.kind == DecisionKind::kRelabel) {
    const Labels& classes = session.classes();
    CORECLEAN_THROW_IF_NOT(std::binary_search(classes.begin(), classes.end(), d.new_label),
                           "new label {} is not a class of the session", d.new_label);
  }
}

// A relabel to the label the sample already has is a keep: stored (and counted) as one.
Decision as_stored(Decision d, Label current) {
  if (d.kind == DecisionKind::kRelabel && d.new_label == current) {
    d.kind = DecisionKind::kKeep;
    d.new_label = 0;
  }
  return d;
}

void upsert_decision(Database& db, int batch, Label old_label, const Decision& d) {
  Statement st = db.prepare(
      "INSERT INTO decisions(batch, sample_id, decision, old_label, new_label, reviewer, "
      "decided_at) VALUES(?, ?, ?, ?, ?, ?, ?) ON CONFLICT(batch, sample_id) DO UPDATE SET "
      "decision = excluded.decision, new_label = excluded.new_label, reviewer = "
      "excluded.reviewer, decided_at = excluded.decided_at WHERE applied = 0");
  st.bind(1, batch).bind(2, d.id).bind(3, std::string_view(to_string(d.kind))).bind(4, old_label);
  if (d.kind == DecisionKind::kRelabel) st.bind(5, d.new_label); else st.bind_null(5);
  st.bind(6, std::string_view(d.reviewer)).bind(7, std::string_view(now_utc()));
  st.run();
}

}  // namespace

void Session::record_decision(const Decision& decision) {
  // The batch is read inside the write transaction: another process cannot apply it between
  // the check and the write.
  Transaction t(*state_->db);
  const std::optional<Batch> open = open_batch();
  CORECLEAN_THROW_IF_NOT(open.has_value(), "session {}: no open batch (run `coreclean next`)",
                         state_->dir.string());
  validate_decision(*open, *this, decision);
  const Label current = state_->label[state_->require_index(decision.id)];
  upsert_decision(*state_->db, open->number, current, as_stored(decision, current));
  t.commit();
}

bool Session::undo_decision(SampleId id) {
  const std::optional<Batch> open = open_batch();
  if (!open) return false;
  Statement st = state_->db->prepare(
      "DELETE FROM decisions WHERE batch = ? AND sample_id = ? AND applied = 0");
  st.bind(1, open->number).bind(2, id);
  st.run();
  Statement changes = state_->db->prepare("SELECT changes()");
  changes.step();
  return changes.int64(0) > 0;
}

std::vector<Decision> Session::pending_decisions() const {
  std::vector<Decision> out;
  const std::optional<Batch> open = open_batch();
  if (!open) return out;
  Statement st = state_->db->prepare(
      "SELECT sample_id, decision, new_label, reviewer FROM decisions WHERE batch = ? AND "
      "applied = 0 ORDER BY sample_id");
  st.bind(1, open->number);
  while (st.step()) {
    Decision d;
    d.id = st.int64(0);
    d.kind = parse_decision_kind(st.text(1)).value_or(DecisionKind::kKeep);
    d.new_label = st.is_null(2) ? 0 : st.int64(2);
    d.reviewer = st.text(3);
    out.push_back(d);
  }
  return out;
}

namespace {

std::vector<BoxIssue> read_findings(Statement& st) {
  std::vector<BoxIssue> out;
  while (st.step()) {
    BoxIssue f;
    f.id = st.int64(0);
    f.check = st.text(1);
    f.detail = st.text(2);
    if (!st.is_null(3)) f.other = st.int64(3);
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace

ClassConfusion to_class_confusion(const linear::ClassSelection& selection) {
  ClassConfusion c;
  c.classes = selection.classes;
  c.used_test_split = selection.used_test_split;
  const Eigen::MatrixXd& m = selection.normalized_confusion;
  for (Eigen::Index i = 0; i < m.rows(); ++i)
    for (Eigen::Index j = 0; j < m.cols(); ++j) c.normalized.push_back(m(i, j));
  return c;
}

std::optional<ClassConfusion> Session::class_confusion() const {
  Statement st = state_->db->prepare("SELECT value FROM meta WHERE key = 'confusion'");
  if (!st.step() || st.text(0).empty()) return std::nullopt;  // older sessions have none
  const nlohmann::json j = nlohmann::json::parse(st.text(0), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  ClassConfusion c;
  c.classes = j.value("classes", Labels{});
  c.normalized = j.value("normalized", std::vector<double>{});
  c.used_test_split = j.value("test", false);
  if (c.normalized.size() != c.classes.size() * c.classes.size()) return std::nullopt;
  return c;
}

std::vector<BoxIssue> Session::findings() const {
  Statement st = state_->db->prepare(
      "SELECT sample_id, check_name, detail, other_id FROM findings ORDER BY sample_id, rowid");
  return read_findings(st);
}

std::vector<BoxIssue> Session::findings(SampleId id) const {
  Statement st = state_->db->prepare(
      "SELECT sample_id, check_name, detail, other_id FROM findings WHERE sample_id = ?1 OR "
      "other_id = ?1 ORDER BY rowid");
  st.bind(1, id);
  std::vector<BoxIssue> out = read_findings(st);
  // A pair is stored once, on the later box: the earlier one sees it from its side too (a
  // conflicting pair's detail names both boxes already).
  for (BoxIssue& f : out) {
    if (f.id == id) continue;
    f.other = f.id;
    f.id = id;
    if (f.check == "duplicate") f.detail = fmt::format("box {} duplicates it: {}", *f.other, f.detail);
  }
  return out;
}

Suggestion Session::suggestion(SampleId id) const {
  const State& s = *state_;
  const coreset::SampleScore score = s.tree.score(id);
  for (const BoxIssue& f : findings(id))
    if (f.check == "degenerate")
      return {DecisionKind::kDelete, 0, "the box is degenerate (" + f.detail + ")"};
  for (const BoxIssue& f : findings(id)) {
    if (f.check != "duplicate" || !f.other || !s.index_of.contains(*f.other)) continue;
    const coreset::SampleScore other = s.tree.score(*f.other);
    if (other.weight <= 0.0) continue;  // the other box is deleted already: this one stays
    const bool worse = score.misfit > other.misfit || (score.misfit == other.misfit && id > *f.other);
    if (worse)
      return {DecisionKind::kDelete, 0,
              fmt::format("it duplicates box {}, which the model fits better", *f.other)};
    break;
  }
  if (score.suggested_label != score.label)
    return {DecisionKind::kRelabel, score.suggested_label,
            fmt::format("the held-out model prefers {}", class_name(score.suggested_label))};
  return {DecisionKind::kKeep, 0, "the held-out model agrees with the label"};
}

std::vector<std::pair<Label, double>> Session::class_probabilities(SampleId id) const {
  const coreset::CoresetTree& tree = state_->tree;
  const std::vector<double> p = tree.held_out_probabilities(id);
  std::vector<std::pair<Label, double>> out;
  for (std::size_t c = 0; c < p.size(); ++c) out.emplace_back(tree.classes()[c], p[c]);
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

bool Session::changed_elsewhere() const {
  return state_->data_version() != state_->opened_data_version;
}

std::vector<DecisionRecord> Session::decisions() const {
  std::vector<DecisionRecord> out;
  Statement st = state_->db->prepare(
      "SELECT batch, sample_id, decision, old_label, new_label, reviewer, decided_at, applied "
      "FROM decisions ORDER BY batch, sample_id");
  while (st.step()) {
    DecisionRecord d;
    d.batch = static_cast<int>(st.int64(0));
    d.id = st.int64(1);
    d.kind = parse_decision_kind(st.text(2)).value_or(DecisionKind::kKeep);
    d.old_label = st.int64(3);
    d.new_label = st.is_null(4) ? 0 : st.int64(4);
    d.reviewer = st.text(5);
    d.decided_at = st.text(6);
    d.applied = st.int64(7) != 0;
    out.push_back(std::move(d));
  }
  return out;
}

ApplyReport Session::apply(const ApplyOptions& options, const Context& context) {
  const auto start = std::chrono::steady_clock::now();
  State& s = *state_;
  ApplyReport report;
  const std::optional<Batch> open = open_batch();
  if (!open) return report;

  // 1. Read and check every CSV row before anything is written. Without a path, the batch's
  // own review.csv counts when the reviewer filled it in.
  std::vector<Decision> imported;
  std::optional<std::filesystem::path> csv = options.csv;
  bool implicit_csv = false;
  if (!csv && options.read_batch_csv) {
    const std::filesystem::path own = batch_dir(open->number) / "review.csv";
    implicit_csv = has_decisions(own);
    if (implicit_csv) csv = own;
  }
  if (csv) {
    std::set<SampleId> in_batch;
    for (const BatchItem& it : open->items) in_batch.insert(it.id);
    DecisionFileRules rules;
    rules.reject_id = [&](SampleId id) -> std::optional<std::string> {
      if (in_batch.contains(id)) return std::nullopt;
      return fmt::format("is not in the open batch {}", open->number);
    };
    rules.find_class = [&](const std::string& name) { return s.find_class(name); };
    imported = read_decision_file(*csv, rules).decisions;
    report.csv = *csv;
  }
  report.imported_rows = static_cast<std::int64_t>(imported.size());

  // 2. The batch's final decisions: CSV rows replace the page's. The batch's own review.csv,
  // read without being named, must not silently overrule the page: a contradiction stops here.
  std::map<SampleId, Decision> final;
  const std::vector<Decision> page_decisions = pending_decisions();
  for (const Decision& d : page_decisions) final[d.id] = d;
  if (implicit_csv) {
    std::vector<SampleId> conflicts;
    for (const Decision& d : imported) {
      const auto p = final.find(d.id);
      if (p == final.end()) continue;
      const Decision row = as_stored(d, s.label[s.require_index(d.id)]);
      if (row.kind != p->second.kind ||
          (row.kind == DecisionKind::kRelabel && row.new_label != p->second.new_label))
        conflicts.push_back(d.id);
    }
    if (!conflicts.empty()) {
      std::string listed;
      for (std::size_t k = 0; k < std::min<std::size_t>(conflicts.size(), 20); ++k)
        listed += fmt::format("{}{}", k ? ", " : "", conflicts[k]);
      throw InvalidArgument(fmt::format(
          "batch {}: {} decides {} box{} differently from the review page (ids {}); nothing was "
          "applied. Make them agree (edit the file, or decide again on the page), or name the "
          "file to let its rows win: apply SESSION {}",
          open->number, csv->string(), conflicts.size(), conflicts.size() == 1 ? "" : "es",
          listed, csv->string()));
    }
  }
  for (const Decision& d : imported) final[d.id] = d;
  std::vector<SampleId> undecided;
  for (const BatchItem& it : open->items)
    if (!final.contains(it.id)) undecided.push_back(it.id);
  if (!undecided.empty() && options.undecided == UndecidedPolicy::kRefuse)
    throw UndecidedBoxes(open->number, static_cast<std::int64_t>(open->items.size()), undecided);
  const bool return_undecided = options.undecided == UndecidedPolicy::kReturn;
  Labels new_label = s.label;
  std::vector<double> new_weight = s.weight;
  std::vector<SampleId> relabel_ids, delete_ids, verdict_ids;
  std::vector<coreset::Verdict> verdicts;
  Labels relabel_to;
  IterationMetrics m;
  m.iteration = open->number;
  for (const BatchItem& it : open->items) {
    const std::size_t i = s.require_index(it.id);
    const auto f = final.find(it.id);
    if (f == final.end() && return_undecided) continue;
    ++m.reviewed;
    const DecisionKind kind = f == final.end() ? DecisionKind::kKeep : f->second.kind;
    // What the fusion learns from: the box's label (after a relabel) is right, or no class fits.
    verdict_ids.push_back(it.id);
    verdicts.push_back(kind == DecisionKind::kDelete ? coreset::Verdict::kNoClass
                                                     : coreset::Verdict::kLabelRight);
    if (kind == DecisionKind::kRelabel && f->second.new_label != s.label[i]) {
      new_label[i] = f->second.new_label;
      relabel_ids.push_back(it.id);
      relabel_to.push_back(new_label[i]);
      ++m.relabelled;
    } else if (kind == DecisionKind::kDelete) {
      new_weight[i] = 0.0;
      delete_ids.push_back(it.id);
      ++m.deleted;
    } else {
      ++m.kept;
    }
  }
  if (return_undecided) report.returned = static_cast<std::int64_t>(undecided.size());
  else report.kept_undecided = static_cast<std::int64_t>(undecided.size());

  // 3. The tree and the metrics on the new labels, in memory (nothing is written yet).
  Context seeded(context);
  seeded.seed = s.seed;
  coreset::CoresetTree tree = s.tree;
  if (!relabel_ids.empty() || !delete_ids.empty()) tree.apply_review(relabel_ids, relabel_to, delete_ids);
  if (tree.stale_updates() > 0) tree.refresh(seeded);
  if (!verdict_ids.empty()) tree.record_verdicts(verdict_ids, verdicts, seeded);
  // A batch whose every box went back to the unseen pool reviewed nothing: it is closed
  // without an iteration, which would read as a review that gained nothing.
  if (m.reviewed > 0) {
    const RowMatrixXf x = s.session_features();
    m.auc = s.cross_validated_auc(tree.map_features(x), new_label, new_weight, seeded);
    std::swap(s.tree, tree);
    m.importance = s.interest_importances();
    std::swap(s.tree, tree);
    m.fusion = tree.fusion_weights();
  }

  // 4. One transaction: decisions, labels, weights, metrics, the batch closed.
  {
    Transaction t(*s.db);
    // Another process may have applied the batch, or recorded decisions, while this one
    // computed: then nothing is written and the caller runs apply again on fresh state.
    const std::optional<Batch> still_open = open_batch();
    CORECLEAN_THROW_IF_NOT(still_open && still_open->number == open->number,
                           "session {}: batch {} was applied by another process while this apply "
                           "ran; open the session again", s.dir.string(), open->number);
    std::map<SampleId, std::pair<DecisionKind, Label>> now_pending, used_pending;
    for (const Decision& d : pending_decisions()) now_pending[d.id] = {d.kind, d.new_label};
    for (const Decision& d : page_decisions) used_pending[d.id] = {d.kind, d.new_label};
    CORECLEAN_THROW_IF_NOT(now_pending == used_pending,
                           "session {}: decisions of batch {} changed while apply ran (is the "
                           "review page open?); run apply again", s.dir.string(), open->number);
    for (const Decision& d : imported) {
      const Label current = s.label[s.require_index(d.id)];
      upsert_decision(*s.db, open->number, current, as_stored(d, current));
    }
    // Undecided boxes: kept by the user's explicit choice (stored as keep decisions), or back to
    // the unseen pool (no decision stored, not seen).
    Statement unsee = s.db->prepare("UPDATE samples SET seen = 0 WHERE id = ?");
    for (const SampleId id : undecided) {
      if (return_undecided) {
        unsee.bind(1, id);
        unsee.run();
      } else {
        upsert_decision(*s.db, open->number, s.label[s.require_index(id)],
                        {id, DecisionKind::kKeep, 0, ""});
      }
    }
    Statement applied = s.db->prepare("UPDATE decisions SET applied = 1 WHERE batch = ?");
    applied.bind(1, open->number);
    applied.run();
    Statement upd = s.db->prepare("UPDATE samples SET label = ?, weight = ? WHERE id = ?");
    for (const BatchItem& it : open->items) {
      const std::size_t i = s.require_index(it.id);
      upd.bind(1, new_label[i]).bind(2, new_weight[i]).bind(3, it.id);
      upd.run();
    }
    m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (m.reviewed > 0) s.insert_iteration(m);
    Statement close = s.db->prepare("UPDATE batches SET applied_at = ? WHERE number = ?");
    close.bind(1, std::string_view(now_utc())).bind(2, open->number);
    close.run();
    t.commit();
  }
  s.label = std::move(new_label);
  s.weight = std::move(new_weight);
  s.tree = std::move(tree);
  if (return_undecided) {
    for (const SampleId id : undecided) s.seen[s.require_index(id)] = 0;
    s.tree.set_seen(undecided, false);
  }
  // 5. The cache. A kill before this line leaves an older tree, reconciled by open().
  coreset::save_tree(s.tree, s.tree_path());
  report.batch = open->number;
  report.metrics = m;
  return report;
}

namespace {

// The label and weight a decision gives a sample that had `old_label` when it was decided.
std::pair<Label, double> effect_of(DecisionKind kind, Label new_label, Label old_label) {
  if (kind == DecisionKind::kDelete) return {old_label, 0.0};
  if (kind == DecisionKind::kRelabel) return {new_label, 1.0};
  return {old_label, 1.0};
}

}  // namespace

RevisionReport Session::revise(const std::vector<Decision>& decisions, const Context& context) {
  State& s = *state_;
  RevisionReport report;
  struct Stored {
    int batch = 0;
    DecisionKind kind = DecisionKind::kKeep;
    Label old_label = 0, new_label = 0;
    std::string reviewer;
  };
  std::map<SampleId, Stored> stored;  // the latest applied decision of each sample
  {
    Statement st = s.db->prepare(
        "SELECT batch, sample_id, decision, old_label, new_label, reviewer FROM decisions WHERE "
        "applied = 1 ORDER BY batch");
    while (st.step())
      stored[st.int64(1)] = {static_cast<int>(st.int64(0)),
                             parse_decision_kind(st.text(2)).value_or(DecisionKind::kKeep),
                             st.int64(3), st.is_null(4) ? 0 : st.int64(4), st.text(5)};
  }
  // Check everything first: all or nothing.
  std::set<SampleId> ids;
  std::vector<std::pair<Decision, Stored>> changes;
  for (const Decision& given : decisions) {
    const auto it = stored.find(given.id);
    CORECLEAN_THROW_IF_NOT(it != stored.end(),
                           "revise: sample {} has no applied decision (a box of the open batch is "
                           "decided in that batch; other boxes have not been reviewed)",
                           given.id);
    CORECLEAN_THROW_IF_NOT(ids.insert(given.id).second, "revise: sample {} appears twice",
                           given.id);
    if (given.kind == DecisionKind::kRelabel)
      CORECLEAN_THROW_IF_NOT(std::binary_search(s.classes.begin(), s.classes.end(), given.new_label),
                             "revise: new label {} of sample {} is not a class of the session",
                             given.new_label, given.id);
    const Decision d = as_stored(given, it->second.old_label);
    const bool same = d.kind == it->second.kind &&
                      (d.kind != DecisionKind::kRelabel || d.new_label == it->second.new_label);
    if (same) {
      ++report.unchanged;
      continue;
    }
    changes.emplace_back(d, it->second);
  }
  if (changes.empty()) return report;

  Labels new_label = s.label;
  std::vector<double> new_weight = s.weight;
  bool restores = false;  // a deleted sample comes back: the tree is rebuilt
  std::set<int> batches;
  for (const auto& [d, old] : changes) {
    const std::size_t i = s.require_index(d.id);
    const auto [label, weight] = effect_of(d.kind, d.new_label, old.old_label);
    restores = restores || (weight > 0.0 && new_weight[i] <= 0.0);
    new_label[i] = label;
    new_weight[i] = weight;
    batches.insert(old.batch);
  }
  {
    Transaction t(*s.db);
    Statement rev = s.db->prepare(
        "INSERT INTO revisions(sample_id, batch, old_decision, old_new_label, decision, "
        "new_label, reviewer, revised_at, old_reviewer) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)");
    Statement dec = s.db->prepare(
        "UPDATE decisions SET decision = ?, new_label = ?, reviewer = ?, decided_at = ? WHERE "
        "batch = ? AND sample_id = ?");
    Statement upd = s.db->prepare("UPDATE samples SET label = ?, weight = ? WHERE id = ?");
    const std::string now = now_utc();
    for (const auto& [d, old] : changes) {
      rev.bind(1, d.id).bind(2, old.batch).bind(3, std::string_view(to_string(old.kind)));
      if (old.kind == DecisionKind::kRelabel) rev.bind(4, old.new_label); else rev.bind_null(4);
      rev.bind(5, std::string_view(to_string(d.kind)));
      if (d.kind == DecisionKind::kRelabel) rev.bind(6, d.new_label); else rev.bind_null(6);
      rev.bind(7, std::string_view(d.reviewer)).bind(8, std::string_view(now));
      rev.bind(9, std::string_view(old.reviewer));
      rev.run();
      dec.bind(1, std::string_view(to_string(d.kind)));
      if (d.kind == DecisionKind::kRelabel) dec.bind(2, d.new_label); else dec.bind_null(2);
      dec.bind(3, std::string_view(d.reviewer)).bind(4, std::string_view(now));
      dec.bind(5, old.batch).bind(6, d.id);
      dec.run();
      const std::size_t i = s.require_index(d.id);
      upd.bind(1, new_label[i]).bind(2, new_weight[i]).bind(3, d.id);
      upd.run();
    }
    // The batches' counts follow their final decisions.
    Statement recount = s.db->prepare(
        "UPDATE iterations SET relabelled = (SELECT count(*) FROM decisions WHERE batch = ?1 AND "
        "applied = 1 AND decision = 'relabel'), deleted = (SELECT count(*) FROM decisions WHERE "
        "batch = ?1 AND applied = 1 AND decision = 'delete'), kept = (SELECT count(*) FROM "
        "decisions WHERE batch = ?1 AND applied = 1 AND decision = 'keep') WHERE iteration = ?1");
    for (const int b : batches) {
      recount.bind(1, b);
      recount.run();
    }
    t.commit();
  }
  s.label = std::move(new_label);
  s.weight = std::move(new_weight);
  // The decisions are committed: the cache follows without heeding a cancel (an interrupted
  // rebuild would be redone by the next open anyway, see reconcile_tree).
  Context seeded(context);
  seeded.seed = s.seed;
  seeded.cancel = CancelFlag();
  if (restores) s.rebuild_tree(seeded);  // the tree can remove a sample but not restore one
  else s.reconcile_tree(seeded);
  report.revised = static_cast<std::int64_t>(changes.size());
  return report;
}

std::vector<RevisionRecord> Session::revisions() const {
  std::vector<RevisionRecord> out;
  Statement st = state_->db->prepare(
      "SELECT sample_id, batch, old_decision, old_new_label, decision, new_label, reviewer, "
      "revised_at, old_reviewer FROM revisions ORDER BY rowid");
  while (st.step()) {
    RevisionRecord r;
    r.id = st.int64(0);
    r.batch = static_cast<int>(st.int64(1));
    r.old_kind = parse_decision_kind(st.text(2)).value_or(DecisionKind::kKeep);
    r.old_new_label = st.is_null(3) ? 0 : st.int64(3);
    r.kind = parse_decision_kind(st.text(4)).value_or(DecisionKind::kKeep);
    r.new_label = st.is_null(5) ? 0 : st.int64(5);
    r.reviewer = st.text(6);
    r.revised_at = st.text(7);
    r.old_reviewer = st.text(8);
    out.push_back(std::move(r));
  }
  return out;
}

SessionStatus Session::status() const {
  const State& s = *state_;
  SessionStatus st;
  st.fusion = s.tree.fusion_weights();
  st.fusion_default = s.tree.default_fusion_weights();
  st.atypical_weight = s.tree.params().atypical_weight;
  st.class_of_interest = s.class_of_interest;
  st.confused_with = s.confused_with;
  st.samples = static_cast<std::int64_t>(s.ids.size());
  for (std::size_t i = 0; i < s.ids.size(); ++i) {
    if (s.weight[i] > 0.0 && s.label[i] == s.class_of_interest) {
      ++st.class_size;
      if (!s.seen[i]) ++st.unseen;
    }
    st.exported += s.seen[i];
    if (s.weight[i] <= 0.0) ++st.deleted;
    else if (s.label[i] != s.original[i]) ++st.relabelled;
  }
  {
    Statement q = s.db->prepare("SELECT count(*) FROM batches");
    q.step();
    st.batches = static_cast<int>(q.int64(0));
  }
  {
    Statement q = s.db->prepare(
        "SELECT count(*), coalesce(sum(d.decision != 'keep'), 0) FROM decisions d JOIN batches b "
        "ON b.number = d.batch WHERE b.selection = 'random' AND d.applied = 1");
    q.step();
    st.audited = q.int64(0);
    st.audit_fixed = q.int64(1);
  }
  {
    // Flagged boxes of the session, how many were reviewed (an applied decision) and fixed.
    Statement q = s.db->prepare(
        "WITH flagged AS (SELECT sample_id AS id FROM findings UNION SELECT other_id FROM "
        "findings WHERE other_id IN (SELECT id FROM samples)) SELECT count(*), "
        "coalesce(sum(EXISTS(SELECT 1 FROM decisions d WHERE d.sample_id = f.id AND d.applied = "
        "1)), 0), coalesce(sum(EXISTS(SELECT 1 FROM decisions d WHERE d.sample_id = f.id AND "
        "d.applied = 1 AND d.decision != 'keep')), 0) FROM flagged f");
    q.step();
    st.flagged = q.int64(0);
    st.flagged_reviewed = q.int64(1);
    st.flagged_fixed = q.int64(2);
  }
  if (const std::optional<Batch> open = open_batch()) {
    st.open_batch = open->number;
    st.pending = static_cast<std::int64_t>(pending_decisions().size());
  }
  Statement q = s.db->prepare(
      "SELECT iteration, auc, reviewed, relabelled, deleted, kept, seconds, importance, fusion "
      "FROM iterations ORDER BY iteration");
  while (q.step()) {
    IterationMetrics m;
    m.iteration = static_cast<int>(q.int64(0));
    m.auc = q.real(1);
    m.reviewed = q.int64(2);
    m.relabelled = q.int64(3);
    m.deleted = q.int64(4);
    m.kept = q.int64(5);
    m.seconds = q.real(6);
    m.importance = to_doubles(q.blob(7));
    if (!q.is_null(8)) {
      // Written by this code; a cell edited into something else is ignored, not fatal.
      const nlohmann::json j = nlohmann::json::parse(q.text(8), nullptr, false);
      if (j.is_object() && j.value("ridge", nlohmann::json()).is_number() &&
          j.value("held_out", nlohmann::json()).is_number() &&
          j.value("neighbour", nlohmann::json()).is_number())
        m.fusion = coreset::FusionWeights{j["ridge"].get<double>(), j["held_out"].get<double>(),
                                          j["neighbour"].get<double>()};
    }
    st.reviewed += m.reviewed;
    st.iterations.push_back(std::move(m));
  }
  const int n = static_cast<int>(st.iterations.size());
  if (n > SessionStatus::plateau_window) {
    const double gain = st.iterations[n - 1].auc - st.iterations[n - 1 - SessionStatus::plateau_window].auc;
    st.plateaued = gain < SessionStatus::plateau_gain;
  }
  return st;
}

Labels Session::corrected_labels(Label deleted_label) const {
  const State& s = *state_;
  const io::FeatureSet fs = io::load_feature_set(s.features);
  Labels y = fs.y_train;
  for (std::size_t i = 0; i < s.ids.size(); ++i)
    y[s.rows[i]] = s.weight[i] > 0.0 ? s.label[i] : deleted_label;
  for (const auto& [row, label] : s.outside) y[row] = label.value_or(deleted_label);
  return y;
}

namespace {

std::int64_t mtime_ns(const std::filesystem::path& file) {
  return static_cast<std::int64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::filesystem::last_write_time(file).time_since_epoch())
          .count());
}

}  // namespace

void Session::check_output_file(const std::filesystem::path& file) const {
  namespace fs = std::filesystem;
  const State& s = *state_;
  const std::string name = file.string();
  CORECLEAN_THROW_IF_NOT(!fs::is_directory(file), "{}: is a folder; give a file name", name);
  CORECLEAN_THROW_IF_NOT(!io::path_holds(s.coco, file),
                         "{}: is the session's COCO file; write the corrected copy to a new file",
                         name);
  CORECLEAN_THROW_IF_NOT(!io::path_holds(s.features, file),
                         "{}: is inside the features folder {} that the session reads; write it "
                         "elsewhere",
                         name, s.features.string());
  CORECLEAN_THROW_IF_NOT(!io::path_holds(s.images, file),
                         "{}: is inside the images folder {} that the session reads; write it "
                         "elsewhere",
                         name, s.images.string());
  for (const fs::path& own : {s.dir / "session.db", s.dir / "session.db-wal",
                             s.dir / "session.db-shm", s.tree_path()})
    CORECLEAN_THROW_IF_NOT(!io::path_holds(own, file), "{}: is the session's own {}; write it elsewhere",
                           name, own.filename().string());
  std::error_code ec;
  if (!fs::exists(file, ec)) return;
  // The session folder is the session's own (its report/ folder, batch files): what is there
  // was written by it, also by a version that did not record its outputs.
  if (io::path_holds(s.dir, file)) return;
  Statement st = s.db->prepare("SELECT size, mtime FROM outputs WHERE path = ?");
  const std::string key = fs::weakly_canonical(file).string();
  st.bind(1, std::string_view(key));
  const bool ours = st.step() && st.int64(0) == static_cast<std::int64_t>(fs::file_size(file)) &&
                    st.int64(1) == mtime_ns(file);
  CORECLEAN_THROW_IF_NOT(ours,
                         "{}: exists and was not written by this session (or was changed since); "
                         "choose a new file name, or move the file away first",
                         name);
}

void Session::record_output_file(const std::filesystem::path& file) {
  namespace fs = std::filesystem;
  Statement st = state_->db->prepare(
      "INSERT OR REPLACE INTO outputs(path, size, mtime, written_at) VALUES(?, ?, ?, ?)");
  const std::string key = fs::weakly_canonical(file).string();
  st.bind(1, std::string_view(key)).bind(2, static_cast<std::int64_t>(fs::file_size(file)));
  st.bind(3, mtime_ns(file)).bind(4, std::string_view(now_utc()));
  st.run();
}

void Session::export_labels(const std::filesystem::path& out, Label deleted_label) {
  check_output_file(out);
  const Labels y = corrected_labels(deleted_label);
  io::write_npy(out, std::span<const std::int64_t>(y));
  record_output_file(out);
}

void Session::export_coco(const std::filesystem::path& out) {
  const State& s = *state_;
  CORECLEAN_THROW_IF_NOT(!s.coco.empty(), "session {} has no COCO file (create it with "
                         "`coreclean init --coco ANN.json`); export --labels-out instead",
                         s.dir.string());
  std::vector<detect::AnnotationEdit> edits;
  for (std::size_t i = 0; i < s.ids.size(); ++i) {
    if (s.weight[i] <= 0.0)
      edits.push_back({s.ids[i], detect::AnnotationEdit::Kind::kDelete, 0});
    else if (s.label[i] != s.original[i])
      edits.push_back({s.ids[i], detect::AnnotationEdit::Kind::kRelabel, s.label[i]});
  }
  check_output_file(out);
  {
    Statement st = s.db->prepare("SELECT value FROM meta WHERE key = 'coco_stamp'");
    const bool changed = st.step() && !st.text(0).empty() && st.text(0) != file_stamp(s.coco);
    CORECLEAN_THROW_IF_NOT(!changed,
                           "{}: changed since the session was created (rewritten by another "
                           "export or an edit): its corrected copy would not be this session's "
                           "work on the file it read. Start a session on the file as it is now",
                           s.coco.string());
  }
  detect::write_corrected_coco(s.coco, out, edits);
  record_output_file(out);
}

const std::filesystem::path& Session::dir() const { return state_->dir; }
std::filesystem::path Session::batch_dir(int number) const {
  return state_->dir / "batches" / fmt::format("{:03d}", number);
}
const ClassNames& Session::class_names() const { return state_->names; }
std::string Session::class_name(Label label) const { return coreclean::class_name(state_->names, label); }
Label Session::find_class(const std::string& name_or_id) const { return state_->find_class(name_or_id); }
const Labels& Session::classes() const { return state_->classes; }
Label Session::class_of_interest() const { return state_->class_of_interest; }
std::vector<SampleId> Session::original_members(Label label) const {
  const State& s = *state_;
  std::vector<SampleId> out;
  for (std::size_t i = 0; i < s.ids.size(); ++i)
    if (s.original[i] == label) out.push_back(s.ids[i]);
  return out;
}
const std::string& Session::guidelines() const { return state_->guidelines; }
const std::filesystem::path& Session::coco_path() const { return state_->coco; }
const std::filesystem::path& Session::images_dir() const { return state_->images; }
std::filesystem::path Session::tree_path() const { return state_->tree_path(); }

}  // namespace coreclean::session
