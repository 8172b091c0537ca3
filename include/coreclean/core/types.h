#ifndef CORECLEAN_CORE_TYPES_H_
#define CORECLEAN_CORE_TYPES_H_

/// @file
/// Matrix and label types used at every API boundary.
///
/// Layout, stated once: a data matrix is n × d, row-major, one sample per row, so element (i, j)
/// of x lives at x.data()[i * d + j] — the layout of a C-order numpy array. Embeddings are stored
/// as float32; solvers accumulate in double.

#include <cstdint>
#include <functional>
#include <vector>

#include <Eigen/Core>

namespace coreclean {

/// n × d float32 samples, row-major (numpy C order).
using RowMatrixXf = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
/// n × d float64, row-major; used for model parameters and solver work matrices.
using RowMatrixXd = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// A read-only view of caller-owned float32 samples; binds to RowMatrixXf and to Eigen::Map.
using MatrixRef = Eigen::Ref<const RowMatrixXf>;

/// Samples that a call reads in passes over blocks of rows, with a way to let go of the rows a
/// pass is done with. `release(begin, end)` may be empty (samples in memory); for a memory-mapped
/// file (io::SampleMatrix::streamed()) it drops rows [begin, end) from the process's resident
/// set — the page cache keeps them, so a later pass reads them back from memory, not from disk —
/// and the process's memory stays bounded by what it computes, not by the size of the file.
struct StreamedSamples {
  MatrixRef x;
  std::function<void(Eigen::Index begin, Eigen::Index end)> release;

  /// Calls release(begin, end) when there is one.
  void done_with(Eigen::Index begin, Eigen::Index end) const {
    if (release) release(begin, end);
  }
};

/// Class label of a sample, as the user wrote it (e.g. a COCO category id); not necessarily
/// contiguous or starting at 0.
using Label = std::int64_t;
/// One label per sample.
using Labels = std::vector<Label>;

/// A user-visible sample id (e.g. a COCO annotation id); stable across sessions.
using SampleId = std::int64_t;

}  // namespace coreclean

#endif  // CORECLEAN_CORE_TYPES_H_
