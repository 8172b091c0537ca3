"""The detection loop: COCO files, box checks, and the cleaning session — the same session
folder the CLI (`coreclean init | next | apply | status | export | report`) reads and writes, so
a session can be driven from Python and the shell alike."""

from __future__ import annotations

import os
import pathlib

import numpy as np

from . import _arrays, _progress
from . import _coreclean as _engine
from ._coreclean import InvalidArgumentError


def read_coco(path):
    """Parses a COCO annotation file: .images / .categories (lists of dicts), .annotations
    (numpy columns id, image_id, category_id, bbox (n × 4), area, iscrowd)."""
    return _engine.read_coco(os.fspath(path))


def check_boxes(coco, images=None, *, min_side=4.0, max_aspect=10.0, duplicate_iou=0.9):
    """Model-free box checks (degenerate, tiny, outside, aspect, duplicate, missing_image,
    unknown_category): a list of {annotation_id, image_id, check, detail, other_annotation_id}.
    coco: a path or what read_coco returned; images: the images folder (checks that files
    exist) or None."""
    if not isinstance(coco, _engine.CocoDataset):
        coco = read_coco(coco)
    return _engine.check_boxes(coco, None if images is None else os.fspath(images), min_side,
                               max_aspect, duplicate_iou)


class Features:
    """A features folder (`embed`'s output, or `coreclean embed`'s), its arrays memory-mapped:
    X (float32, read in place by every call), y, ids, boxes (image_id, x, y, w, h per row),
    X_test / y_test when there is a test split, class_names {label: name}, path; and, when
    embed() made it, `info` (counts, dimension, skipped boxes, seconds)."""

    def __init__(self, path, info=None):
        import json
        self.path = pathlib.Path(path)
        if not (self.path / "X_train.npy").is_file():
            raise InvalidArgumentError(f"{self.path} is not a features folder (no X_train.npy)")
        load = lambda name: np.load(self.path / name, mmap_mode="r") if (self.path / name).is_file() else None
        self.X = load("X_train.npy")
        self.y = load("y_train.npy")
        self.ids = load("ids.npy")
        self.boxes = load("boxes.npy")
        self.X_test = load("X_test.npy")
        self.y_test = load("y_test.npy")
        names = self.path / "classes.json"
        self.class_names = {int(k): v for k, v in json.loads(names.read_text()).items()} \
            if names.is_file() else {}
        self.info = info or {}

    def __len__(self):
        return self.X.shape[0]

    def __fspath__(self):
        return os.fspath(self.path)

    def __repr__(self):
        return f"Features({str(self.path)!r}: {self.X.shape[0]} × {self.X.shape[1]})"


def embed(coco, images, model=None, *, out, input_size=224, mean=(0.0, 0.0, 0.0), scale=1 / 255,
          std=(1.0, 1.0, 1.0), swap_rb=False, output_layer="", input_name="", batch_size=32,
          padding=0.0, pca=0, test_fraction=0.0, skip_bad=False, random_state=0, progress=None):
    """Crops every box (iscrowd = 0) of a COCO file, embeds the crops — with the ONNX model
    `model`, or coreclean's built-in features when None — and writes the features folder `out`
    (new, empty, or written by an earlier embed: an interrupted run resumes). Returns Features.

    input_size: side, or (width, height); mean / std per channel in the network's order, pixel
    units; scale multiplies after the mean; swap_rb feeds RGB instead of OpenCV's BGR (most
    models need it). padding: context around each box (fraction of its size per side). pca: also
    write out/pca<K>/. test_fraction: share of the images whose boxes form a test split.
    skip_bad: skip boxes of unreadable images instead of failing (listed in Features.info).
    """
    if isinstance(input_size, (int, np.integer)):
        width = height = int(input_size)
    else:
        width, height = (int(v) for v in input_size)
    info = _engine.embed_dataset(
        os.fspath(coco), os.fspath(images), os.fspath(out), os.fspath(model) if model else "",
        output_layer, input_name, width, height, [float(v) for v in mean], float(scale),
        [float(v) for v in std], bool(swap_rb), int(batch_size), float(padding), int(pca),
        float(test_fraction), bool(skip_bad), int(random_state), _progress.resolve(progress))
    return Features(out, info)


