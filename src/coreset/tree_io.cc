// The tree file: "CCTREE\0\0", a little-endian u32 format version, the payload (every field of
// the tree, in a fixed order, as raw little-endian values with u64 lengths), and an FNV-1a
// 64-bit checksum of everything before it.
#include <coreclean/core/error.h>
#include <coreclean/coreset/coreset_tree.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string_view>
#include <type_traits>
#include <utility>

#include "core/check.h"
#include "coreset/tree_state.h"
#include "io/mapped_file.h"

namespace coreclean::coreset {
namespace {

constexpr char kMagic[8] = {'C', 'C', 'T', 'R', 'E', 'E', '\0', '\0'};
// 1: the first; 2: adds cross_fit_max_rows (version-1 files read as 0: their held-out models
// trained on every row), and the checksum runs over 8-byte words; 3: only the leaves' summaries
// are stored — an internal node's are the sum of its children's, summed again when a tree loads
// (the summaries of older files' internal nodes are read and replaced the same way); 4: adds
// the neighbour view (its k, every sample's neighbour list), the views' losses and the
// neighbours' majority label per sample, the weights of the fused views (learned and default)
// and the reviewers' verdicts per sample — an older tree
// gains them when it loads: its neighbours are searched, the weights fitted and the views
// re-scored (its atypicality and held-out models are kept); 5: version 4's layout, but
// cross_fit_c may be 0 (the held-out models' C chosen at every refit), which readers of version
// 4 refuse.
constexpr std::uint32_t kFormatVersion = 5;

// Collects the file as a list of byte ranges: small fields are copied into a buffer of their
// own, large arrays (φ, the per-sample vectors) are referenced where they are. The file is then
// written and checksummed from those ranges, without first assembling a copy of it: in a
// gigabyte-size tree the copy cost more than the write (fresh pages fault in one by one).
class Writer {
 public:
  void append(const std::byte* p, std::size_t n) {
    if (n >= kReferenceBytes) {
      parts_.push_back({n, p, 0});
    } else {
      if (parts_.empty() || parts_.back().data != nullptr) parts_.push_back({0, nullptr, small_.size()});
      small_.insert(small_.end(), p, p + n);
      parts_.back().length += n;
    }
  }
  template <typename T>
  void put(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    append(reinterpret_cast<const std::byte*>(&value), sizeof(T));
  }
  template <typename T>
  void put_array(const T* data, std::size_t count) {
    put<std::uint64_t>(count);
    append(reinterpret_cast<const std::byte*>(data), count * sizeof(T));
  }
  /// The ranges, in order (valid while the writer and the referenced arrays live).
  [[nodiscard]] std::vector<std::span<const std::byte>> ranges() const {
    std::vector<std::span<const std::byte>> out;
    for (const Part& part : parts_)
      out.emplace_back(part.data != nullptr ? part.data : small_.data() + part.offset, part.length);
    return out;
  }

 private:
  static constexpr std::size_t kReferenceBytes = 1 << 16;
  struct Part {
    std::size_t length;
    const std::byte* data;  // referenced bytes, or nullptr for bytes in small_
    std::size_t offset;     // where they start in small_ (data == nullptr)
  };
  std::vector<std::byte> small_;
  std::vector<Part> parts_;

 public:
  template <typename T>
  void put_vector(const std::vector<T>& v) { put_array(v.data(), v.size()); }
  template <typename Derived>
  void put_matrix(const Eigen::PlainObjectBase<Derived>& m) {
    put<std::int64_t>(m.rows());
    put<std::int64_t>(m.cols());
    put_array(m.data(), static_cast<std::size_t>(m.size()));
  }
};

// Reads the payload. Every length is checked against the bytes that remain before anything is
// allocated, so that a crafted length cannot ask for more memory than the file could fill.
class Reader {
 public:
  Reader(std::span<const std::byte> bytes, std::string name) : bytes_(bytes), name_(std::move(name)) {}

