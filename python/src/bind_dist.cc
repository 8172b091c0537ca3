// Python bindings of the distributed build: a process group written in Python (the Dask front
// end's, coreclean/dask.py) and the tree built by such a group.

#include <coreclean/core/collective.h>
#include <coreclean/core/error.h>
#include <coreclean/coreset/coreset_tree.h>
#include <fmt/format.h>
#include <pybind11/stl.h>

#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bindings.h"
#include "common.h"

namespace coreclean::python {
namespace {

using coreset::CoresetTree;

// A Collective whose members are written in Python: sum(values) and broadcast(bytes, root)
// change the numpy views they get in place — views of the caller's memory, valid only during
// the call (keep a copy, never the view) —, gather(part, root) returns the joined bytes on root.
// Called from the build's own thread, which holds no GIL: each call takes it.
class PyCollective : public Collective {
 public:
  [[nodiscard]] int rank() const override { PYBIND11_OVERRIDE_PURE(int, Collective, rank); }
  [[nodiscard]] int size() const override { PYBIND11_OVERRIDE_PURE(int, Collective, size); }

  void sum(std::span<double> values) const override {
    py::gil_scoped_acquire gil;
    call("sum", py::array_t<double>({static_cast<py::ssize_t>(values.size())}, values.data(),
                                    py::capsule(values.data(), [](void*) {})));
  }

  void broadcast(std::span<std::byte> bytes, int root) const override {
    py::gil_scoped_acquire gil;
    call("broadcast",
         py::array_t<std::uint8_t>({static_cast<py::ssize_t>(bytes.size())},
                                   reinterpret_cast<std::uint8_t*>(bytes.data()),
                                   py::capsule(bytes.data(), [](void*) {})),
         root);
  }

  void gather(std::span<const std::byte> part, std::span<std::byte> whole,
              int root) const override {
    py::gil_scoped_acquire gil;
    const py::bytes sent(reinterpret_cast<const char*>(part.data()), part.size());
    const py::object got = call("gather", sent, root);
    if (rank() != root) return;
    const std::string_view joined = got.cast<std::string_view>();
    if (joined.size() != whole.size())
      throw InvalidArgument(fmt::format("process group: gather returned {} bytes; the parts hold {}",
                                        joined.size(), whole.size()));
    std::memcpy(whole.data(), joined.data(), joined.size());
  }

 private:
  template <typename... Args>
  py::object call(const char* name, Args&&... args) const {
    const py::function f = py::get_override(static_cast<const Collective*>(this), name);
    if (!f) throw InternalError(fmt::format("process group: {}() is not implemented", name));
    return f(std::forward<Args>(args)...);
  }
};

}  // namespace

void bind_dist(py::module_& m) {
  py::class_<Collective, PyCollective>(
      m, "Collective",
      "A process group for build_distributed (coreclean/core/collective.h), written in Python: "
      "subclass it and implement rank(), size(), sum(values) (float64 array, summed over the "
      "group in place, the same bits everywhere), broadcast(data, root) (uint8 array, root's "
      "copied in place) and gather(part, root) (bytes; returns the parts joined in rank order "
      "on root, None elsewhere).")
      .def(py::init<>())
      .def("rank", &Collective::rank)
      .def("size", &Collective::size);

  m.def(
      "build_distributed",
      [](const FloatMatrix& share, Eigen::Index first, const std::optional<FloatMatrix>& fit_rows,
         const py::object& y, const py::object& w, const py::object& ids, const Collective& group,
         const std::string& optimized_for, Eigen::Index chunk_size, Eigen::Index coreset_size,
         int sketch_dim, double atypical_weight, int cross_fit_folds, double cross_fit_c,
         std::uint64_t seed, int threads) -> std::optional<CoresetTree> {
        const coreset::CoresetTreeParams p = tree_params(optimized_for, chunk_size, coreset_size,
                                                         sketch_dim, atypical_weight,
                                                         cross_fit_folds, cross_fit_c);
        const auto xv = matrix_view(share, "share");
        std::optional<MatrixRef> fv;
        if (fit_rows) fv.emplace(matrix_view(*fit_rows, "fit_rows"));
        const auto yv = int_span(y, "y");
        const auto wv = double_span(w, "sample_weight");
        const auto iv = int_span(ids, "indices");
        Call call(py::none(), seed, threads);
        return call.run([&] {
          return coreset::build_distributed(p, StreamedSamples{xv, {}}, first, fv, yv, wv, iv,
                                            call.context(), group);
        });
      },
      py::arg("share"), py::arg("first"), py::arg("fit_rows").none(true), py::arg("y"),
      py::arg("sample_weight").none(true), py::arg("indices").none(true), py::arg("group"),
      py::arg("optimized_for") = "cleaning", py::arg("chunk_size") = 0,
      py::arg("coreset_size") = 0, py::arg("sketch_dim") = 256, py::arg("atypical_weight") = 0.01,
      py::arg("cross_fit_folds") = 5, py::arg("cross_fit_c") = 0.0, py::arg("seed") = 0,
      py::arg("threads") = 0,
      "One process's part of a tree built by a group (coreset::build_distributed over a share): "
      "the tree on process 0, None elsewhere.");

  m.def(
      "build_share",
      [](Eigen::Index n, Eigen::Index chunk_size, int rank, int ranks) {
        coreset::CoresetTreeParams p;
        p.chunk_size = chunk_size;
        return coreset::build_share(n, p, rank, ranks);
      },
      py::arg("n"), py::arg("chunk_size"), py::arg("rank"), py::arg("ranks"),
      "Rows [begin, end) process `rank` of `ranks` works on (whole leaves).");
  m.def(
      "feature_map_fit_rows",
      [](Eigen::Index n, Eigen::Index d, int sketch_dim, std::uint64_t seed) {
        return to_numpy(coreset::feature_map_fit_rows(n, d, sketch_dim, seed));
      },
      py::arg("n"), py::arg("d"), py::arg("sketch_dim"), py::arg("seed"),
      "Rows the feature map is fitted on (ascending; empty when d <= sketch_dim).");
}

}  // namespace coreclean::python
