// Checks that a tree built by the processes of an MPI job equals the tree one process builds.
//
//   mpirun -np N mpi_build_check            builds in memory with N processes; process 0 also
//                                           builds alone and compares
//   mpi_build_check compare ONE.tree MANY.tree
//                                           compares two tree files (e.g. `coreclean build`
//                                           without and with mpirun)
//
// Equal means: the same samples, features, feature map and node summaries bit for bit, every
// importance, misfit and atypicality within 1e-12 (the class Gram matrices are summed in
// another order across processes: ~1e-15), the same suggested labels and the same top 100 of
// every class. Exit 0 when equal, 1 with the differences on standard error otherwise.
#include <coreclean/coreset/coreset_tree.h>
#include <coreclean/dist/mpi_group.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

using coreclean::coreset::CoresetTree;

int failures = 0;

std::string fmt_g(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", v);
  return text;
}

void expect(bool ok, const std::string& what) {
  if (ok) return;
  std::fprintf(stderr, "mpi_build_check: %s\n", what.c_str());
  ++failures;
}

std::vector<coreclean::SampleId> top_of_class(const CoresetTree& tree, coreclean::Label label) {
  std::vector<coreclean::coreset::SampleScore> scores = tree.scores();
  std::erase_if(scores, [&](const auto& s) { return s.label != label; });
  std::sort(scores.begin(), scores.end(), [](const auto& a, const auto& b) {
    return a.importance != b.importance ? a.importance > b.importance : a.id < b.id;
  });
  std::vector<coreclean::SampleId> ids;
  for (std::size_t j = 0; j < std::min<std::size_t>(100, scores.size()); ++j) ids.push_back(scores[j].id);
  return ids;
}

void compare(const CoresetTree& one, const CoresetTree& many) {
  expect(one.size() == many.size(), "sample counts differ");
  expect(one.num_nodes() == many.num_nodes(), "node counts differ");
  if (failures > 0) return;
  expect(one.features() == many.features(), "features differ");
  expect(one.feature_mean() == many.feature_mean(), "feature means differ");
  expect(one.feature_projection() == many.feature_projection(), "projections differ");
  for (Eigen::Index j = 0; j < one.num_nodes(); ++j) {
    const auto a = one.node(j), b = many.node(j);
    expect(a.gram == b.gram && a.moments == b.moments && a.class_count == b.class_count,
           "summaries of node " + std::to_string(j) + " differ");
  }
  const auto a = one.scores(), b = many.scores();
  double worst = 0.0, worst_misfit = 0.0, worst_atypical = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    worst_misfit = std::max(worst_misfit, std::abs(a[i].misfit - b[i].misfit));
    worst_atypical = std::max(worst_atypical, std::abs(a[i].atypical - b[i].atypical));
    expect(a[i].id == b[i].id, "ids differ at row " + std::to_string(i));
    expect(a[i].suggested_label == b[i].suggested_label,
           "suggested labels differ at row " + std::to_string(i));
    worst = std::max({worst, std::abs(a[i].importance - b[i].importance),
                      std::abs(a[i].misfit - b[i].misfit), std::abs(a[i].atypical - b[i].atypical)});
  }
  expect(worst <= 1e-12, "scores differ by up to " + fmt_g(worst));
  for (coreclean::Label label : one.classes())
    expect(top_of_class(one, label) == top_of_class(many, label),
           "top 100 of class " + std::to_string(label) + " differ");
  std::printf("mpi_build_check: %lld samples, largest score difference %.3g (misfit %.3g, "
              "atypicality %.3g)\n",
              static_cast<long long>(one.size()), worst, worst_misfit, worst_atypical);
}

// Four overlapping Gaussian classes with a constant offset and 8 % flipped labels.
void make_data(Eigen::Index n, Eigen::Index d, coreclean::RowMatrixXf& x, coreclean::Labels& y) {
  std::mt19937_64 rng(7);
  std::normal_distribution<float> normal;
  const int k = 4;
  Eigen::MatrixXf centres(k, d);
  for (Eigen::Index j = 0; j < centres.size(); ++j) centres.data()[j] = normal(rng);
  x.resize(n, d);
  y.resize(static_cast<std::size_t>(n));
  std::uniform_real_distribution<double> uniform;
  for (Eigen::Index i = 0; i < n; ++i) {
    const int c = static_cast<int>(i % k);
    for (Eigen::Index j = 0; j < d; ++j) x(i, j) = 10.0f + centres(c, j) + 1.3f * normal(rng);
    y[static_cast<std::size_t>(i)] = uniform(rng) < 0.08 ? (c + 1) % k : c;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "compare") == 0) {
    compare(coreclean::coreset::load_tree(argv[2]), coreclean::coreset::load_tree(argv[3]));
    return failures == 0 ? 0 : 1;
  }
  coreclean::dist::MpiGroup group(&argc, &argv);
  coreclean::RowMatrixXf x;
  coreclean::Labels y;
  make_data(6000, 48, x, y);
  coreclean::coreset::CoresetTreeParams params;
  params.chunk_size = 500;     // 12 leaves
  params.sketch_dim = 20;      // PCA on process 0, sent to the others
  params.cross_fit_max_rows = 3000;
  coreclean::Context context;
  context.seed = 3;
  context.threads = 1;
  const auto many = coreclean::coreset::build_distributed(
      params, coreclean::StreamedSamples{x, {}}, y, {}, {}, context, group);
  if (group.rank() != 0) return many.has_value() ? 1 : 0;
  expect(many.has_value(), "process 0 got no tree");
  if (!many) return 1;
  CoresetTree one(params);
  one.build(x, y, {}, {}, context);
  compare(one, *many);
  return failures == 0 ? 0 : 1;
}
