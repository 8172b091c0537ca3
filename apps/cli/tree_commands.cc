#include "tree_commands.h"

#include "cli_common.h"

#include <coreclean/core/error.h>
#include <coreclean/coreset/coreset_tree.h>
#include <coreclean/io/csv.h>
#include <coreclean/io/feature_set.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <fmt/format.h>
#include <fstream>
#include <set>

namespace coreclean::cli {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::optional<std::int64_t> parse_int(const std::string& text) {
  std::int64_t v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

}  // namespace

int run_build(const BuildOptions& options, const Context& context, std::ostream& out) {
  const auto start = std::chrono::steady_clock::now();
  CORECLEAN_CLI_REQUIRE(options.optimized_for == "cleaning" || options.optimized_for == "training",
                        "--optimized-for must be 'cleaning' or 'training', got '{}'",
                        options.optimized_for);
  CORECLEAN_CLI_REQUIRE(options.chunk_size >= 0, "--chunk-size must be >= 0, got {}",
                        options.chunk_size);
  const io::FeatureSet fs = io::load_feature_set(options.features);
  // Keep the requested classes only (the seed keeps the class of interest and its confusion).
  std::vector<Eigen::Index> rows;
  if (options.classes.empty()) {
    rows.resize(fs.y_train.size());
    for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<Eigen::Index>(i);
  } else {
    std::set<Label> keep;
    for (const auto& c : options.classes) keep.insert(fs.find_class(c));
    for (std::size_t i = 0; i < fs.y_train.size(); ++i)
      if (keep.contains(fs.y_train[i])) rows.push_back(static_cast<Eigen::Index>(i));
  }
  const auto x_all = fs.x_train.view();
  RowMatrixXf x(static_cast<Eigen::Index>(rows.size()), x_all.cols());
  Labels y(rows.size());
  std::vector<SampleId> ids(rows.size());
  for (std::size_t j = 0; j < rows.size(); ++j) {
    x.row(static_cast<Eigen::Index>(j)) = x_all.row(rows[j]);
    y[j] = fs.y_train[rows[j]];
    ids[j] = fs.ids[rows[j]];
  }
  coreset::CoresetTreeParams params;
  params.chunk_size = options.chunk_size;
  params.optimized_for = options.optimized_for == "training" ? coreset::OptimizedFor::kTraining
                                                             : coreset::OptimizedFor::kCleaning;
  coreset::CoresetTree tree(params);
  tree.build(x, y, {}, ids, context);
  ClassNames names;
  for (Label l : tree.classes()) names[l] = fs.class_name(l);
  tree.set_class_names(std::move(names));
  coreset::save_tree(tree, options.out);
  out << fmt::format("built {} ({} samples, {} classes, {} features → {}, {} leaves of {}) in "
                     "{:.2f} s\n",
                     options.out.string(), tree.size(), tree.classes().size(), x.cols(),
                     tree.feature_dim(), tree.num_leaves(), tree.chunk_size(),
                     seconds_since(start));
  return kExitOk;
}

int run_rank(const RankOptions& options, const Context&, std::ostream& out) {
  CORECLEAN_CLI_REQUIRE(options.top >= 0, "--top must be >= 0, got {}", options.top);
  coreset::CoresetTree tree = coreset::load_tree(options.tree);
  coreset::ImportantSamplesQuery q;
  q.ignore_seen = !options.include_seen;
  q.mark_seen = options.mark_seen;
  if (options.class_name == "all") {
    q.size = options.top;
  } else {
    const Label label = find_class(tree.class_names(), tree.classes(), options.class_name);
    CORECLEAN_CLI_REQUIRE(std::binary_search(tree.classes().begin(), tree.classes().end(), label),
                          "class '{}' has no samples in the tree {}", options.class_name,
                          options.tree.string());
    q.class_size[label] = {coreset::ClassQuota::Kind::kCount, options.top};
  }
  const coreset::ImportantSamples result = tree.important_samples(q);
  std::ofstream file;
  if (options.out) {
    file.open(*options.out);
    if (!file) throw IoError(fmt::format("{}: cannot write", options.out->string()));
  }
  std::ostream& csv = options.out ? file : out;
  csv << "id,label,importance,misfit,atypical,suggested_label\n";
  for (SampleId id : result.ids) {
    const coreset::SampleScore s = tree.score(id);
    csv << fmt::format("{},{},{:.6g},{:.6g},{:.6g},{}\n", s.id, s.label, s.importance, s.misfit,
                       s.atypical, s.suggested_label);
  }
  if (options.mark_seen) coreset::save_tree(tree, options.tree);
  return kExitOk;
}

int run_update(const UpdateOptions& options, const Context&, std::ostream& out) {
  const auto start = std::chrono::steady_clock::now();
  coreset::CoresetTree tree = coreset::load_tree(options.tree);
  const io::CsvTable table = io::read_csv(options.decisions);
  const std::string file = options.decisions.string();
  const int c_id = table.column("id"), c_decision = table.column("decision"),
            c_label = table.column("new_label");
  CORECLEAN_CLI_REQUIRE(c_id >= 0 && c_decision >= 0,
                        "{}: the header must have columns id,decision[,new_label]; found '{}'",
                        file, fmt::join(table.header, ","));
  // Validate every row before anything changes.
  std::vector<SampleId> relabel_ids, delete_ids;
  Labels relabel_to;
  std::set<SampleId> seen_ids;
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const auto& row = table.rows[r];
    const int line = table.line[r];
    const auto id = parse_int(row[c_id]);
    CORECLEAN_CLI_REQUIRE(id.has_value(), "{}:{}: column id: '{}' is not an integer id", file,
                          line, row[c_id]);
    CORECLEAN_CLI_REQUIRE(seen_ids.insert(*id).second, "{}:{}: column id: {} appears twice",
                          file, line, *id);
    try {
      (void)tree.score(*id);
    } catch (const InvalidArgument&) {
      throw InvalidArgument(
          fmt::format("{}:{}: column id: {} is not a sample of the tree", file, line, *id));
    }
    const std::string& decision = row[c_decision];
    if (decision == "keep") continue;
    if (decision == "delete") {
      delete_ids.push_back(*id);
    } else if (decision == "relabel") {
      CORECLEAN_CLI_REQUIRE(c_label >= 0 && !row[c_label].empty(),
                            "{}:{}: column new_label: empty, but decision is relabel", file, line);
      Label label = 0;
      try {
        label = find_class(tree.class_names(), tree.classes(), row[c_label]);
      } catch (const InvalidArgument& e) {
        throw InvalidArgument(fmt::format("{}:{}: column new_label: {}", file, line, e.what()));
      }
      CORECLEAN_CLI_REQUIRE(std::binary_search(tree.classes().begin(), tree.classes().end(), label),
                            "{}:{}: column new_label: class '{}' is not in the tree", file, line,
                            row[c_label]);
      relabel_ids.push_back(*id);
      relabel_to.push_back(label);
    } else {
      throw InvalidArgument(fmt::format(
          "{}:{}: column decision: '{}' (must be keep, relabel or delete)", file, line, decision));
    }
  }
  const coreset::UpdateReport a = tree.update_targets(relabel_ids, relabel_to);
  const coreset::UpdateReport b = tree.remove_samples(delete_ids);
  coreset::save_tree(tree, options.tree);
  out << fmt::format("{} relabelled, {} deleted, {} kept; {} tree nodes recomputed in {:.3f} s\n",
                     relabel_ids.size(), delete_ids.size(),
                     table.rows.size() - relabel_ids.size() - delete_ids.size(),
                     a.nodes_touched + b.nodes_touched, seconds_since(start));
  return kExitOk;
}

}  // namespace coreclean::cli
