#ifndef CORECLEAN_PYTHON_COMMON_H_
#define CORECLEAN_PYTHON_COMMON_H_

// Shared pieces of the Python extension: numpy ↔ library conversions that never copy a
// C-contiguous float32 matrix, and the Context a Python call runs with (progress callback,
// Ctrl-C → cancellation).
//
// Arrays reach these functions already validated and converted by the pure-Python layer
// (coreclean/_arrays.py): float32 C-order matrices, int64 label and id vectors, float64
// weights. The signatures below accept only those types (no pybind11 "forcecast"), so a
// conversion can never happen silently here.

#include <coreclean/core/context.h>
#include <coreclean/core/types.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <span>
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

/// Copies into new numpy arrays (results the library owns).
py::array_t<float> to_numpy(const RowMatrixXf& m);
py::array_t<double> to_numpy(const RowMatrixXd& m);
py::array_t<double> to_numpy(const Eigen::VectorXd& v);
py::array_t<double> to_numpy(const std::vector<double>& v);
py::array_t<std::int64_t> to_numpy(const std::vector<std::int64_t>& v);

/// Runs `call` with the GIL released (a long library call that touches no Python object) and
/// returns its result.
template <typename Call>
auto without_gil(Call&& call) {
  py::gil_scoped_release free;
  return call();
}

/// The Context of one Python call. `progress` (None or a callable(done, total, what)) receives
/// progress at most ten times a second; in every progress report the pending Python signals are
/// checked (with the GIL), so Ctrl-C during a long call cancels it: the library throws
/// coreclean::Cancelled, which the module turns into KeyboardInterrupt. Call only with the GIL
/// held; the returned Context may then be used without it.
Context make_context(const py::object& progress, std::uint64_t seed, int threads);

}  // namespace coreclean::python

#endif  // CORECLEAN_PYTHON_COMMON_H_