class Session:
    """A cleaning session folder. Create one with Session.create, reopen it with Session(path).

    The loop: next(n) → decide(id, ...) for each box (or fill in the batch's review.csv) →
    apply() → next(n) … ; status(), export_coco(path), report(path) at any time.
    """

    def __init__(self, path, *, _engine_session=None):
        self._s = _engine_session or _engine.Session.open(os.fspath(path))

    @classmethod
    def create(cls, path, features, *, coco=None, images=None, class_of_interest="auto",
               classes=None, guidelines="", folds=5, random_state=0, progress=None,
               class_names=None):
        """Creates the session folder `path` (new or empty): picks the class to clean ("auto":
        the largest off-diagonal cell of a logistic regression's confusion matrix), builds the
        coreset tree and records iteration 0.

        features: a features folder (`coreclean embed`'s output: X_train.npy, y_train.npy,
        ids.npy, …), or the arrays (X, y) or (X, y, ids) — they are then stored in
        `path/features/`, so the session folder is self-contained. class_names: {label: name}
        for arrays (a features folder has classes.json). coco/images: the COCO file and images folder the features were made from
        (labels and class names then come from the COCO file, batches get renderings, and
        export_coco works). classes: keep only these classes (names or ids).
        """
        classes = [str(c) for c in (classes or [])]
        coco_path = os.fspath(coco) if coco else ""
        images_path = os.fspath(images) if images else ""
        if isinstance(features, Features):
            features = features.path
        if isinstance(features, (tuple, list)):
            if len(features) not in (2, 3):
                raise InvalidArgumentError(f"features must be a folder, (X, y) or (X, y, ids); got a "
                                           f"sequence of {len(features)}")
            x = _arrays.features(features[0], "X")
            y = _arrays.int_vector(features[1], "y", x.shape[0])
            ids = None if len(features) == 2 or features[2] is None else \
                _arrays.int_vector(features[2], "ids", x.shape[0])
            names = {int(k): str(v) for k, v in (class_names or {}).items()}
            folder = ""
        else:
            if class_names:
                raise InvalidArgumentError("class_names is for arrays; a features folder names its "
                                           "classes in classes.json")
            folder, x, y, ids, names = os.fspath(features), None, None, None, {}
        s = _engine.Session.create(os.fspath(path), folder, x, y, ids, names, coco_path, images_path,
                                   str(class_of_interest), classes, guidelines, int(folds),
                                   int(random_state), _progress.resolve(progress))
        return cls(path, _engine_session=s)

    def next(self, n, *, selection="importance", write_files=True):
        """The open batch, or a new one of n unseen boxes of the class (selection "importance":
        the most important; "random": an audit; "findings": boxes the box checks flagged).
        Writes the batch's files (review.csv, renderings) unless write_files=False. Returns a
        dict: number, folder, idx, label, importance, misfit, atypical, suggested_label (an
        empty idx when every box has been reviewed)."""
        n = _arrays.positive_int(n, "n")
        return self._s.next(n, selection, bool(write_files), None)

    def decide(self, idx, decision, new_label=None, *, reviewer=""):
        """Records a decision on a box of the open batch: "keep", "relabel" (new_label: a class
        id or name) or "delete". Replaces an earlier decision on the same box."""
        self._s.decide(int(idx), str(decision), new_label, reviewer)

    def undo(self, idx):
        """Removes the pending decision on a box; False when there was none."""
        return self._s.undo(int(idx))

    def pending(self):
        """The decisions recorded for the open batch."""
        return self._s.pending()

    def apply(self, *, csv=None, undecided="refuse"):
        """Applies the open batch (labels, deletions, the tree updated incrementally, the AUC of
        the iteration). Boxes without a decision: "refuse" raises UndecidedBoxesError (nothing
        applied), "keep" counts them as right, "return" sends them back to the unseen. csv: a
        filled-in review CSV to import first (by default the batch's own review.csv when any
        of its rows holds a decision)."""
        return self._s.apply(None if csv is None else os.fspath(csv), str(undecided), True, None)

    def status(self):
        """Counts, the class of interest, and every iteration's metrics."""
        return self._s.status()

    def export_coco(self, path):
        """Writes the corrected COCO file (never over an input or a file the session did not write)."""
        self._s.export_coco(os.fspath(path))

    def export_labels(self, path, deleted_label=-1):
        """Writes the corrected labels of every row of the features as an int64 .npy file."""
        self._s.export_labels(os.fspath(path), int(deleted_label))

    def corrected_labels(self, deleted_label=-1):
        """The corrected labels of every row of the features (deleted boxes: deleted_label)."""
        return self._s.corrected_labels(int(deleted_label))

    def report(self, path):
        """Writes the HTML report (and its CSV files beside it); returns its path."""
        return pathlib.Path(self._s.report(os.fspath(path)))

    def findings(self):
        """The box checks' findings on the session's boxes."""
        return self._s.findings()

    @property
    def path(self):
        return pathlib.Path(self._s.path)

    @property
    def classes(self):
        return self._s.classes

    @property
    def class_of_interest(self):
        return self._s.class_of_interest

    def class_name(self, label):
        return self._s.class_name(int(label))

    def __repr__(self):
        st = self.status()
        return (f"Session({str(self.path)!r}: class {st['class_of_interest_name']!r}, "
                f"{st['reviewed']} of {st['class_size']} reviewed, {st['batches']} batches)")
