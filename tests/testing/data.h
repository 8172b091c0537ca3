#ifndef CORECLEAN_TESTS_TESTING_DATA_H_
#define CORECLEAN_TESTS_TESTING_DATA_H_

// Seeded synthetic data sets shared by the tests.

#include <coreclean/core/types.h>

#include <cstdint>
#include <vector>

namespace coreclean::testing {

/// Samples and labels.
struct Dataset {
  RowMatrixXf x;
  Labels y;
};

/// Gaussian blobs: `k` classes with labels `first_label + 3·c` (deliberately not 0..k−1),
/// class sizes proportional to 1, 2, ..., k (imbalanced), centres N(0, separation²·I), unit
/// noise, and a `label_noise` share of labels replaced by a random class.
Dataset make_blobs(int n, int d, int k, double separation, double label_noise,
                   std::uint64_t seed, Label first_label = 2);

/// Random non-negative weights in [0.2, 2].
std::vector<double> make_weights(int n, std::uint64_t seed);

/// The shared digits set (1797 × 64), or an empty dataset when ../shared/data is absent.
Dataset load_digits();

}  // namespace coreclean::testing

#endif  // CORECLEAN_TESTS_TESTING_DATA_H_
