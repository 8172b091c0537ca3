"""CoresetTreeServiceLG: the reference service's calls, checked against the CLI, by hand and by
invariants that a wrong implementation breaks."""

import csv
import io
import warnings

import numpy as np
import pytest

import coreclean
from conftest import blobs_with_flips, run_cli


def build(x, y, **kwargs):
    kwargs.setdefault("random_state", 0)
    kwargs.setdefault("progress", False)
    return coreclean.CoresetTreeServiceLG(optimized_for="cleaning", **kwargs).build(x, y)


def test_same_ranking_as_the_cli(blobs, cli, tmp_path):
    x, y, _, _ = blobs
    ids = np.arange(1000, 1000 + len(y), dtype=np.int64) * 7  # the user's own ids
    features = tmp_path / "features"
    features.mkdir()
    np.save(features / "X_train.npy", x)
    np.save(features / "y_train.npy", y)
    np.save(features / "ids.npy", ids)
    run_cli(cli, "build", "--features", features, "--out", tmp_path / "tree.bin")
    rows = list(csv.DictReader(io.StringIO(run_cli(cli, "rank", "--tree", tmp_path / "tree.bin",
                                                   "--class", "1", "--top", "50"))))
    service = coreclean.CoresetTreeServiceLG(optimized_for="cleaning", progress=False)
    service.build(x, y, indices=ids)
    got = service.get_cleaning_samples(class_size={1: 50})
    assert [int(r["id"]) for r in rows] == got["idx"].tolist()
    # The CLI prints 6 significant digits.
    np.testing.assert_allclose([float(r["importance"]) for r in rows], got["importance"],
                               rtol=1e-5)


def test_finds_the_flipped_labels(blobs):
    x, y, _, flipped = blobs
    got = build(x, y).get_cleaning_samples(size=60)
    assert len(got["idx"]) == 60
    assert np.all(np.diff(got["importance"]) <= 0)  # highest first
    # 30 flips among 1,200 samples: random review of 60 finds 1.5 on average.
    assert len(np.intersect1d(got["idx"], flipped)) >= 27
    np.testing.assert_array_equal(got["X"], x[got["idx"]])
    np.testing.assert_array_equal(got["y"], y[got["idx"]])


def test_class_size_counts_all_and_any(blobs):
    x, y, _, _ = blobs
    service = build(x, y)
    scores = service.scores()
    counts = service.get_cleaning_samples(class_size={0: 5, 2: 3}, ignore_seen_samples=False)
    assert sorted(np.unique(counts["y"]).tolist()) == [0, 2]
    assert (counts["y"] == 0).sum() == 5 and (counts["y"] == 2).sum() == 3
    # The 5 of class 0 are the 5 most important samples of class 0 (computed from the scores).
    top0 = scores[scores.label == 0].sort_values("importance", ascending=False).idx[:5]
    assert set(counts["idx"][counts["y"] == 0]) == set(top0)
    everything = service.get_cleaning_samples(class_size={1: "all"}, ignore_seen_samples=False)
    assert sorted(everything["idx"]) == sorted(np.flatnonzero(y == 1))
    # "any": classes 0 and 1 compete for what is left of size after class 2's count.
    mixed = service.get_cleaning_samples(size=20, class_size={2: 4, 0: "any", 1: "any"},
                                         ignore_seen_samples=False)
    assert len(mixed["idx"]) == 20 and (mixed["y"] == 2).sum() == 4
    pool = scores[scores.label.isin([0, 1])].sort_values("importance", ascending=False)
    assert set(mixed["idx"][mixed["y"] != 2]) == set(pool.idx[:16])
    with pytest.raises(coreclean.InvalidArgumentError, match="class_size"):
        service.get_cleaning_samples(class_size={0: "some"})
    with pytest.raises(coreclean.InvalidArgumentError, match="7"):
        service.get_cleaning_samples(class_size={7: 3})