  template <typename T>
  T get(std::string_view field) {
    T value;
    std::memcpy(&value, take(sizeof(T), field), sizeof(T));
    return value;
  }
  /// A count of items that each take at least `min_bytes` in the file.
  std::uint64_t get_count(std::string_view field, std::size_t min_bytes) {
    const auto count = get<std::uint64_t>(field);
    CORECLEAN_THROW_IF_NOT_AS(FormatError, count <= remaining() / min_bytes,
                              "{}: corrupt tree file: {} claims {} items at byte {}, but only {} "
                              "bytes remain",
                              name_, field, count, pos_, remaining());
    return count;
  }
  template <typename T>
  std::vector<T> get_vector(std::string_view field) {
    const auto count = get_count(field, sizeof(T));
    std::vector<T> v(count);
    if (count > 0) std::memcpy(v.data(), take(count * sizeof(T), field), count * sizeof(T));
    return v;
  }
  template <typename M>
  M get_matrix(std::string_view field) {
    using Scalar = typename M::Scalar;
    const auto rows = get<std::int64_t>(field), cols = get<std::int64_t>(field);
    // A vector is one column: Eigen would make a "vector" of 5 × 0 with 5 rows and no storage.
    CORECLEAN_THROW_IF_NOT_AS(FormatError, M::ColsAtCompileTime != 1 || cols == 1,
                              "{}: corrupt tree file: {} claims {} × {} values at byte {}; a "
                              "vector has one column",
                              name_, field, rows, cols, pos_);
    const std::uint64_t limit = remaining() / sizeof(Scalar);
    CORECLEAN_THROW_IF_NOT_AS(
        FormatError,
        rows >= 0 && cols >= 0 &&
            (cols == 0 ||
             static_cast<std::uint64_t>(rows) <= limit / static_cast<std::uint64_t>(cols)),
        "{}: corrupt tree file: {} claims {} × {} values at byte {}, but only {} bytes remain",
        name_, field, rows, cols, pos_, remaining());
    const std::vector<Scalar> v = get_vector<Scalar>(field);
    CORECLEAN_THROW_IF_NOT_AS(
        FormatError,
        static_cast<std::uint64_t>(rows) * static_cast<std::uint64_t>(cols) == v.size(),
        "{}: corrupt tree file: {} is a {} × {} matrix with {} values", name_, field, rows, cols,
        v.size());
    M m(rows, cols);
    if (!v.empty()) std::memcpy(m.data(), v.data(), v.size() * sizeof(Scalar));
    return m;
  }
  [[nodiscard]] const std::string& name() const { return name_; }

