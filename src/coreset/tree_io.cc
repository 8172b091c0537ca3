// The tree file: "CCTREE\0\0", a little-endian u32 format version, the payload (every field of
// the tree, in a fixed order, as raw little-endian values with u64 lengths), and an FNV-1a
// 64-bit checksum of everything before it.
#include <coreclean/coreset/coreset_tree.h>
#include <coreclean/core/error.h>

#include "core/check.h"
#include "coreset/tree_state.h"
#include "io/mapped_file.h"

#include <cstring>
#include <type_traits>

namespace coreclean::coreset {
namespace {

constexpr char kMagic[8] = {'C', 'C', 'T', 'R', 'E', 'E', '\0', '\0'};
constexpr std::uint32_t kFormatVersion = 1;

std::uint64_t fnv1a(const std::byte* data, std::size_t size) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (std::size_t i = 0; i < size; ++i) {
    h ^= static_cast<std::uint64_t>(data[i]);
    h *= 0x100000001b3ULL;
  }
  return h;
}

class Writer {
 public:
  std::vector<std::byte> bytes;

  template <typename T>
  void put(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto* p = reinterpret_cast<const std::byte*>(&value);
    bytes.insert(bytes.end(), p, p + sizeof(T));
  }
  template <typename T>
  void put_array(const T* data, std::size_t count) {
    put<std::uint64_t>(count);
    const auto* p = reinterpret_cast<const std::byte*>(data);
    bytes.insert(bytes.end(), p, p + count * sizeof(T));
  }
  template <typename T>
  void put_vector(const std::vector<T>& v) { put_array(v.data(), v.size()); }
  template <typename Derived>
  void put_matrix(const Eigen::PlainObjectBase<Derived>& m) {
    put<std::int64_t>(m.rows());
    put<std::int64_t>(m.cols());
    put_array(m.data(), static_cast<std::size_t>(m.size()));
  }
};

class Reader {
 public:
  Reader(std::span<const std::byte> bytes, std::string name) : bytes_(bytes), name_(std::move(name)) {}

  template <typename T>
  T get() {
    T value;
    std::memcpy(&value, take(sizeof(T)), sizeof(T));
    return value;
  }
  template <typename T>
  std::vector<T> get_vector() {
    const auto count = get<std::uint64_t>();
    CORECLEAN_THROW_IF_NOT_AS(FormatError, count <= bytes_.size() / std::max<std::size_t>(sizeof(T), 1),
                              "{}: corrupt tree file (array of {} elements at byte {})", name_,
                              count, pos_);
    std::vector<T> v(count);
    if (count > 0) std::memcpy(v.data(), take(count * sizeof(T)), count * sizeof(T));
    return v;
  }
  template <typename M>
  M get_matrix() {
    const auto rows = get<std::int64_t>(), cols = get<std::int64_t>();
    using Scalar = typename M::Scalar;
    std::vector<Scalar> v = get_vector<Scalar>();
    CORECLEAN_THROW_IF_NOT_AS(FormatError, rows >= 0 && cols >= 0 &&
                                  static_cast<std::uint64_t>(rows) * static_cast<std::uint64_t>(cols) == v.size(),
                              "{}: corrupt tree file (matrix {} × {} with {} values)", name_, rows,
                              cols, v.size());
    M m(rows, cols);
    if (!v.empty()) std::memcpy(m.data(), v.data(), v.size() * sizeof(Scalar));
    return m;
  }
  std::size_t position() const { return pos_; }