def test_ignore_select_and_function(blobs):
    x, y, _, _ = blobs
    service = build(x, y)
    first = service.get_cleaning_samples(size=10, ignore_seen_samples=False)
    skipped = service.get_cleaning_samples(size=10, ignore_indices=first["idx"][:4],
                                           ignore_seen_samples=False)
    assert not set(skipped["idx"]) & set(first["idx"][:4])
    assert skipped["idx"][:6].tolist() == first["idx"][4:].tolist()
    pool = np.arange(100, 200)
    chosen = service.get_cleaning_samples(size=5, select_from_indices=pool, ignore_seen_samples=False)
    assert set(chosen["idx"]) <= set(pool)

    def only_first_feature_positive(idx, features, labels):
        assert features.shape == (len(idx), x.shape[1]) and len(labels) == len(idx)
        return features[:, 0] > 0  # a mask over idx

    by_function = service.get_cleaning_samples(size=8, select_from_function=only_first_feature_positive,
                                                ignore_seen_samples=False)
    assert np.all(x[by_function["idx"], 0] > 0)


def test_seen_marking(blobs):
    x, y, _, _ = blobs
    service = build(x, y)
    a = service.get_cleaning_samples(size=10)
    b = service.get_cleaning_samples(size=10)
    assert not set(a["idx"]) & set(b["idx"])  # returned samples were marked seen
    assert service.scores().seen.sum() == 20
    service.set_seen_indication(False, a["idx"])
    assert service.get_cleaning_samples(size=10)["idx"].tolist() == a["idx"].tolist()
    service.set_seen_indication(True)  # every sample
    assert len(service.get_cleaning_samples(size=10)["idx"]) == 0
    assert len(service.get_cleaning_samples(size=10, ignore_seen_samples=False)["idx"]) == 10


def test_updates_are_incremental_and_exact(blobs):
    x, y, y_true, flipped = blobs
    service = build(x, y, cross_fit_folds=0)
    report = service.update_targets(flipped[:10], y_true[flipped[:10]])
    assert report["samples_changed"] == 10
    assert report["nodes_touched"] < service._tree.num_nodes  # only the paths to the root
    service.remove_samples(flipped[10:15])
    after = service.scores()
    assert (after.weight[flipped[10:15]] == 0).all()
    np.testing.assert_array_equal(after.label[flipped[:10]], y_true[flipped[:10]])
    # The ridge and neighbour views after the updates equal a tree's built afresh on the corrected
    # data (the fused misfit keeps the view weights fitted at build until refresh()).
    w = np.ones(len(y))
    w[flipped[10:15]] = 0
    fixed = y.copy()
    fixed[flipped[:10]] = y_true[flipped[:10]]
    fresh = coreclean.CoresetTreeServiceLG(optimized_for="cleaning", random_state=0,
                                           cross_fit_folds=0, progress=False)
    fresh.build(x, fixed, sample_weight=w)
    np.testing.assert_allclose(after.ridge, fresh.scores().ridge, atol=1e-5)
    np.testing.assert_allclose(after.neighbour, fresh.scores().neighbour, atol=1e-6)
    np.testing.assert_array_equal(after.neighbour_label, fresh.scores().neighbour_label)
    # Removed samples are never returned.
    got = service.get_cleaning_samples(size=len(y))
    assert not set(got["idx"]) & set(flipped[10:15])
    removed = service.filter_out_samples(lambda idx, X, labels: idx[labels == 2][:3])
    assert len(removed) == 3 and (service.scores().weight[removed] == 0).all()


def test_update_features(blobs):
    x, y, _, _ = blobs
    service = build(x, y)
    new = x[:3] + 1.0
    service.update_features([0, 1, 2], new)
    got = service.get_cleaning_samples(select_from_indices=[0, 1, 2], ignore_seen_samples=False)
    np.testing.assert_array_equal(got["X"][np.argsort(got["idx"])], new)
    assert x[0, 0] != new[0, 0]  # the user's array is not modified