 private:
  [[nodiscard]] std::size_t remaining() const { return bytes_.size() - pos_; }
  const std::byte* take(std::size_t n, std::string_view field) {
    CORECLEAN_THROW_IF_NOT_AS(FormatError, n <= remaining(),
                              "{}: truncated tree file ({} needs {} more bytes at byte {}, has {})",
                              name_, field, n, pos_, remaining());
    const std::byte* p = bytes_.data() + pos_;
    pos_ += n;
    return p;
  }
  std::span<const std::byte> bytes_;
  std::string name_;
  std::size_t pos_ = 0;
};

void write_payload(Writer& w, const CoresetTreeParams& p, const CoresetTreeState& s) {
  w.put<std::int64_t>(p.chunk_size);
  w.put<std::uint8_t>(static_cast<std::uint8_t>(p.optimized_for));
  w.put<std::int32_t>(p.sketch_dim);
  w.put<double>(p.atypical_weight);
  w.put<double>(p.leverage_ridge);
  w.put_vector(p.misfit_ridges);
  w.put<std::int64_t>(p.coreset_size);
  w.put<std::int32_t>(p.cross_fit_folds);
  w.put<double>(p.cross_fit_c);
  w.put<std::int64_t>(p.cross_fit_max_rows);

  w.put<std::uint64_t>(s.seed);
  w.put<std::int64_t>(s.input_dim);
  w.put<std::int64_t>(s.chunk);
  w.put<double>(s.misfit_ridge);
  w.put<std::int64_t>(s.stale);
  w.put_vector(s.classes);
  w.put<std::uint64_t>(s.class_names.size());
  for (const auto& [label, name] : s.class_names) {
    w.put<Label>(label);
    w.put_array(name.data(), name.size());
  }
  w.put_vector(s.label);
  w.put_vector(s.weight);
  w.put_vector(s.ids);
  w.put_vector(s.seen);
  w.put_vector(s.importance);
  w.put_vector(s.misfit);
  w.put_vector(s.atypical);
  w.put_vector(s.suggested);
  w.put_vector(s.fold);
  w.put<std::uint64_t>(s.fold_models.size());
  for (const auto& m : s.fold_models) {
    w.put<std::uint8_t>(m.is_fitted() ? 1 : 0);
    if (!m.is_fitted()) continue;
    w.put_vector(m.classes());
    w.put_matrix(m.coef());
    w.put_matrix(m.intercept());
  }
  w.put_matrix(s.phi);
  w.put_matrix(s.feature_mean);
  w.put_matrix(s.projection);
  w.put<std::uint64_t>(s.nodes.size());
  for (const TreeNode& n : s.nodes) {
    w.put<std::int64_t>(n.begin);
    w.put<std::int64_t>(n.end);
    w.put<std::int32_t>(n.level);
    w.put<std::int64_t>(n.left);
    w.put<std::int64_t>(n.right);
    w.put<std::int64_t>(n.parent);
    if (n.left < 0) {  // a leaf
      w.put_matrix(n.class_weight);
      w.put_matrix(n.class_count);
      w.put_matrix(n.gram);
      w.put_matrix(n.moments);
    }
    w.put_vector(n.coreset);
    w.put_vector(n.coreset_weight);
  }
  w.put<std::uint64_t>(s.class_gram.size());
  for (const auto& g : s.class_gram) w.put_matrix(g);
  w.put<double>(s.model.lambda);
  w.put_matrix(s.model.eigenvalues);
  w.put_matrix(s.model.eigenvectors);
  w.put_matrix(s.model.vt_moments);
  w.put<std::uint64_t>(s.model.class_factor.size());
  for (const auto& f : s.model.class_factor) w.put_matrix(f);
  std::vector<std::uint8_t> ready(s.model.class_ready.begin(), s.model.class_ready.end());
  w.put_vector(ready);
  // Version 4.
  w.put<std::int32_t>(p.neighbours);
  w.put_vector(s.ridge_loss);
  w.put_vector(s.held_out_loss);
  w.put_vector(s.neighbour_loss);
  w.put_vector(s.neighbour_label);
  w.put<std::int32_t>(s.neighbours.k);
  w.put_vector(s.neighbours.index);
  w.put_vector(s.neighbours.similarity);
  w.put_array(s.view_weight.data(), s.view_weight.size());
  w.put_array(s.base_view_weight.data(), s.base_view_weight.size());
  w.put_vector(s.verdict);
}

// Smallest size in the file of one class name, fold model, node and matrix (lengths and
// shapes without values), for bounding counts before allocating.
constexpr std::size_t kMinNameBytes = sizeof(Label) + 8;
constexpr std::size_t kMinModelBytes = 1;
constexpr std::size_t kMinMatrixBytes = 24;
constexpr std::size_t kMinNodeBytes = 5 * 8 + 4 + 2 * 8;  // an internal node of version 3

void read_payload(Reader& r, std::uint32_t version, CoresetTreeParams& p, CoresetTreeState& s) {
  p.chunk_size = r.get<std::int64_t>("chunk_size");
  const auto optimized = r.get<std::uint8_t>("optimized_for");
  CORECLEAN_THROW_IF_NOT_AS(FormatError, optimized <= 1,
                            "{}: corrupt tree file: optimized_for is {} (0 cleaning, 1 training)",
                            r.name(), optimized);
  p.optimized_for = static_cast<OptimizedFor>(optimized);
  p.sketch_dim = r.get<std::int32_t>("sketch_dim");
  p.atypical_weight = r.get<double>("atypical_weight");
  p.leverage_ridge = r.get<double>("leverage_ridge");
  p.misfit_ridges = r.get_vector<double>("misfit_ridges");
  p.coreset_size = r.get<std::int64_t>("coreset_size");
  p.cross_fit_folds = r.get<std::int32_t>("cross_fit_folds");
  p.cross_fit_c = r.get<double>("cross_fit_c");
  p.cross_fit_max_rows = version >= 2 ? r.get<std::int64_t>("cross_fit_max_rows") : 0;

  s.seed = r.get<std::uint64_t>("seed");
  s.input_dim = r.get<std::int64_t>("input_dim");
  s.chunk = r.get<std::int64_t>("chunk");
  s.misfit_ridge = r.get<double>("misfit_ridge");
  s.stale = r.get<std::int64_t>("stale");
  s.classes = r.get_vector<Label>("classes");
  const auto names = r.get_count("class_names", kMinNameBytes);
  for (std::uint64_t j = 0; j < names; ++j) {
    const Label label = r.get<Label>("class_names");
    const std::vector<char> name = r.get_vector<char>("class_names");
    s.class_names[label] = std::string(name.begin(), name.end());
  }
  s.label = r.get_vector<int>("label");
  s.weight = r.get_vector<double>("weight");
  s.ids = r.get_vector<SampleId>("ids");
  s.seen = r.get_vector<std::uint8_t>("seen");
  s.importance = r.get_vector<double>("importance");
  s.misfit = r.get_vector<double>("misfit");
  s.atypical = r.get_vector<double>("atypical");
  s.suggested = r.get_vector<int>("suggested");
  s.fold = r.get_vector<int>("fold");
  const auto models = r.get_count("fold_models", kMinModelBytes);
  CORECLEAN_THROW_IF_NOT_AS(FormatError, models <= 1000,
                            "{}: corrupt tree file: fold_models has {} models (at most 1000)",
                            r.name(), models);
  s.fold_models.resize(models);
  for (std::size_t j = 0; j < s.fold_models.size(); ++j) {
    if (r.get<std::uint8_t>("fold_models") == 0) continue;
    Labels classes = r.get_vector<Label>("fold_models.classes");
    RowMatrixXd coef = r.get_matrix<RowMatrixXd>("fold_models.coef");
    Eigen::VectorXd intercept = r.get_matrix<Eigen::VectorXd>("fold_models.intercept");
    try {
      s.fold_models[j].set_model(std::move(classes), std::move(coef), std::move(intercept));
    } catch (const InvalidArgument& e) {
      throw FormatError(
          fmt::format("{}: corrupt tree file: fold_models[{}]: {}", r.name(), j, e.what()));
    }
  }
  s.phi = r.get_matrix<RowMatrixXf>("phi");
  s.feature_mean = r.get_matrix<Eigen::VectorXd>("feature_mean");
  s.projection = r.get_matrix<RowMatrixXd>("projection");
  s.nodes.resize(r.get_count("nodes", kMinNodeBytes));
  for (TreeNode& n : s.nodes) {
    n.begin = r.get<std::int64_t>("nodes.begin");
    n.end = r.get<std::int64_t>("nodes.end");
    n.level = r.get<std::int32_t>("nodes.level");
    n.left = r.get<std::int64_t>("nodes.left");
    n.right = r.get<std::int64_t>("nodes.right");
    n.parent = r.get<std::int64_t>("nodes.parent");
    if (version < 3 || n.left < 0) {
      n.class_weight = r.get_matrix<Eigen::VectorXd>("nodes.class_weight");
      n.class_count = r.get_matrix<Eigen::VectorXi>("nodes.class_count");
      n.gram = r.get_matrix<Eigen::MatrixXd>("nodes.gram");
      n.moments = r.get_matrix<Eigen::MatrixXd>("nodes.moments");
    }
    n.coreset = r.get_vector<Eigen::Index>("nodes.coreset");
    n.coreset_weight = r.get_vector<double>("nodes.coreset_weight");
  }
  s.class_gram.resize(r.get_count("class_gram", kMinMatrixBytes));
  for (auto& g : s.class_gram) g = r.get_matrix<Eigen::MatrixXd>("class_gram");
  s.model.lambda = r.get<double>("model.lambda");
  s.model.eigenvalues = r.get_matrix<Eigen::VectorXd>("model.eigenvalues");
  s.model.eigenvectors = r.get_matrix<Eigen::MatrixXd>("model.eigenvectors");
  s.model.vt_moments = r.get_matrix<Eigen::MatrixXd>("model.vt_moments");
  s.model.class_factor.resize(r.get_count("model.class_factor", kMinMatrixBytes));
  for (auto& f : s.model.class_factor) f = r.get_matrix<Eigen::MatrixXd>("model.class_factor");
  const auto ready = r.get_vector<std::uint8_t>("model.class_ready");
  s.model.class_ready.assign(ready.begin(), ready.end());
  if (version < 4) {
    // The neighbour view's default; the views are brought up to date after the checks.
    p.neighbours = p.optimized_for == OptimizedFor::kCleaning ? CoresetTreeParams{}.neighbours : 0;
    return;
  }
  p.neighbours = r.get<std::int32_t>("neighbours");
  s.ridge_loss = r.get_vector<double>("ridge_loss");
  s.held_out_loss = r.get_vector<double>("held_out_loss");
  s.neighbour_loss = r.get_vector<double>("neighbour_loss");
  s.neighbour_label = r.get_vector<int>("neighbour_label");
  s.neighbours.k = r.get<std::int32_t>("neighbours.k");
  s.neighbours.index = r.get_vector<std::int64_t>("neighbours.index");
  s.neighbours.similarity = r.get_vector<float>("neighbours.similarity");
  const auto weights = r.get_vector<double>("view_weight");
  CORECLEAN_THROW_IF_NOT_AS(FormatError, weights.size() == s.view_weight.size(),
                            "{}: corrupt tree file: view_weight has {} values (expected {})",
                            r.name(), weights.size(), s.view_weight.size());
  std::copy(weights.begin(), weights.end(), s.view_weight.begin());
  const auto base = r.get_vector<double>("base_view_weight");
  CORECLEAN_THROW_IF_NOT_AS(FormatError, base.size() == s.base_view_weight.size(),
                            "{}: corrupt tree file: base_view_weight has {} values (expected {})",
                            r.name(), base.size(), s.base_view_weight.size());
  std::copy(base.begin(), base.end(), s.base_view_weight.begin());
  s.verdict = r.get_vector<std::uint8_t>("verdict");
}

// Checks every invariant the tree's operations rely on. A file with a valid checksum can still
// hold anything (crafted, or written by a bug); without these checks, out-of-range indices and
// parent cycles would crash or hang `rank` and `update` far from the file. Messages name the
// file, the field and the value.
class StateCheck {
 public:
  StateCheck(const std::string& name, const CoresetTreeState& s) : name_(name), s_(s) {}

