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
        if isinstance(features, (tuple, list)):
            if len(features) not in (2, 3):
                raise InvalidArgumentError(f"features must be a folder, (X, y) or (X, y, ids); got a "
                                           f"sequence of {len(features)}")
            x = _arrays.features(features[0], "X")
            y = _arrays.int_vector(features[1], "y", x.shape[0])
            ids = None if len(features) == 2 or features[2] is None else \
                _arrays.int_vector(features[2], "ids", x.shape[0])
            names = {int(k): str(v) for k, v in (class_names or {}).items()}
            s = _engine.Session.create_from_arrays(
                os.fspath(path), x, y, ids, names, coco_path, images_path, str(class_of_interest),
                classes, guidelines, int(folds), int(random_state), _progress.resolve(progress))
            return cls(path, _engine_session=s)
        if class_names:
            raise InvalidArgumentError("class_names is for arrays; a features folder names its "
                                       "classes in classes.json")
        s = _engine.Session.create(os.fspath(path), os.fspath(features), coco_path, images_path,
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