def test_partial_build_adds_leaves_without_rebuild(blobs):
    x, y, _, flipped = blobs
    half = len(y) // 2
    order = np.random.default_rng(1).permutation(len(y))
    first, second = order[:half], order[half:]
    service = coreclean.CoresetTreeServiceLG(chunk_size=128, random_state=0, progress=False)
    service.build(x[first], y[first], indices=first)
    leaves = service._tree.num_leaves
    service.partial_build(x[second], y[second], indices=second + 10_000)
    assert service._tree.size == len(y) and service._tree.num_leaves > leaves
    scores = service.scores()
    assert set(scores.idx) == set(first) | set(second + 10_000)
    # The flipped samples of either part are found.
    found = service.get_cleaning_samples(size=60)["idx"]
    flipped_ids = set(first[np.isin(first, flipped)]) | set(second[np.isin(second, flipped)] + 10_000)
    assert len(flipped_ids & set(found)) >= 24
    with pytest.raises(coreclean.InvalidArgumentError, match="already in the tree"):
        service.partial_build(x[:2], y[:2], indices=second[:2] + 10_000)
    with pytest.raises(coreclean.InvalidArgumentError, match="not a class"):
        service.partial_build(x[:1], [9], indices=[99_999])


def test_save_and_load(blobs, tmp_path):
    x, y, _, _ = blobs
    service = build(x, y)
    service.get_cleaning_samples(size=7)
    path = service.save(tmp_path, name="svc")
    with pytest.raises(FileExistsError):
        service.save(tmp_path, name="svc")
    loaded = coreclean.CoresetTreeServiceLG.load(tmp_path, name="svc")
    assert loaded._tree == service._tree
    assert loaded.get_cleaning_samples(size=5)["idx"].tolist() == \
        service.get_cleaning_samples(size=5)["idx"].tolist()
    service.save(tmp_path, name="svc", override=True)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "mine.txt").write_text("keep me")
    with pytest.raises(coreclean.InvalidArgumentError, match="not a coreclean service"):
        service.save(tmp_path, name="other", override=True)
    assert (tmp_path / "other" / "mine.txt").read_text() == "keep me"
    assert path == tmp_path / "svc"


def test_string_labels_round_trip():
    x, y, _, flipped = blobs_with_flips(n_per_class=200, flips=12)
    names = np.array(["apple", "orange", "pear"])[y]
    service = build(x, names)
    got = service.get_cleaning_samples(class_size={"orange": 5})
    assert set(got["y"]) == {"orange"}
    service.update_targets(got["idx"][:1], ["pear"])
    assert service.scores().label[got["idx"][0]] == "pear"


def test_training_coreset_matches_the_full_data_model(digits):
    sklearn = pytest.importorskip("sklearn.linear_model")
    x, y = digits
    test = np.arange(len(y)) % 3 == 0
    service = coreclean.CoresetTreeServiceLG(optimized_for="training", random_state=0,
                                             progress=False)
    service.build(x[~test], y[~test])
    core = service.get_coreset()
    assert 0 < len(core["idx"]) < (~test).sum() and np.all(core["w"] > 0)
    np.testing.assert_array_equal(core["X"], x[~test][core["idx"]])
    service.fit()
    full = sklearn.LogisticRegression(max_iter=5000).fit(x[~test], y[~test])
    full_accuracy = full.score(x[test], y[test])
    assert (service.predict(x[test]) == y[test]).mean() >= full_accuracy - 0.05
    assert service.predict_proba(x[test]).shape == (test.sum(), 10)
    # A scikit-learn estimator trained on the coreset, with its weights.
    estimator = service.fit(model=sklearn.LogisticRegression(max_iter=5000))
    assert (estimator.predict(x[test]) == y[test]).mean() >= full_accuracy - 0.05


def test_deprecated_alias_warns(blobs):
    x, y, _, _ = blobs
    service = build(x, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = service.get_important_samples(size=3)
    assert len(got["idx"]) == 3
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)


def test_the_callers_arrays_are_never_modified(blobs, tmp_path):
    pandas = pytest.importorskip("pandas")
    x, y, _, _ = blobs
    frame = pandas.DataFrame(x)
    service = build(frame, y)
    service.update_features([0], np.full((1, x.shape[1]), 42.0))
    assert frame.iloc[0, 0] == x[0, 0]
    np.save(tmp_path / "X.npy", x)
    on_disk = np.load(tmp_path / "X.npy", mmap_mode="r+")
    service = build(on_disk, y)
    service.update_features([1], np.full((1, x.shape[1]), 42.0))
    np.testing.assert_array_equal(np.load(tmp_path / "X.npy"), x)
    read_only = np.load(tmp_path / "X.npy", mmap_mode="r")
    service = build(read_only, y)
    service.update_features([2], np.full((1, x.shape[1]), 42.0))
    got = service.get_cleaning_samples(select_from_indices=[2], ignore_seen_samples=False)
    assert got["X"][0, 0] == 42.0


