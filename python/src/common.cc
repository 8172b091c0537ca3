#include "common.h"

#include <coreclean/core/error.h>
#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>

namespace coreclean::python {

Eigen::Map<const RowMatrixXf> matrix_view(const FloatMatrix& array, const char* what) {
  if (array.ndim() != 2)
    throw InvalidArgument(
        fmt::format("{} must be a 2-d array, got {} dimensions", what, array.ndim()));
  return {array.data(), static_cast<Eigen::Index>(array.shape(0)),
          static_cast<Eigen::Index>(array.shape(1))};
}

namespace {

template <typename T>
std::span<const T> span_of(const py::object& object, const char* what) {
  if (object.is_none()) return {};
  using Array = py::array_t<T, py::array::c_style>;
  if (!Array::check_(object))
    throw InvalidArgument(fmt::format("{} must be a C-contiguous {} numpy array, got {}", what,
                                      std::is_same_v<T, double> ? "float64" : "int64",
                                      std::string(py::str(py::type::of(object)))));
  const auto array = py::reinterpret_borrow<Array>(object);
  if (array.ndim() != 1)
    throw InvalidArgument(
        fmt::format("{} must be a 1-d array, got {} dimensions", what, array.ndim()));
  return {array.data(), static_cast<std::size_t>(array.shape(0))};
}

template <typename T>
py::array_t<T> vector_to_numpy(const T* data, std::size_t n) {
  py::array_t<T> out(static_cast<py::ssize_t>(n));
  std::copy(data, data + n, out.mutable_data());
  return out;
}

template <typename Matrix>
py::array_t<typename Matrix::Scalar> matrix_to_numpy(const Matrix& m) {
  py::array_t<typename Matrix::Scalar> out(
      {static_cast<py::ssize_t>(m.rows()), static_cast<py::ssize_t>(m.cols())});
  std::copy(m.data(), m.data() + m.size(), out.mutable_data());
  return out;
}

}  // namespace

// What a Context's progress sink and logger share between the copies the library makes: copying
// a std::function that held a py::object would touch Python reference counts without the GIL.
struct ProgressSink {
  py::object callback;  // None or callable(done, total, what)
  CancelFlag cancel;
  std::mutex mutex;
  std::chrono::steady_clock::time_point last{};
  // The first Python exception raised while the call ran (type, value, traceback), or empty.
  py::object error_type, error_value, error_traceback;

  ProgressSink(py::object cb, CancelFlag flag) : callback(std::move(cb)), cancel(std::move(flag)) {}
  ~ProgressSink() {
    py::gil_scoped_acquire gil;
    callback = py::object();
    error_type = error_value = error_traceback = py::object();
  }

  // Keeps the exception set in Python (the first one wins) and stops the call. GIL held.
  void keep_error() {
    PyObject *type = nullptr, *value = nullptr, *traceback = nullptr;
    PyErr_Fetch(&type, &value, &traceback);
    PyErr_NormalizeException(&type, &value, &traceback);
    if (!error_type) {
      error_type = py::reinterpret_steal<py::object>(type);
      error_value = py::reinterpret_steal<py::object>(value);
      error_traceback = py::reinterpret_steal<py::object>(traceback);
    } else {
      Py_XDECREF(type);
      Py_XDECREF(value);
      Py_XDECREF(traceback);
    }
    cancel = true;
  }

  void warn(std::string_view message) {
    py::gil_scoped_acquire gil;
    if (PyErr_WarnEx(PyExc_RuntimeWarning, std::string(message).c_str(), 1) != 0) keep_error();
  }

  void report(std::int64_t done, std::int64_t total, std::string_view what) {
    {
      std::lock_guard lock(mutex);
      const auto now = std::chrono::steady_clock::now();
      if (done < total && now - last < std::chrono::milliseconds(100)) return;
      last = now;
    }
    py::gil_scoped_acquire gil;
    // Ctrl-C (or a signal handler that raises) during a call that released the GIL: stop the
    // call at its next check; the exception is raised when the call returns.
    if (PyErr_CheckSignals() != 0) {
      keep_error();
      return;
    }
    if (callback.is_none() || error_type) return;
    try {
      callback(done, total, std::string(what));
    } catch (py::error_already_set& e) {
      // A failing callback must not unwind through the library's loops: the call is stopped,
      // and the callback's exception is raised when it returns.
      e.restore();
      keep_error();
    }
  }

  // Restores the kept exception (GIL held); false when there is none.
  bool restore() {
    if (!error_type) return false;
    PyErr_Restore(error_type.release().ptr(), error_value.release().ptr(),
                  error_traceback.release().ptr());
    return true;
  }
};

std::span<const std::int64_t> int_span(const py::object& array, const char* what) {
  return span_of<std::int64_t>(array, what);
}
std::span<const double> double_span(const py::object& array, const char* what) {
  return span_of<double>(array, what);
}

void require_length(std::size_t size, Eigen::Index rows, const char* what) {
  if (static_cast<Eigen::Index>(size) != rows)
    throw InvalidArgument(fmt::format("{} has {} entries for {} rows of X", what, size, rows));
}

py::array_t<float> to_numpy(const RowMatrixXf& m) { return matrix_to_numpy(m); }
py::array_t<double> to_numpy(const RowMatrixXd& m) { return matrix_to_numpy(m); }
py::array_t<double> to_numpy(const Eigen::VectorXd& v) {
  return vector_to_numpy(v.data(), static_cast<std::size_t>(v.size()));
}
py::array_t<double> to_numpy(const std::vector<double>& v) {
  return vector_to_numpy(v.data(), v.size());
}
py::array_t<std::int64_t> to_numpy(const std::vector<std::int64_t>& v) {
  return vector_to_numpy(v.data(), v.size());
}

Call::Call(const py::object& progress, std::uint64_t seed, int threads) {
  context_.seed = seed;
  context_.threads = threads;
  sink_ = std::make_shared<ProgressSink>(progress, context_.cancel);
  context_.progress = [sink = sink_](std::int64_t done, std::int64_t total, std::string_view what) {
    sink->report(done, total, what);
  };
  context_.logger = [sink = sink_](LogLevel level, std::string_view message) {
    if (level == LogLevel::kWarning) sink->warn(message);
  };
}

void Call::raise_pending() {
  // A signal that came after the last progress report is not lost either.
  if (PyErr_CheckSignals() != 0) sink_->keep_error();
  if (sink_->restore()) throw py::error_already_set();
}

coreset::CoresetTreeParams tree_params(const std::string& optimized_for, Eigen::Index chunk_size,
                                       Eigen::Index coreset_size, int sketch_dim,
                                       double atypical_weight, int cross_fit_folds,
                                       double cross_fit_c) {
  coreset::CoresetTreeParams p;
  if (optimized_for == "cleaning") {
    p.optimized_for = coreset::OptimizedFor::kCleaning;
  } else if (optimized_for == "training") {
    p.optimized_for = coreset::OptimizedFor::kTraining;
  } else {
    throw InvalidArgument(
        fmt::format("optimized_for = '{}' (must be 'cleaning' or 'training')", optimized_for));
  }
  p.chunk_size = chunk_size;
  p.coreset_size = coreset_size;
  p.sketch_dim = sketch_dim;
  p.atypical_weight = atypical_weight;
  p.cross_fit_folds = cross_fit_folds;
  p.cross_fit_c = cross_fit_c;
  p.validate();
  return p;
}

}  // namespace coreclean::python
