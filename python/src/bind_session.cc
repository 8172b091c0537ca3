// Python bindings of the cleaning session (coreclean/session) and its report.

#include <coreclean/core/error.h>
#include <coreclean/io/feature_set.h>
#include <coreclean/report/report.h>
#include <coreclean/session/batch_export.h>
#include <coreclean/session/session.h>
#include <fmt/format.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "bindings.h"
#include "common.h"

namespace coreclean::python {
namespace {

using session::Session;

session::BatchSelection parse_selection(const std::string& text) {
  if (text == "importance") return session::BatchSelection::kImportance;
  if (text == "random") return session::BatchSelection::kRandom;
  if (text == "findings") return session::BatchSelection::kFindings;
  throw InvalidArgument(
      fmt::format("selection = '{}' (must be 'importance', 'random' or 'findings')", text));
}

const char* selection_name(session::BatchSelection s) {
  switch (s) {
    case session::BatchSelection::kImportance:
      return "importance";
    case session::BatchSelection::kRandom:
      return "random";
    case session::BatchSelection::kFindings:
      return "findings";
  }
  return "importance";
}

py::dict batch_dict(const Session& s, const session::Batch& b,
                    const std::filesystem::path& folder) {
  const auto n = static_cast<py::ssize_t>(b.items.size());
  py::array_t<std::int64_t> id(n), label(n), suggested(n);
  py::array_t<double> importance(n), misfit(n), atypical(n);
  for (py::ssize_t i = 0; i < n; ++i) {
    const session::BatchItem& it = b.items[static_cast<std::size_t>(i)];
    id.mutable_at(i) = it.id;
    label.mutable_at(i) = it.label;
    suggested.mutable_at(i) = it.suggested_label;
    importance.mutable_at(i) = it.importance;
    misfit.mutable_at(i) = it.misfit;
    atypical.mutable_at(i) = it.atypical;
  }
  py::dict d;
  d["number"] = b.number;
  d["applied"] = b.applied;
  d["selection"] = selection_name(b.selection);
  d["folder"] = folder.empty() ? py::object(py::none()) : py::cast(folder);
  d["idx"] = id;
  d["label"] = label;
  d["importance"] = importance;
  d["misfit"] = misfit;
  d["atypical"] = atypical;
  d["suggested_label"] = suggested;
  (void)s;
  return d;
}

py::dict metrics_dict(const session::IterationMetrics& m) {
  py::dict d;
  d["iteration"] = m.iteration;
  d["auc"] = m.auc;
  d["reviewed"] = m.reviewed;
  d["relabelled"] = m.relabelled;
  d["deleted"] = m.deleted;
  d["kept"] = m.kept;
  d["seconds"] = m.seconds;
  d["importance"] = to_numpy(m.importance);
  return d;
}

py::dict status_dict(const Session& s) {
  const session::SessionStatus st = s.status();
  py::dict d;
  d["class_of_interest"] = st.class_of_interest;
  d["class_of_interest_name"] = s.class_name(st.class_of_interest);
  d["confused_with"] = st.confused_with;
  d["samples"] = st.samples;
  d["class_size"] = st.class_size;
  d["reviewed"] = st.reviewed;
  d["exported"] = st.exported;
  d["relabelled"] = st.relabelled;
  d["deleted"] = st.deleted;
  d["unseen"] = st.unseen;
  d["audited"] = st.audited;
  d["audit_fixed"] = st.audit_fixed;
  d["batches"] = st.batches;
  d["open_batch"] = st.open_batch ? py::object(py::int_(*st.open_batch)) : py::none();
  d["pending"] = st.pending;
  d["flagged"] = st.flagged;
  d["flagged_reviewed"] = st.flagged_reviewed;
  d["flagged_fixed"] = st.flagged_fixed;
  py::list its;
  for (const auto& m : st.iterations) its.append(metrics_dict(m));
  d["iterations"] = its;
  d["plateaued"] = st.plateaued;
  return d;
}

session::Decision make_decision(const Session& s, SampleId id, const std::string& kind,
                                const py::object& new_label, const std::string& reviewer) {
  const auto parsed = session::parse_decision_kind(kind);
  if (!parsed)
    throw InvalidArgument(fmt::format(
        "decision = '{}' for sample {} (must be 'keep', 'relabel' or 'delete')", kind, id));
  session::Decision d;
  d.id = id;
  d.kind = *parsed;
  d.reviewer = reviewer;
  if (*parsed == session::DecisionKind::kRelabel) {
    if (new_label.is_none())
      throw InvalidArgument(fmt::format("decision 'relabel' for sample {} needs new_label", id));
    // A class id, or a class name (or id written as text) the session knows.
    d.new_label = py::isinstance<py::int_>(new_label)
                      ? new_label.cast<Label>()
                      : s.find_class(py::str(new_label).cast<std::string>());
  } else if (!new_label.is_none()) {
    throw InvalidArgument(
        fmt::format("new_label = {} for sample {}: only 'relabel' takes a new label",
                    std::string(py::repr(new_label)), id));
  }
  return d;
}

}  // namespace

void bind_session(py::module_& m) {
  py::class_<Session>(m, "Session",
                      "A cleaning session folder (coreclean/session/session.h); use "
                      "coreclean.Session.")
      .def_static(
          "create",
          [](const std::filesystem::path& dir, const std::filesystem::path& features_dir,
             const py::object& x, const py::object& y, const py::object& ids,
             const std::map<Label, std::string>& class_names, const std::filesystem::path& coco,
             const std::filesystem::path& images, const std::string& class_of_interest,
             const std::vector<std::string>& classes, const std::string& guidelines, int folds,
             std::uint64_t seed, const py::object& progress) {
            session::SessionOptions o;
            o.features = features_dir;
            o.coco = coco;
            o.images = images;
            o.class_of_interest = class_of_interest;
            o.classes = classes;
            o.guidelines = guidelines;
            o.folds = folds;
            Call call(progress, seed, 0);
            if (x.is_none())
              return call.run([&] { return Session::create(dir, o, call.context()); });
            // Arrays: the matrix views numpy's buffer (no copy), so it must be float32 C-order
            // already (a conversion here would be freed under the view); the array is released
            // with the GIL.
            if (!FloatMatrix::check_(x))
              throw InvalidArgument("X must be a float32 C-contiguous numpy array");
            const auto xv = matrix_view(py::reinterpret_borrow<FloatMatrix>(x), "X");
            const auto yv = int_span(y, "y");
            const auto iv = int_span(ids, "ids");
            io::FeatureSet features;
            auto keep = std::shared_ptr<const void>(new py::object(x), [](const void* p) {
              py::gil_scoped_acquire gil;
              delete static_cast<const py::object*>(p);
            });
            features.x_train = io::SampleMatrix(std::move(keep), xv.data(), xv.rows(), xv.cols());
            features.y_train.assign(yv.begin(), yv.end());
            if (iv.empty()) {
              features.ids.resize(yv.size());
              for (std::size_t i = 0; i < yv.size(); ++i)
                features.ids[i] = static_cast<SampleId>(i);
            } else {
              features.ids.assign(iv.begin(), iv.end());
            }
            for (const auto& [label, name] : class_names) features.class_names[label] = name;
            return call.run([&] { return Session::create(dir, features, o, call.context()); });
          },
          py::arg("path"), py::arg("features_dir"), py::arg("X"), py::arg("y"), py::arg("ids"),
          py::arg("class_names"), py::arg("coco"), py::arg("images"), py::arg("class_of_interest"),
          py::arg("classes"), py::arg("guidelines"), py::arg("folds"), py::arg("seed"),
          py::arg("progress"),
          "A features folder (X None), or arrays (features_dir empty) stored in the session "
          "folder.")
      .def_static(
          "open",
          [](const std::filesystem::path& dir) {
            py::gil_scoped_release free;
            return Session::open(dir);
          },
          py::arg("path"))
      .def(
          "next",
          [](Session& s, std::int64_t n, const std::string& selection, bool write_files,
             const py::object& progress) {
            Call call(progress, 0, 0);
            session::Batch b;
            std::filesystem::path folder;
            const session::BatchSelection how = parse_selection(selection);
            call.run([&] {
              b = s.next_batch(n, call.context(), how);
              if (!b.items.empty() && write_files)
                folder = session::export_batch(s, b, call.context());
            });
            return batch_dict(s, b, folder);
          },
          py::arg("n"), py::arg("selection") = "importance", py::arg("write_files") = true,
          py::arg("progress") = py::none())
      .def("open_batch",
           [](const Session& s) -> py::object {
             const auto b = s.open_batch();
             if (!b) return py::none();
             return batch_dict(s, *b, s.batch_dir(b->number));
           })
      .def(
          "decide",
          [](Session& s, SampleId id, const std::string& kind, const py::object& new_label,
             const std::string& reviewer) {
            s.record_decision(make_decision(s, id, kind, new_label, reviewer));
          },
          py::arg("index"), py::arg("decision"), py::arg("new_label") = py::none(),
          py::arg("reviewer") = "")
      .def("undo", &Session::undo_decision, py::arg("index"))
      .def("pending",
           [](const Session& s) {
             py::list out;
             for (const auto& d : s.pending_decisions()) {
               py::dict e;
               e["idx"] = d.id;
               e["decision"] = session::to_string(d.kind);
               e["new_label"] = d.kind == session::DecisionKind::kRelabel
                                    ? py::object(py::int_(d.new_label))
                                    : py::none();
               e["reviewer"] = d.reviewer;
               out.append(e);
             }
             return out;
           })
      .def(
          "apply",
          [](Session& s, const std::optional<std::filesystem::path>& csv,
             const std::string& undecided, bool read_batch_csv, const py::object& progress) {
            session::ApplyOptions o;
            o.csv = csv;
            o.read_batch_csv = read_batch_csv;
            if (undecided == "refuse") {
              o.undecided = session::UndecidedPolicy::kRefuse;
            } else {
              const auto policy = session::parse_undecided_policy(undecided);
              if (!policy)
                throw InvalidArgument(fmt::format(
                    "undecided = '{}' (must be 'refuse', 'keep' or 'return')", undecided));
              o.undecided = *policy;
            }
            Call call(progress, 0, 0);
            const session::ApplyReport r = call.run([&] { return s.apply(o, call.context()); });
            py::dict d;
            d["batch"] = r.batch;
            d["imported_rows"] = r.imported_rows;
            d["csv"] = r.csv.empty() ? py::object(py::none()) : py::cast(r.csv);
            d["returned"] = r.returned;
            d["kept_undecided"] = r.kept_undecided;
            d["metrics"] = metrics_dict(r.metrics);
            return d;
          },
          py::arg("csv") = py::none(), py::arg("undecided") = "refuse",
          py::arg("read_batch_csv") = true, py::arg("progress") = py::none())
      .def("status", &status_dict)
      .def(
          "export_coco",
          [](Session& s, const std::filesystem::path& out) {
            py::gil_scoped_release free;
            s.export_coco(out);
          },
          py::arg("path"))
      .def(
          "export_labels",
          [](Session& s, const std::filesystem::path& out, Label deleted_label) {
            py::gil_scoped_release free;
            s.export_labels(out, deleted_label);
          },
          py::arg("path"), py::arg("deleted_label") = -1)
      .def(
          "corrected_labels",
          [](const Session& s, Label deleted_label) {
            return to_numpy(s.corrected_labels(deleted_label));
          },
          py::arg("deleted_label") = -1)
      .def(
          "report",
          [](Session& s, const std::filesystem::path& html) {
            const report::ReportFiles files =
                without_gil([&] { return report::write_report(s, html); });
            return files.html;
          },
          py::arg("path"))
      .def("findings",
           [](const Session& s) {
             py::list out;
             for (const auto& f : s.findings()) {
               py::dict e;
               e["idx"] = f.id;
               e["check"] = f.check;
               e["detail"] = f.detail;
               e["other"] = f.other ? py::object(py::int_(*f.other)) : py::none();
               out.append(e);
             }
             return out;
           })
      .def("class_name", &Session::class_name, py::arg("label"))
      .def("find_class", &Session::find_class, py::arg("name_or_id"))
      .def_property_readonly("classes", [](const Session& s) { return to_numpy(s.classes()); })
      .def_property_readonly("class_of_interest", &Session::class_of_interest)
      .def_property_readonly("path", &Session::dir)
      .def("batch_dir", &Session::batch_dir, py::arg("number"));
}

}  // namespace coreclean::python
