"""One call for people who use cleanlab: label issues of (features, labels) from the coreset
tree's held-out views, no session, no files."""

from __future__ import annotations

import numpy as np

from . import _arrays
from ._coreclean import InvalidArgumentError
from .service import CoresetTreeServiceLG


def _scores(features, labels, ids, random_state, progress, cross_fit_folds):
    service = CoresetTreeServiceLG(optimized_for="cleaning", random_state=random_state,
                                   progress=progress, cross_fit_folds=cross_fit_folds)
    service.build(features, labels, indices=ids)
    columns = service._tree.scores()
    return service, columns


def find_label_issues(features, labels, *, ids=None, return_indices_ranked_by=None,
                      filter_by="predicted_neq_given", num_issues=None, random_state=0,
                      cross_fit_folds=5, progress=False):
    """Which samples are likely mislabelled.

    features: n × d (embeddings); labels: n given labels; ids: n unique int64 ids or None
    (0..n-1).

    filter_by:
      "predicted_neq_given": a sample is an issue when the models that did not train on it (the
        leave-one-out ridge model and the held-out logistic regression, summed) prefer another
        class than its label — cleanlab's filter of the same name;
      "importance": the num_issues samples of highest importance (num_issues required).
    num_issues: with "predicted_neq_given", keep at most this many (highest importance first).

    Returns a boolean mask over the samples (True = issue), or, when return_indices_ranked_by is
    "importance" or "misfit" (alias "self_confidence"), the ids of the issues ranked by that
    score, highest first.
    """
    if filter_by not in ("predicted_neq_given", "importance"):
        raise InvalidArgumentError(
            f"filter_by = {filter_by!r} (must be 'predicted_neq_given' or 'importance')")
    if return_indices_ranked_by not in (None, "importance", "misfit", "self_confidence"):
        raise InvalidArgumentError(f"return_indices_ranked_by = {return_indices_ranked_by!r} "
                                   "(must be None, 'importance' or 'misfit')")
    if num_issues is not None:
        num_issues = _arrays.positive_int(num_issues, "num_issues")
    elif filter_by == "importance":
        raise InvalidArgumentError("filter_by='importance' needs num_issues")
    service, c = _scores(features, labels, ids, random_state, progress, cross_fit_folds)
    active = c["weight"] > 0
    if filter_by == "predicted_neq_given":
        issue = active & (c["suggested_label"] != c["label"])
    else:
        issue = active.copy()
    if num_issues is not None and issue.sum() > num_issues:
        candidates = np.flatnonzero(issue)
        keep = candidates[np.argsort(-c["importance"][candidates], kind="stable")[:num_issues]]
        issue = np.zeros_like(issue)
        issue[keep] = True
    if return_indices_ranked_by is None:
        return issue
    key = c["importance"] if return_indices_ranked_by == "importance" else c["misfit"]
    rows = np.flatnonzero(issue)
    rows = rows[np.argsort(-key[rows], kind="stable")]
    return c["idx"][rows]


def label_quality_scores(features, labels, *, ids=None, method="self_confidence", random_state=0,
                         cross_fit_folds=5, progress=False):
    """A score in [0, 1] per sample, low = likely mislabelled (cleanlab's convention).

    method "self_confidence": 1 − misfit (the held-out views' confidence in the given label);
    "importance": 1 − importance / max importance (the label's surprisal plus atypicality, the
    review order).
    """
    if method not in ("self_confidence", "importance"):
        raise InvalidArgumentError(f"method = {method!r} (must be 'self_confidence' or 'importance')")
    _, c = _scores(features, labels, ids, random_state, progress, cross_fit_folds)
    if method == "self_confidence":
        return np.clip(1.0 - c["misfit"], 0.0, 1.0)
    top = c["importance"].max()
    return 1.0 - c["importance"] / top if top > 0 else np.ones_like(c["importance"])


def near_duplicates(features, labels, *, ids=None, groups=None, share=0.2, min_cosine=None,
                    random_state=0, threads=0, progress=False):
    """Pairs of samples whose embeddings are near-identical — the same object seen twice — as
    `coreclean check --features` reports them.

    features: n × d; labels: n integer labels; ids: n ids (default 0..n-1); groups: n group ids
    (e.g. image ids: pairs within one group are not reported) or None. A pair is near-identical
    when 1 − cosine is below `share` × the median distance of a sample to its nearest other
    sample, or, with min_cosine, when its cosine is at least that.

    Returns (findings, threshold): findings is a list of dicts {annotation_id,
    other_annotation_id, check, cosine, detail}, one per pair on its later sample, check =
    "conflicting_labels" (different labels: one is likely wrong) or "leakage" (same label);
    threshold is the cosine used.
    """
    from . import _coreclean, _progress
    x = _arrays.features(features, "features")
    y = _arrays.int_vector(labels, "labels", len(x))
    idv = None if ids is None else _arrays.int_vector(ids, "ids", len(x))
    gv = None if groups is None else _arrays.int_vector(groups, "groups", len(x))
    if min_cosine is not None and not (0.0 < float(min_cosine) <= 1.0):
        raise InvalidArgumentError(f"min_cosine = {min_cosine!r} (must be in (0, 1])")
    return _coreclean.near_duplicates(x, y, idv, gv, float(share),
                                      0.0 if min_cosine is None else float(min_cosine),
                                      _progress.resolve(progress), int(random_state), int(threads))
