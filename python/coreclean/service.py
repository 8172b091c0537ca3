"""CoresetTreeServiceLG: the reference coreset service's API over coreclean's coreset tree.

The reference workflow's code (build once, get_cleaning_samples, update_targets /
remove_samples, repeat) runs on this class after changing its import. docs/python.md maps every
call and says where coreclean differs.
"""

from __future__ import annotations

import json
import os
import pathlib
import warnings

import numpy as np

from . import _arrays, _progress
from ._coreclean import CoresetTree, InvalidArgumentError, LogisticRegression

_FORMAT = "coreclean-service"
_FORMAT_VERSION = 1


def _save_name(name):
    """The folder name of a save: a plain name, never a path that leaves dir_path."""
    name = "coreset_service" if name is None else str(name)
    if not name or name in (".", "..") or "/" in name or os.sep in name:
        raise InvalidArgumentError(f"name = {name!r} (must be a plain folder name)")
    return name


def _save_npy(path, array):
    with open(path, "wb") as f:  # np.save(path) would append ".npy" to the temporary name
        np.save(f, array)


class CoresetTreeServiceLG:
    """A coreset tree over (X, y) whose per-sample importance ranks the samples a reviewer should
    look at (optimized_for="cleaning") or that trains a weighted logistic regression on a small
    subset (optimized_for="training").

    Parameters
    ----------
    optimized_for : "cleaning" or "training"
    chunk_size : samples per leaf; None = automatic (max(512, n / 32)).
    coreset_size : training trees: samples kept per node; None = automatic (chunk_size / 2).
    n_classes, n_instances : accepted for compatibility with the reference service; coreclean
        reads both from the data (a mismatch with the data raises InvalidArgumentError).
    random_state : seed of every random choice (folds, sketches, coreset sampling).
    sketch_dim : width of the feature map (wider inputs are reduced by PCA).
    cross_fit_folds : folds of the held-out logistic regressions in the cleaning importance.
    progress : None (a tqdm bar when tqdm is installed and stderr is a terminal), False, or a
        callable(done, total, what).
    threads : worker threads of the engine (0 = all cores).
    """

    def __init__(self, *, optimized_for="cleaning", chunk_size=None, coreset_size=None,
                 n_classes=None, n_instances=None, random_state=None, sketch_dim=256,
                 atypical_weight=0.01, cross_fit_folds=5, progress=None, threads=0):
        if optimized_for not in ("cleaning", "training"):
            raise InvalidArgumentError(
                f"optimized_for = {optimized_for!r} (must be 'cleaning' or 'training')")
        self.optimized_for = optimized_for
        self.chunk_size = _arrays.positive_int(chunk_size, "chunk_size", allow_none=True)
        self.coreset_size = _arrays.positive_int(coreset_size, "coreset_size", allow_none=True)
        self.n_classes = _arrays.positive_int(n_classes, "n_classes", allow_none=True)
        self.n_instances = _arrays.positive_int(n_instances, "n_instances", allow_none=True)
        if random_state is not None and (isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)) or random_state < 0):
            raise InvalidArgumentError(f"random_state = {random_state!r} (must be None or an int >= 0)")
        self.random_state = random_state
        self.progress = progress
        self.threads = threads
        self._params = dict(optimized_for=optimized_for, chunk_size=self.chunk_size or 0,
                            coreset_size=self.coreset_size or 0, sketch_dim=sketch_dim,
                            atypical_weight=atypical_weight, cross_fit_folds=cross_fit_folds)
        self._tree = None
        self._codec = None
        self._blocks = []        # the user's feature arrays, in build order (not copied)
        self._owned = []         # per block: True when it is a copy of ours (free to edit)
        self._block_starts = []  # first row of each block
        self._ids = None         # int64 ids in build order
        self._id_order = None    # argsort of _ids, for id → row lookups
        self._model = None

    # ---- building ---------------------------------------------------------------------------
    def build(self, X, y, sample_weight=None, indices=None):
        """Builds the tree over every sample; returns self.

        X: n × d numbers (float32 C-order is read in place; other dtypes/orders are converted
        once). y: n labels (integers are kept as they are; other labels are coded). sample_weight:
        n non-negative weights or None. indices: n unique int64 ids (e.g. COCO annotation ids) or
        None for 0..n-1; every other call names samples by these ids.
        """
        x = _arrays.features(X, "X")
        n = x.shape[0]
        codec = _arrays.LabelCodec(y, "y")
        labels = codec.encode(y, "y", n)
        w = _arrays.weights(sample_weight, "sample_weight", n)
        ids = np.arange(n, dtype=np.int64) if indices is None else _arrays.int_vector(indices, "indices", n)
        if self.n_instances is not None and self.n_instances != n:
            raise InvalidArgumentError(f"n_instances = {self.n_instances} but X has {n} rows")
        if self.n_classes is not None and self.n_classes != len(np.unique(labels)):
            raise InvalidArgumentError(
                f"n_classes = {self.n_classes} but y has {len(np.unique(labels))} classes")
        tree = CoresetTree(**self._params)
        tree.build(x, labels, w, ids, progress=_progress.resolve(self.progress),
                   seed=self.random_state or 0, threads=self.threads)
        # Only a finished build replaces the service's state: a refused one leaves it as it was.
        self._tree = tree
        self._codec = codec
        self._blocks = [x]
        self._owned = [_arrays.is_copy(x, X)]
        self._block_starts = [0]
        self._set_ids(ids)
        self._model = None
        return self

    def partial_build(self, X, y, sample_weight=None, indices=None):
        """Adds samples to a built tree without rebuilding it (new leaves; the internal nodes
        above are re-summed, the new samples scored): the data arrived later or in parts.
        Builds the tree when there is none yet. Returns self."""
        if self._tree is None:
            return self.build(X, y, sample_weight, indices)
        x = _arrays.features(X, "X")
        m = x.shape[0]
        labels = self._codec.encode(y, "y", m)
        w = _arrays.weights(sample_weight, "sample_weight", m)
        n0 = self._tree.size
        if indices is None:
            start = int(self._ids.max()) + 1 if self._ids.size else 0
            ids = np.arange(start, start + m, dtype=np.int64)
        else:
            ids = _arrays.int_vector(indices, "indices", m)
        self._tree.append(x, labels, w, ids, progress=_progress.resolve(self.progress),
                          threads=self.threads)
        self._blocks.append(x)
        self._owned.append(_arrays.is_copy(x, X))
        self._block_starts.append(n0)
        self._set_ids(np.concatenate([self._ids, ids]))
        self._model = None
        return self

    # ---- queries ----------------------------------------------------------------------------
    def get_cleaning_samples(self, size=None, class_size=None, ignore_indices=None,
                             select_from_indices=None, select_from_function=None,
                             ignore_seen_samples=True):
        """The samples a reviewer should look at, highest importance first.

        size: how many (all candidates when None and class_size is None). class_size: {label:
        count | "all" | "any"} — a count takes that many of the class, "all" every candidate of
        it, "any" lets the class compete with the other "any" classes for what is left of size;
        classes not listed are not returned. ignore_indices: never return these ids;
        select_from_indices: only these ids; select_from_function(indices, X, y) → the ids (or a
        boolean mask over `indices`) to select from. ignore_seen_samples: skip samples already
        seen and mark the returned ones seen.

        Returns {"idx", "X", "y", "importance"} (numpy arrays).
        """
        tree = self._built()
        n = tree.size
        if size is not None:
            size = _arrays.positive_int(size, "size")
        quotas = {}
        if class_size is not None:
            if not isinstance(class_size, dict):
                raise TypeError(f"class_size must be a dict {{label: count | 'all' | 'any'}}, got {class_size!r}")
            for label, q in class_size.items():
                code = self._codec.encode_one(label, f"class_size key {label!r}")
                if isinstance(q, str) and q in ("all", "any"):
                    quotas[code] = (q, 0)
                elif isinstance(q, (int, np.integer)) and not isinstance(q, bool) and q >= 0:
                    quotas[code] = ("count", int(q))
                else:
                    raise InvalidArgumentError(
                        f"class_size[{label!r}] = {q!r} (must be a count >= 0, 'all' or 'any')")
            has_any = any(q[0] == "any" for q in quotas.values())
            if size is None and has_any:
                raise InvalidArgumentError("class_size has 'any' classes but size is None: 'any' "
                                           "classes share what is left of size")
            if size is not None and not has_any:
                # The reference's rule: with a size, what the listed classes leave of it is
                # taken from the classes not listed.
                for code in np.unique(tree.scores()["label"]):
                    quotas.setdefault(int(code), ("any", 0))
        if size is None:
            size = 0 if quotas else n
        ignore = None if ignore_indices is None else self._known(ignore_indices, "ignore_indices")
        select = None if select_from_indices is None else self._known(select_from_indices, "select_from_indices")
        if select_from_function is not None:
            chosen = self._select_by_function(select_from_function)
            select = chosen if select is None else np.intersect1d(select, chosen)
            if select.size == 0:
                return self._result(np.empty(0, np.int64), np.empty(0))
        if select is not None and select.size == 0:
            return self._result(np.empty(0, np.int64), np.empty(0))
        ids, importance = tree.important_samples(size, quotas, ignore, select,
                                                 bool(ignore_seen_samples), bool(ignore_seen_samples))
        return self._result(ids, importance)

    def get_important_samples(self, *args, **kwargs):
        """Deprecated alias of get_cleaning_samples (the reference service's older name)."""
        warnings.warn("get_important_samples is deprecated; use get_cleaning_samples",
                      DeprecationWarning, stacklevel=2)
        return self.get_cleaning_samples(*args, **kwargs)

    def set_seen_indication(self, seen_flag=True, indices=None):
        """Marks samples seen (or unseen with seen_flag=False); indices None = every sample."""
        tree = self._built()
        ids = self._ids if indices is None else self._known(indices, "indices")
        tree.set_seen(ids, bool(seen_flag))

    # ---- updates (incremental: only the affected leaves and their paths to the root) --------
    def update_targets(self, indices, y):
        """Changes the labels of samples (to classes the tree knows). Returns what it touched."""
        tree = self._built()
        ids = self._known(indices, "indices")
        labels = self._codec.encode(y, "y", ids.shape[0])
        self._model = None
        return tree.update_targets(ids, labels)

    def update_features(self, indices, X):
        """Replaces the features of samples (same width as the build). The arrays given to
        build / partial_build are never modified: the service edits its own copy of a block."""
        tree = self._built()
        ids = self._known(indices, "indices")
        x = _arrays.features(X, "X")
        if x.shape[0] != ids.shape[0]:
            raise InvalidArgumentError(f"X has {x.shape[0]} rows for {ids.shape[0]} indices")
        if x.shape[1] != self._blocks[0].shape[1]:
            raise InvalidArgumentError(f"X has {x.shape[1]} columns, the tree was built on "
                                       f"{self._blocks[0].shape[1]}")
        rows = self._rows(ids)
        block_of = np.searchsorted(self._block_starts, rows, side="right") - 1
        # Copies first, so that a failure leaves the tree and the service's features in step.
        for b in np.unique(block_of):
            if not self._owned[b] or not self._blocks[b].flags.writeable:
                self._blocks[b] = np.array(self._blocks[b], dtype=np.float32, order="C")
                self._owned[b] = True
        report = tree.update_features(ids, x)
        for j, (row, b) in enumerate(zip(rows, block_of)):
            self._blocks[b][row - self._block_starts[b]] = x[j]
        self._model = None
        return report

    def remove_samples(self, indices):
        """Removes samples (weight 0): they keep their slot and are never returned again."""
        tree = self._built()
        self._model = None
        return tree.remove_samples(self._known(indices, "indices"))

    def filter_out_samples(self, filter_function):
        """Removes the samples that filter_function(indices, X, y) names: it returns their ids or
        a boolean mask over `indices` (True = remove)."""
        chosen = self._select_by_function(filter_function)
        if chosen.size:
            self.remove_samples(chosen)
        return chosen

    def refresh(self):
        """Makes every score exact again (refits the held-out models; see the tree's docs)."""
        self._built().refresh(progress=_progress.resolve(self.progress), threads=self.threads)

    # ---- scores, coreset, model -------------------------------------------------------------
    def scores(self):
        """Per-sample columns in build order: idx, label, importance, misfit, atypical,
        suggested_label, seen, weight, then the views' losses ridge, held_out, neighbour and the
        neighbours' majority label neighbour_label — a pandas DataFrame when pandas is
        installed, else a dict of numpy arrays."""
        columns = self._built().scores()
        for name in ("label", "suggested_label", "neighbour_label"):
            columns[name] = self._codec.decode(columns[name])
        try:
            import pandas
        except ImportError:  # pandas is optional
            return columns
        return pandas.DataFrame(columns)

    def fusion_weights(self):
        """The weights of the fused views: {"ridge", "held_out", "neighbour"} (0 = view absent)."""
        return self._built().fusion_weights()

    def get_coreset(self, level=0):
        """The weighted coreset (training trees): {"idx", "X", "y", "w", "data": (idx, X, y)};
        level 0 = the root's, larger levels union the coresets of that many levels below."""
        ids, w = self._built().coreset(int(level))
        out = self._result(ids, None)
        out.pop("importance")
        out["w"] = w
        out["data"] = (out["idx"], out["X"], out["y"])  # the reference service's layout
        return out

    def fit(self, level=0, model=None, **params):
        """Trains on the coreset: coreclean's weighted logistic regression by default (params:
        C, max_iter), or the given scikit-learn-style estimator (fit(X, y, sample_weight=w)),
        on the user's features. Returns the model; predict / predict_proba use it."""
        tree = self._built()
        unknown = set(params) - {"C", "max_iter"}
        if unknown:
            raise TypeError(f"fit() got unexpected parameters {sorted(unknown)} (coreclean's "
                            "model takes C and max_iter; pass model= for another estimator)")
        if model is None:
            if self.optimized_for != "training":
                raise InvalidArgumentError("fit() trains on the coreset of a training tree: build "
                                           "with optimized_for='training'")
            self._model = ("tree", tree.fit(level=int(level), c=float(params.get("C", 1.0)),
                                            max_iter=int(params.get("max_iter", 300)),
                                            threads=self.threads))
            return self._model[1]
        core = self.get_coreset(level)
        model.fit(core["X"], core["y"], sample_weight=core["w"])
        self._model = ("user", model)
        return model

    def predict_proba(self, X):
        """Class probabilities of the model fit() trained (columns in sorted class order)."""
        kind, model = self._fitted()
        x = _arrays.features(X, "X")
        return model.predict_proba(self._tree.map_features(x) if kind == "tree" else x)

    def predict(self, X):
        """The most probable class of each sample under the model fit() trained."""
        kind, model = self._fitted()
        x = _arrays.features(X, "X")
        if kind == "tree":
            return self._codec.decode(model.predict(self._tree.map_features(x)))
        return model.predict(x)

    # ---- persistence ------------------------------------------------------------------------
    def save(self, dir_path, name=None, override=False):
        """Saves the service to dir_path/<name> (a folder: the tree, the features, the ids and
        the settings). Refuses to replace an existing save unless override=True; never touches
        anything else. Returns the folder's path."""
        self._built()
        folder = pathlib.Path(dir_path) / _save_name(name)
        meta_path = folder / "service.json"
        if folder.exists():
            if not override:
                raise FileExistsError(f"{folder} exists; pass override=True to replace a save")
            if any(folder.iterdir()) and not meta_path.is_file():
                raise InvalidArgumentError(f"{folder} is not a coreclean service save; nothing "
                                           "was written")
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"format": _FORMAT, "version": _FORMAT_VERSION, "params": self._params,
                "random_state": self.random_state,
                "labels": None if self._codec.integral else self._codec.classes.tolist()}
        # Every file goes to a temporary name first and replaces the old one only when all are
        # written: a save over an earlier one (even the one this service was loaded from, whose
        # X.npy is memory-mapped) is never left half old, half new.
        staged = []
        try:
            staged.append(self._stage(folder, "tree.bin", lambda p: self._tree.save(str(p))))
            x = np.concatenate(self._blocks) if len(self._blocks) > 1 else self._blocks[0]
            staged.append(self._stage(folder, "X.npy", lambda p: _save_npy(p, x)))
            staged.append(self._stage(folder, "ids.npy", lambda p: _save_npy(p, self._ids)))
            staged.append(self._stage(folder, "service.json",
                                      lambda p: p.write_text(json.dumps(meta, indent=2) + "\n")))
        except BaseException:
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)
            raise
        for tmp, final in staged:  # service.json last: it marks a complete save
            os.replace(tmp, final)
        return folder

    @staticmethod
    def _stage(folder, name, write):
        tmp = folder / f".{name}.tmp-{os.getpid()}"
        write(tmp)
        return tmp, folder / name

    @classmethod
    def load(cls, dir_path, name=None):
        """Loads a service saved by save()."""
        folder = pathlib.Path(dir_path) / _save_name(name)
        meta_path = folder / "service.json"
        if not meta_path.is_file():
            raise FileNotFoundError(f"{meta_path} not found: not a saved coreclean service")
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != _FORMAT or meta.get("version", 0) > _FORMAT_VERSION:
            raise InvalidArgumentError(f"{meta_path}: format {meta.get('format')!r} version "
                                       f"{meta.get('version')!r} is not one this coreclean reads")
        params = meta["params"]
        service = cls(optimized_for=params["optimized_for"], chunk_size=params["chunk_size"] or None,
                      coreset_size=params["coreset_size"] or None, random_state=meta["random_state"],
                      sketch_dim=params["sketch_dim"], atypical_weight=params["atypical_weight"],
                      cross_fit_folds=params["cross_fit_folds"])
        service._tree = CoresetTree.load(str(folder / "tree.bin"))
        x = np.load(folder / "X.npy", mmap_mode="r")
        ids = np.load(folder / "ids.npy")
        columns = service._tree.scores()
        if x.shape[0] != service._tree.size or not np.array_equal(ids, columns["idx"]):
            raise InvalidArgumentError(f"{folder}: X.npy ({x.shape[0]} rows) and ids.npy do not "
                                       f"match tree.bin ({service._tree.size} samples)")
        service._blocks = [x]
        service._owned = [False]  # memory-mapped read-only: copied before an edit
        service._block_starts = [0]
        service._set_ids(ids)
        codec = _arrays.LabelCodec(np.zeros(1, np.int64))
        if meta["labels"] is not None:
            codec.integral = False
            codec.classes = np.asarray(meta["labels"])
        service._codec = codec
        return service

    # ---- internals --------------------------------------------------------------------------
    def _built(self):
        if self._tree is None:
            raise InvalidArgumentError("the service has no tree yet: call build(X, y) first")
        return self._tree

    def _fitted(self):
        if self._model is None:
            raise InvalidArgumentError("no model: call fit() first")
        return self._model

    def _adopt(self, tree, x, codec, ids):
        """Takes a tree built elsewhere (coreclean.dask.build) over features x."""
        self._tree = tree
        self._codec = codec
        self._blocks = [x]
        self._owned = [False]
        self._block_starts = [0]
        self._set_ids(ids)
        self._model = None

    def _set_ids(self, ids):
        self._ids = ids
        self._id_order = np.argsort(ids, kind="stable")

    def _known(self, indices, name):
        """indices as int64, each a sample of the tree (else an error naming `name`)."""
        ids = _arrays.int_vector(indices, name)
        if ids.size:
            pos = np.minimum(np.searchsorted(self._ids, ids, sorter=self._id_order), len(self._ids) - 1)
            missing = self._ids[self._id_order[pos]] != ids
            if missing.any():
                i = int(np.flatnonzero(missing)[0])
                raise InvalidArgumentError(f"{name}[{i}] = {ids[i]} is not a sample of the tree")
        return ids

    def _rows(self, ids):
        """Build-order rows of ids (all must exist)."""
        pos = np.searchsorted(self._ids, ids, sorter=self._id_order)
        pos = np.minimum(pos, len(self._ids) - 1)
        rows = self._id_order[pos]
        missing = self._ids[rows] != ids
        if missing.any():
            raise InvalidArgumentError(f"index {ids[np.flatnonzero(missing)[0]]} is not a sample of the tree")
        return rows

    def _features_of(self, rows):
        if len(self._blocks) == 1:
            return np.asarray(self._blocks[0][rows], dtype=np.float32)
        out = np.empty((len(rows), self._blocks[0].shape[1]), np.float32)
        block = np.searchsorted(self._block_starts, rows, side="right") - 1
        for b in np.unique(block):
            at = block == b
            out[at] = self._blocks[b][rows[at] - self._block_starts[b]]
        return out

    def _result(self, ids, importance):
        ids = np.asarray(ids, np.int64)
        rows = self._rows(ids) if ids.size else np.empty(0, np.int64)
        labels = self._tree.labels_of(ids) if ids.size else np.empty(0, np.int64)
        return {"idx": ids,
                "X": self._features_of(rows) if ids.size else np.empty((0, self._blocks[0].shape[1]), np.float32),
                "y": self._codec.decode(labels),
                "importance": importance}

    def _select_by_function(self, function):
        """Runs function(indices, X, y) over the active samples; returns the ids it names."""
        columns = self._tree.scores()
        active = np.flatnonzero(columns["weight"] > 0)
        ids = columns["idx"][active]
        chosen = function(ids, self._features_of(active), self._codec.decode(columns["label"][active]))
        chosen = np.asarray(chosen)
        if chosen.dtype == bool:
            if chosen.shape != ids.shape:
                raise InvalidArgumentError(f"the function returned a mask of shape {chosen.shape} "
                                           f"for {ids.shape[0]} samples")
            return ids[chosen]
        chosen = _arrays.int_vector(chosen, "the function's result")
        unknown = ~np.isin(chosen, ids)
        if unknown.any():
            raise InvalidArgumentError(
                f"the function returned {chosen[np.flatnonzero(unknown)[0]]}, which is not one of "
                "the indices it was given: return some of them, or a boolean mask over them")
        return chosen