  // The version-4 fields: the views' losses, the neighbour lists and the view weights.
  void run_views(const CoresetTreeParams& p) {
    const std::size_t n = s_.ids.size();
    for (const auto& [field, v] : {std::pair{"ridge_loss", &s_.ridge_loss},
                                   std::pair{"held_out_loss", &s_.held_out_loss},
                                   std::pair{"neighbour_loss", &s_.neighbour_loss}}) {
      length(field, v->size(), n);
      for (std::size_t i = 0; i < n; ++i)
        if (!std::isfinite((*v)[i])) reject(indexed(field, i), (*v)[i], "a finite number");
    }
    length("neighbour_label", s_.neighbour_label.size(), n);
    for (std::size_t i = 0; i < n; ++i) class_index("neighbour_label", i, s_.neighbour_label[i]);
    const int k = s_.neighbours.k;
    const int want = p.optimized_for == OptimizedFor::kCleaning ? p.neighbours : 0;
    require(k == want, "neighbours.k", k, fmt::format("{} (the parameter neighbours)", want));
    length("neighbours.index", s_.neighbours.index.size(), n * static_cast<std::size_t>(k));
    length("neighbours.similarity", s_.neighbours.similarity.size(), n * static_cast<std::size_t>(k));
    for (std::size_t q = 0; q < s_.neighbours.index.size(); ++q) {
      const std::int64_t j = s_.neighbours.index[q];
      if (j < -1 || j >= static_cast<std::int64_t>(n) || j == static_cast<std::int64_t>(q / k))
        reject(indexed("neighbours.index", q), j,
               fmt::format("another sample's index from 0 to {}, or -1", n - 1));
      const float sim = s_.neighbours.similarity[q];
      if (!(std::abs(sim) <= 1.01f))
        reject(indexed("neighbours.similarity", q), sim, "a cosine similarity from -1 to 1");
    }
    for (std::size_t v = 0; v < s_.view_weight.size(); ++v) {
      if (!(std::isfinite(s_.view_weight[v]) && s_.view_weight[v] >= 0.0))
        reject(indexed("view_weight", v), s_.view_weight[v], "finite and >= 0");
      if (!(std::isfinite(s_.base_view_weight[v]) && s_.base_view_weight[v] >= 0.0))
        reject(indexed("base_view_weight", v), s_.base_view_weight[v], "finite and >= 0");
    }
    length("verdict", s_.verdict.size(), n);
    for (std::size_t i = 0; i < n; ++i)
      if (s_.verdict[i] > 2) reject(indexed("verdict", i), s_.verdict[i], "0 (none), 1 (label right) or 2 (no class)");
  }

