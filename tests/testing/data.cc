#include "testing/data.h"

#include "testing/helpers.h"

#include <coreclean/io/npy.h>

#include <random>

namespace coreclean::testing {

Dataset make_blobs(int n, int d, int k, double separation, double label_noise,
                   std::uint64_t seed, Label first_label) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> uniform;
  RowMatrixXf centres(k, d);
  for (Eigen::Index i = 0; i < centres.size(); ++i)
    centres.data()[i] = static_cast<float>(separation * normal(rng));
  // Class c has weight c + 1: imbalanced on purpose (exercises class_weight=balanced).
  std::discrete_distribution<int> pick_class = [&] {
    std::vector<double> w(k);
    for (int c = 0; c < k; ++c) w[c] = c + 1.0;
    return std::discrete_distribution<int>(w.begin(), w.end());
  }();
  Dataset out{RowMatrixXf(n, d), Labels(n)};
  for (int i = 0; i < n; ++i) {
    int c = i < k ? i : pick_class(rng);  // every class present
    for (int j = 0; j < d; ++j)
      out.x(i, j) = centres(c, j) + static_cast<float>(normal(rng));
    if (i >= k && uniform(rng) < label_noise) c = static_cast<int>(rng() % k);
    out.y[i] = first_label + 3 * c;
  }
  return out;
}

std::vector<double> make_weights(int n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.2, 2.0);
  std::vector<double> w(n);
  for (auto& v : w) v = u(rng);
  return w;
}

Dataset load_digits() {
  const auto dir = shared_data_dir();
  if (dir.empty()) return {};
  const io::NpyArray x = io::read_npy(dir / "digits" / "X.npy");
  const io::NpyArray y = io::read_npy(dir / "digits" / "y.npy");
  return {io::to_sample_matrix(x, "X.npy").view(), io::to_labels(y, "y.npy")};
}

}  // namespace coreclean::testing
