#ifndef CORECLEAN_PYTHON_COMMON_H_
#define CORECLEAN_PYTHON_COMMON_H_

// Shared pieces of the Python extension: numpy ↔ library conversions that never copy a
// C-contiguous float32 matrix, and the Context a Python call runs with (progress callback,
// Ctrl-C → cancellation).
//
// Arrays reach these functions already validated and converted by the pure-Python layer
// (coreclean/_arrays.py): float32 C-order matrices, int64 label and id vectors, float64
// weights. The bindings declare those types without pybind11's "forcecast"; a conversion the
// bindings cannot rule out (a non-contiguous view) is refused where a buffer is kept (FloatMatrix
// checks in Session.create).

#include <coreclean/core/blas.h>
#include <coreclean/core/context.h>
#include <coreclean/coreset/coreset_tree.h>
#include <coreclean/core/error.h>
#include <coreclean/core/types.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <memory>
#include <span>
#include <type_traits>
#include <vector>

namespace coreclean::python {

namespace py = pybind11;

/// A float32 matrix in C order (the only layout the library reads without a copy).
using FloatMatrix = py::array_t<float, py::array::c_style>;
/// An int64 vector (labels, ids).
using IntVector = py::array_t<std::int64_t, py::array::c_style>;
/// A float64 vector (weights).
using DoubleVector = py::array_t<double, py::array::c_style>;

/// A read-only view of a 2-d float32 C-order array: the library reads numpy's buffer in place.
/// Throws InvalidArgument naming `what` when the array is not 2-d.
Eigen::Map<const RowMatrixXf> matrix_view(const FloatMatrix& array, const char* what);

/// The elements of a 1-d int64 (float64) C-order array as a span over numpy's buffer, empty for
/// None. The span lives as long as `array`. Throws InvalidArgument naming `what` for any other
/// type or shape.
std::span<const std::int64_t> int_span(const py::object& array, const char* what);
std::span<const double> double_span(const py::object& array, const char* what);

/// Throws InvalidArgument naming `what` unless it has `rows` entries (one per row of X).
void require_length(std::size_t size, Eigen::Index rows, const char* what);

/// Copies into new numpy arrays (results the library owns).
py::array_t<float> to_numpy(const RowMatrixXf& m);
py::array_t<double> to_numpy(const RowMatrixXd& m);
py::array_t<double> to_numpy(const Eigen::VectorXd& v);
py::array_t<double> to_numpy(const std::vector<double>& v);
py::array_t<std::int64_t> to_numpy(const std::vector<std::int64_t>& v);

struct ProgressSink;

/// The Context of one Python call and what happened on the Python side while it ran.
///
/// `progress` (None or a callable(done, total, what)) receives progress at most ten times a
/// second. In every report the pending Python signals are checked (with the GIL): Ctrl-C during
/// a long call sets the context's cancel flag, so the library stops at its next check. A
/// callback that raises, a signal handler's exception (KeyboardInterrupt for Ctrl-C) and a
/// library warning turned into an error (`-W error`) are all kept and cancel the call; run()
/// raises the first of them once the call has returned or stopped — never lost, never replaced
/// by a generic cancellation.
class Call {
 public:
  /// Call only with the GIL held.
  Call(const py::object& progress, std::uint64_t seed, int threads);

  /// The context to pass to the library (may be used without the GIL).
  const Context& context() const { return context_; }

  /// Runs `f` with the GIL released, then raises what the Python side raised meanwhile, if
  /// anything; otherwise returns f's result. A Cancelled thrown because of such an exception
  /// becomes that exception.
  template <typename F>
  auto run(F&& f) {
    const ScopedSingleThreadedBlas blas;  // coreclean parallelises its own loops
    try {
      if constexpr (std::is_void_v<decltype(f())>) {
        {
          py::gil_scoped_release free;
          f();
        }
        raise_pending();
      } else {
        auto result = [&] {
          py::gil_scoped_release free;
          return f();
        }();
        raise_pending();
        return result;
      }
    } catch (const Cancelled&) {
      raise_pending();
      throw;
    }
  }

 private:
  /// Restores the kept Python exception, if any, and throws py::error_already_set.
  void raise_pending();

  Context context_;
  std::shared_ptr<ProgressSink> sink_;
};

/// The parameters of a coreset tree as the Python layer passes them (checked: InvalidArgument
/// names the first bad one).
coreset::CoresetTreeParams tree_params(const std::string& optimized_for, Eigen::Index chunk_size,
                                       Eigen::Index coreset_size, int sketch_dim,
                                       double atypical_weight, int cross_fit_folds,
                                       double cross_fit_c);

/// Runs `f` with the GIL released (a call that touches no Python object and reports no
/// progress), BLAS single-threaded as in Call::run.
template <typename F>
auto without_gil(F&& f) {
  const ScopedSingleThreadedBlas blas;
  py::gil_scoped_release free;
  return f();
}

}  // namespace coreclean::python

#endif  // CORECLEAN_PYTHON_COMMON_H_
