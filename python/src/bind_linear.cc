// Python bindings of the coreset tree and the linear models (coreclean/coreset, coreclean/linear).

#include <coreclean/core/error.h>
#include <coreclean/coreset/coreset_tree.h>
#include <coreclean/coreset/near_duplicates.h>
#include <coreclean/linear/class_selection.h>
#include <coreclean/linear/logistic_regression.h>
#include <coreclean/linear/metrics.h>
#include <coreclean/linear/pca.h>
#include <fmt/format.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <sstream>
#include <string>

#include "bindings.h"
#include "common.h"

namespace coreclean::python {
namespace {

using coreset::CoresetTree;
using coreset::CoresetTreeParams;

py::dict update_report(const coreset::UpdateReport& r) {
  py::dict d;
  d["samples_changed"] = r.samples_changed;
  d["nodes_touched"] = r.nodes_touched;
  d["samples_rescored"] = r.samples_rescored;
  return d;
}

py::dict score_columns(const CoresetTree& tree) {
  const coreset::ScoreColumns c = without_gil([&] { return tree.score_columns(); });
  py::dict d;
  d["idx"] = to_numpy(c.id);
  d["label"] = to_numpy(c.label);
  d["importance"] = to_numpy(c.importance);
  d["misfit"] = to_numpy(c.misfit);
  d["atypical"] = to_numpy(c.atypical);
  d["suggested_label"] = to_numpy(c.suggested_label);
  py::array_t<bool> seen(static_cast<py::ssize_t>(c.seen.size()));
  std::copy(c.seen.begin(), c.seen.end(), seen.mutable_data());
  d["seen"] = seen;
  d["weight"] = to_numpy(c.weight);
  d["ridge"] = to_numpy(c.ridge);
  d["held_out"] = to_numpy(c.held_out);
  d["neighbour"] = to_numpy(c.neighbour);
  d["neighbour_label"] = to_numpy(c.neighbour_label);
  return d;
}

// class_size as the Python layer passes it: {label: ("count", n) | ("all", 0) | ("any", 0)}.
std::map<Label, coreset::ClassQuota> class_quotas(
    const std::map<Label, std::pair<std::string, std::int64_t>>& class_size) {
  std::map<Label, coreset::ClassQuota> out;
  for (const auto& [label, quota] : class_size) {
    coreset::ClassQuota q;
    if (quota.first == "count") {
      q.kind = coreset::ClassQuota::Kind::kCount;
      q.count = quota.second;
    } else if (quota.first == "all") {
      q.kind = coreset::ClassQuota::Kind::kAll;
    } else if (quota.first == "any") {
      q.kind = coreset::ClassQuota::Kind::kAny;
    } else {
      throw InvalidArgument(fmt::format("class_size[{}] = '{}' (must be a count, 'all' or 'any')",
                                        label, quota.first));
    }
    out[label] = q;
  }
  return out;
}

linear::LogisticRegressionParams lr_params(double c, bool fit_intercept,
                                           const std::string& class_weight, int max_iter,
                                           double tol) {
  linear::LogisticRegressionParams p;
  p.c = c;
  p.fit_intercept = fit_intercept;
  if (class_weight == "balanced") {
    p.class_weight = linear::ClassWeight::kBalanced;
  } else if (class_weight != "none") {
    throw InvalidArgument(
        fmt::format("class_weight = '{}' (must be None or 'balanced')", class_weight));
  }
  p.max_iter = max_iter;
  p.tol = tol;
  p.validate();
  return p;
}

// A tree as bytes (the tree file's), for pickling: written to and read from a temporary file.
py::bytes tree_bytes(const CoresetTree& tree) {
  std::mt19937_64 rng(std::random_device{}());
  const std::filesystem::path path = std::filesystem::temp_directory_path() /
                                     fmt::format("coreclean-tree-{:016x}.bin", rng());
  std::string data;
  {
    py::gil_scoped_release free;
    coreset::save_tree(tree, path);
    std::ifstream in(path, std::ios::binary);
    std::ostringstream buffer;
    buffer << in.rdbuf();
    data = buffer.str();
    std::filesystem::remove(path);
  }
  return py::bytes(data);
}

CoresetTree tree_from_bytes(const py::bytes& bytes) {
  std::mt19937_64 rng(std::random_device{}());
  const std::filesystem::path path = std::filesystem::temp_directory_path() /
                                     fmt::format("coreclean-tree-{:016x}.bin", rng());
  const std::string data = bytes;
  py::gil_scoped_release free;
  {
    std::ofstream out(path, std::ios::binary);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (!out) throw IoError(fmt::format("{}: cannot write", path.string()));
  }
  try {
    CoresetTree tree = coreset::load_tree(path);
    std::filesystem::remove(path);
    return tree;
  } catch (...) {
    std::filesystem::remove(path);
    throw;
  }
}

}  // namespace

void bind_linear(py::module_& m) {
  m.def(
      "near_duplicates",
      [](const FloatMatrix& x, const py::object& labels, const py::object& ids,
         const py::object& groups, double share, double min_cosine, const py::object& progress,
         std::uint64_t seed, int threads) {
        const auto xv = matrix_view(x, "X");
        const auto yv = int_span(labels, "labels");
        const auto iv = int_span(ids, "ids");
        const auto gv = int_span(groups, "groups");
        require_length(yv.size(), xv.rows(), "labels");
        if (!iv.empty()) require_length(iv.size(), xv.rows(), "ids");
        if (!gv.empty()) require_length(gv.size(), xv.rows(), "groups");
        std::vector<SampleId> default_ids;
        if (iv.empty()) {
          default_ids.resize(static_cast<std::size_t>(xv.rows()));
          std::iota(default_ids.begin(), default_ids.end(), 0);
        }
        std::vector<std::optional<std::int64_t>> images(gv.begin(), gv.end());
        const coreset::NearDuplicateSamples samples{
            iv.empty() ? std::span<const SampleId>(default_ids) : iv, yv, images, {}, nullptr};
        Call call(progress, seed, threads);
        const coreset::NearDuplicateReport report = call.run(
            [&] { return coreset::near_duplicate_findings(xv, samples, share, min_cosine, call.context()); });
        py::list out;
        for (const coreset::NearDuplicateFinding& f : report.findings) {
          py::dict d;
          d["annotation_id"] = f.id;
          d["other_annotation_id"] = f.other;
          d["check"] = std::string(coreset::near_duplicate_kind_name(f.kind));
          d["cosine"] = f.cosine;
          d["detail"] = f.detail;
          out.append(std::move(d));
        }
        return py::make_tuple(out, report.cosine);
      },
      py::arg("X"), py::arg("labels"), py::arg("ids").none(true), py::arg("groups").none(true),
      py::arg("share") = coreset::kNearDuplicateShare, py::arg("min_cosine") = 0.0,
      py::arg("progress") = py::none(), py::arg("seed") = 0, py::arg("threads") = 0,
      "Pairs of rows of different groups with near-identical embeddings (see near_duplicates.h): "
      "([{annotation_id, other_annotation_id, check, cosine, detail}], threshold).");

  // ---- CoresetTree -------------------------------------------------------------------------
  py::class_<CoresetTree>(m, "CoresetTree",
                          "The coreset tree (coreclean/coreset/coreset_tree.h). Use "
                          "coreclean.CoresetTreeServiceLG; this is its engine.")
      .def(py::init([](const std::string& optimized_for, Eigen::Index chunk_size,
                       Eigen::Index coreset_size, int sketch_dim, double atypical_weight,
                       int cross_fit_folds, double cross_fit_c) {
             return CoresetTree(tree_params(optimized_for, chunk_size, coreset_size, sketch_dim,
                                            atypical_weight, cross_fit_folds, cross_fit_c));
           }),
           py::arg("optimized_for") = "cleaning", py::arg("chunk_size") = 0,
           py::arg("coreset_size") = 0, py::arg("sketch_dim") = 256,
           py::arg("atypical_weight") = 0.01, py::arg("cross_fit_folds") = 5,
           py::arg("cross_fit_c") = 0.0)
      .def(
          "build",
          [](CoresetTree& tree, const FloatMatrix& x, const py::object& y, const py::object& w,
             const py::object& ids, const py::object& progress, std::uint64_t seed, int threads) {
            const auto xv = matrix_view(x, "X");
            const auto yv = int_span(y, "y");
            const auto wv = double_span(w, "sample_weight");
            const auto iv = int_span(ids, "indices");
            Call call(progress, seed, threads);
            call.run([&] { tree.build(xv, yv, wv, iv, call.context()); });
          },
          py::arg("X"), py::arg("y"), py::arg("sample_weight").none(true),
          py::arg("indices").none(true), py::arg("progress") = py::none(), py::arg("seed") = 0,
          py::arg("threads") = 0)
      .def(
          "append",
          [](CoresetTree& tree, const FloatMatrix& x, const py::object& y, const py::object& w,
             const py::object& ids, const py::object& progress, int threads) {
            const auto xv = matrix_view(x, "X");
            const auto yv = int_span(y, "y");
            const auto wv = double_span(w, "sample_weight");
            const auto iv = int_span(ids, "indices");
            Call call(progress, 0, threads);
            const coreset::UpdateReport r =
                call.run([&] { return tree.append(xv, yv, wv, iv, call.context()); });
            return update_report(r);
          },
          py::arg("X"), py::arg("y"), py::arg("sample_weight").none(true),
          py::arg("indices").none(true), py::arg("progress") = py::none(), py::arg("threads") = 0)
      .def(
          "important_samples",
          [](CoresetTree& tree, Eigen::Index size,
             const std::map<Label, std::pair<std::string, std::int64_t>>& class_size,
             const py::object& ignore, const py::object& select_from, bool ignore_seen,
             bool mark_seen) {
            coreset::ImportantSamplesQuery q;
            q.size = size;
            q.class_size = class_quotas(class_size);
            const auto ig = int_span(ignore, "ignore_indices");
            const auto sel = int_span(select_from, "select_from_indices");
            q.ignore_ids.assign(ig.begin(), ig.end());
            q.select_from_ids.assign(sel.begin(), sel.end());
            q.ignore_seen = ignore_seen;
            q.mark_seen = mark_seen;
            const coreset::ImportantSamples r =
                without_gil([&] { return tree.important_samples(q); });
            return py::make_tuple(to_numpy(r.ids), to_numpy(r.importance));
          },
          py::arg("size"), py::arg("class_size"), py::arg("ignore_indices").none(true),
          py::arg("select_from_indices").none(true), py::arg("ignore_seen"), py::arg("mark_seen"))
      .def(
          "set_seen",
          [](CoresetTree& tree, const py::object& ids, bool seen) {
            tree.set_seen(int_span(ids, "indices"), seen);
          },
          py::arg("indices"), py::arg("seen"))
      .def(
          "update_targets",
          [](CoresetTree& tree, const py::object& ids, const py::object& y) {
            const auto iv = int_span(ids, "indices");
            const auto yv = int_span(y, "y");
            const coreset::UpdateReport r =
                without_gil([&] { return tree.update_targets(iv, yv); });
            return update_report(r);
          },
          py::arg("indices"), py::arg("y"))
      .def(
          "apply_review",
          [](CoresetTree& tree, const py::object& relabel_ids, const py::object& labels,
             const py::object& remove_ids) {
            const auto rv = int_span(relabel_ids, "relabel_indices");
            const auto yv = int_span(labels, "y");
            const auto dv = int_span(remove_ids, "remove_indices");
            const coreset::UpdateReport r =
                without_gil([&] { return tree.apply_review(rv, yv, dv); });
            return update_report(r);
          },
          py::arg("relabel_indices"), py::arg("y"), py::arg("remove_indices"))
      .def(
          "remove_samples",
          [](CoresetTree& tree, const py::object& ids) {
            const auto iv = int_span(ids, "indices");
            const coreset::UpdateReport r = without_gil([&] { return tree.remove_samples(iv); });
            return update_report(r);
          },
          py::arg("indices"))
      .def(
          "update_features",
          [](CoresetTree& tree, const py::object& ids, const FloatMatrix& x) {
            const auto iv = int_span(ids, "indices");
            const auto xv = matrix_view(x, "X");
            const coreset::UpdateReport r =
                without_gil([&] { return tree.update_features(iv, xv); });
            return update_report(r);
          },
          py::arg("indices"), py::arg("X"))
      .def(
          "refresh",
          [](CoresetTree& tree, const py::object& progress, int threads) {
            Call call(progress, 0, threads);
            call.run([&] { tree.refresh(call.context()); });
          },
          py::arg("progress") = py::none(), py::arg("threads") = 0)
      .def("stale_updates", &CoresetTree::stale_updates)
      .def("scores", &score_columns, "Per-sample score columns (numpy arrays), build order.")
      .def(
          "labels_of",
          [](const CoresetTree& tree, const py::object& ids) {
            const auto iv = int_span(ids, "indices");
            std::vector<std::int64_t> out(iv.size());
            for (std::size_t j = 0; j < iv.size(); ++j) out[j] = tree.score(iv[j]).label;
            return to_numpy(out);
          },
          py::arg("indices"), "Current labels of the given samples.")
      .def(
          "held_out_probabilities",
          [](const CoresetTree& tree, SampleId id) {
            return to_numpy(tree.held_out_probabilities(id));
          },
          py::arg("index"))
      .def(
          "neighbours",
          [](const CoresetTree& tree, SampleId id) {
            const std::vector<coreset::Neighbour> list = tree.neighbours(id);
            std::vector<SampleId> ids;
            std::vector<double> sim;
            for (const auto& nb : list) {
              ids.push_back(nb.id);
              sim.push_back(nb.similarity);
            }
            return py::make_tuple(to_numpy(ids), to_numpy(sim));
          },
          py::arg("index"), "(ids, cosine similarities) of a sample's nearest neighbours.")
      .def(
          "fusion_weights",
          [](const CoresetTree& tree) {
            const coreset::FusionWeights w = tree.fusion_weights();
            py::dict d;
            d["ridge"] = w.ridge;
            d["held_out"] = w.held_out;
            d["neighbour"] = w.neighbour;
            return d;
          },
          "Weights of the fused views.")
      .def(
          "coreset",
          [](const CoresetTree& tree, int level) {
            const coreset::Coreset c = tree.coreset(level);
            return py::make_tuple(to_numpy(c.ids), to_numpy(c.weights));
          },
          py::arg("level") = 0)
      .def(
          "fit",
          [](const CoresetTree& tree, int level, double c, int max_iter, int threads) {
            linear::LogisticRegressionParams p;
            p.c = c;
            p.max_iter = max_iter;
            p.validate();
            Call call(py::none(), 0, threads);
            return call.run([&] { return tree.fit(p, level, call.context()); });
          },
          py::arg("level") = 0, py::arg("c") = 1.0, py::arg("max_iter") = 300,
          py::arg("threads") = 0)
      .def(
          "map_features",
          [](const CoresetTree& tree, const FloatMatrix& x) {
            const auto xv = matrix_view(x, "X");
            const RowMatrixXf phi = without_gil([&] { return tree.map_features(xv); });
            return to_numpy(phi);
          },
          py::arg("X"))
      .def("features", [](const CoresetTree& tree) { return to_numpy(tree.features()); })
      .def_property_readonly("size", &CoresetTree::size)
      .def_property_readonly("classes", [](const CoresetTree& t) { return to_numpy(t.classes()); })
      .def_property_readonly("num_leaves", &CoresetTree::num_leaves)
      .def_property_readonly("num_nodes", &CoresetTree::num_nodes)
      .def_property_readonly("chunk_size", &CoresetTree::chunk_size)
      .def_property_readonly("feature_dim", &CoresetTree::feature_dim)
      .def_property_readonly("optimized_for",
                             [](const CoresetTree& t) {
                               return t.params().optimized_for == coreset::OptimizedFor::kCleaning
                                          ? "cleaning"
                                          : "training";
                             })
      .def("class_names", &CoresetTree::class_names)
      .def("set_class_names", &CoresetTree::set_class_names, py::arg("names"))
      .def(
          "save",
          [](const CoresetTree& tree, const std::filesystem::path& path) {
            py::gil_scoped_release free;
            coreset::save_tree(tree, path);
          },
          py::arg("path"))
      .def_static(
          "load",
          [](const std::filesystem::path& path) {
            py::gil_scoped_release free;
            return coreset::load_tree(path);
          },
          py::arg("path"))
      .def("__eq__", [](const CoresetTree& a, const CoresetTree& b) { return a == b; })
      // Trees travel between processes (Dask workers, multiprocessing) as their file's bytes.
      .def(py::pickle([](const CoresetTree& tree) { return tree_bytes(tree); },
                      [](const py::bytes& bytes) { return tree_from_bytes(bytes); }));

  // ---- LogisticRegression ------------------------------------------------------------------
  py::class_<linear::LogisticRegression>(
      m, "LogisticRegression",
      "L2-regularised logistic regression with sample weights (coreclean/linear/"
      "logistic_regression.h); C as in scikit-learn.")
      .def(py::init([](double c, bool fit_intercept, const std::string& class_weight, int max_iter,
                       double tol) {
             return linear::LogisticRegression(
                 lr_params(c, fit_intercept, class_weight, max_iter, tol));
           }),
           py::arg("C") = 1.0, py::arg("fit_intercept") = true, py::arg("class_weight") = "none",
           py::arg("max_iter") = 100, py::arg("tol") = 1e-4)
      .def(
          "fit",
          [](linear::LogisticRegression& model, const FloatMatrix& x, const py::object& y,
             const py::object& w) {
            const auto xv = matrix_view(x, "X");
            const auto yv = int_span(y, "y");
            const auto wv = double_span(w, "sample_weight");
            Call call(py::none(), 0, 0);
            const linear::FitReport r =
                call.run([&] { return model.fit(xv, yv, wv, call.context()); });
            py::dict d;
            d["converged"] = r.converged;
            d["iterations"] = r.iterations;
            d["objective"] = r.objective;
            return d;
          },
          py::arg("X"), py::arg("y"), py::arg("sample_weight").none(true))
      .def(
          "predict_proba",
          [](const linear::LogisticRegression& model, const FloatMatrix& x) {
            const auto xv = matrix_view(x, "X");
            const RowMatrixXd p = without_gil([&] { return model.predict_proba(xv); });
            return to_numpy(p);
          },
          py::arg("X"))
      .def(
          "decision_function",
          [](const linear::LogisticRegression& model, const FloatMatrix& x) {
            return to_numpy(model.decision_function(matrix_view(x, "X")));
          },
          py::arg("X"))
      .def(
          "predict",
          [](const linear::LogisticRegression& model, const FloatMatrix& x) {
            return to_numpy(model.predict(matrix_view(x, "X")));
          },
          py::arg("X"))
      .def_property_readonly(
          "classes_", [](const linear::LogisticRegression& m) { return to_numpy(m.classes()); })
      .def_property_readonly("coef_",
                             [](const linear::LogisticRegression& m) { return to_numpy(m.coef()); })
      .def_property_readonly("intercept_", [](const linear::LogisticRegression& m) {
        return to_numpy(m.intercept());
      });

  m.def(
      "objective_value",
      [](const linear::LogisticRegression& model, const FloatMatrix& x, const py::object& y,
         const py::object& w) {
        return linear::logistic_objective_value(model, matrix_view(x, "X"), int_span(y, "y"),
                                                double_span(w, "sample_weight"));
      },
      py::arg("model"), py::arg("X"), py::arg("y"), py::arg("sample_weight").none(true),
      "The model's training objective on (X, y, weights) (logistic_regression.h).");

  // ---- metrics, folds, class selection ----------------------------------------------------
  m.def(
      "stratified_kfold",
      [](const py::object& y, int k, std::uint64_t seed) {
        const std::vector<int> f = linear::stratified_kfold(int_span(y, "y"), k, seed);
        return to_numpy(std::vector<std::int64_t>(f.begin(), f.end()));
      },
      py::arg("y"), py::arg("k"), py::arg("seed") = 0);
  m.def(
      "cross_val_auc",
      [](const FloatMatrix& x, const py::object& y, const py::object& w, int folds, double c,
         std::uint64_t seed) {
        const auto xv = matrix_view(x, "X");
        const auto yv = int_span(y, "y");
        const auto wv = double_span(w, "sample_weight");
        require_length(yv.size(), xv.rows(), "y");
        if (!wv.empty()) require_length(wv.size(), xv.rows(), "sample_weight");
        py::gil_scoped_release free;
        // Removed samples (weight 0) take no part, as in the session's AUC.
        std::vector<Eigen::Index> rows;
        for (Eigen::Index i = 0; i < xv.rows(); ++i)
          if (wv.empty() || wv[i] > 0.0) rows.push_back(i);
        RowMatrixXf xs(static_cast<Eigen::Index>(rows.size()), xv.cols());
        Labels ys(rows.size());
        for (std::size_t j = 0; j < rows.size(); ++j) {
          xs.row(static_cast<Eigen::Index>(j)) = xv.row(rows[j]);
          ys[j] = yv[rows[j]];
        }
        linear::LogisticRegressionParams p;
        p.c = c;
        p.max_iter = 300;
        const std::vector<int> fold = linear::stratified_kfold(ys, folds, seed);
        const RowMatrixXd proba = linear::cross_val_predict_proba(p, xs, ys, fold);
        Labels classes(ys);
        std::sort(classes.begin(), classes.end());
        classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
        return linear::roc_auc_ovr(proba, ys, classes, linear::AucAverage::kMacro);
      },
      py::arg("X"), py::arg("y"), py::arg("sample_weight").none(true), py::arg("folds") = 5,
      py::arg("C") = 1.0, py::arg("seed") = 0,
      "k-fold cross-validated macro one-vs-rest AUC of a logistic regression.");
  m.def(
      "select_class_to_clean",
      [](const FloatMatrix& x, const py::object& y, const std::optional<FloatMatrix>& x_test,
         const py::object& y_test, int pca_components, int folds, std::uint64_t seed,
         const py::object& progress) {
        const auto xv = matrix_view(x, "X");
        const auto yv = int_span(y, "y");
        std::optional<MatrixRef> xt;
        if (x_test) xt.emplace(matrix_view(*x_test, "X_test"));
        const auto ytv = int_span(y_test, "y_test");
        linear::ClassSelectionParams p;
        p.pca_components = pca_components;
        p.folds = folds;
        p.validate();
        Call call(progress, seed, 0);
        const linear::ClassSelection s = call.run(
            [&] { return linear::select_class_to_clean(xv, yv, xt, ytv, p, call.context()); });
        py::dict d;
        d["class_of_interest"] = s.class_of_interest;
        d["confused_with"] = s.confused_with;
        d["confusion"] = s.confusion;
        d["classes"] = to_numpy(s.classes);
        const RowMatrixXd cm = s.normalized_confusion;
        d["normalized_confusion"] = to_numpy(cm);
        d["used_test_split"] = s.used_test_split;
        return d;
      },
      py::arg("X"), py::arg("y"), py::arg("X_test") = py::none(), py::arg("y_test") = py::none(),
      py::arg("pca_components") = 256, py::arg("folds") = 5, py::arg("seed") = 0,
      py::arg("progress") = py::none());
}

}  // namespace coreclean::python
