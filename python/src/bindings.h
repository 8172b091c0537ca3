#ifndef CORECLEAN_PYTHON_BINDINGS_H_
#define CORECLEAN_PYTHON_BINDINGS_H_

// The parts of the extension module `coreclean._coreclean`, one per library area.

#include <pybind11/pybind11.h>

namespace coreclean::python {

/// CoresetTree, LogisticRegression, metrics and class selection.
void bind_linear(pybind11::module_& m);
/// COCO files and the model-free box checks; the dataset embedding.
void bind_detect(pybind11::module_& m);
/// The cleaning session and its report.
void bind_session(pybind11::module_& m);
/// The distributed build: a process group written in Python, build_distributed.
void bind_dist(pybind11::module_& m);

}  // namespace coreclean::python

#endif  // CORECLEAN_PYTHON_BINDINGS_H_