 private:
  const std::byte* take(std::size_t n) {
    CORECLEAN_THROW_IF_NOT_AS(FormatError, n <= bytes_.size() - pos_,
                              "{}: truncated tree file (needs {} more bytes at byte {}, has {})",
                              name_, n, pos_, bytes_.size() - pos_);
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
    w.put_matrix(n.class_weight);
    w.put_matrix(n.class_count);
    w.put_matrix(n.gram);
    w.put_matrix(n.moments);
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
}

void read_payload(Reader& r, CoresetTreeParams& p, CoresetTreeState& s) {
  p.chunk_size = r.get<std::int64_t>();
  const auto optimized = r.get<std::uint8_t>();
  CORECLEAN_THROW_IF_NOT_AS(FormatError, optimized <= 1, "corrupt tree file (optimized_for {})",
                            optimized);
  p.optimized_for = static_cast<OptimizedFor>(optimized);
  p.sketch_dim = r.get<std::int32_t>();
  p.atypical_weight = r.get<double>();
  p.leverage_ridge = r.get<double>();
  p.misfit_ridges = r.get_vector<double>();
  p.coreset_size = r.get<std::int64_t>();
  p.cross_fit_folds = r.get<std::int32_t>();
  p.cross_fit_c = r.get<double>();

  s.seed = r.get<std::uint64_t>();
  s.input_dim = r.get<std::int64_t>();
  s.chunk = r.get<std::int64_t>();
  s.misfit_ridge = r.get<double>();
  s.stale = r.get<std::int64_t>();
  s.classes = r.get_vector<Label>();
  const auto names = r.get<std::uint64_t>();
  for (std::uint64_t j = 0; j < names; ++j) {
    const Label label = r.get<Label>();
    const std::vector<char> name = r.get_vector<char>();
    s.class_names[label] = std::string(name.begin(), name.end());
  }
  s.label = r.get_vector<int>();
  s.weight = r.get_vector<double>();
  s.ids = r.get_vector<SampleId>();
  s.seen = r.get_vector<std::uint8_t>();
  s.importance = r.get_vector<double>();
  s.misfit = r.get_vector<double>();
  s.atypical = r.get_vector<double>();
  s.suggested = r.get_vector<int>();
  s.fold = r.get_vector<int>();
  const auto models = r.get<std::uint64_t>();
  CORECLEAN_THROW_IF_NOT_AS(FormatError, models <= 1000, "corrupt tree file ({} fold models)",
                            models);
  s.fold_models.resize(models);
  for (auto& m : s.fold_models) {
    if (r.get<std::uint8_t>() == 0) continue;
    Labels classes = r.get_vector<Label>();
    RowMatrixXd coef = r.get_matrix<RowMatrixXd>();
    Eigen::VectorXd intercept = r.get_matrix<Eigen::VectorXd>();
    m.set_model(std::move(classes), std::move(coef), std::move(intercept));
  }
  s.phi = r.get_matrix<RowMatrixXf>();
  s.feature_mean = r.get_matrix<Eigen::VectorXd>();
  s.projection = r.get_matrix<RowMatrixXd>();
  const auto nodes = r.get<std::uint64_t>();
  CORECLEAN_THROW_IF_NOT_AS(FormatError, nodes <= 2 * s.ids.size() + 1,
                            "corrupt tree file ({} nodes for {} samples)", nodes, s.ids.size());
  s.nodes.resize(nodes);
  for (TreeNode& n : s.nodes) {
    n.begin = r.get<std::int64_t>();
    n.end = r.get<std::int64_t>();
    n.level = r.get<std::int32_t>();
    n.left = r.get<std::int64_t>();
    n.right = r.get<std::int64_t>();
    n.parent = r.get<std::int64_t>();
    n.class_weight = r.get_matrix<Eigen::VectorXd>();
    n.class_count = r.get_matrix<Eigen::VectorXi>();
    n.gram = r.get_matrix<Eigen::MatrixXd>();
    n.moments = r.get_matrix<Eigen::MatrixXd>();
    n.coreset = r.get_vector<Eigen::Index>();
    n.coreset_weight = r.get_vector<double>();
  }
  s.class_gram.resize(r.get<std::uint64_t>());
  for (auto& g : s.class_gram) g = r.get_matrix<Eigen::MatrixXd>();
  s.model.lambda = r.get<double>();
  s.model.eigenvalues = r.get_matrix<Eigen::VectorXd>();
  s.model.eigenvectors = r.get_matrix<Eigen::MatrixXd>();
  s.model.vt_moments = r.get_matrix<Eigen::MatrixXd>();
  s.model.class_factor.resize(r.get<std::uint64_t>());
  for (auto& f : s.model.class_factor) f = r.get_matrix<Eigen::MatrixXd>();
  const auto ready = r.get_vector<std::uint8_t>();
  s.model.class_ready.assign(ready.begin(), ready.end());
  const std::size_t n = s.ids.size();
  const bool consistent = s.label.size() == n && s.weight.size() == n && s.seen.size() == n &&
                          s.importance.size() == n && s.misfit.size() == n &&
                          s.atypical.size() == n && s.suggested.size() == n &&
                          static_cast<std::size_t>(s.phi.rows()) == n && s.chunk > 0 &&
                          (s.fold.empty() || s.fold.size() == n) &&
                          !s.nodes.empty() && s.class_gram.size() == s.classes.size();
  CORECLEAN_THROW_IF_NOT_AS(FormatError, consistent, "corrupt tree file (inconsistent sizes)");
  for (std::size_t i = 0; i < n; ++i) {
    CORECLEAN_THROW_IF_NOT_AS(FormatError, s.label[i] >= 0 && s.label[i] < static_cast<int>(s.classes.size()),
                              "corrupt tree file (label index {} of sample {})", s.label[i], i);
    s.index_of.emplace(s.ids[i], static_cast<Eigen::Index>(i));
  }
}

std::vector<std::byte> serialize(const CoresetTreeParams& p, const CoresetTreeState& s) {
  Writer w;
  w.bytes.insert(w.bytes.end(), reinterpret_cast<const std::byte*>(kMagic),
                 reinterpret_cast<const std::byte*>(kMagic) + sizeof(kMagic));
  w.put<std::uint32_t>(kFormatVersion);
  write_payload(w, p, s);
  w.put<std::uint64_t>(fnv1a(w.bytes.data(), w.bytes.size()));
  return std::move(w.bytes);
}

}  // namespace

void save_tree(const CoresetTree& tree, const std::filesystem::path& path) {
  CORECLEAN_THROW_IF_NOT(tree.state_ != nullptr, "save_tree: the tree was never built");
  const std::vector<std::byte> bytes = serialize(tree.params_, *tree.state_);
  io::detail::write_file_atomically(path, {std::span<const std::byte>(bytes)});
}

CoresetTree load_tree(const std::filesystem::path& path) {
  const io::detail::FileBytes file = io::detail::read_file(path);
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
  CORECLEAN_THROW_IF_NOT_AS(FormatError, stored == fnv1a(bytes.data(), bytes.size() - 8),
                            "{}: corrupt tree file (checksum mismatch)", name);
  Reader r(bytes.subspan(sizeof(kMagic) + 4, bytes.size() - sizeof(kMagic) - 4 - 8), name);
  CoresetTreeParams params;
  auto state = std::make_unique<CoresetTreeState>();
  read_payload(r, params, *state);
  CoresetTree tree(params);
  tree.state_ = std::move(state);
  return tree;
}

bool CoresetTree::operator==(const CoresetTree& other) const {
  if (!state_ || !other.state_) return !state_ && !other.state_;
  return serialize(params_, *state_) == serialize(other.params_, *other.state_);
}

}  // namespace coreclean::coreset