  void run(const CoresetTreeParams& p) {
    try {
      p.validate();
    } catch (const InvalidArgument& e) {
      fail(fmt::format("parameters: {}", e.what()));
    }
    const std::size_t n = s_.ids.size();
    const auto k = static_cast<Eigen::Index>(s_.classes.size());
    require(n >= 2, "ids", n, "a tree has at least 2 samples");
    require(k >= 2, "classes", fmt::format("{} values", k), "a tree has at least 2 classes");
    for (std::size_t c = 1; c < s_.classes.size(); ++c)
      require(s_.classes[c - 1] < s_.classes[c], fmt::format("classes[{}]", c), s_.classes[c],
              "classes are sorted and distinct");
    require(s_.chunk >= 1 && s_.chunk <= static_cast<Eigen::Index>(n), "chunk", s_.chunk,
            fmt::format("the leaf size is from 1 to the {} samples", n));
    require(s_.input_dim >= 1, "input_dim", s_.input_dim, "at least 1");
    require(std::isfinite(s_.misfit_ridge) && s_.misfit_ridge > 0.0, "misfit_ridge",
            s_.misfit_ridge, "finite and > 0");
    require(s_.stale >= 0, "stale", s_.stale, ">= 0");

    // Per sample.
    length("label", s_.label.size(), n);
    length("weight", s_.weight.size(), n);
    length("seen", s_.seen.size(), n);
    length("importance", s_.importance.size(), n);
    length("misfit", s_.misfit.size(), n);
    length("atypical", s_.atypical.size(), n);
    length("suggested", s_.suggested.size(), n);
    length("phi (rows)", static_cast<std::size_t>(s_.phi.rows()), n);
    // (Per-element checks name the element only when they fail: n can be large.)
    for (std::size_t i = 0; i < n; ++i) {
      class_index("label", i, s_.label[i]);
      class_index("suggested", i, s_.suggested[i]);
      if (!(std::isfinite(s_.weight[i]) && s_.weight[i] >= 0.0))
        reject(indexed("weight", i), s_.weight[i], "finite and >= 0");
      // Importances are sorted: a NaN would break the ordering.
      for (const auto& [field, v] :
           {std::pair{"importance", s_.importance[i]}, std::pair{"misfit", s_.misfit[i]},
            std::pair{"atypical", s_.atypical[i]}}) {
        if (!std::isfinite(v)) reject(indexed(field, i), v, "a finite number");
      }
    }
    std::vector<SampleId> ids = s_.ids;
    std::sort(ids.begin(), ids.end());
    const auto twice = std::adjacent_find(ids.begin(), ids.end());
    require(twice == ids.end(), "ids", twice == ids.end() ? 0 : *twice, "ids are unique");

    // Cross-fitting: a fold per sample and one model per fold, or neither.
    require(s_.fold.empty() == s_.fold_models.empty(), "fold",
            fmt::format("{} values with {} fold models", s_.fold.size(), s_.fold_models.size()),
            "a fold per sample and one model per fold, or neither");
    if (!s_.fold.empty()) length("fold", s_.fold.size(), n);
    for (std::size_t i = 0; i < s_.fold.size(); ++i) {
      if (s_.fold[i] < 0 || static_cast<std::size_t>(s_.fold[i]) >= s_.fold_models.size()) {
        reject(indexed("fold", i), s_.fold[i],
               fmt::format("a fold from 0 to {}", s_.fold_models.size() - 1));
      }
    }
    const Eigen::Index r = s_.phi.cols();
    for (std::size_t f = 0; f < s_.fold_models.size(); ++f) {
      const linear::LogisticRegression& m = s_.fold_models[f];
      if (!m.is_fitted()) continue;
      require(m.classes() == s_.classes, fmt::format("fold_models[{}].classes", f),
              fmt::format("{} values", m.classes().size()), "the tree's classes");
      require(m.coef().cols() == r, fmt::format("fold_models[{}].coef", f),
              fmt::format("{} columns", m.coef().cols()), fmt::format("{} (phi's width)", r));
      all_finite(fmt::format("fold_models[{}].coef", f), m.coef());
      all_finite(fmt::format("fold_models[{}].intercept", f), m.intercept());
    }

    // The feature map.
    require(r >= 1, "phi", fmt::format("{} columns", r), "at least 1");
    all_finite("phi", s_.phi);
    shape("feature_mean", s_.feature_mean, s_.input_dim, 1);
    all_finite("feature_mean", s_.feature_mean);
    if (s_.projection.size() == 0) {
      require(r == s_.input_dim, "phi", fmt::format("{} columns", r),
              fmt::format("input_dim ({}) without a projection", s_.input_dim));
    } else {
      shape("projection", s_.projection, r, s_.input_dim);
      all_finite("projection", s_.projection);
    }

    // The nodes: exactly the structure a build over n samples in leaves of `chunk` has (leaves
    // in sample order, then each level up, the root last), so that ranges, children and parents
    // are in range, consistent and acyclic.
    const Eigen::Index r1 = r + 1;
    const Eigen::Index leaves = (static_cast<Eigen::Index>(n) + s_.chunk - 1) / s_.chunk;
    require(s_.nodes.size() == static_cast<std::size_t>(2 * leaves - 1), "nodes",
            fmt::format("{} nodes", s_.nodes.size()),
            fmt::format("{} for {} samples in leaves of {}", 2 * leaves - 1, n, s_.chunk));
    const std::vector<TreeNode> expected = node_structure(static_cast<Eigen::Index>(n), s_.chunk);
    for (std::size_t j = 0; j < s_.nodes.size(); ++j) {
      const TreeNode& node = s_.nodes[j];
      const TreeNode& want = expected[j];
      const auto same = [&](const char* field, Eigen::Index got, Eigen::Index expect) {
        require(got == expect, fmt::format("nodes[{}].{}", j, field), got,
                fmt::format("{} in a tree of {} samples in leaves of {}", expect, n, s_.chunk));
      };
      same("begin", node.begin, want.begin);
      same("end", node.end, want.end);
      same("level", node.level, want.level);
      same("left", node.left, want.left);
      same("right", node.right, want.right);
      same("parent", node.parent, want.parent);
      const std::string at = fmt::format("nodes[{}]", j);
      if (node.left < 0) {  // internal nodes' summaries are summed from the leaves after the check
        shape(at + ".class_weight", node.class_weight, k, 1);
        all_finite(at + ".class_weight", node.class_weight);
        shape(at + ".class_count", node.class_count, k, 1);
        // The counts are those of the leaf's samples (with weight > 0): internal nodes are their
        // sums, which a crafted count near 2³¹ would overflow.
        Eigen::VectorXi counted = Eigen::VectorXi::Zero(k);
        for (Eigen::Index i = node.begin; i < node.end; ++i)
          if (s_.weight[static_cast<std::size_t>(i)] > 0.0) ++counted[s_.label[static_cast<std::size_t>(i)]];
        for (Eigen::Index c = 0; c < k; ++c)
          require(node.class_count[c] == counted[c], fmt::format("{}.class_count[{}]", at, c),
                  node.class_count[c],
                  fmt::format("{} (the leaf's samples of that class)", counted[c]));
        shape(at + ".gram", node.gram, r1, r1);
        all_finite(at + ".gram", node.gram);
        shape(at + ".moments", node.moments, r1, k);
        all_finite(at + ".moments", node.moments);
      }
      require(node.coreset.size() == node.coreset_weight.size(), at + ".coreset",
              fmt::format("{} indices", node.coreset.size()),
              fmt::format("as many as its {} weights", node.coreset_weight.size()));
      for (std::size_t q = 0; q < node.coreset.size(); ++q) {
        if (node.coreset[q] < 0 || node.coreset[q] >= static_cast<Eigen::Index>(n)) {
          reject(fmt::format("{}.coreset[{}]", at, q), node.coreset[q],
                 fmt::format("a sample index from 0 to {}", n - 1));
        }
        if (!(std::isfinite(node.coreset_weight[q]) && node.coreset_weight[q] >= 0.0))
          reject(fmt::format("{}.coreset_weight[{}]", at, q), node.coreset_weight[q],
                 "finite and >= 0");
      }
    }

    // The root's per-class Grams and the global model.
    length("class_gram", s_.class_gram.size(), s_.classes.size());
    for (std::size_t c = 0; c < s_.class_gram.size(); ++c) {
      shape(indexed("class_gram", c), s_.class_gram[c], r1, r1);
      all_finite(indexed("class_gram", c), s_.class_gram[c]);
    }
    require(std::isfinite(s_.model.lambda) && s_.model.lambda > 0.0, "model.lambda",
            s_.model.lambda, "finite and > 0");
    shape("model.eigenvalues", s_.model.eigenvalues, r1, 1);
    all_finite("model.eigenvalues", s_.model.eigenvalues);
    // (G + λI)⁻¹ = V (E + λ)⁻¹ Vᵀ: the eigenvalues of a Gram matrix are clamped at 0 when solved.
    for (Eigen::Index q = 0; q < s_.model.eigenvalues.size(); ++q) {
      if (!(s_.model.eigenvalues[q] >= 0.0))
        reject(indexed("model.eigenvalues", q), s_.model.eigenvalues[q], ">= 0");
    }
    shape("model.eigenvectors", s_.model.eigenvectors, r1, r1);
    all_finite("model.eigenvectors", s_.model.eigenvectors);
    shape("model.vt_moments", s_.model.vt_moments, r1, k);
    all_finite("model.vt_moments", s_.model.vt_moments);
    length("model.class_factor", s_.model.class_factor.size(), s_.classes.size());
    length("model.class_ready", s_.model.class_ready.size(), s_.classes.size());
    for (std::size_t c = 0; c < s_.model.class_factor.size(); ++c) {
      if (!s_.model.class_ready[c]) continue;
      shape(indexed("model.class_factor", c), s_.model.class_factor[c], r1, r1);
      all_finite(indexed("model.class_factor", c), s_.model.class_factor[c]);
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw FormatError(fmt::format("{}: corrupt tree file: {}", name_, what));
  }
  template <typename V>
  [[noreturn]] void reject(std::string_view field, const V& value,
                           std::string_view expected) const {
    fail(fmt::format("{} is {} (expected {})", field, value, expected));
  }
  template <typename V>
  void require(bool ok, std::string_view field, const V& value, std::string_view expected) const {
    if (!ok) reject(field, value, expected);
  }
  static std::string indexed(std::string_view field, std::size_t i) {
    return fmt::format("{}[{}]", field, i);
  }
  void length(std::string_view field, std::size_t got, std::size_t want) const {
    require(got == want, field, fmt::format("{} values", got), fmt::format("{}", want));
  }
  void class_index(const char* field, std::size_t i, int c) const {
    if (c < 0 || c >= static_cast<int>(s_.classes.size()))
      reject(indexed(field, i), c,
             fmt::format("a class index from 0 to {}", s_.classes.size() - 1));
  }
  template <typename M>
  void shape(const std::string& field, const M& m, Eigen::Index rows, Eigen::Index cols) const {
    require(m.rows() == rows && m.cols() == cols, field, fmt::format("{} × {}", m.rows(), m.cols()),
            fmt::format("{} × {}", rows, cols));
  }
  template <typename M>
  void all_finite(const std::string& field, const M& m) const {
    const auto* data = m.data();
    for (Eigen::Index q = 0; q < m.size(); ++q) {
      if (!std::isfinite(static_cast<double>(data[q])))
        fail(
            fmt::format("{} holds {} at position {} (expected finite numbers)", field, data[q], q));
    }
  }

  const std::string& name_;
  const CoresetTreeState& s_;
};

// The checksum of format 1: FNV-1a 64 over the bytes.
std::uint64_t fnv1a_bytes(std::span<const std::byte> bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const std::byte b : bytes) {
    h ^= static_cast<std::uint64_t>(b);
    h *= 0x100000001b3ULL;
  }
  return h;
}

// The checksum of format 2 on: FNV-1a 64 with 8-byte little-endian words as its symbols (a
// trailing partial word padded with zeros), continued from state h. A multiply per word instead
// of per byte: 1.5 s → 0.2 s over a gigabyte-size tree, and random damage is caught alike.
class WordChecksum {
 public:
  void add(std::span<const std::byte> bytes) {
    for (const std::byte b : bytes) {
      word_ |= static_cast<std::uint64_t>(b) << (8 * filled_);
      if (++filled_ == 8) flush();
    }
  }
  void add_aligned(std::span<const std::byte> bytes) {
    // Whole words straight from memory once the pending word is complete.
    std::size_t at = 0;
    while (filled_ != 0 && at < bytes.size()) add(bytes.subspan(at++, 1));
    const std::size_t words = (bytes.size() - at) / 8;
    for (std::size_t j = 0; j < words; ++j) {
      std::uint64_t w = 0;
      std::memcpy(&w, bytes.data() + at + 8 * j, 8);
      h_ = (h_ ^ w) * 0x100000001b3ULL;
    }
    add(bytes.subspan(at + 8 * words));
  }
  [[nodiscard]] std::uint64_t value() const {
    return filled_ == 0 ? h_ : (h_ ^ word_) * 0x100000001b3ULL;
  }

