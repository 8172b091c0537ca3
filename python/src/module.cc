// The extension module `coreclean._coreclean`: the library's engine for the pure-Python package
// `coreclean` (python/coreclean/), which validates and converts arguments and holds the
// user-facing API.
//
// Errors: the library's exceptions become Python exceptions of the package's own classes, each
// a subclass of the built-in one a Python user expects:
//   InvalidArgument → coreclean.InvalidArgumentError (ValueError)
//   session::UndecidedBoxes → coreclean.UndecidedBoxesError (InvalidArgumentError; .ids, .batch)
//   FormatError     → coreclean.FormatError (ValueError)
//   IoError         → coreclean.IoError (OSError)
//   Cancelled       → KeyboardInterrupt (Ctrl-C while a call ran without the GIL)
//   InternalError and any other coreclean::Error → coreclean.CorecleanError (Exception)

#include <coreclean/core/blas.h>
#include <coreclean/core/error.h>
#include <coreclean/session/session.h>
#include <pybind11/stl.h>

#include "bindings.h"

namespace py = pybind11;

namespace {

PyObject* new_exception(py::module_& m, const char* name, PyObject* bases, const char* doc) {
  const std::string qualified = std::string("coreclean.") + name;
  PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases, nullptr);
  if (type == nullptr) throw py::error_already_set();
  m.add_object(name, py::handle(type));
  return type;
}

}  // namespace

PYBIND11_MODULE(_coreclean, m) {
  m.doc() = "coreclean's engine (C++). Use the package `coreclean`.";

  // Exception classes; PyErr_NewExceptionWithDoc takes a tuple of bases for several parents.
  static PyObject* error =
      new_exception(m, "CorecleanError", PyExc_Exception, "Base of coreclean's errors.");
  static PyObject* invalid =
      new_exception(m, "InvalidArgumentError",
                    py::make_tuple(py::handle(error), py::handle(PyExc_ValueError)).release().ptr(),
                    "An argument the call cannot accept; the message names it and its value.");
  static PyObject* undecided = new_exception(
      m, "UndecidedBoxesError", py::make_tuple(py::handle(invalid)).release().ptr(),
      "Session.apply() found boxes without a decision; .ids lists them, .batch names the batch. "
      "Nothing was applied.");
  static PyObject* format =
      new_exception(m, "FormatError",
                    py::make_tuple(py::handle(error), py::handle(PyExc_ValueError)).release().ptr(),
                    "A file's content is not what its format requires.");
  static PyObject* io = new_exception(
      m, "IoError", py::make_tuple(py::handle(error), py::handle(PyExc_OSError)).release().ptr(),
      "The operating system refused an operation.");

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const coreclean::session::UndecidedBoxes& e) {
      py::object instance =
          py::reinterpret_steal<py::object>(PyObject_CallFunction(undecided, "s", e.what()));
      if (!instance) throw py::error_already_set();
      instance.attr("ids") = e.ids();
      instance.attr("batch") = e.batch();
      PyErr_SetObject(undecided, instance.ptr());
    } catch (const coreclean::InvalidArgument& e) {
      PyErr_SetString(invalid, e.what());
    } catch (const coreclean::FormatError& e) {
      PyErr_SetString(format, e.what());
    } catch (const coreclean::IoError& e) {
      PyErr_SetString(io, e.what());
    } catch (const coreclean::Cancelled& e) {
      PyErr_SetString(PyExc_KeyboardInterrupt, e.what());
    } catch (const coreclean::Error& e) {
      PyErr_SetString(error, e.what());
    }
  });

  m.def("blas_core_name", &coreclean::blas_core_name,
        "The kernel family OpenBLAS chose for this CPU (e.g. 'SkylakeX', 'Prescott').");
  m.def("recommended_blas_core", &coreclean::recommended_blas_core,
        "The OPENBLAS_CORETYPE value that fits this CPU when OpenBLAS fell back to older "
        "kernels and the variable is not set; '' otherwise.");

  coreclean::python::bind_linear(m);
  coreclean::python::bind_detect(m);
  coreclean::python::bind_session(m);
  coreclean::python::bind_dist(m);
}
