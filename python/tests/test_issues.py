"""find_label_issues / label_quality_scores on real data (scikit-learn's digits) with flipped
labels, against random and against scikit-learn's out-of-fold predictions."""

import numpy as np
import pytest

import coreclean
from conftest import blobs_with_flips


def flip(y, share, seed=0):
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(y), int(share * len(y)), replace=False))
    noisy = y.copy()
    noisy[rows] = (noisy[rows] + rng.integers(1, 10, len(rows))) % 10
    return noisy, rows


def test_finds_flipped_digits(digits):
    x, y = digits
    noisy, rows = flip(y, 0.05)
    mask = coreclean.find_label_issues(x, noisy)
    assert mask.dtype == bool and mask.shape == y.shape
    recall = mask[rows].mean()
    precision = np.isin(np.flatnonzero(mask), rows).mean()
    assert recall >= 0.9, recall
    assert precision >= 0.4, precision  # random flags would be 5% right


def test_agrees_with_scikit_learn_out_of_fold_predictions(digits):
    model_selection = pytest.importorskip("sklearn.model_selection")
    linear_model = pytest.importorskip("sklearn.linear_model")
    x, y = digits
    noisy, rows = flip(y, 0.05, seed=1)
    ours = coreclean.find_label_issues(x, noisy)
    predicted = model_selection.cross_val_predict(linear_model.LogisticRegression(max_iter=5000),
                                                  x, noisy, cv=5)
    theirs = predicted != noisy
    # The oracle flags what its own out-of-fold model misclassifies. coreclean's held-out views
    # must recover the flips as well (recall) while flagging fewer correct labels (precision).
    flipped = np.isin(np.arange(len(y)), rows)
    assert ours[rows].mean() >= theirs[rows].mean() - 0.02
    assert flipped[ours].mean() >= flipped[theirs].mean()


def test_ranked_ids_and_scores():
    x, y, _, flipped = blobs_with_flips(flips=24)
    ids = np.arange(len(y)) + 500
    ranked = coreclean.find_label_issues(x, y, ids=ids, return_indices_ranked_by="importance")
    assert np.all(ranked >= 500)  # the caller's ids, not rows
    assert len(np.intersect1d(ranked - 500, flipped)) >= 20
    # Highest importance first: the top 24 hold most of the 24 flips (random: 0.5 of them).
    assert len(np.intersect1d(ranked[:24] - 500, flipped)) >= 16
    top = coreclean.find_label_issues(x, y, filter_by="importance", num_issues=10)
    assert top.sum() == 10
    scores = coreclean.label_quality_scores(x, y)
    assert scores.shape == y.shape and scores.min() >= 0 and scores.max() <= 1
    # The flipped samples score low: AUROC of (1 − score) for "is flipped" well above chance.
    order = np.argsort(scores)
    ranks = np.empty(len(y))
    ranks[order] = np.arange(len(y))
    is_flipped = np.isin(np.arange(len(y)), flipped)
    auroc = 1 - (ranks[is_flipped].mean() - (is_flipped.sum() - 1) / 2) / (~is_flipped).sum()
    assert auroc >= 0.9, auroc
    with pytest.raises(coreclean.InvalidArgumentError, match="needs num_issues"):
        coreclean.find_label_issues(x, y, filter_by="importance")


def test_near_duplicates_against_numpy(digits):
    """Planted copies of digits (tiny noise), some relabelled, in other groups: the pairs and the
    threshold against numpy's brute force (all rows count for the median: n < 2,000)."""
    x, y = digits
    rng = np.random.default_rng(3)
    src = rng.choice(len(y), 30, replace=False)
    copies = x[src] * (1 + 0.002 * rng.standard_normal((30, x.shape[1])))
    labels = np.concatenate([y, np.where(np.arange(30) < 10, (y[src] + 1) % 10, y[src])])
    xx = np.vstack([x, copies]).astype(np.float32)
    groups = np.arange(len(xx)) // 2                     # two boxes per "image"
    found, threshold = coreclean.near_duplicates(xx, labels, groups=groups)

    u = xx.astype(np.float64) / np.linalg.norm(xx, axis=1, keepdims=True)
    sim = u @ u.T
    np.fill_diagonal(sim, -np.inf)
    nearest = np.sort(1 - sim.max(axis=1))
    assert threshold == pytest.approx(1 - 0.2 * nearest[len(nearest) // 2], abs=1e-6)
    sim[groups[:, None] == groups[None, :]] = -np.inf
    i, j = np.nonzero(np.triu(sim >= threshold, 1))
    expected = {(int(a), int(b)) for a, b in zip(i, j)}
    got = {(d["other_annotation_id"], d["annotation_id"]) for d in found}
    assert got == expected
    planted = {(int(s), len(y) + k) for k, s in enumerate(src)}
    assert planted <= got
    kinds = {(d["other_annotation_id"], d["annotation_id"]): d["check"] for d in found}
    for k, s in enumerate(src):
        assert kinds[(int(s), len(y) + k)] == ("conflicting_labels" if k < 10 else "leakage")
    with pytest.raises(coreclean.InvalidArgumentError):
        coreclean.near_duplicates(xx, labels, share=0)
    with pytest.raises(coreclean.InvalidArgumentError):
        coreclean.near_duplicates(xx, labels[:-1])