 private:
  void flush() {
    h_ = (h_ ^ word_) * 0x100000001b3ULL;
    word_ = 0;
    filled_ = 0;
  }
  std::uint64_t h_ = 0xcbf29ce484222325ULL;
  std::uint64_t word_ = 0;
  int filled_ = 0;
};

// The whole file (magic, version, payload, checksum) as byte ranges of `w`.
void write_tree(Writer& w, const CoresetTreeParams& p, const CoresetTreeState& s) {
  w.append(reinterpret_cast<const std::byte*>(kMagic), sizeof(kMagic));
  w.put<std::uint32_t>(kFormatVersion);
  write_payload(w, p, s);
  WordChecksum sum;
  for (const auto& range : w.ranges()) sum.add_aligned(range);
  w.put<std::uint64_t>(sum.value());
}

// The file's bytes in one buffer (for comparing trees).
std::vector<std::byte> serialize(const CoresetTreeParams& p, const CoresetTreeState& s) {
  Writer w;
  write_tree(w, p, s);
  std::vector<std::byte> bytes;
  for (const auto& range : w.ranges()) bytes.insert(bytes.end(), range.begin(), range.end());
  return bytes;
}

}  // namespace

std::uint64_t tree_file_checksum(std::span<const std::byte> bytes, std::uint32_t version) {
  if (version < 2) return fnv1a_bytes(bytes);
  WordChecksum sum;
  sum.add_aligned(bytes);
  return sum.value();
}

void save_tree(const CoresetTree& tree, const std::filesystem::path& path) {
  CORECLEAN_THROW_IF_NOT(tree.state_ != nullptr, "save_tree: the tree was never built");
  Writer w;
  write_tree(w, tree.params_, *tree.state_);
  io::detail::write_file_atomically(path, w.ranges());
}

CoresetTree load_tree(const std::filesystem::path& path) {
  // A tree of a megabyte or more is mapped: its pages come straight from the page cache, where
  // reading copies them into a fresh buffer first (a gigabyte costs seconds of page faults; the
  // 31 MB tree of a 12k × 2048 build, 15 ms of `rank`'s 80). Trees are replaced by rename,
  // never rewritten in place, so a mapped file does not change under the reader.
  constexpr std::int64_t kMapBytes = std::int64_t{1} << 20;
  const io::detail::FileBytes file = io::detail::regular_file_size(path) >= kMapBytes
                                         ? io::detail::map_file(path)
                                         : io::detail::read_file(path);
  const std::string name = path.string();
  const auto bytes = file.bytes;
  CORECLEAN_THROW_IF_NOT_AS(FormatError,
                            bytes.size() >= sizeof(kMagic) + 4 + 8 &&
                                std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) == 0,
                            "{}: not a coreclean tree file (bad magic)", name);
  std::uint32_t version = 0;
  std::memcpy(&version, bytes.data() + sizeof(kMagic), sizeof(version));
  CORECLEAN_THROW_IF_NOT_AS(FormatError, version <= kFormatVersion,
                            "{}: tree format version {} is newer than this coreclean reads ({}); "
                            "upgrade coreclean",
                            name, version, kFormatVersion);
  std::uint64_t stored = 0;
  std::memcpy(&stored, bytes.data() + bytes.size() - 8, 8);
  CORECLEAN_THROW_IF_NOT_AS(FormatError,
                            stored == tree_file_checksum(bytes.first(bytes.size() - 8), version),
                            "{}: corrupt tree file (checksum mismatch)", name);
  Reader r(bytes.subspan(sizeof(kMagic) + 4, bytes.size() - sizeof(kMagic) - 4 - 8), name);
  CoresetTreeParams params;
  auto state = std::make_unique<CoresetTreeState>();
  read_payload(r, version, params, *state);
  StateCheck check(name, *state);
  check.run(params);
  if (version >= 4) check.run_views(params);
  sum_internal_nodes(state->nodes);
  for (std::size_t i = 0; i < state->ids.size(); ++i)
    state->index_of.emplace(state->ids[i], static_cast<Eigen::Index>(i));
  if (version < 4) update_views(*state, params, Context());
  CoresetTree tree(params);
  tree.state_ = std::move(state);
  return tree;
}

bool CoresetTree::operator==(const CoresetTree& other) const {
  if (!state_ || !other.state_) return !state_ && !other.state_;
  return serialize(params_, *state_) == serialize(other.params_, *other.state_);
}

}  // namespace coreclean::coreset