def test_a_refused_build_keeps_the_service(blobs):
    x, y, _, _ = blobs
    names = np.array(["cat", "dog", "fox"])
    service = build(x, names[y])
    before = service.get_cleaning_samples(size=3, ignore_seen_samples=False)
    with pytest.raises(coreclean.InvalidArgumentError):
        service.build(x, np.array(["ant", "bee", "cow"])[y], sample_weight=-np.ones(len(y)))
    after = service.get_cleaning_samples(size=3, ignore_seen_samples=False)
    assert after["y"].tolist() == before["y"].tolist() and set(after["y"]) <= set(names)


def test_partial_build_blocks_updates_and_save(blobs, tmp_path):
    x, y, _, _ = blobs
    names = np.array(["a", "b", "c"])
    service = build(x[:400], names[y[:400]], chunk_size=100)
    service.partial_build(x[400:800], names[y[400:800]])
    service.partial_build(x[800:], names[y[800:]])
    ids = service.scores().idx.to_numpy()
    np.testing.assert_array_equal(ids, np.arange(len(y)))  # numbered after the largest id
    rows = np.array([5, 450, 1000])
    got = service.get_cleaning_samples(select_from_indices=rows, ignore_seen_samples=False)
    order = np.argsort(got["idx"])
    np.testing.assert_array_equal(got["X"][order], x[rows])
    np.testing.assert_array_equal(got["y"][order], names[y[rows]])
    service.update_features(rows, x[rows] + 5)  # one row in each block
    service.save(tmp_path)
    loaded = coreclean.CoresetTreeServiceLG.load(tmp_path)
    back = loaded.get_cleaning_samples(select_from_indices=rows, ignore_seen_samples=False)
    np.testing.assert_array_equal(back["X"][np.argsort(back["idx"])], x[rows] + 5)
    assert set(back["y"]) <= set(names)
    # Saving over the save the service was loaded from (its X.npy is memory-mapped).
    loaded.update_features([7], x[7:8] - 3)
    loaded.save(tmp_path, override=True)
    again = coreclean.CoresetTreeServiceLG.load(tmp_path)
    np.testing.assert_array_equal(
        again.get_cleaning_samples(select_from_indices=[7], ignore_seen_samples=False)["X"][0],
        x[7] - 3)
    with pytest.raises(coreclean.InvalidArgumentError, match="plain folder name"):
        service.save(tmp_path, name="../elsewhere")


def test_class_size_with_size_takes_the_rest_from_unlisted_classes(blobs):
    x, y, _, _ = blobs
    service = build(x, y)
    got = service.get_cleaning_samples(size=30, class_size={0: 5}, ignore_seen_samples=False)
    assert len(got["idx"]) == 30 and (got["y"] == 0).sum() == 5
    scores = service.scores()
    rest = scores[scores.label != 0].sort_values("importance", ascending=False).idx[:25]
    assert set(got["idx"][got["y"] != 0]) == set(rest)
    only = service.get_cleaning_samples(class_size={0: 5}, ignore_seen_samples=False)
    assert len(only["idx"]) == 5  # without a size, only the listed classes


def test_unknown_ids_and_function_results_are_named(blobs):
    x, y, _, _ = blobs
    service = build(x, y)
    with pytest.raises(coreclean.InvalidArgumentError, match=r"select_from_indices\[1\] = 99999"):
        service.get_cleaning_samples(size=3, select_from_indices=[1, 99999])
    with pytest.raises(coreclean.InvalidArgumentError, match=r"indices\[0\] = -4"):
        service.remove_samples([-4])
    with pytest.raises(coreclean.InvalidArgumentError, match="boolean mask"):
        service.get_cleaning_samples(size=3, select_from_function=lambda i, X, labels: (labels == 2).astype(int) * 5000)
    with pytest.raises(TypeError, match="penalty"):
        service.fit(penalty="l1")
