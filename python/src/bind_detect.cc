// Python bindings of COCO files and the model-free box checks (coreclean/detect).

#include <coreclean/detect/box_checks.h>
#include <coreclean/detect/coco.h>
#include <coreclean/embed/dataset_embedding.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <array>
#include <optional>
#include <string>

#include "bindings.h"
#include "common.h"

namespace coreclean::python {

void bind_detect(py::module_& m) {
  py::class_<detect::CocoDataset>(
      m, "CocoDataset",
      "A parsed COCO file (coreclean/detect/coco.h): images and categories as lists of dicts, "
      "annotations as numpy columns.")
      .def_property_readonly("images",
                             [](const detect::CocoDataset& d) {
                               py::list out;
                               for (const auto& im : d.images) {
                                 py::dict e;
                                 e["id"] = im.id;
                                 e["file_name"] = im.file_name;
                                 e["width"] = im.width;
                                 e["height"] = im.height;
                                 out.append(e);
                               }
                               return out;
                             })
      .def_property_readonly("categories",
                             [](const detect::CocoDataset& d) {
                               py::list out;
                               for (const auto& c : d.categories) {
                                 py::dict e;
                                 e["id"] = c.id;
                                 e["name"] = c.name;
                                 e["supercategory"] = c.supercategory;
                                 out.append(e);
                               }
                               return out;
                             })
      .def_property_readonly("annotations",
                             [](const detect::CocoDataset& d) {
                               const auto n = static_cast<py::ssize_t>(d.annotations.size());
                               py::array_t<std::int64_t> id(n), image_id(n), category_id(n);
                               py::array_t<double> bbox({n, py::ssize_t{4}}), area(n);
                               py::array_t<bool> iscrowd(n);
                               for (py::ssize_t i = 0; i < n; ++i) {
                                 const auto& a = d.annotations[static_cast<std::size_t>(i)];
                                 id.mutable_at(i) = a.id;
                                 image_id.mutable_at(i) = a.image_id;
                                 category_id.mutable_at(i) = a.category_id;
                                 bbox.mutable_at(i, 0) = a.bbox.x;
                                 bbox.mutable_at(i, 1) = a.bbox.y;
                                 bbox.mutable_at(i, 2) = a.bbox.w;
                                 bbox.mutable_at(i, 3) = a.bbox.h;
                                 area.mutable_at(i) = a.area;
                                 iscrowd.mutable_at(i) = a.iscrowd;
                               }
                               py::dict out;
                               out["id"] = id;
                               out["image_id"] = image_id;
                               out["category_id"] = category_id;
                               out["bbox"] = bbox;
                               out["area"] = area;
                               out["iscrowd"] = iscrowd;
                               return out;
                             })
      .def("__len__", [](const detect::CocoDataset& d) { return d.annotations.size(); });

  m.def(
      "read_coco",
      [](const std::filesystem::path& path) {
        py::gil_scoped_release free;
        return detect::read_coco(path);
      },
      py::arg("path"));

  m.def(
      "check_boxes",
      [](const detect::CocoDataset& dataset, const std::optional<std::filesystem::path>& images,
         double min_side, double max_aspect, double duplicate_iou) {
        detect::BoxCheckParams p;
        p.min_side = min_side;
        p.max_aspect = max_aspect;
        p.duplicate_iou = duplicate_iou;
        p.images_dir = images;
        const std::vector<detect::BoxFinding> findings =
            without_gil([&] { return detect::check_boxes(dataset, p); });
        py::list out;
        for (const auto& f : findings) {
          py::dict e;
          e["annotation_id"] = f.annotation_id;
          e["image_id"] = f.image_id;
          e["check"] = std::string(detect::box_check_name(f.check));
          e["detail"] = f.detail;
          e["other_annotation_id"] =
              f.other_annotation_id ? py::object(py::int_(*f.other_annotation_id)) : py::none();
          out.append(e);
        }
        return out;
      },
      py::arg("coco"), py::arg("images") = py::none(), py::arg("min_side") = 4.0,
      py::arg("max_aspect") = 10.0, py::arg("duplicate_iou") = 0.9);

  m.def(
      "embed_dataset",
      [](const std::filesystem::path& coco, const std::filesystem::path& images,
         const std::filesystem::path& out, const std::filesystem::path& model,
         const std::string& output_layer, const std::string& input_name, int input_width,
         int input_height, const std::array<double, 3>& mean, double scale,
         const std::array<double, 3>& stddev, bool swap_rb, int batch_size, double padding, int pca,
         double test_fraction, bool skip_bad, std::uint64_t seed, const py::object& progress) {
        embed::EmbedDatasetOptions o;
        o.coco = coco;
        o.images = images;
        o.out = out;
        o.embedder.model = model;
        o.embedder.output_layer = output_layer;
        o.embedder.input_name = input_name;
        o.embedder.input_width = input_width;
        o.embedder.input_height = input_height;
        o.embedder.mean = mean;
        o.embedder.scale = scale;
        o.embedder.stddev = stddev;
        o.embedder.swap_rb = swap_rb;
        o.embedder.batch_size = batch_size;
        o.padding = padding;
        o.pca = pca;
        o.test_fraction = test_fraction;
        o.skip_bad = skip_bad;
        Call call(progress, seed, 0);
        const embed::EmbedDatasetResult r =
            call.run([&] { return embed::embed_dataset(o, call.context()); });
        py::dict d;
        d["boxes"] = r.boxes;
        d["resumed_boxes"] = r.resumed_boxes;
        d["seconds"] = r.seconds;
        d["embedder"] = r.embedder;
        d["dim"] = r.dim;
        d["train_rows"] = r.train_rows;
        d["test_rows"] = r.test_rows;
        d["images"] = r.images;
        d["classes"] = r.classes;
        py::list skipped;
        for (const auto& b : r.skipped) {
          py::dict e;
          e["annotation_id"] = b.annotation_id;
          e["image"] = b.image;
          e["reason"] = b.reason;
          skipped.append(e);
        }
        d["skipped"] = skipped;
        d["features_dir"] = r.features_dir;
        d["pca_dir"] = r.pca_dir.empty() ? py::object(py::none()) : py::cast(r.pca_dir);
        d["pca_explained_variance"] = r.pca_explained_variance;
        return d;
      },
      py::arg("coco"), py::arg("images"), py::arg("out"), py::arg("model"), py::arg("output_layer"),
      py::arg("input_name"), py::arg("input_width"), py::arg("input_height"), py::arg("mean"),
      py::arg("scale"), py::arg("stddev"), py::arg("swap_rb"), py::arg("batch_size"),
      py::arg("padding"), py::arg("pca"), py::arg("test_fraction"), py::arg("skip_bad"),
      py::arg("seed"), py::arg("progress"));
}

}  // namespace coreclean::python
